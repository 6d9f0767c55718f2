import Engine

/// A building block of a model: it holds parameters it added to one `Graph` and, when called,
/// adds the nodes that map its input to its output in that graph.
///
/// Make layers inside `VAEArchitecture.makeNetworks(in:)`: every graph the library builds
/// (training, evaluation, inference) gets its own instance with the same parameter names, so
/// parameters are matched by name across graphs and in checkpoints.
public protocol Layer {
    /// The trainable parameters this layer added, in a fixed order.
    var parameters: [Graph.Tensor] { get }
    /// Adds y = layer(x) to `graph` (the graph the layer was made in). Batch first.
    func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor
}

/// PyTorch's default initialization of weights and biases: U(±1/√fan_in).
func pytorchBound(fanIn: Int) -> Float { 1 / Float(max(fanIn, 1)).squareRoot() }

/// A fully connected layer y = act(x·Wᵀ + b): x [B, inputs] → y [B, outputs]. Parameters
/// `NAME.weight` [outputs, inputs] and `NAME.bias` [outputs], initialized like PyTorch's
/// `nn.Linear` (U(±1/√inputs) for both).
public struct Dense: Layer {
    public let weight: Graph.Tensor
    public let bias: Graph.Tensor
    public let activation: Activation

    public init(_ name: String, inputs: Int, outputs: Int, activation: Activation = .identity, in graph: Graph) throws {
        let bound = pytorchBound(fanIn: inputs)
        weight = try graph.parameter("\(name).weight", Shape(outputs, inputs), .uniform(bound: bound))
        bias = try graph.parameter("\(name).bias", Shape(outputs), .uniform(bound: bound))
        self.activation = activation
    }

    public var parameters: [Graph.Tensor] { [weight, bias] }

    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor {
        try graph.linear(x, weight: weight, bias: bias, activation: activation)
    }
}

/// A 2-D convolution y = act(conv(x, W) + b) (cross-correlation, as PyTorch's `nn.Conv2d`):
/// x [B, inputChannels, H, W] → y [B, outputChannels, ⌊(H + 2p − k)/s⌋ + 1, ⌊(W + 2p − k)/s⌋ + 1].
/// Parameters `NAME.weight` [out, in, k, k] and `NAME.bias` [out], U(±1/√(in·k²)).
public struct Conv2d: Layer {
    public let weight: Graph.Tensor
    public let bias: Graph.Tensor
    public let stride: Int, padding: Int
    public let activation: Activation

    public init(_ name: String, inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                activation: Activation = .identity, in graph: Graph) throws {
        let bound = pytorchBound(fanIn: inputChannels * kernel * kernel)
        weight = try graph.parameter("\(name).weight", Shape(outputChannels, inputChannels, kernel, kernel), .uniform(bound: bound))
        bias = try graph.parameter("\(name).bias", Shape(outputChannels), .uniform(bound: bound))
        (self.stride, self.padding, self.activation) = (stride, padding, activation)
    }

    public var parameters: [Graph.Tensor] { [weight, bias] }

    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor {
        try graph.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, activation: activation)
    }
}

/// A transposed 2-D convolution (PyTorch's `nn.ConvTranspose2d`): x [B, inputChannels, H, W] →
/// y [B, outputChannels, (H − 1)s − 2p + k + outputPadding.height, (W − 1)s − 2p + k + outputPadding.width].
/// Parameters `NAME.weight` [in, out, k, k] and `NAME.bias` [out], U(±1/√(out·k²)) as PyTorch
/// computes fan-in for this layout. `outputPadding` lies in 0..<stride.
public struct ConvTranspose2d: Layer {
    public let weight: Graph.Tensor
    public let bias: Graph.Tensor
    public let geometry: ConvolutionGeometry
    public let activation: Activation

    public init(_ name: String, inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: (height: Int, width: Int) = (0, 0), activation: Activation = .identity, in graph: Graph) throws {
        let bound = pytorchBound(fanIn: outputChannels * kernel * kernel)
        weight = try graph.parameter("\(name).weight", Shape(inputChannels, outputChannels, kernel, kernel), .uniform(bound: bound))
        bias = try graph.parameter("\(name).bias", Shape(outputChannels), .uniform(bound: bound))
        geometry = ConvolutionGeometry(stride: stride, padding: padding, outputPaddingHeight: outputPadding.height,
                                       outputPaddingWidth: outputPadding.width)
        self.activation = activation
    }

    public var parameters: [Graph.Tensor] { [weight, bias] }

    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor {
        try graph.apply(.convTranspose2d(geometry, activation: activation, bias: true), [x, weight, bias])[0]
    }
}

/// [B, …] → [B, product of the rest]: a view, nothing is copied.
public struct Flatten: Layer {
    public init() {}
    public var parameters: [Graph.Tensor] { [] }
    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor { try graph.flatten(x) }
}

/// [B, …] → [B] + `shape` (same count per example): a view, nothing is copied.
public struct Reshape: Layer {
    public let shape: [Int]
    public init(_ shape: [Int]) { self.shape = shape }
    public var parameters: [Graph.Tensor] { [] }
    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor {
        try graph.reshape(x, Shape([graph.shape(x).rows] + shape))
    }
}

/// An element-wise nonlinearity: y = act(x), any shape.
public struct Activate: Layer {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation }
    public var parameters: [Graph.Tensor] { [] }
    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor { try graph.activation(x, activation) }
}

/// Layers applied one after another.
public struct Sequential: Layer {
    public let layers: [any Layer]
    public init(_ layers: [any Layer]) { self.layers = layers }
    public var parameters: [Graph.Tensor] { layers.flatMap(\.parameters) }
    public func callAsFunction(_ x: Graph.Tensor, in graph: Graph) throws -> Graph.Tensor {
        var h = x
        for layer in layers { h = try layer(h, in: graph) }
        return h
    }
}

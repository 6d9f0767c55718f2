/// Element-wise nonlinearity applied after an affine map.
public enum Activation: Hashable, Sendable, CustomStringConvertible {
    case identity
    case relu
    /// max(x, slope·x) with 0 < slope < 1.
    case leakyReLU(slope: Float)
    case sigmoid
    case tanh
    /// log(1 + eˣ).
    case softplus

    /// Every activation, with LeakyReLU at its usual slope 0.01; used by tests and the CLI.
    public static let all: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.01), .sigmoid, .tanh, .softplus]

    public var description: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .leakyReLU(let slope): slope == 0.01 ? "leaky-relu" : "leaky-relu(\(slope))"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .softplus: "softplus"
        }
    }
}

/// The decoder's likelihood p(x | z), whose negative log is the reconstruction term.
public enum Likelihood: Hashable, Sendable, CustomStringConvertible {
    /// Bernoulli on logits: −log p = Σ softplus(l) − x·l.
    case bernoulli
    /// Gaussian with a fixed standard deviation σ: −log p = ‖x − x̂‖²/(2σ²) + D log σ + (D/2) log 2π.
    case gaussian(sigma: Float)
    /// Calibrated Gaussian (σ-VAE): σ² is the batch's mean squared error (at least 1e-6), so
    /// −log p = ‖x − x̂‖²/(2σ²) + (D/2) log(2πσ²), whose batch mean is D/2 + (D/2) log(2πσ²).
    case calibratedGaussian
    /// Calibrated Gaussian with one variance per feature: σ²_j is the batch's mean squared
    /// error of feature j (at least 1e-6), so −log p = Σ_j (x_j − x̂_j)²/(2σ²_j) + ½ log(2πσ²_j).
    /// For tables, whose features differ in how well they can be predicted.
    case calibratedGaussianPerFeature
    /// Gaussian with a given variance per feature σ²_j, the loss's last input [D] (for example a
    /// calibrated model's variances measured on its training set): −log p = Σ_j (x_j −
    /// x̂_j)²/(2σ²_j) + ½ log(2πσ²_j). The variances get no gradient.
    case gaussianPerFeature

    /// σ² is one value per feature (computed from the batch or given), not one for all.
    public var hasFeatureVariances: Bool { self == .calibratedGaussianPerFeature || self == .gaussianPerFeature }

    public var description: String {
        switch self {
        case .bernoulli: "bernoulli"
        case .gaussian(let sigma): "gaussian(σ=\(sigma))"
        case .calibratedGaussian: "calibrated"
        case .calibratedGaussianPerFeature: "calibrated per feature"
        case .gaussianPerFeature: "gaussian(σ² per feature)"
        }
    }
}

/// How the KL term KL(q(z|x) ‖ N(0, I)) is computed.
public enum KLEstimator: String, Hashable, Sendable, Codable, CaseIterable {
    /// −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j).
    case closedForm = "closed-form"
    /// log q(z|x) − log p(z) at the sampled z: Σ_j (−½ log σ²_j − ½ (z_j − μ_j)²/σ²_j + ½ z_j²).
    case monteCarlo = "monte-carlo"
}

/// The negative ELBO of one z sample: reconstruction under `likelihood` plus β·KL.
public struct VAEObjective: Hashable, Sendable {
    public var likelihood: Likelihood
    public var beta: Float
    public var kl: KLEstimator

    public init(likelihood: Likelihood, beta: Float = 1, kl: KLEstimator = .closedForm) {
        self.likelihood = likelihood
        self.beta = beta
        self.kl = kl
    }

    /// Where the sampled z is among the loss's inputs (x, decoded, μ, log σ², z, variances):
    /// only the Monte-Carlo KL reads it.
    public var zIndex: Int? { kl == .monteCarlo ? 4 : nil }
    /// Where the per-feature variances [D] are among the loss's inputs (`.gaussianPerFeature` only).
    public var varianceIndex: Int? { likelihood == .gaussianPerFeature ? (kl == .monteCarlo ? 5 : 4) : nil }
    /// How many inputs `vaeLoss` takes; `vaeLossGradient` takes one more, the incoming d(mean).
    public var lossInputCount: Int { 4 + (zIndex == nil ? 0 : 1) + (varianceIndex == nil ? 0 : 1) }
}

/// How a reduction combines: Σ, the mean, or log Σ exp (computed stably, shifted by the maximum).
public enum Reduction: Hashable, Sendable { case sum, mean, logSumExp }

/// What a reduction collapses: `.rows` turns an M×N matrix into its N column totals
/// (the bias gradient); `.channels` turns [N, C, H, W] (or [N, C]) into its C channel totals
/// over batch and pixels (a convolution's bias gradient); `.all` turns any tensor into a scalar.
public enum ReductionAxis: Hashable, Sendable { case rows, channels, all }

/// Adam's hyperparameters. The bias-correction step t is `RunContext.step + 1`.
public struct AdamHyperparameters: Hashable, Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// 1/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) at t = step + 1, computed in float64 so every backend
    /// multiplies by the same two floats.
    public func biasCorrections(step: UInt64) -> (Float, Float) {
        let t = Double(step) + 1
        return (Float(1 / (1 - pow(Double(beta1), t))), Float(1 / (1 - pow(Double(beta2), t))))
    }
}

/// The op interface: every computation a backend must implement, with its static parameters.
///
/// Inputs and outputs are listed in the order a backend receives them. Matrices are row-major.
/// Adding a case means: its shape rule (`Op+Shapes`), its vector-Jacobian rule (`Autodiff`),
/// one CPU implementation, one OpenCL kernel and their tests; the exhaustive switches make a
/// missing piece a compile error.
public enum Op: Hashable, Sendable {
    /// y = act(x·Wᵀ + b). Inputs: x [M, K], W [N, K], b [N]. Output: y [M, N].
    case linear(activation: Activation)
    /// C = op(A)·op(B), op(X) = Xᵀ when its flag is set. Inputs: A, B. Output: C [M, N].
    case matmul(transposeA: Bool, transposeB: Bool)
    /// y = act(x), element-wise. Input: x. Output: y.
    case activation(Activation)
    /// dx = act′(x)·dy, with act′ computed from the output y. Inputs: y, dy. Output: dx.
    case activationGradient(Activation)
    /// c = a + b, element-wise, same shapes.
    case add
    /// The same elements under another shape with the same count: a view. The executor gives
    /// the output the input's buffer and runs nothing; a backend asked to run it copies.
    case reshape(Shape)
    /// y = act(conv(x, W) + b), a cross-correlation as in PyTorch's `Conv2d`:
    /// y[n,o,v,u] = act(b[o] + Σ_{c,i,j} W[o,c,i,j]·x[n,c,v·s−p+i,u·s−p+j]), zero outside x.
    /// Inputs: x [N, C, H, W], W [O, C, kh, kw], and b [O] when `bias`. Output: [N, O, Ho, Wo].
    case conv2d(ConvolutionGeometry, activation: Activation, bias: Bool)
    /// y = act(convᵀ(x, W) + b), as PyTorch's `ConvTranspose2d`: each input pixel scatters
    /// W[c,·,·,·]·x[n,c,v,u] onto the output at (v·s−p, u·s−p). It is the input gradient of
    /// `conv2d` with the same weight. Inputs: x [N, Cin, H, W], W [Cin, Cout, kh, kw], and b [Cout]
    /// when `bias`. Output: [N, Cout, (H−1)s−2p+kh+opH, (W−1)s−2p+kw+opW].
    case convTranspose2d(ConvolutionGeometry, activation: Activation, bias: Bool)
    /// ∂/∂W of `conv2d`: dW[o,c,i,j] = Σ_{n,v,u} dy[n,o,v,u]·x[n,c,v·s−p+i,u·s−p+j]. Inputs:
    /// x [N, C, H, W], dy [N, O, Ho, Wo]. Output: dW [O, C, kh, kw]. With x and dy swapped it is
    /// the weight gradient of `convTranspose2d`.
    case conv2dWeightGradient(ConvolutionGeometry, kernelHeight: Int, kernelWidth: Int)
    /// Sum or mean over `ReductionAxis`. Input: x. Output: [N] for `.rows`, [1] for `.all`.
    case reduce(Reduction, ReductionAxis)
    /// Repeats a scalar [1] or a row ([N] or [1, N]) into `shape` (whose last extent is N),
    /// times `scale`; an input of the target shape is just scaled.
    case broadcast(Shape, scale: Float)
    /// ε ~ N(0, I) of the given shape from Philox4x32-10 keyed by (seed, step). No inputs.
    case randomNormal(Shape, seed: UInt64)
    /// z = μ + exp(½ log σ²) ⊙ ε with ε from Philox4x32-10 keyed by (seed, step, sample, element).
    /// Inputs: μ [B, d], log σ² [B, d]. Output: z [B, d].
    case reparameterize(seed: UInt64, sample: UInt32)
    /// ∂z/∂log σ² · dz = ½ σ ε ⊙ dz, with ε regenerated (not stored).
    /// Inputs: log σ² [B, d], dz [B, d]. Output: d log σ² [B, d]. (∂z/∂μ is the identity.)
    case reparameterizeGradient(seed: UInt64, sample: UInt32)
    /// The negative ELBO of one z sample. Inputs: x [B, D], decoder output [B, D] (logits for
    /// Bernoulli, the mean x̂ for Gaussian), μ [B, d], log σ² [B, d], for the Monte-Carlo KL
    /// the sampled z [B, d], and for `.gaussianPerFeature` the variances [D]. Outputs: per-example terms [B, 2] (reconstruction −log p(x|z),
    /// KL) in nats, and the batch mean of reconstruction + β·KL [1].
    case vaeLoss(VAEObjective)
    /// Gradient of `vaeLoss`'s mean, scaled by the incoming scalar. Inputs: those of `vaeLoss`,
    /// then d(mean) [1]. Outputs: d output, dμ, d log σ² (and dz for the Monte-Carlo KL).
    case vaeLossGradient(VAEObjective)
    /// `vaeLoss` and the `vaeLossGradient` of its mean in one op. Inputs: those of
    /// `vaeLossGradient`. Outputs: those of `vaeLoss`, then those of `vaeLossGradient`. Model
    /// code does not build it: `Executor.compile` puts it in place of the pair when the incoming
    /// d(mean) exists before the loss (a training step's seed), so a backend can compute the
    /// loss and its gradient in one pass over the decoder output.
    case vaeLossWithGradient(VAEObjective)
    /// Rows `indices[cursor ..< cursor + rows]` of a table, `cursor` from the `RunContext`.
    /// Inputs: table [N, D], indices [K] (int32). Output: [rows, D].
    case gather(rows: Int)
    /// `gather` from a table of bytes, each byte b standing for palette[b]: rows
    /// `indices[cursor ..< cursor + rows]` of table [N, D] (uint8), as floats. Inputs: table,
    /// indices [K] (int32), palette [256] (float32). Output: [rows, D]. A data set of at most 256
    /// distinct values (8-bit pictures) is held on the device in a quarter of the memory and
    /// gathered bit for bit as the float table would be.
    case gatherPalette(rows: Int)
    /// One Adam step in place. Inputs: parameter, gradient, first moment m, second moment v
    /// (parameter, m and v are updated). No outputs.
    case adam(AdamHyperparameters)
    /// `adam` whose gradient is the column sums of a matrix (a bias gradient,
    /// `reduce(.sum, .rows)` of the layer's output gradient), summed in the update. Inputs:
    /// parameter [N], rows [M, N], m [N], v [N] (parameter, m and v are updated). No outputs.
    /// Model code does not build it: `Executor.compile` puts it in place of the reduction and
    /// the update when nothing else reads the sums.
    case adamSummingRows(AdamHyperparameters)
    /// `adam` whose gradient is the product Aᵀ·B (a dense layer's weight gradient dYᵀ·X, as
    /// `matmul(transposeA: true)` computes it), formed in the update. Inputs: parameter [M, N],
    /// A [K, M], B [K, N], m [M, N], v [M, N] (parameter, m and v are updated). No outputs.
    /// With `bias`, also the layer's bias step, `adamSummingRows` on the column sums of A:
    /// three more inputs, bias [M], its m [M] and v [M] (all updated).
    /// Model code does not build it: `Executor.compile` puts it in place of the product and the
    /// update when nothing else reads the product, so a backend can update each block of the
    /// parameter as soon as its block of the gradient is summed, without writing the gradient
    /// (and in place of the bias's `adamSummingRows` on the same A, one launch for the layer).
    case adamTransposedProduct(AdamHyperparameters, bias: Bool)
    /// dx = act'(y) ⊙ (A·B [+ c]): a dense layer's input gradient dY·W taken through the
    /// activation of the layer before it, whose output is y. Inputs: A [M, K], B [K, N], y [M, N],
    /// and with `accumulate` c [M, N], added to the product first (a tensor read by two layers
    /// gets the sum of their gradients). Output [M, N]. The same values as `matmul`, `add` and
    /// `activationGradient` in turn. Model code does not build it: `Executor.compile` puts it in
    /// place of those ops when nothing else reads what passes between them, so a backend can
    /// apply the derivative to each tile of the product before storing it.
    case productActivationGradient(Activation, accumulate: Bool)
    /// One gradient-descent step in place. Inputs: parameter (updated), gradient. No outputs.
    case sgd(learningRate: Float)

    /// A short name for messages.
    public var name: String {
        switch self {
        case .linear(let a): "linear(\(a))"
        case .matmul(let ta, let tb): "matmul(\(ta ? "T" : "N")\(tb ? "T" : "N"))"
        case .activation(let a): "activation(\(a))"
        case .activationGradient(let a): "activationGradient(\(a))"
        case .add: "add"
        case .reshape(let s): "reshape(\(s))"
        case .conv2d(let g, let a, _): "conv2d(\(g), \(a))"
        case .convTranspose2d(let g, let a, _): "convTranspose2d(\(g), \(a))"
        case .conv2dWeightGradient(let g, let kh, let kw): "conv2dWeightGradient(\(kh)×\(kw), \(g))"
        case .reduce(let r, let axis): "reduce(\(r), \(axis))"
        case .broadcast(let s, _): "broadcast(\(s))"
        case .randomNormal(let s, _): "randomNormal(\(s))"
        case .reparameterize: "reparameterize"
        case .reparameterizeGradient: "reparameterizeGradient"
        case .vaeLoss(let o): "vaeLoss(\(o.likelihood), \(o.kl.rawValue))"
        case .vaeLossGradient(let o): "vaeLossGradient(\(o.likelihood), \(o.kl.rawValue))"
        case .vaeLossWithGradient(let o): "vaeLossWithGradient(\(o.likelihood), \(o.kl.rawValue))"
        case .gather(let rows): "gather(rows: \(rows))"
        case .gatherPalette(let rows): "gatherPalette(rows: \(rows))"
        case .adam: "adam"
        case .adamSummingRows: "adamSummingRows"
        case .adamTransposedProduct(_, let bias): bias ? "adamTransposedProduct(bias)" : "adamTransposedProduct"
        case .productActivationGradient(let a, let accumulate): "productActivationGradient(\(a)\(accumulate ? ", accumulate" : ""))"
        case .sgd: "sgd"
        }
    }

    /// Indices of inputs the op writes in place; their buffers must be persistent.
    public var mutatedInputs: [Int] {
        switch self {
        case .adam, .adamSummingRows: [0, 2, 3]
        case .adamTransposedProduct(_, let bias): bias ? [0, 3, 4, 5, 6, 7] : [0, 3, 4]
        case .sgd: [0]
        default: []
        }
    }
}

/// Per-run values that change every step without rebuilding the graph.
public struct RunContext: Hashable, Sendable {
    /// The training step: part of the random-number counter, and Adam's t − 1.
    public var step: UInt64
    /// Where `gather` starts reading its index list.
    public var cursor: Int
    /// This process's part of a batch split across processes (data parallelism), so that
    /// `reparameterize` draws the noise of each row's place in the whole batch; nil: the batch
    /// is all here.
    public var shard: BatchShard?

    public init(step: UInt64 = 0, cursor: Int = 0, shard: BatchShard? = nil) {
        self.step = step
        self.cursor = cursor
        self.shard = shard
    }
}

/// Where one process's rows sit in a batch split across processes: its `rows` rows are rows
/// `first ..< first + rows` of a batch of `globalRows`. A tensor of R = L·rows rows (L draws
/// of each row, see `Graph.repeatRows`) maps its row ρ to row (ρ / rows)·globalRows + first +
/// ρ mod rows of the whole batch's L·globalRows rows.
public struct BatchShard: Hashable, Sendable {
    public var first: Int
    public var rows: Int
    public var globalRows: Int

    public init(first: Int, rows: Int, globalRows: Int) {
        self.first = first
        self.rows = rows
        self.globalRows = globalRows
    }

    /// The whole batch's row of local row `row`.
    public func globalRow(_ row: Int) -> Int { (row / rows) * globalRows + first + row % rows }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

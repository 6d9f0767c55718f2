/// A graph that cannot be built or differentiated as asked.
public enum GraphError: Error, CustomStringConvertible, Equatable {
    /// An op was given inputs whose shapes or types do not fit; the message names both.
    case shapeMismatch(op: String, detail: String)
    case wrongInputCount(op: String, expected: Int, got: Int)
    case notDifferentiable(op: String, reason: String)
    case unknownTensor(Int)
    case notPersistent(op: String, tensor: String)
    case nameInUse(String)
    /// A tensor whose size does not fit a machine integer (or has a negative extent).
    case tooLarge(what: String, shape: Shape)

    public var description: String {
        switch self {
        case .shapeMismatch(let op, let detail): "\(op): \(detail)"
        case .wrongInputCount(let op, let expected, let got): "\(op) takes \(expected) inputs, got \(got)"
        case .notDifferentiable(let op, let reason): "cannot differentiate through \(op): \(reason)"
        case .unknownTensor(let id): "tensor #\(id) does not belong to this graph"
        case .notPersistent(let op, let tensor):
            "\(op) updates \(tensor) in place, but it is not a parameter or optimizer state"
        case .nameInUse(let name): "a tensor named \"\(name)\" already exists in the graph"
        case .tooLarge(let what, let shape): "\(what) would have shape \(shape), too large to address (or with a negative extent)"
        }
    }
}

extension Op {
    /// The number of inputs the op takes.
    public var inputCount: Int {
        switch self {
        case .linear: 3
        case .matmul, .activationGradient, .add, .reparameterize, .reparameterizeGradient, .gather, .sgd: 2
        case .activation, .reduce, .broadcast, .reshape: 1
        case .conv2d(_, _, let bias), .convTranspose2d(_, _, let bias): bias ? 3 : 2
        case .conv2dWeightGradient: 2
        case .randomNormal: 0
        case .adam, .adamSummingRows: 4
        case .adamTransposedProduct(_, let bias): bias ? 8 : 5
        case .gatherPalette: 3
        case .productActivationGradient(_, let accumulate): accumulate ? 4 : 3
        case .vaeLoss(let o): o.lossInputCount
        case .vaeLossGradient(let o), .vaeLossWithGradient(let o): o.lossInputCount + 1
        }
    }

    /// Checks the inputs and returns the outputs' specs; the error names the op and the shapes.
    public func outputSpecs(for inputs: [TensorSpec]) throws(GraphError) -> [TensorSpec] {
        guard inputs.count == inputCount else {
            throw .wrongInputCount(op: name, expected: inputCount, got: inputs.count)
        }
        switch self {
        case .gather, .gatherPalette: break
        default:
            for (i, spec) in inputs.enumerated() where spec.dtype != .float32 {
                throw .shapeMismatch(op: name, detail: "input \(i) must be float32, got \(spec)")
            }
        }
        let s = inputs.map(\.shape)
        func fail(_ detail: String) -> GraphError { .shapeMismatch(op: name, detail: detail) }
        func matrix(_ i: Int, _ role: String) throws(GraphError) -> (Int, Int) {
            guard s[i].rank == 2 else { throw fail("\(role) must be a matrix, got \(s[i])") }
            return (s[i].dimensions[0], s[i].dimensions[1])
        }
        func same(_ i: Int, _ j: Int, _ a: String, _ b: String) throws(GraphError) {
            guard s[i] == s[j] else { throw fail("\(a) \(s[i]) and \(b) \(s[j]) must have the same shape") }
        }
        switch self {
        case .linear:
            let (m, k) = try matrix(0, "x")
            let (n, kw) = try matrix(1, "W")
            guard k == kw else { throw fail("x \(s[0]) and W \(s[1]) disagree in the inner size (\(k) vs \(kw))") }
            guard s[2] == Shape(n) else { throw fail("bias \(s[2]) must be [\(n)] to match W \(s[1])") }
            return [TensorSpec(Shape(m, n))]
        case .matmul(let ta, let tb):
            let (ar, ac) = try matrix(0, "A")
            let (br, bc) = try matrix(1, "B")
            let (m, k) = ta ? (ac, ar) : (ar, ac)
            let (kb, n) = tb ? (bc, br) : (br, bc)
            guard k == kb else {
                throw fail("A \(s[0])\(ta ? "ᵀ" : "") and B \(s[1])\(tb ? "ᵀ" : "") disagree in the inner size (\(k) vs \(kb))")
            }
            return [TensorSpec(Shape(m, n))]
        case .activation:
            return [inputs[0]]
        case .activationGradient:
            try same(0, 1, "y", "dy")
            return [inputs[0]]
        case .add:
            try same(0, 1, "a", "b")
            return [inputs[0]]
        case .reshape(let shape):
            guard shape.checkedCount == s[0].count, shape.rank >= 1, shape.rank <= 4 else {
                throw fail("cannot view \(s[0]) (\(s[0].count) elements) as \(shape); a view keeps the count and has rank 1 to 4")
            }
            return [TensorSpec(shape)]
        case .conv2d, .convTranspose2d, .conv2dWeightGradient:
            return try convolutionSpecs(s, fail: fail)
        case .reduce(let r, let axis):
            switch axis {
            case .all: return [TensorSpec(.scalar)]
            case .channels:
                guard s[0].rank >= 2 else { throw fail("x must be [N, C, …] to sum per channel, got \(s[0])") }
                guard r != .logSumExp else { throw fail("log-sum-exp per channel is not supported; use .rows or .all") }
                return [TensorSpec(Shape(s[0].dimensions[1]))]
            case .rows:
                let (_, n) = try matrix(0, "x")
                return [TensorSpec(Shape(n))]
            }
        case .broadcast(let shape, _):
            guard shape.count > 0 else { throw fail("target shape \(shape) is empty") }
            let last = shape.dimensions.last ?? 1
            guard s[0] == .scalar || s[0] == Shape(last) || s[0] == Shape(1, last) || s[0] == shape else {
                throw fail("input \(s[0]) must be [1], [\(last)], [1×\(last)] or \(shape) to broadcast to \(shape)")
            }
            return [TensorSpec(shape)]
        case .randomNormal(let shape, _):
            guard shape.count > 0 else { throw fail("shape \(shape) is empty") }
            return [TensorSpec(shape)]
        case .reparameterize, .reparameterizeGradient:
            _ = try matrix(0, "input 0")
            try same(0, 1, "input 0", "input 1")
            return [inputs[0]]
        case .vaeLoss(let o), .vaeLossGradient(let o), .vaeLossWithGradient(let o):
            let (b, _) = try matrix(0, "x")
            try same(0, 1, "x", "decoder output")
            let (bm, _) = try matrix(2, "μ")
            try same(2, 3, "μ", "log σ²")
            guard bm == b else { throw fail("x \(s[0]) and μ \(s[2]) disagree in batch size") }
            if let zi = o.zIndex { try same(2, zi, "μ", "z") }
            if let vi = o.varianceIndex, s[vi] != Shape(s[0].columns) {
                throw fail("the variances \(s[vi]) must be one per feature, [\(s[0].columns)]")
            }
            let loss = [TensorSpec(Shape(b, 2)), TensorSpec(.scalar)]
            if case .vaeLoss = self { return loss }
            let dLoss = o.lossInputCount
            guard s[dLoss] == .scalar else { throw fail("the incoming gradient \(s[dLoss]) must be a scalar [1]") }
            let gradients = Array(inputs[1...(o.zIndex ?? 3)])
            if case .vaeLossWithGradient = self { return loss + gradients }
            return gradients
        case .gather(let rows):
            let (_, d) = try matrix(0, "table")
            guard inputs[0].dtype == .float32 else { throw fail("table must be float32, got \(inputs[0])") }
            guard inputs[1].dtype == .int32, s[1].rank == 1 else { throw fail("indices must be an int32 vector, got \(inputs[1])") }
            guard rows > 0, rows <= s[1].count else {
                throw fail("cannot gather \(rows) rows from an index list of \(s[1].count)")
            }
            return [TensorSpec(Shape(rows, d))]
        case .gatherPalette(let rows):
            let (_, d) = try matrix(0, "table")
            guard inputs[0].dtype == .uint8 else { throw fail("table must be uint8, got \(inputs[0])") }
            guard inputs[1].dtype == .int32, s[1].rank == 1 else { throw fail("indices must be an int32 vector, got \(inputs[1])") }
            guard inputs[2].dtype == .float32, s[2] == Shape(256) else { throw fail("palette must be 256 float32 values, got \(inputs[2])") }
            guard rows > 0, rows <= s[1].count else {
                throw fail("cannot gather \(rows) rows from an index list of \(s[1].count)")
            }
            return [TensorSpec(Shape(rows, d))]
        case .adamSummingRows:
            let (_, n) = try matrix(1, "rows")
            guard s[0].count == n else { throw fail("the parameter \(s[0]) must have one value per column of the rows \(s[1])") }
            try same(0, 2, "parameter", "m")
            try same(0, 3, "parameter", "v")
            return []
        case .adamTransposedProduct:
            let (k, m) = try matrix(1, "A"), (kb, n) = try matrix(2, "B")
            guard k == kb else { throw fail("A \(s[1]) and B \(s[2]) must have the same number of rows (Aᵀ·B)") }
            guard s[0] == Shape(m, n) else { throw fail("the parameter \(s[0]) must have the shape of Aᵀ·B, [\(m), \(n)]") }
            try same(0, 3, "parameter", "m")
            try same(0, 4, "parameter", "v")
            if case .adamTransposedProduct(_, bias: true) = self {
                guard s[5] == Shape(m) else { throw fail("the bias \(s[5]) must have one value per column of A \(s[1]), [\(m)]") }
                try same(5, 6, "bias", "bias m")
                try same(5, 7, "bias", "bias v")
            }
            return []
        case .productActivationGradient(_, let accumulate):
            let (m, k) = try matrix(0, "A"), (kb, n) = try matrix(1, "B")
            guard k == kb else { throw fail("A \(s[0]) and B \(s[1]) do not chain (A·B)") }
            guard s[2] == Shape(m, n) else { throw fail("the activation output y \(s[2]) must have the shape of A·B, [\(m), \(n)]") }
            if accumulate { try same(2, 3, "y", "the added gradient c") }
            return [TensorSpec(Shape(m, n))]
        case .adam:
            try same(0, 1, "parameter", "gradient")
            try same(0, 2, "parameter", "m")
            try same(0, 3, "parameter", "v")
            return []
        case .sgd:
            try same(0, 1, "parameter", "gradient")
            return []
        }
    }
}

import CPUVector
import Engine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// act(x): the scalar definition shared by `activation` and `linear`'s epilogue.
@inline(__always)
func activate(_ act: Activation, _ x: Float) -> Float {
    switch act {
    case .identity: x
    case .relu: max(x, 0)
    case .leakyReLU(let slope): x > 0 ? x : slope * x
    case .sigmoid: 1 / (1 + expf(-x))
    case .tanh: tanhf(x)
    case .softplus: max(x, 0) + log1pf(expf(-abs(x)))
    }
}

/// act′ expressed through the output y = act(x), so backward passes need not keep x.
@inline(__always)
func activationDerivative(_ act: Activation, output y: Float) -> Float {
    switch act {
    case .identity: 1
    case .relu: y > 0 ? 1 : 0
    case .leakyReLU(let slope): y > 0 ? 1 : slope
    case .sigmoid: y * (1 - y)
    case .tanh: 1 - y * y
    case .softplus: -expm1f(-y)  // σ(x) = 1 − e^(−softplus(x)), accurate for small y too
    }
}

/// Calls `body` with act(·) as a closure specialized per case, so loops over elements do not
/// switch on the activation for every element (and can be vectorized).
@inline(__always)
func withActivation<R>(_ act: Activation, _ body: ((Float) -> Float) -> R) -> R {
    switch act {
    case .identity: body { $0 }
    case .relu: body { max($0, 0) }
    case .leakyReLU(let slope): body { $0 > 0 ? $0 : slope * $0 }
    case .sigmoid, .tanh, .softplus: body { activate(act, $0) }
    }
}

/// The activations that are max(t, slope·t)-shaped, as the slope the vector loops take
/// (identity 1, ReLU 0, leaky ReLU its own); nil for the others.
func leakySlope(_ act: Activation) -> Float? {
    switch act {
    case .identity: 1
    case .relu: 0
    case .leakyReLU(let slope): slope
    default: nil
    }
}

/// values[i] = act(values[i] + bias) for i < count, as one plain loop per activation (no
/// closure call per element, so relu and identity vectorize): the epilogue of the convolutions.
func addBiasAndActivate(_ act: Activation, _ values: UnsafeMutablePointer<Float>, count: Int, bias b: Float) {
    switch act {
    case .identity: for i in 0..<count { values[i] += b }
    case .relu: for i in 0..<count { values[i] = max(values[i] + b, 0) }
    default: for i in 0..<count { values[i] = activate(act, values[i] + b) }
    }
}

extension CPUBackend {
    func activation(_ act: Activation, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
        withActivation(act) { f in parallelFor(count) { r in for i in r { y[i] = f(x[i]) } } }
    }

    func activationGradient(_ act: Activation, dx: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, dy: UnsafePointer<Float>, count: Int) {
        switch act {
        case .identity, .relu, .leakyReLU:  // vectorized for the running CPU
            let slope = leakySlope(act) ?? 1
            parallelFor(count) { r in
                vector_activation_gradient_leaky_relu(dx + r.lowerBound, y + r.lowerBound, dy + r.lowerBound, r.count, slope)
            }
        default: parallelFor(count) { r in for i in r { dx[i] = dy[i] * activationDerivative(act, output: y[i]) } }
        }
    }

    func add(c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int) {
        parallelFor(count) { r in for i in r { c[i] = a[i] + b[i] } }
    }

    /// `.rows`: column totals of an M×N matrix, each summed top to bottom; `.all`: the sum of
    /// fixed 4096-element chunks (in float64), added in order. Both are deterministic.
    /// Log-sum-exp subtracts the maximum first: log Σ exp(x) = m + log Σ exp(x − m).
    func reduce(_ r: Reduction, _ axis: ReductionAxis, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape: Shape) {
        if axis == .channels { return reduceChannels(r, y: y, x: x, shape: shape) }  // sum or mean (the shape rule refuses log-sum-exp)
        if r == .logSumExp {
            let (m, n) = axis == .all ? (shape.count, 1) : (shape.rows, shape.columns)
            for j in 0..<n {
                var top = -Float.infinity
                for i in 0..<m { top = max(top, x[i * n + j]) }
                guard top.isFinite else { y[j] = top; continue }
                var total = 0.0
                for i in 0..<m { total += Double(expf(x[i * n + j] - top)) }
                y[j] = top + Float(log(total))
            }
            return
        }
        switch axis {
        case .rows:
            let m = shape.rows, n = shape.columns
            let scale: Float = r == .mean ? 1 / Float(m) : 1
            parallelFor(n, grain: max(1, parallelGrain / max(m, 1))) { cols in
                for j in cols { y[j] = 0 }
                for i in 0..<m {
                    let row = x + i * n
                    for j in cols { y[j] += row[j] }
                }
                for j in cols { y[j] *= scale }
            }
        case .all, .channels:
            let count = shape.count
            let chunk = 4096
            var total = 0.0
            for start in stride(from: 0, to: count, by: chunk) {
                var partial = 0.0
                for i in start..<min(start + chunk, count) { partial += Double(x[i]) }
                total += partial
            }
            y[0] = Float(r == .mean ? total / Double(count) : total)
        }
    }

    /// y[i] = scale · x[i mod n] for a scalar (n = 1) or a row (n = the last extent).
    func broadcast(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, from n: Int, to count: Int, scale: Float) {
        guard n > 0, count % n == 0 else { return parallelFor(count) { r in for i in r { y[i] = scale * x[i % n] } } }
        // Whole rows: a copy (or one scaled pass) per row, no index arithmetic per element.
        parallelFor(count / n, grain: max(1, parallelGrain / n)) { rows in
            for row in rows {
                let out = y + row * n
                if scale == 1 { out.update(from: x, count: n) } else { for j in 0..<n { out[j] = scale * x[j] } }
            }
        }
    }

    func gather(y: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, indices: UnsafePointer<Int32>,
                rows: Int, tableRows: Int, width: Int, indexCount: Int, cursor: Int) throws {
        for r in 0..<rows {
            (y + r * width).update(from: table + (try gatheredRow(r, indices: indices, tableRows: tableRows, indexCount: indexCount, cursor: cursor, rows: rows)) * width,
                                   count: width)
        }
    }

    /// `gatherPalette`: row r of y is row indices[cursor + r] of the byte table, each byte b as palette[b].
    func gather(y: UnsafeMutablePointer<Float>, bytes table: UnsafePointer<UInt8>, palette: UnsafePointer<Float>, indices: UnsafePointer<Int32>,
                rows: Int, tableRows: Int, width: Int, indexCount: Int, cursor: Int) throws {
        for r in 0..<rows {
            let row = table + (try gatheredRow(r, indices: indices, tableRows: tableRows, indexCount: indexCount, cursor: cursor, rows: rows)) * width
            for c in 0..<width { y[r * width + c] = palette[Int(row[c])] }
        }
    }

    /// The table row that row r of a gather reads; an index list too short or an index outside
    /// the table is an error naming both.
    private func gatheredRow(_ r: Int, indices: UnsafePointer<Int32>, tableRows: Int, indexCount: Int, cursor: Int, rows: Int) throws -> Int {
        guard cursor >= 0, cursor + rows <= indexCount else {
            throw BackendError.outOfRange(op: "gather", detail: "rows \(cursor)..<\(cursor + rows) of an index list of \(indexCount)")
        }
        let index = Int(indices[cursor + r])
        guard index >= 0, index < tableRows else {
            throw BackendError.outOfRange(op: "gather", detail: "index \(index) at position \(cursor + r) is outside a table of \(tableRows) rows")
        }
        return index
    }
}

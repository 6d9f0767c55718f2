import Foundation

/// Loss curves as an SVG line chart: one polyline per series over epochs, with axes and a legend.
public struct LossPlot {
    public var series: [(name: String, values: [(Double, Double)])]
    /// Values left out because they are not finite (nan, inf): a chart cannot place them.
    public private(set) var skipped = 0

    /// Non-finite points are left out and counted in `skipped`.
    public init(series: [(name: String, values: [(Double, Double)])]) {
        self.series = series.map { s in (s.name, s.values.filter { $0.0.isFinite && $0.1.isFinite }) }
        skipped = zip(series, self.series).reduce(0) { $0 + $1.0.values.count - $1.1.values.count }
    }

    /// Reads metrics.csv (as `vae train` writes it): train loss and test −ELBO per epoch.
    public init(metricsCSV text: String) {
        var train: [(Double, Double)] = [], test: [(Double, Double)] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map { Double($0) }
            guard f.count >= 4, let e = f[0], let tr = f[2], let te = f[3] else { continue }
            train.append((e, tr))
            test.append((e, te))
        }
        self.init(series: [("train −ELBO", train), ("test −ELBO", test)])
    }

    public func svg(width: Double = 640, height: Double = 400) -> String {
        let points = series.flatMap(\.values)
        guard let xMin = points.map(\.0).min(), let xMax = points.map(\.0).max(),
              let yMin = points.map(\.1).min(), let yMax = points.map(\.1).max() else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\"><text x=\"20\" y=\"40\">no data</text></svg>\n"
        }
        let (left, right, top, bottom) = (70.0, 20.0, 20.0, 50.0)
        let xSpan = max(xMax - xMin, 1), ySpan = max(yMax - yMin, 1e-9)
        func px(_ x: Double) -> Double { left + (x - xMin) / xSpan * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - yMin) / ySpan * (height - top - bottom) }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        for i in 0...4 {
            let y = yMin + ySpan * Double(i) / 4
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n", left - 6, py(y) + 4, y)
        }
        for i in 0...min(Int(xSpan), 10) {
            let x = xMin + xSpan * Double(i) / Double(min(Int(xSpan), 10))
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", px(x), height - bottom + 18, x)
        }
        out += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">epoch</text>\n"
        out += "<text x=\"16\" y=\"\((top + height - bottom) / 2)\" transform=\"rotate(-90 16 \((top + height - bottom) / 2))\" text-anchor=\"middle\">nats per example</text>\n"
        for (i, s) in series.enumerated() where !s.values.isEmpty {
            let color = colors[i % colors.count]
            let path = s.values.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            out += "<text x=\"\(width - right - 120)\" y=\"\(top + 16 * Double(i + 1))\" fill=\"\(color)\">\(s.name)</text>\n"
        }
        return out + "</svg>\n"
    }
}

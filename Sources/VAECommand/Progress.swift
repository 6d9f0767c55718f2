import Foundation
import VAE

/// A live progress bar on a terminal (rewritten in place on stderr), plain lines otherwise.
final class ProgressDisplay {
    let epochs: Int
    let steps: Int
    let batchSize: Int
    let live = isatty(STDERR_FILENO) != 0
    private var epoch = 0
    private var start = Date()
    private var lastPlain = 0

    init(epochs: Int, steps: Int, batchSize: Int) {
        self.epochs = epochs
        self.steps = steps
        self.batchSize = batchSize
    }

    private var firstStep = 0

    func begin(epoch: Int, from step: Int = 0) {
        self.epoch = epoch
        start = Date()
        lastPlain = step
        firstStep = step
    }

    func update(step: Int, loss: Float) {
        let elapsed = Date().timeIntervalSince(start)
        let done = max(step - firstStep, 1)
        let rate = Double(done * batchSize) / max(elapsed, 1e-9)
        let eta = Double(steps - step) * elapsed / Double(done)
        if live {
            let width = 30
            let filled = width * step / max(steps, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(format: "\repoch %d/%d %@ step %d/%d  loss %.2f  %.0f samples/s  ETA %@ ", epoch, epochs, bar, step, steps, loss, rate, clock(eta))
            Console.err(line)
        } else if step * 10 / max(steps, 1) > lastPlain * 10 / max(steps, 1) || step == steps {
            lastPlain = step
            say(String(format: "epoch %d/%d step %d/%d loss %.2f %.0f samples/s ETA %@", epoch, epochs, step, steps, loss, rate, clock(eta)))
        }
    }

    func end(line: String) {
        if live { Console.err("\r\u{1B}[K") }
        say(line)
    }
}

/// metrics.csv: one row per epoch, rewritten through a temporary file so it is never half-written.
struct MetricsFile {
    let path: String

    func append(epoch: Int, step: UInt64, trainLoss: Double, test: ELBOReport, seconds: Double, samplesPerSecond: Double) throws {
        var text = (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        if text.isEmpty { text = RunFolder.metricsHeader + "\n" }
        // Rows of epochs at or after this one (from a run that was resumed) are replaced.
        let rows = text.split(separator: "\n").filter { line in
            guard let e = Int(line.split(separator: ",").first ?? "") else { return true }
            return e < epoch
        }
        text = rows.joined(separator: "\n") + "\n"
        text += String(format: "%d,%llu,%.4f,%.4f,%.4f,%.4f,%.3f,%.1f\n", epoch, step, trainLoss, test.negativeELBO, test.reconstruction, test.kl, seconds, samplesPerSecond)
        try writeTextAtomically(text, to: path)
    }
}

/// "examples done" progress for long evaluations, on stderr: a first line at once, then in
/// place on a terminal (at most every 0.2 s), else a line every 10% or every 30 s, and always
/// within a second or two of the start, however long one example takes.
final class CountProgress {
    let total: Int
    let label: String
    let live = isatty(STDERR_FILENO) != 0
    private var start = Date()
    private var lastShown: Date?
    private var lastTenth = 0

    init(total: Int, label: String, detail: String) {
        self.total = total
        self.label = label
        Console.err("\(label): \(total) examples, \(detail)\n")
    }

    /// Starts the clock (for the ETA and the first update) when the counted work begins.
    func restart() {
        start = Date()
        lastShown = nil
    }

    func callAsFunction(_ done: Double) {
        let now = Date()
        let tenth = Int(done * 10 / Double(max(total, 1)))
        let since = now.timeIntervalSince(lastShown ?? start)
        let due = done >= Double(total) || (live ? since >= 0.2 : (tenth > lastTenth || since >= 30 || (lastShown == nil && since >= 1)))
        guard due else { return }
        lastShown = now
        lastTenth = tenth
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / done * (Double(total) - done) : 0
        let text = String(format: "%@: %.1f/%d examples, ETA %@", label, done, total, clock(eta))
        Console.err(live ? "\r" + text + (done >= Double(total) ? "\n" : "") : text + "\n")
    }
}

/// An ETA as m:ss, or h:mm:ss from an hour on; "unknown" when it cannot be estimated.
private func clock(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "unknown" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

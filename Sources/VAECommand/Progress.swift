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
            FileHandle.standardError.write(Data(line.utf8))
        } else if step * 10 / max(steps, 1) > lastPlain * 10 / max(steps, 1) || step == steps {
            lastPlain = step
            say(String(format: "epoch %d/%d step %d/%d loss %.2f %.0f samples/s ETA %@", epoch, epochs, step, steps, loss, rate, clock(eta)))
        }
    }

    func end(line: String) {
        if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        say(line)
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// metrics.csv: one row per epoch, rewritten through a temporary file so it is never half-written.
struct MetricsFile {
    let path: String
    static let header = "epoch,step,train_loss,test_neg_elbo,test_reconstruction,test_kl,epoch_seconds,samples_per_second"

    func append(epoch: Int, step: UInt64, trainLoss: Double, test: ELBOReport, seconds: Double, samplesPerSecond: Double) throws {
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        if text.isEmpty { text = Self.header + "\n" }
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

/// "examples done" progress for long evaluations, on stderr: in place on a terminal, else a
/// line every 10%.
struct CountProgress {
    let total: Int
    let label: String
    let live = isatty(STDERR_FILENO) != 0
    let start = Date()

    func callAsFunction(_ done: Int) {
        let step = max(1, total / (live ? 200 : 10))
        guard done % step == 0 || done == total else { return }
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(done) * Double(total - done)
        let text = String(format: "%@: %d/%d examples, ETA %d:%02d", label, done, total, Int(eta) / 60, Int(eta) % 60)
        FileHandle.standardError.write(Data((live ? "\r" + text + (done == total ? "\n" : "") : text + "\n").utf8))
    }
}

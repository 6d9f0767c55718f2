import Dispatch
import Foundation
import Synchronization

/// Turns the first Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal went away) into a request
/// to stop after the current step, with a checkpoint; a second one ends the process at once.
/// (`sources` is touched only in init and deinit.)
final class InterruptRequest: @unchecked Sendable {
    private let requested = Atomic<Bool>(false)
    private var sources: [DispatchSourceSignal] = []
    static let signals = [SIGINT, SIGTERM, SIGHUP]

    init() {
        // `Console.prepareProcess` has unblocked them.
        for s in Self.signals {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.requested.exchange(true, ordering: .relaxed) { exit(130) }
                Console.err("\nstopping after this step (Ctrl-C again to quit at once)\n")
            }
            source.resume()
            sources.append(source)
        }
    }

    var isRequested: Bool { requested.load(ordering: .relaxed) }

    deinit {
        for source in sources { source.cancel() }
        for s in Self.signals { signal(s, SIG_DFL) }
    }
}

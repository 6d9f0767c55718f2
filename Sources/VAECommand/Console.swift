import Foundation
import Synchronization
import VAE

/// Standard output and error that never end a run: a closed stream, a full disk or a reader
/// that went away (`vae train | head`) turns a write into a no-op with one note on stderr, not
/// a trap or SIGPIPE. Paths carried with escaped bytes (`PathBytes`) are printed as their
/// original bytes.
enum Console {
    private static let failed = Mutex<(out: Bool, err: Bool)>((false, false))

    /// Makes the process safe to write from and to stop: Ctrl-C, SIGTERM and SIGHUP are delivered; writes to a closed pipe or past a file-size limit
    /// return an error instead of killing the process, and closed standard descriptors are
    /// reopened on /dev/null so no file the program opens can take their numbers.
    static func prepareProcess() {
        // A parent may have started us with these blocked (test runners do); a stop request
        // must always arrive, for every command.
        var stops = sigset_t()
        sigemptyset(&stops)
        for s in InterruptRequest.signals { sigaddset(&stops, s) }
        pthread_sigmask(SIG_UNBLOCK, &stops, nil)
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        for fd in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            let opened = open("/dev/null", O_RDWR)
            if opened != fd && opened >= 0 { dup2(opened, fd); close(opened) }
            if fd == STDOUT_FILENO { failed.withLock { $0.out = true } }
        }
    }

    /// The command line with every argument's bytes kept (see `PathBytes`).
    static var arguments: [String] {
        (1..<Int(CommandLine.argc)).map { i in
            guard let pointer = CommandLine.unsafeArgv[i] else { return "" }
            return PathBytes.escaped(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer)))
        }
    }

    /// Drops everything written to standard output from now on (ranks other than 0 of an MPI
    /// job: one rank speaks for the job). Standard error still shows, for errors.
    static func silenceStandardOutput() { silenced.withLock { $0 = true } }
    private static let silenced = Mutex(false)

    /// Whether some standard output was lost (a closed, full or broken stream).
    static var lostOutput: Bool { failed.withLock { $0.out } }

    static func out(_ text: String) {
        guard !failed.withLock({ $0.out }), !silenced.withLock({ $0 }) else { return }
        if let code = write(text, to: STDOUT_FILENO) {
            failed.withLock { $0.out = true }
            err("note: cannot write to standard output (\(String(cString: strerror(code)))); going on without it\n")
        }
    }

    static func err(_ text: String) {
        guard !failed.withLock({ $0.err }) else { return }
        if write(text, to: STDERR_FILENO) != nil { failed.withLock { $0.err = true } }
    }

    /// Writes all of `text`; returns errno on failure.
    private static func write(_ text: String, to fd: Int32) -> Int32? {
        let bytes = PathBytes.bytes(text)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += n
        }
        return nil
    }
}

/// Prints a line at once (unbuffered, also into a file or pipe, so progress shows as it happens).
func say(_ line: String) {
    Console.out(line + "\n")
}

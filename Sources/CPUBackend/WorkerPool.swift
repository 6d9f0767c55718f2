import CPUVector
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Worker threads that spin for a while after each job before they sleep, so the many short
/// parallel loops of a training step (a few µs to a few hundred µs each, back to back) start on
/// all cores at once: handing a job to a sleeping thread (what `DispatchQueue.concurrentPerform`
/// does) costs a wake-up of several µs to tens of µs each time.
///
/// One pool per thread count is shared by every `CPUBackend` in the process; a job that finds it
/// busy (another backend on another thread) returns false, and the caller runs it another way.
final class WorkerPool: @unchecked Sendable {
    /// How long an idle worker spins before it sleeps: 20,000 `pause`s, about 0.35 ms on the
    /// Xeon this was measured on (a `pause` takes 10 to 140 cycles, by CPU).
    static let spinLimit = 20_000

    /// (job generation << 32) | next chunk index: workers claim chunks of the current job only.
    private let cursor = Atomic<UInt64>(0)
    private let generation = Atomic<UInt32>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The current job; written only while no worker can run a chunk of it.
    private var job: ((Int) -> Void)?
    private let chunks = Atomic<Int>(0)

    private init(workers: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 0..<workers {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(self).toOpaque()
            pthread_create(&thread, nil, { box in
                Unmanaged<WorkerPool>.fromOpaque(box!).takeRetainedValue().workerLoop()
                return nil
            }, box)
            pthread_detach(thread)
        }
    }

    private static let pools = Mutex<[Int: WorkerPool]>([:])

    /// The shared pool with `threads − 1` workers (the caller is the last thread).
    static func shared(threads: Int) -> WorkerPool {
        pools.withLock { pools in
            if let pool = pools[threads] { return pool }
            let pool = WorkerPool(workers: threads - 1)
            pools[threads] = pool
            return pool
        }
    }

    /// Runs body(0), …, body(chunks − 1) on the workers and the calling thread and returns when
    /// all are done; false (nothing run) when the pool is running another caller's job.
    func run(chunks: Int, _ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        return withoutActuallyEscaping(body) { escaping in
            job = escaping
            self.chunks.store(chunks, ordering: .relaxed)
            pending.store(chunks, ordering: .relaxed)
            let g = generation.load(ordering: .relaxed) &+ 1
            cursor.store(UInt64(g) << 32, ordering: .releasing)
            generation.store(g, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(mutex)
            }
            work(generation: g)
            while pending.load(ordering: .acquiring) > 0 { vector_pause() }
            job = nil
            return true
        }
    }

    /// Claims and runs chunks of job `g` until none are left.
    private func work(generation g: UInt32) {
        while true {
            let current = cursor.load(ordering: .acquiring)
            guard UInt32(truncatingIfNeeded: current >> 32) == g else { return }
            let index = Int(current & 0xFFFF_FFFF)
            guard index < chunks.load(ordering: .relaxed) else { return }
            guard cursor.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            let previous = vector_flush_denormals()
            job?(index)
            vector_restore_denormals(previous)
            pending.subtract(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { vector_pause(); continue }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(wake, mutex) }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
            seen = generation.load(ordering: .acquiring)
            work(generation: seen)
        }
    }
}

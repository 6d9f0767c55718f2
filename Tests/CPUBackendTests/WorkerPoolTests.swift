import CPUBackend
import Dispatch
import Engine
import Synchronization
import Testing

/// The CPU backend's loops share one pool of spinning workers; backends used from several
/// threads at once (one of them gets the pool, the others fall back to Dispatch) must all get
/// every element computed, every time.
@Suite struct WorkerPoolTests {
    @Test func concurrentBackendsComputeEveryElement() throws {
        let count = 400_003  // several chunks, an uneven split
        let a = (0..<count).map { Float($0 % 1000) }, b = (0..<count).map { Float(($0 * 7) % 1000) }
        let expected = zip(a, b).map { $0 + $1 }
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                let backend = CPUBackend(threads: worker % 2 == 0 ? 8 : 3)  // more threads than cores: workers get descheduled
                let x = TensorBuffer(try backend.makeBuffer(a), TensorSpec(Shape(count)))
                let y = TensorBuffer(try backend.makeBuffer(b), TensorSpec(Shape(count)))
                let out = TensorBuffer(try backend.allocate(bytes: count * 4), TensorSpec(Shape(count)))
                for _ in 0..<50 {
                    try backend.execute(.add, inputs: [x, y], outputs: [out], context: RunContext())
                    if try backend.download(out.buffer, count: count) != expected { failures.withLock { $0 += 1 } }
                    try backend.execute(.add, inputs: [x, x], outputs: [out], context: RunContext())  // overwrite between checks
                }
            } catch {
                failures.withLock { $0 += 1000 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }
}

import CPUBackend
import DataParallel
import Foundation
import Testing
@testable import VAE

/// `mpirun`, or nil when the test run may go without MPI (VAE_TEST_WITHOUT_MPI=1: a build on a
/// machine without MPI still passes every other test). Otherwise a missing mpirun fails.
func mpirun() throws -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    if let found = path.split(separator: ":").map({ "\($0)/mpirun" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
        return found
    }
    if ProcessInfo.processInfo.environment["VAE_TEST_WITHOUT_MPI"] == "1" { return nil }
    Issue.record("mpirun not found: install openmpi-bin (or set VAE_TEST_WITHOUT_MPI=1 to leave out the MPI tests)")
    throw CocoaError(.fileNoSuchFile)
}

/// Runs `vae` as `ranks` processes over loopback and shared memory only, as root too.
func vaeMPI(_ ranks: Int, _ arguments: [String], in directory: String) throws -> CommandResult {
    guard let mpirun = try mpirun() else { return CommandResult(status: 0, output: "", error: "") }
    return try runProcess(mpirun, ["-np", "\(ranks)", "--oversubscribe", "--mca", "btl", "self,vader", try vaeExecutable()] + arguments, in: directory,
                          environment: ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_btl_tcp_if_include": "lo"])
}

/// A temporary folder with an IDX data set (`writeIDXDataset`) in data/.
func folderWithData(count: Int, side: Int, testCount: Int) throws -> String {
    let dir = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
    try writeIDXDataset(to: dir + "/data", count: count, side: side, testCount: testCount)
    return dir
}

func parameters(_ path: String) throws -> [String: [Float]] {
    let c = try Checkpoint(contentsOf: path)
    var values: [String: [Float]] = [:]
    for name in c.names where !name.hasPrefix("metrics.") { values[name] = c[name]?.values }
    return values
}

@Suite struct MPILaunchTests {
    @Test func noLauncherMeansOneProcessWithoutMPI() throws {
        #expect(try MPILaunch.detect([:]) == nil)
        #expect(try MPILaunch.detect(["PATH": "/usr/bin"]) == nil)
    }

    @Test func readsOpenMPIAndHydraVariables() throws {
        let open = try #require(try MPILaunch.detect(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3",
                                                      "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"]))
        #expect(open == MPILaunch(rank: 3, size: 4, localRank: 1, localSize: 2, libraries: ["libmpi.so.40", "libmpi.so"]))
        let hydra = try #require(try MPILaunch.detect(["PMI_SIZE": "2", "PMI_RANK": "0", "VAE_MPI_LIBRARY": "/opt/mpi/lib/libmpi.so"]))
        #expect(hydra == MPILaunch(rank: 0, size: 2, localRank: 0, localSize: 1, libraries: ["/opt/mpi/lib/libmpi.so"]))
    }

    @Test func aBadLauncherVariableIsNamed() throws {
        #expect(throws: MPIError.badVariable(name: "OMPI_COMM_WORLD_RANK", value: "2", expected: "a whole number in 0...1")) {
            try MPILaunch.detect(["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "2"])
        }
        #expect(throws: MPIError.badVariable(name: "PMI_SIZE", value: "two", expected: "a whole number in 1...16777216")) {
            try MPILaunch.detect(["PMI_SIZE": "two", "PMI_RANK": "0"])
        }
    }

    @Test func aMissingLibraryIsAClearError() throws {
        let launch = MPILaunch(rank: 0, size: 2, localRank: 0, localSize: 2, libraries: ["/nonexistent/libmpi.so"])
        do {
            _ = try MPIProcessGroup(launch)
            Issue.record("loading a missing library succeeded")
        } catch {
            #expect("\(error)".contains("/nonexistent/libmpi.so") && "\(error)".contains("VAE_MPI_LIBRARY"), "\(error)")
        }
        // The command says the same, with the variable the user set.
        let dir = try temporaryDirectory()
        try expectCleanFailure(["train", "--backend", "cpu", "--limit", "64"], in: dir,
                               environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0", "VAE_MPI_LIBRARY": "/nonexistent/libmpi.so"],
                               ["no MPI library could be loaded", "/nonexistent/libmpi.so"])
    }

    /// Commands other than train and evaluate refuse to run as several MPI processes (they would
    /// write the same outputs N times); with one process they run as always.
    @Test func otherCommandsRefuseSeveralRanks() throws {
        let dir = try temporaryDirectory()
        let launcher = ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"]
        for command in [["sample", "--checkpoint", "run"], ["devices"], ["bench", "--peak-only"]] {
            try expectCleanFailure(command, in: dir, environment: launcher, ["vae \(command[0]) runs as one process", "rank 1 of 2"])
        }
        let alone = try vae(["devices"], in: dir, environment: ["OMPI_COMM_WORLD_SIZE": "1", "OMPI_COMM_WORLD_RANK": "0"])
        #expect(alone.status == 0, "\(alone.error)")
        try expectCleanFailure(["devices"], in: dir, environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "x"],
                               ["OMPI_COMM_WORLD_RANK is x"])
    }

    @Test func sharesCoverTheRangeInWholeUnits() throws {
        final class Fake: ProcessGroup {
            let rank: Int, size: Int
            init(_ rank: Int, _ size: Int) { (self.rank, self.size) = (rank, size) }
            func sum(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, what: String) throws {}
            func sum(_ values: inout [Double], what: String) throws {}
            func allGather(_ value: UInt64, what: String) throws -> [UInt64] { [value] }
        }
        for (count, unit, size) in [(1001, 500, 2), (7, 1, 3), (10, 500, 4), (129, 33, 5)] {
            let shares = (0..<size).map { Fake($0, size).share(of: count, unit: unit) }
            #expect(shares.first?.lowerBound == 0 && shares.last?.upperBound == count)
            for (a, b) in zip(shares, shares.dropFirst()) { #expect(a.upperBound == b.lowerBound) }
            for s in shares where !s.isEmpty { #expect(s.lowerBound % unit == 0) }
        }
    }
}

/// `mpirun -np 2 vae …` over loopback: the two ranks follow one process with the doubled
/// batch, on both backends; evaluation splits the test set; faults end the job.
@Suite(.serialized) struct DataParallelTests {
    static let model = ["--hidden", "24", "--latent", "3", "--epochs", "2", "--seed", "5"]

    @Test(arguments: ["cpu", "opencl"])
    func twoRanksFollowOneProcessWithTheDoubledBatch(_ backend: String) throws {
        guard try mpirun() != nil else { return }
        let dir = try folderWithData(count: 200, side: 6, testCount: 50)
        let data = ["train", "--backend", backend, "--data", "data"] + Self.model
        let one = try vae(data + ["--batch-size", "16", "--out", "one"], in: dir)
        #expect(one.status == 0, "\(one.error)")
        let two = try vaeMPI(2, data + ["--batch-size", "8", "--out", "two"], in: dir)
        #expect(two.status == 0, "\(two.error)")
        // Rank 0 alone speaks and writes.
        #expect(two.output.components(separatedBy: "epoch 2/2  train").count == 2, "\(two.output)")
        #expect(two.output.contains("data-parallel: 2 processes") && two.output.contains("gradient exchange per step"))
        let a = try parameters(dir + "/one/model.safetensors"), b = try parameters(dir + "/two/model.safetensors")
        #expect(a.keys.sorted() == b.keys.sorted() && !a.isEmpty)
        #expect(relativeDifference(a, b) < 2e-5, "two ranks drifted from one process by \(relativeDifference(a, b))")
        let rows = { (run: String) in try String(contentsOfFile: "\(dir)/\(run)/metrics.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",") } }
        let (r1, r2) = (try rows("one"), try rows("two"))
        #expect(r1.count == 3 && r2.count == 3)
        for (x, y) in zip(r1.dropFirst(), r2.dropFirst()) {
            #expect(x[1] == y[1], "the same step count")
            for column in 2...5 { #expect(abs(Double(x[column])! - Double(y[column])!) < 0.01, "metrics column \(column): \(x) vs \(y)") }
        }

        // Split evaluation gives one process's numbers.
        let evaluate = ["evaluate", "--backend", backend, "--checkpoint", "two", "--data", "data", "--importance-samples", "30", "--json"]
        let single = try vae(evaluate, in: dir), split = try vaeMPI(2, evaluate, in: dir)
        #expect(single.status == 0 && split.status == 0, "\(single.error) \(split.error)")
        let json = { (text: String) in try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:] }
        let (s, p) = (try json(single.output), try json(split.output))
        for key in ["negative_elbo", "negative_log_likelihood"] {
            let (x, y) = (s[key] as? Double ?? .nan, p[key] as? Double ?? .nan)
            #expect(abs(x - y) < 1e-6 * max(1, abs(x)), "\(key): one process \(x), two ranks \(y)")
        }
    }

    /// A run started alone goes on under mpirun with two ranks (the global batch doubles from
    /// the next epoch), and back.
    @Test func resumesWithAnotherNumberOfRanks() throws {
        guard try mpirun() != nil else { return }
        let dir = try folderWithData(count: 128, side: 4, testCount: 32)
        let flags = ["train", "--backend", "cpu", "--data", "data", "--hidden", "8", "--latent", "2", "--batch-size", "8"]
        #expect(try vae(flags + ["--epochs", "1", "--out", "run"], in: dir).status == 0)
        let two = try vaeMPI(2, flags + ["--epochs", "2", "--resume", "run"], in: dir)
        #expect(two.status == 0, "\(two.error)")
        let one = try vae(flags + ["--epochs", "3", "--resume", "run"], in: dir)
        #expect(one.status == 0, "\(one.error)")
        let c = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        #expect(c.metadata["step"] == "\(16 + 8 + 16)" && c.metadata["epoch"] == "3" && c.metadata["global_batch"] == "8")
    }

    /// A rank killed mid-run ends the job with a message naming it; the checkpoint stays readable.
    @Test func aKilledRankEndsTheJob() throws {
        guard try mpirun() != nil else { return }
        let dir = try folderWithData(count: 512, side: 8, testCount: 32)
        let result = try shell("""
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            mpirun -np 2 --oversubscribe --mca btl self,vader "$VAE" train --backend cpu --data data --epochs 100000 --batch-size 8 --out run > out.txt 2> err.txt &
            job=$!
            for i in $(seq 600); do [ -f run/model.safetensors ] && break; sleep 0.1; done
            victim=$(pgrep -f -n "vae train --backend cpu --data data --epochs 100000")
            kill -9 "$victim"
            for i in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
            if kill -0 $job 2>/dev/null; then echo "the job still runs 30 s after a rank died"; kill -9 $job; exit 3; fi
            wait $job; echo "status $?"
            cat err.txt
            """, in: dir)
        #expect(result.status == 0, "\(result.output) \(result.error)")
        #expect(!result.output.contains("status 0"), "\(result.output)")
        #expect(result.output.contains("rank"), "the message names the rank: \(result.output)")
        let evaluate = try vae(["evaluate", "--backend", "cpu", "--checkpoint", "run", "--data", "data", "--importance-samples", "0"], in: dir)
        #expect(evaluate.status == 0, "the last checkpoint is readable: \(evaluate.error)")
    }

    /// A stop request (SIGTERM, as Ctrl-C on mpirun sends) to one rank stops every rank after
    /// the same step; rank 0 writes the checkpoint, which two ranks resume and one refuses.
    @Test func aStopRequestToOneRankStopsThemAll() throws {
        guard try mpirun() != nil else { return }
        let dir = try folderWithData(count: 4096, side: 8, testCount: 32)
        let flags = "train --backend cpu --data data --batch-size 8 --hidden 16 --latent 2 --out run"
        let result = try shell("""
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            mpirun -np 2 --oversubscribe --mca btl self,vader "$VAE" \(flags) --epochs 100000 > out.txt 2> err.txt &
            job=$!
            for i in $(seq 600); do grep -q "epoch 2/" out.txt && break; sleep 0.1; done
            for p in $(pgrep -f "vae \(flags)"); do
                [ "$(tr '\\0' '\\n' < /proc/$p/environ | grep '^OMPI_COMM_WORLD_RANK=')" = "OMPI_COMM_WORLD_RANK=1" ] && kill -TERM $p
            done
            for i in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
            if kill -0 $job 2>/dev/null; then echo "the job still runs 30 s after a stop request"; kill -9 $job; exit 3; fi
            wait $job; echo "status $?"
            cat out.txt
            """, in: dir)
        #expect(result.output.contains("status 130") && result.output.contains("interrupted at step"), "\(result.output) \(result.error)")
        let c = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        let inEpoch = Int(c.metadata["epoch_step"] ?? "") ?? 0
        #expect(inEpoch > 0 && c.metadata["global_batch"] == "16", "\(c.metadata)")
        let epochs = (Int(c.metadata["epoch"] ?? "") ?? 0) + 1  // the interrupted one
        // One process would take other batches for the rest of the epoch: refused.
        try expectCleanFailure(flags.split(separator: " ").map(String.init).dropLast(2) + ["--resume", "run", "--epochs", "\(epochs)"], in: dir,
                               ["global batch of 16", "finish the epoch with the number of processes it was started with"])
        let resumed = try vaeMPI(2, flags.split(separator: " ").map(String.init).dropLast(2) + ["--resume", "run", "--epochs", "\(epochs)"], in: dir)
        #expect(resumed.status == 0, "\(resumed.error)")
        let done = try Checkpoint(contentsOf: dir + "/run/model.safetensors").metadata
        #expect(done["epoch"] == "\(epochs)" && done["epoch_step"] == "0", "\(done)")
    }

    /// A rank that hangs (stopped) ends the job after --collective-timeout, naming that rank.
    @Test func aHungRankIsNamedAfterTheTimeout() throws {
        guard try mpirun() != nil else { return }
        let dir = try folderWithData(count: 512, side: 8, testCount: 32)
        let result = try shell("""
            export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            mpirun -np 2 --oversubscribe --mca btl self,vader "$VAE" train --backend cpu --data data --epochs 100000 --batch-size 8 --out run --collective-timeout 2 > out.txt 2> err.txt &
            job=$!
            for i in $(seq 600); do [ -f run/model.safetensors ] && break; sleep 0.1; done
            for p in $(pgrep -f "vae train --backend cpu --data data --epochs 100000"); do
                [ "$(tr '\\0' '\\n' < /proc/$p/environ | grep '^OMPI_COMM_WORLD_RANK=')" = "OMPI_COMM_WORLD_RANK=1" ] && kill -STOP $p && stopped=$p
            done
            for i in $(seq 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
            if kill -0 $job 2>/dev/null; then echo "the job still runs 30 s after a rank hung"; kill -9 $job $stopped; exit 3; fi
            kill -9 $stopped 2>/dev/null
            wait $job; echo "status $?"
            cat err.txt
            """, in: dir)
        #expect(result.status == 0, "\(result.output) \(result.error)")
        // Stopped before the exchange, it never arrived; stopped inside it, it went silent.
        #expect(result.output.contains("rank 1 never arrived") || result.output.contains("rank 1 arrived, then stopped responding"), "\(result.output)")
        #expect(result.output.contains("--collective-timeout") && !result.output.contains("status 0"), "\(result.output)")
    }
}

/// Rank 0 of `size` ranks that all compute what this one does: sums are `size` × the values.
/// Lets the trainer's group path run in one process.
final class MirrorGroup: ProcessGroup {
    let rank = 0
    let size: Int
    /// Added to the other ranks' parameter hashes (non-zero: replicas that diverged).
    let hashOffset: UInt64
    private(set) var floatSums = 0

    init(size: Int, hashOffset: UInt64 = 0) {
        self.size = size
        self.hashOffset = hashOffset
    }

    func sum(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, what: String) throws {
        for i in values.indices { values[i] = values[i] * Float(size) * scale }
        floatSums += 1
    }

    func sum(_ values: inout [Double], what: String) throws { values = values.map { $0 * Double(size) } }

    func allGather(_ value: UInt64, what: String) throws -> [UInt64] {
        [value] + Array(repeating: value &+ hashOffset, count: size - 1)
    }
}

@Suite struct TrainerGroupTests {
    /// Both schedules exchange once per optimizer step (the alternating one twice per step),
    /// over a global batch of size × batch.
    @Test(arguments: [Schedule.joint, .alternating])
    func exchangesOncePerOptimizerStep(_ schedule: Schedule) throws {
        var training = smallTraining(batch: 16)
        training.schedule = schedule
        let group = MirrorGroup(size: 4)
        let trainer = try Trainer(model: smallModel(), training: training, data: syntheticDataset(count: 256), backend: CPUBackend(), group: group)
        #expect(trainer.globalBatchSize == 64 && trainer.stepsPerEpoch == 4)
        let loss = try trainer.trainEpoch()
        #expect(loss.isFinite)
        #expect(group.floatSums == 4 * (schedule == .joint ? 1 : 2))
        let total = try trainer.parameterValues().values.map(\.count).reduce(0, +)
        let decoder = try trainer.parameterValues().filter { !$0.key.hasPrefix("encoder") && !$0.key.hasPrefix("mean") && !$0.key.hasPrefix("logvar") }
        // The last exchange of a step: every parameter (joint), or the decoder's (the M-step).
        #expect(trainer.exchangeTime.floats == (schedule == .joint ? total : decoder.values.map(\.count).reduce(0, +)))
    }

    @Test func divergedReplicasStopTheRun() throws {
        let trainer = try Trainer(model: smallModel(), training: smallTraining(batch: 16), data: syntheticDataset(count: 128), backend: CPUBackend(),
                                  group: MirrorGroup(size: 3, hashOffset: 1))
        #expect(throws: DataParallelError.replicasDiverged(epoch: 1, ranks: [1, 2])) { try trainer.trainEpoch() }
    }

    @Test func aGlobalBatchLargerThanTheDataIsRefused() throws {
        #expect(throws: ConfigurationError.self) {
            try Trainer(model: smallModel(), training: smallTraining(batch: 48), data: syntheticDataset(count: 128), backend: CPUBackend(),
                        group: MirrorGroup(size: 3))
        }
    }
}

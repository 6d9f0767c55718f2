import Foundation
import Testing
@testable import VAE

/// Nothing a user trained or collected is replaced by accident, two runs never share a folder,
/// output streams never end a run, and a full disk or an odd path gets a plain message
/// (issue "hostile-input round two", classes 1, 2, 5 and 8).
@Suite struct OutputSafetyTests {
    /// Class 1: every command that writes --out refuses the checkpoint it reads, any
    /// checkpoint, a run's metrics, data files and unrelated files, however the path is spelled;
    /// --overwrite lifts it, and an earlier output of the same kind is replaced as before.
    @Test func outputsNeverReplaceModelsMetricsOrData() throws {
        let dir = try FailureTests.prepared()
        try FileManager.default.copyItem(atPath: dir + "/run/model.safetensors", toPath: dir + "/other.safetensors")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.png", withDestinationPath: "run/model.safetensors")
        try Data("id,amount\n1,9.5\n".utf8).write(to: URL(fileURLWithPath: dir + "/mine.csv"))
        let guarded = ["run/model.safetensors", "run/metrics.csv", "other.safetensors", "link.png", "./run/../run/model.safetensors",
                       "data/train-images-idx3-ubyte.gz", "mine.csv"]
        let before = guarded.map { fileBytes(dir + "/" + $0) }
        let model = ["--backend", "cpu", "--checkpoint", "run"], data = ["--data", "data"]
        let commands: [[String]] = [
            ["sample"] + model, ["reconstruct"] + model + data, ["interpolate"] + model + data, ["score"] + model + data, ["plot", "--run", "run"],
        ]
        for command in commands {
            for target in guarded {
                try expectCleanFailure(command + ["--out", target], in: dir, ["--out \(target) would replace", "--overwrite"])
            }
        }
        try expectCleanFailure(["sample"] + model + ["--out", "run/model.safetensors"], in: dir, ["run/model.safetensors, which this command reads"])
        try expectCleanFailure(["sample"] + model + ["--out", "other.safetensors"], in: dir, ["a swift-vae checkpoint (a trained model)"])
        try expectCleanFailure(["score"] + model + data + ["--out", "run/metrics.csv"], in: dir, ["the training history (metrics.csv) of a run"])
        try expectCleanFailure(["encode"] + model + data + ["--out", "run/metrics.csv"], in: dir, ["the training history"])
        try expectCleanFailure(["sample"] + model + ["--out", "data/train-images-idx3-ubyte.gz"], in: dir, ["an IDX data file"])
        try expectCleanFailure(["sample"] + model + ["--out", "run"], in: dir, ["run: it is a folder"])
        #expect(guarded.map { fileBytes(dir + "/" + $0) } == before, "a guarded file changed")
        // An encode whose labels file would land on a checkpoint is refused before anything is written.
        try FileManager.default.copyItem(atPath: dir + "/run/model.safetensors", toPath: dir + "/z.labels.npy")
        try expectCleanFailure(["encode"] + model + data + ["--out", "z.npy"], in: dir, ["z.labels.npy would replace a swift-vae checkpoint"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/z.npy"))

        // Earlier outputs of the same kind are replaced, atomically, as before.
        for _ in 0..<2 {
            #expect(try vae(["sample"] + model + ["--out", "s.png"], in: dir).status == 0)
            #expect(try vae(["score"] + model + data + ["--out", "s.csv"], in: dir).status == 0)
            #expect(try vae(["encode"] + model + data + ["--out", "l.npy"], in: dir).status == 0)
            #expect(try vae(["plot", "--run", "run", "--out", "p.svg"], in: dir).status == 0)
        }
        // --overwrite is the user's explicit say-so.
        let forced = try vae(["sample"] + model + ["--out", "mine.csv", "--overwrite"], in: dir)
        #expect(forced.status == 0, "\(forced.error)")
        #expect(fileBytes(dir + "/mine.csv")?.starts(with: [0x89, 0x50, 0x4E, 0x47]) == true)
    }

    /// Class 1 for training: resuming one run into another folder never replaces that folder's model.
    @Test func resumingIntoAnotherRunsFolderIsRefused() throws {
        let dir = try FailureTests.prepared()
        let train = ["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2"]
        #expect(try vae(train + ["--out", "second"], in: dir).status == 0)
        let before = fileBytes(dir + "/second/model.safetensors")
        try expectCleanFailure(train.map { $0 == "1" ? "2" : $0 } + ["--resume", "run", "--out", "second"], in: dir,
                               ["--out second", "holds model.safetensors", "--overwrite"])
        #expect(fileBytes(dir + "/second/model.safetensors") == before)
    }

    /// Class 1 for training: a fresh run never replaces an earlier run's history or a file that is
    /// not one of its pictures; --overwrite does.
    @Test func aFreshRunKeepsAnEarlierHistoryAndOtherFiles() throws {
        let dir = try FailureTests.prepared()
        let train = ["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2"]
        try FileManager.default.createDirectory(atPath: dir + "/history", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/run/metrics.csv", toPath: dir + "/history/metrics.csv")
        try expectCleanFailure(train + ["--out", "history"], in: dir, ["--out history", "it holds metrics.csv", "--overwrite"])
        try FileManager.default.createDirectory(atPath: dir + "/mine", withIntermediateDirectories: true)
        try Data("my notes".utf8).write(to: URL(fileURLWithPath: dir + "/mine/samples.png"))
        try expectCleanFailure(train + ["--out", "mine"], in: dir, ["mine/samples.png would replace an existing file that is not a PNG image"])
        #expect(fileBytes(dir + "/mine/samples.png") == Data("my notes".utf8))
        #expect(try vae(train + ["--out", "history", "--overwrite"], in: dir).status == 0)
    }

    /// Class 1: a lock file or temporary file planted as a link to someone's file is never
    /// written through: the lock refuses it, and a temporary name is unlinked before use.
    @Test func plantedLinksAreNeverWrittenThrough() throws {
        let dir = try FailureTests.prepared()
        let precious = dir + "/precious.txt"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: precious))
        let train = ["train", "--backend", "cpu", "--data", "data", "--epochs", "1", "--batch-size", "16", "--hidden", "8", "--latent", "2"]
        for (folder, link) in [("soft", { try FileManager.default.createSymbolicLink(atPath: $0, withDestinationPath: precious) }),
                               ("hard", { try FileManager.default.linkItem(atPath: precious, toPath: $0) })] as [(String, (String) throws -> Void)] {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(folder)", withIntermediateDirectories: true)
            try link("\(dir)/\(folder)/.vae.lock")
            try expectCleanFailure(train + ["--out", folder], in: dir, ["\(folder)/.vae.lock", "not a swift-vae lock file"])
        }
        let target = dir + "/out.txt"
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/.out.txt.\(getpid()).tmp", withDestinationPath: precious)
        try writeTextAtomically("new", to: target)
        #expect(fileBytes(precious) == Data("keep me".utf8))
        #expect(fileBytes(target) == Data("new".utf8))
    }

    /// Class 2: a second writer is refused at once, naming the folder and the holder's PID; the
    /// default folder moves on instead; the lock dies with its process (SIGKILL included).
    @Test func aRunFolderHasOneWriter() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try writeIDXDataset(to: dir + "/data", count: 64, side: 4, testCount: 8)
        let flags = ["--backend", "cpu", "--data", "data", "--batch-size", "16", "--hidden", "8", "--latent", "2"]
        func start(_ extra: [String]) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try vaeExecutable())
            p.arguments = ["train"] + flags + ["--epochs", "1000000"] + extra
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        let first = try start(["--out", "run"])
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: dir + "/run/model.safetensors") && Date() < deadline && first.isRunning { usleep(10_000) }
        let started = Date()
        for second in [["--out", "run", "--overwrite"], ["--resume", "run"]] {
            try expectCleanFailure(["train"] + flags + ["--epochs", "1"] + second, in: dir,
                                   ["the run folder run is in use by another vae process (PID \(first.processIdentifier))"])
        }
        #expect(Date().timeIntervalSince(started) < 60, "the second writer should be refused at once")
        // Without --out, a run goes to the next folder rather than into the busy one.
        let defaultFirst = try start([])
        while !FileManager.default.fileExists(atPath: dir + "/runs/fashion-mnist/model.safetensors") && Date() < deadline && defaultFirst.isRunning { usleep(10_000) }
        kill(defaultFirst.processIdentifier, SIGKILL)
        let defaultSecond = try vae(["train"] + flags + ["--epochs", "1"], in: dir)
        #expect(defaultSecond.status == 0 && defaultSecond.output.contains("runs/fashion-mnist-2"), "\(defaultSecond.output)")
        // SIGKILL leaves no stuck lock: the run resumes at once.
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        defaultFirst.waitUntilExit()
        let resumed = try vae(["train"] + flags + ["--epochs", "1", "--resume", "run"], in: dir)
        #expect(resumed.status == 0 && resumed.output.contains("has already trained"), "\(resumed.output) \(resumed.error)")
    }

    /// Class 5: a closed, full or vanishing stdout (or stderr) never ends a run: it finishes
    /// with its checkpoint and says why on stderr when it can.
    @Test func outputStreamsNeverKillARun() throws {
        let dir = try FailureTests.prepared()
        let train = "\"$VAE\" train --backend cpu --data data --epochs 2 --batch-size 4 --hidden 8 --latent 2"
        let cases = [
            ("closed", "\(train) --out closed >&-"),
            ("full", "\(train) --out full > /dev/full"),
            ("errclosed", "\(train) --out errclosed 2>&- > /dev/full"),
            ("head", "\(train) --out head | head -c 10 > /dev/null; exit ${PIPESTATUS[0]}"),
        ]
        for (folder, script) in cases {
            let result = try shell(script, in: dir)
            #expect(result.status == 0, "\(folder): \(result.status) \(result.error)")
            let checkpoint = try Checkpoint(contentsOf: "\(dir)/\(folder)/model.safetensors")
            #expect(checkpoint.metadata["epoch"] == "2", "\(folder)")
            if folder == "full" { #expect(result.error.contains("cannot write to standard output")) }
        }
        // A command whose only result is what it prints fails cleanly when that cannot be printed.
        let lost = try shell("\"$VAE\" evaluate --backend cpu --checkpoint run --data data --importance-samples 0 > /dev/full", in: dir)
        #expect(lost.status == 1 && lost.error.contains("cannot write to standard output"), "\(lost.status) \(lost.error)")
    }

    /// Class 8: a full disk is named in words, keeps the last good checkpoint, and metrics.csv
    /// gets a row only for an epoch whose checkpoint was written. (A private tmpfs in a user and
    /// mount namespace, so nothing outside the test sees it.)
    @Test func aFullDiskIsNamedAndLosesNothing() throws {
        let dir = try FailureTests.prepared()
        let script = """
            set -u
            mount -t tmpfs -o size=256k tmpfs "$PWD/small" || exit 99
            train() { "$VAE" train --backend cpu --data data --batch-size 16 --hidden 300 --latent 2 "$@"; }
            train --epochs 1 --out small/run > /dev/null || exit 98
            head -c 100000 /dev/zero > small/filler
            cp small/run/model.safetensors before.safetensors; cp small/run/metrics.csv before.csv
            train --epochs 2 --resume small/run
            echo "status=$?" >&2
            cmp small/run/model.safetensors before.safetensors && cmp small/run/metrics.csv before.csv && echo unchanged >&2
            ls -A small/run >&2
            """
        try FileManager.default.createDirectory(atPath: dir + "/small", withIntermediateDirectories: true)
        let result = try shell("unshare -rm bash -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))'", in: dir)
        #expect(result.error.contains("status=1"), "\(result.error)")
        #expect(result.error.contains("no space left on the device writing small/run/model.safetensors"), "\(result.error)")
        #expect(!result.error.contains("NSCocoaErrorDomain"))
        #expect(result.error.contains("unchanged"), "the last good checkpoint or metrics changed: \(result.error)")
        #expect(!result.error.contains(".tmp"), "a temporary file was left: \(result.error)")
    }

    /// Class 8: paths that are not valid UTF-8 reach the file system byte for byte, and
    /// messages print them as given.
    @Test func pathsThatAreNotUTF8WorkByteForByte() throws {
        let dir = try FailureTests.prepared()
        let result = try shell("""
            mkdir $'d\\xffata' && cp data/* $'d\\xffata'/ &&
            "$VAE" train --backend cpu --data $'d\\xffata' --epochs 1 --batch-size 16 --hidden 8 --latent 2 --out $'r\\xfeun' > /dev/null &&
            test -f $'r\\xfeun/model.safetensors' &&
            "$VAE" sample --backend cpu --checkpoint $'r\\xfeun' --out $'s\\xfd.png' > /dev/null && test -f $'s\\xfd.png' &&
            "$VAE" evaluate --backend cpu --checkpoint $'r\\xfeun' --data $'d\\xffata' --importance-samples 0 > /dev/null &&
            echo ok; "$VAE" train --backend cpu --data $'no\\xffne' 2>&1 >/dev/null | od -An -c | tr -s ' '
            """, in: dir)
        #expect(result.output.hasPrefix("ok"), "\(result.output) \(result.error)")
        #expect(result.output.contains("n o 377 n e"), "the message should name the path byte for byte: \(result.output)")
    }

    /// Class 8: `vae plot` leaves out nan and inf points and says so; no "nan" reaches the SVG.
    @Test func plotSkipsValuesThatAreNotFinite() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        let metrics = RunFolder.metricsHeader + "\n1,10,250.5,245.0,240,5,1,1\n2,20,nan,inf,1,1,1,1\n3,30,240.1,-inf,1,1,1,1\n"
        try Data(metrics.utf8).write(to: URL(fileURLWithPath: dir + "/run/metrics.csv"))
        let result = try vae(["plot", "--run", "run"], in: dir)
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("skipped 3 values"), "\(result.output)")
        let svg = try String(contentsOfFile: dir + "/run/loss.svg", encoding: .utf8)
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"), "\(svg)")
        #expect(svg.contains("polyline"))
    }
}

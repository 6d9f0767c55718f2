import Foundation
import Testing
@testable import VAE

/// `--data` as a CSV table or a .npy array: reading, every malformed case, preparation that
/// travels in the checkpoint, and the tabular anomaly workflow end to end.
@Suite struct DataFormatTests {
    func write(_ text: String, _ name: String, in dir: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func csvTablesReadFeaturesAndTextOrNumberLabels() throws {
        let dir = try temporaryDirectory()
        let path = try write("\u{FEFF}a,\"b, quoted\",kind,id\r\n1,2.5,cat,7\r\n\r\n-3,\"4e1\",dog,8\r\n", "t.csv", in: dir)
        let t = try TableFile.read(path, columns: TableColumns(labelColumn: "kind", dropColumns: ["id"]))
        #expect(t.columns == ["a", "b, quoted"] && t.rows == 2 && t.values == [1, 2.5, -3, 40])
        #expect(t.labels == [0, 1] && t.labelNames == ["cat", "dog"])
        let numbers = try TableFile.read(path, columns: TableColumns(labelColumn: "id", dropColumns: ["kind"]))
        #expect(numbers.labels == [7, 8] && numbers.labelNames == nil)
        // A checkpoint's label names keep their numbers; a text never seen in training follows them.
        let later = try TableFile.read(path, columns: TableColumns(labelColumn: "kind", dropColumns: ["id"], labelNames: ["dog"]))
        #expect(later.labels == [1, 0] && later.labelNames == ["dog", "cat"])
        // Feature columns from a checkpoint select by name, in the model's order.
        let reordered = try TableFile.read(path, columns: TableColumns(featureColumns: ["b, quoted", "a"]))
        #expect(reordered.values == [2.5, 1, 40, -3])
    }

    @Test func malformedTablesNameTheLineAndColumn() throws {
        let dir = try temporaryDirectory()
        let cases: [(String, TableColumns, String)] = [
            ("a,b\n", TableColumns(), "line 1: the file has a header row but no data rows"),
            ("a,b\n1,2\n3\n", TableColumns(), "line 3: the row has 1 fields, the header 2"),
            ("a,b\n1,2\n3,x7\n", TableColumns(), "line 3: column \"b\" holds \"x7\", not a number"),
            ("a,b\n1,\n", TableColumns(), "line 2: column \"b\" holds a missing value"),
            ("a,b\n1,NA\n", TableColumns(), "column \"b\" holds a missing value"),
            ("a,b\n1,inf\n", TableColumns(), "column \"b\" holds \"inf\", not a number"),
            ("a,a\n1,2\n", TableColumns(), "the header names column \"a\" twice"),
            ("a,b\n1,2\n", TableColumns(labelColumn: "c"), "--label-column names column \"c\", which the header does not have; its columns are a, b"),
            ("a,b\n1,2\n", TableColumns(dropColumns: ["a", "b"]), "no feature columns are left"),
            ("a,b\n1,\"2\n", TableColumns(), "line 2: a quoted field is never closed"),
            ("a,b\n1,2\n", TableColumns(featureColumns: ["a", "z"]), "the model's feature column names column \"z\""),
        ]
        for (i, (text, columns, message)) in cases.enumerated() {
            let path = try write(text, "bad\(i).csv", in: dir)
            let error = #expect(throws: DataError.self) { try TableFile.read(path, columns: columns) }
            #expect(error?.description.contains(message) == true, "\(text.debugDescription): \(error?.description ?? "no error")")
            #expect(error?.description.hasPrefix(path) == true)
        }
    }

    func npy(_ descr: String, _ shape: [Int], _ payload: [UInt8], fortran: Bool = false) -> Data {
        var header = NumpyFile.header(descr: descr, shape: shape)
        if fortran, let r = header.range(of: Data("False".utf8)) { header.replaceSubrange(r, with: Data("True ".utf8)) }
        return header + Data(payload)
    }

    @Test func numpyArraysOfEachTypeAndLayout() throws {
        let dir = try temporaryDirectory()
        let f4: [Float] = [0, 0.25, 0.5, 1, 0.75, 0.125]
        try NumpyFile.encode(f4, shape: [2, 3]).write(to: URL(fileURLWithPath: dir + "/f4.npy"))
        let f8 = [0.5, -2.0].flatMap { d in withUnsafeBytes(of: d.bitPattern.littleEndian, Array.init) }
        try npy("<f8", [2, 1], f8).write(to: URL(fileURLWithPath: dir + "/f8.npy"))
        // Two 1×2×2 RGB images stored [N, H, W, C]: channel c of pixel q is 10·q + c.
        let hwc = (0..<2).flatMap { _ in (0..<4).flatMap { q in (0..<3).map { c in UInt8(10 * q + c) } } }
        try npy("|u1", [2, 2, 2, 3], hwc).write(to: URL(fileURLWithPath: dir + "/img.npy"))
        try npy("<i8", [2], [3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: dir + "/labels.npy"))

        let table = try DataSource(path: dir + "/f4.npy").load()
        #expect(table.images == f4 && table.exampleSize == 3 && table.count == 2 && table.columns?.count == 3)
        #expect(try DataSource(path: dir + "/f8.npy").load().images == [0.5, -2])
        let images = try DataSource(path: dir + "/img.npy", labelsPath: dir + "/labels.npy").load()
        #expect(images.channels == 3 && images.imageShape == (2, 2) && images.labels == [3, 5] && images.columns == nil)
        // Channels first after loading, pixels scaled to [0, 1].
        #expect(Array(images.images[0..<4]) == [0, 10, 20, 30].map { Float($0) / 255 })
        #expect(Array(images.images[4..<8]) == [1, 11, 21, 31].map { Float($0) / 255 })
        let asStored = try DataSource(path: dir + "/img.npy", channelsFirst: true).load()
        #expect(asStored.channels == 2 && asStored.imageShape == (2, 3))
    }

    @Test func malformedNumpyFilesAreRefusedWithTheReason() throws {
        let dir = try temporaryDirectory()
        let good = NumpyFile.encode([1, 2, 3, 4] as [Float], shape: [2, 2])
        let cases: [(Data, String)] = [
            (good.prefix(good.count - 3), "it is truncated: its shape [2, 2] of f4 needs 16 bytes of data, the file holds 13"),
            (good + Data([0]), "it holds 1 bytes after the 16"),
            (npy("<c8", [1, 1], [UInt8](repeating: 0, count: 8)), "element type <c8 is not float32, float64 or an integer type"),
            (npy(">f4", [1, 1], [0, 0, 0, 0]), "is not little-endian"),
            (npy("<f4", [1, 1], [0, 0, 0, 0], fortran: true), "Fortran order"),
            (npy("<f4", [4], [UInt8](repeating: 0, count: 16)), "its shape [4] is not [N, D]"),
            (Data("not numpy at all".utf8), "does not start with the .npy magic"),
            (NumpyFile.encode([1, .nan] as [Float], shape: [1, 2]), "element 1 (example 0) is nan, not a finite number"),
        ]
        for (i, (data, message)) in cases.enumerated() {
            let path = "\(dir)/bad\(i).npy"
            try data.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: DataError.self) { try DataSource(path: path).load() }
            #expect(error?.description.contains(message) == true, "case \(i): \(error?.description ?? "no error")")
        }
        try good.write(to: URL(fileURLWithPath: dir + "/x.npy"))
        try NumpyFile.encode([1, 2, 3] as [UInt8], shape: [3]).write(to: URL(fileURLWithPath: dir + "/l.npy"))
        let count = #expect(throws: DataError.self) { try DataSource(path: dir + "/x.npy", labelsPath: dir + "/l.npy").load() }
        #expect(count?.description.contains("has 2 images but \(dir)/l.npy has 3 labels") == true, "\(count?.description ?? "")")
        let format = #expect(throws: DataError.self) { try DataSource(path: dir + "/x.txt").load() }
        #expect(format == .missing(path: dir + "/x.txt"))
    }

    @Test func tabularAnomalyWorkflowStandardizesWithTheTrainingStatisticsEverywhere() throws {
        let dir = try temporaryDirectory()
        // Normal rows around (100, 5, 0.01); anomalies far off in the first feature.
        var train = "size,weight,ratio,kind\n", test = "size,weight,ratio,kind\n"
        for i in 0..<120 {
            let e = Double((i * 37) % 17) / 17 - 0.5
            train += "\(100 + 10 * e),\(5 - e),\(0.01 + 0.002 * e),normal\n"
        }
        for i in 0..<40 {
            let e = Double((i * 11) % 13) / 13 - 0.5
            test += i < 20 ? "\(100 - 8 * e),\(5 + e),\(0.01 - 0.002 * e),normal\n" : "\(160 + 10 * e),\(5 + e),\(0.01),odd\n"
        }
        _ = try write(train, "train.csv", in: dir)
        _ = try write(test, "test.csv", in: dir)
        let t = try vae(["train", "--backend", "cpu", "--data", "train.csv", "--label-column", "kind", "--hidden", "16", "--latent", "2",
                         "--epochs", "30", "--batch-size", "16", "--out", "run"], in: dir)
        #expect(t.status == 0, "\(t.error)")
        #expect(t.output.contains("on 96 examples"), "--test-fraction 0.2 holds out 24 of 120: \(t.output)")
        let checkpoint = try Checkpoint(contentsOf: dir + "/run/model.safetensors")
        let (model, _) = try CheckpointFormat.configurations(checkpoint, path: "run")
        #expect(model.likelihood == .calibratedPerFeature, "standardized tables get a σ² per feature")
        let variances = try #require(checkpoint.metadata["calibrated_variance"]).split(separator: ",").compactMap { Double($0) }
        #expect(variances.count == 3 && variances.allSatisfy { $0 > 0 }, "the training set's σ² of each feature: \(variances)")
        let prep = try #require(try CheckpointFormat.preprocessing(checkpoint, inputSize: 3, path: "run"))
        #expect(prep.format == .csv && prep.columns?.featureColumns == ["size", "weight", "ratio"] && prep.columns?.labelNames == ["normal"])
        #expect(abs((prep.mean?[0] ?? 0) - 100) < 2 && (prep.standardDeviation?[2] ?? 0) < 0.01)

        let s = try vae(["score", "--backend", "cpu", "--checkpoint", "run", "--data", "test.csv", "--normal-classes", "normal", "--out", "s.csv"], in: dir)
        #expect(s.status == 0, "\(s.error)")
        let auc = s.output.split(separator: " ").firstIndex(of: "AUC").map { Double(s.output.split(separator: " ")[$0 + 1]) ?? 0 } ?? 0
        #expect(auc > 0.95, "the far-off rows score as anomalies: \(s.output)")
        let rows = try String(contentsOfFile: dir + "/s.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 41 && rows[1].hasPrefix("0,normal,") && rows[40].hasPrefix("39,odd,"))

        // A calibrated Gaussian scores with the training σ²: the first row scores the same alone as
        // among the others (same place, so the same z; with the batch's σ² it would not).
        #expect(s.output.contains("scoring with the calibrated σ² per feature"), "\(s.output)")
        _ = try write("size,weight,ratio,kind\n" + test.split(separator: "\n")[1] + "\n", "one.csv", in: dir)
        let alone = try vae(["score", "--backend", "cpu", "--checkpoint", "run", "--data", "one.csv", "--out", "one-scores.csv"], in: dir)
        #expect(alone.status == 0, "\(alone.error)")
        let single = try String(contentsOfFile: dir + "/one-scores.csv", encoding: .utf8).split(separator: "\n")[1].split(separator: ",")[2]
        let inFile = rows[1].split(separator: ",")[2]
        #expect(abs((Double(single) ?? 0) - (Double(inFile) ?? 1)) < 1e-3 * abs(Double(inFile) ?? 1), "alone \(single), in the file \(inFile)")
        let wrongName = try vae(["score", "--backend", "cpu", "--checkpoint", "run", "--data", "test.csv", "--normal-classes", "usual", "--out", "x.csv"], in: dir)
        #expect(wrongName.status != 0 && wrongName.error.contains("labels of the data, comma-separated: normal, odd"), "\(wrongName.error)")
        let idx = try vae(["evaluate", "--backend", "cpu", "--checkpoint", "run", "--importance-samples", "0"], in: dir)
        #expect(idx.status != 0 && idx.error.contains("data in the format the model was trained on (csv)"), "\(idx.error)")
        // --test-data instead of the held-out fraction; the default run folder is named after the data.
        let withTest = try vae(["train", "--backend", "cpu", "--data", "train.csv", "--test-data", "test.csv", "--label-column", "kind",
                                "--epochs", "1", "--batch-size", "16"], in: dir)
        #expect(withTest.status == 0 && withTest.output.contains("on 120 examples"), "\(withTest.output) \(withTest.error)")
        #expect(FileManager.default.fileExists(atPath: dir + "/runs/train/model.safetensors"))
        // One σ² for all features when asked: stored as one number and scored with it.
        let shared = try vae(["train", "--backend", "cpu", "--data", "train.csv", "--label-column", "kind", "--likelihood", "calibrated",
                              "--epochs", "2", "--batch-size", "16", "--out", "run3"], in: dir)
        #expect(shared.status == 0, "\(shared.error)")
        let sharedCheckpoint = try Checkpoint(contentsOf: dir + "/run3/model.safetensors")
        #expect(Double(sharedCheckpoint.metadata["calibrated_variance"] ?? "") != nil)
        let sharedScore = try vae(["score", "--backend", "cpu", "--checkpoint", "run3", "--data", "one.csv", "--out", "shared.csv"], in: dir)
        #expect(sharedScore.status == 0 && sharedScore.output.contains("scoring with the calibrated σ² = "), "\(sharedScore.output) \(sharedScore.error)")
        // A damaged variance list is named, not used.
        var damaged = checkpoint
        damaged.metadata["calibrated_variance"] = "0.5,-1,2"
        try damaged.write(to: dir + "/damaged.safetensors")
        let bad = try vae(["score", "--backend", "cpu", "--checkpoint", "damaged.safetensors", "--data", "one.csv", "--out", "bad.csv"], in: dir)
        #expect(bad.status != 0 && bad.error.contains("\"calibrated_variance\" is \"0.5,-1,2\", expected one positive number, or 3"), "\(bad.error)")
        let bernoulli = try vae(["train", "--backend", "cpu", "--data", "train.csv", "--label-column", "kind", "--likelihood", "bernoulli",
                                 "--epochs", "1", "--out", "run2"], in: dir)
        #expect(bernoulli.status != 0 && bernoulli.error.contains("the Bernoulli likelihood takes values in [0, 1]"), "\(bernoulli.error)")
    }
}

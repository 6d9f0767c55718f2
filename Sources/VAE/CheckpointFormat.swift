import Engine
import Foundation

/// How swift-vae lays out its checkpoints (see the README's "Checkpoints" section): tensors
/// named after the parameters (encoder.0.weight, …, output.bias) and Adam's moments
/// (optimizer.m.NAME, optimizer.v.NAME); metadata "format", "model" and "training" (JSON),
/// "epoch" and "step".
public enum CheckpointFormat {
    public static let identifier = "swift-vae/1"

    /// `value` as compact JSON with sorted keys (how metadata fields are stored).
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The model and training configurations stored in a checkpoint.
    public static func configurations(_ c: Checkpoint, path: String) throws(CheckpointError) -> (ModelConfiguration, TrainingConfiguration?) {
        guard c.metadata["format"] == identifier else {
            throw .notAModel(path: path, detail: "its metadata has no \"format\": \"\(identifier)\"")
        }
        guard let text = c.metadata["model"] else { throw .notAModel(path: path, detail: "its \"model\" metadata is missing") }
        guard let model = try? JSONDecoder().decode(ModelConfiguration.self, from: Data(text.utf8)) else {
            throw .notAModel(path: path, detail: "its model \"\(text.prefix(200))\" is not a built-in architecture (a model defined in Swift loads through InferenceSession(architecture:checkpoint:path:backend:))")
        }
        do { try model.validate() } catch { throw .notAModel(path: path, detail: "its \"model\" metadata is not usable: \(error)") }
        // The position fields, when present, are whole numbers in range for every command, not
        // only for --resume (which also checks that they agree with each other).
        _ = try position(c, path: path)
        guard let text = c.metadata["training"] else { return (model, nil) }
        guard let training = try? JSONDecoder().decode(TrainingConfiguration.self, from: Data(text.utf8)) else {
            throw .badMetadata(path: path, field: "training", value: text, expected: "a JSON training configuration")
        }
        do { try training.validate() } catch { throw .badMetadata(path: path, field: "training", value: text, expected: "usable training flags (\(error))") }
        return (model, training)
    }

    /// How the model's data is read and prepared ("data_source"); nil for checkpoints written
    /// before it was stored, whose data were IDX images.
    public static func preprocessing(_ c: Checkpoint, inputSize: Int, path: String) throws(CheckpointError) -> DataPreprocessing? {
        guard let text = c.metadata["data_source"] else { return nil }
        guard let p = try? JSONDecoder().decode(DataPreprocessing.self, from: Data(text.utf8)) else {
            throw .badMetadata(path: path, field: "data_source", value: text, expected: "a JSON description of the data's format and preparation")
        }
        if p.mean != nil || p.standardDeviation != nil {
            guard let mean = p.mean, let sd = p.standardDeviation, mean.count == inputSize, sd.count == inputSize,
                  mean.allSatisfy(\.isFinite), sd.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw .badMetadata(path: path, field: "data_source", value: text,
                                   expected: "a finite mean and a positive standard deviation for each of the model's \(inputSize) inputs")
            }
        }
        return p
    }

    /// The position in training: completed epochs, steps done of the epoch in flight, and
    /// completed steps in all. Each is nil when absent; a present one must be a whole number in range.
    static func position(_ c: Checkpoint, path: String) throws(CheckpointError) -> (epoch: Int?, epochStep: Int?, step: Int?) {
        (try integer(c, "epoch", in: 0...Int(Int32.max), path: path), try integer(c, "epoch_step", in: 0...Int(Int32.max), path: path),
         try integer(c, "step", path: path))
    }

    /// A metadata field that must be a whole number in `range` (nil when absent).
    static func integer(_ c: Checkpoint, _ field: String, in range: ClosedRange<Int> = 0...Int(Int64.max), path: String) throws(CheckpointError) -> Int? {
        guard let text = c.metadata[field] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw .badMetadata(path: path, field: field, value: text, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A tensor's values, checked against the shape the model expects.
    static func tensor(_ c: Checkpoint, _ name: String, shape: Shape, path: String) throws(CheckpointError) -> [Float] {
        guard let t = c[name] else { throw .missingTensor(path: path, tensor: name) }
        guard t.shape == shape.dimensions else {
            throw .shapeMismatch(path: path, tensor: name, checkpoint: t.shape, model: shape.dimensions)
        }
        if let bad = t.values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(path: path, tensor: name, index: bad, value: t.values[bad], count: t.values.filter { !$0.isFinite }.count)
        }
        return t.values
    }

    /// Throws unless the checkpoint holds a model of `architecture`: for a built-in one, the
    /// same configuration (older checkpoints read with defaults); otherwise the same identity.
    static func checkArchitecture(_ c: Checkpoint, matches architecture: any VAEArchitecture, path: String) throws(CheckpointError) {
        if let expected = architecture as? ModelConfiguration {
            let (stored, _) = try configurations(c, path: path)
            guard stored == expected else {
                throw .configurationMismatch(path: path, detail: "it holds a different model (\(stored.summary)) than the flags ask for (\(expected.summary))")
            }
            return
        }
        guard c.metadata["format"] == identifier else { throw .notAModel(path: path, detail: "its metadata has no \"format\": \"\(identifier)\"") }
        guard let stored = c.metadata["model"], stored == architecture.identity else {
            throw .configurationMismatch(path: path, detail: "it holds the model \"\(c.metadata["model"]?.prefix(200) ?? "(none)")\", not \"\(architecture.identity.prefix(200))\"")
        }
    }

    /// The checkpoint file of a path that is either the file or a run folder.
    public static func file(at path: String) -> String {
        FileSystem.isDirectory(path) ? FileSystem.join(path, RunFolder.model) : path
    }
}

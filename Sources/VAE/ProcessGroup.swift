/// The processes of a data-parallel run as training and evaluation see them: rank `rank` of
/// `size`, each with its own backend and its own part of every batch. `MPIProcessGroup`
/// (module DataParallel) implements it over MPI; model code takes `nil` for one process.
///
/// Every method is collective: each rank calls it in the same order, or the ranks wait on
/// each other until an implementation's timeout ends the job.
public protocol ProcessGroup: AnyObject {
    /// This process's number, 0 ..< size; rank 0 writes checkpoints, metrics and pictures.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// values ← `scale` × their sum over all ranks, the same bits on every rank (so identical
    /// optimizer steps keep identical parameters). `what` names the exchange in errors.
    func sum(_ values: UnsafeMutableBufferPointer<Float>, scale: Float, what: String) throws
    /// values ← their sum over all ranks (metrics: loss sums, evaluation sums).
    func sum(_ values: inout [Double], what: String) throws
    /// Every rank's `value`, indexed by rank.
    func allGather(_ value: UInt64, what: String) throws -> [UInt64]
}

extension ProcessGroup {
    /// This rank's contiguous part of `0 ..< count` when it is dealt out in units of `unit`
    /// (whole evaluation batches): the parts cover the range once, in rank order, and differ by
    /// at most one unit.
    public func share(of count: Int, unit: Int = 1) -> Range<Int> {
        let units = (count + unit - 1) / unit
        let from = units * rank / size, to = units * (rank + 1) / size
        return min(count, from * unit)..<min(count, to * unit)
    }
}

/// Replicas of a data-parallel run whose parameters stopped being identical.
public enum DataParallelError: Error, CustomStringConvertible, Equatable {
    case replicasDiverged(epoch: Int, ranks: [Int])

    public var description: String {
        switch self {
        case .replicasDiverged(let epoch, let ranks):
            "after epoch \(epoch) the parameters of rank\(ranks.count == 1 ? "" : "s") \(ranks.map(String.init).joined(separator: ", ")) differ from rank 0's (their hashes differ); every rank must run the same binary, flags and data on the same kind of device (two OpenCL implementations round the optimizer step differently). The last checkpoint (written by rank 0) is kept."
        }
    }
}

/// FNV-1a over the bit patterns of `arrays`, in order: equal exactly when every bit is.
public func parameterHash(_ arrays: [[Float]]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for array in arrays {
        for v in array {
            var bits = v.bitPattern
            for _ in 0..<4 {
                h = (h ^ UInt64(bits & 0xFF)) &* 0x100_0000_01b3
                bits >>= 8
            }
        }
    }
    return h
}

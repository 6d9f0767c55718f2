import Foundation

/// A CSV table read for training or scoring: numeric feature columns and an optional label
/// column (numbers, or text such as benign/malignant).
public struct Table: Equatable, Sendable {
    /// The feature columns, in the order their values are stored.
    public var columns: [String]
    /// Row-major [rows, columns.count].
    public var values: [Float]
    public var rows: Int
    /// Each row's label: its number, or its index in `labelNames` when the column holds text.
    public var labels: [Int]?
    /// The label texts, sorted, when the label column is not all whole numbers.
    public var labelNames: [String]?
}

/// How to read a table's columns.
public struct TableColumns: Codable, Equatable, Sendable {
    /// The column holding labels (excluded from the features), if any.
    public var labelColumn: String?
    /// Columns left out.
    public var dropColumns: [String] = []
    /// When set (from a checkpoint), exactly these feature columns, in this order, must exist.
    public var featureColumns: [String]?
    /// When set (from a checkpoint), text labels map to these indices; other texts follow them.
    public var labelNames: [String]?

    public init(labelColumn: String? = nil, dropColumns: [String] = [], featureColumns: [String]? = nil, labelNames: [String]? = nil) {
        self.labelColumn = labelColumn
        self.dropColumns = dropColumns
        self.featureColumns = featureColumns
        self.labelNames = labelNames
    }
}

/// Reads comma-separated tables with a header row (RFC 4180 quoting: "a, b" and "say ""hi""";
/// CRLF or LF line ends; a UTF-8 byte-order mark is skipped). Every value of a feature column
/// must be a finite number; an empty, NA, NaN or malformed value is an error naming its line
/// and column.
public enum TableFile {
    public static func read(_ path: String, columns options: TableColumns = TableColumns()) throws(DataError) -> Table {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw .unreadable(path: path, reason: "\(error)") }
        var records = try parse(bytes, path: path)
        guard !records.isEmpty else { throw .empty(path: path) }
        let header = records.removeFirst()
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        guard !records.isEmpty else { throw .table(path: path, line: header.line, detail: "the file has a header row but no data rows") }
        var seen: Set<String> = []
        for name in names {
            guard !name.isEmpty else { throw .table(path: path, line: header.line, detail: "the header has an empty column name") }
            guard seen.insert(name).inserted else { throw .table(path: path, line: header.line, detail: "the header names column \"\(name)\" twice") }
        }
        func index(of name: String, flag: String) throws(DataError) -> Int {
            guard let i = names.firstIndex(of: name) else {
                throw .table(path: path, line: header.line, detail: "\(flag) names column \"\(name)\", which the header does not have; its columns are \(names.joined(separator: ", "))")
            }
            return i
        }
        let labelIndex = try options.labelColumn.map { (n) throws(DataError) -> Int in try index(of: n, flag: "--label-column") }
        let dropped = try Set(options.dropColumns.map { (n) throws(DataError) -> Int in try index(of: n, flag: "--drop-column") })
        let featureIndices: [Int]
        if let wanted = options.featureColumns {
            featureIndices = try wanted.map { (n) throws(DataError) -> Int in try index(of: n, flag: "the model's feature column") }
        } else {
            featureIndices = names.indices.filter { $0 != labelIndex && !dropped.contains($0) }
        }
        guard !featureIndices.isEmpty else { throw .table(path: path, line: header.line, detail: "no feature columns are left") }

        var values: [Float] = []
        values.reserveCapacity(records.count * featureIndices.count)
        var labelTexts: [String] = []
        for record in records {
            guard record.fields.count == names.count else {
                throw .table(path: path, line: record.line, detail: "the row has \(record.fields.count) fields, the header \(names.count)")
            }
            for i in featureIndices {
                let text = record.fields[i].trimmingCharacters(in: .whitespaces)
                guard let v = Float(text), v.isFinite else {
                    let what = text.isEmpty || ["na", "nan", "null", "none", "?"].contains(text.lowercased()) ? "a missing value" : "\"\(text.prefix(40))\", not a number"
                    throw .table(path: path, line: record.line, detail: "column \"\(names[i])\" holds \(what) (every feature must be a finite number; --drop-column \(names[i]) leaves the column out, --label-column \(names[i]) makes it the labels)")
                }
                values.append(v)
            }
            if let labelIndex { labelTexts.append(record.fields[labelIndex].trimmingCharacters(in: .whitespaces)) }
        }
        var table = Table(columns: featureIndices.map { names[$0] }, values: values, rows: records.count)
        if let labelIndex {
            labelValues(labelTexts, names: options.labelNames, into: &table)
        }
        return table
    }

    /// Labels that are all whole numbers stay numbers; otherwise each text becomes its index
    /// among the sorted distinct texts (or among `names`, from a checkpoint).
    private static func labelValues(_ texts: [String], names: [String]?, into table: inout Table) {
        if names == nil, texts.allSatisfy({ Int($0) != nil }) {
            table.labels = texts.map { Int($0)! }
            return
        }
        // Texts the model knows keep their numbers; new ones (an anomaly class that training never saw) follow, sorted.
        var known = names ?? []
        known += Set(texts).subtracting(known).sorted()
        let lookup = Dictionary(uniqueKeysWithValues: known.enumerated().map { ($1, $0) })
        let labels = texts.map { lookup[$0]! }
        table.labels = labels
        table.labelNames = known
    }

    struct Record { var fields: [String]; var line: Int }

    /// Splits CSV bytes into records of fields; blank lines are skipped.
    static func parse(_ bytes: [UInt8], path: String) throws(DataError) -> [Record] {
        var records: [Record] = []
        var fields: [String] = [], field: [UInt8] = []
        var line = 1, recordLine = 1, quoted = false, i = 0, fieldStarted = false
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        func endField() throws(DataError) {
            guard let s = String(validating: field, as: UTF8.self) else { throw .table(path: path, line: line, detail: "the text is not UTF-8") }
            fields.append(s)
            field.removeAll(keepingCapacity: true)
            fieldStarted = false
        }
        func endRecord() throws(DataError) {
            try endField()
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty) { records.append(Record(fields: fields, line: recordLine)) }
            fields.removeAll()
        }
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(b); i += 1 } else { quoted = false }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else if b == UInt8(ascii: "\"") && !fieldStarted {
                quoted = true
                fieldStarted = true
            } else if b == UInt8(ascii: ",") {
                try endField()
            } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                if b == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                try endRecord()
                line += 1
                recordLine = line
            } else {
                if b != UInt8(ascii: " ") { fieldStarted = true }
                field.append(b)
            }
            i += 1
        }
        guard !quoted else { throw .table(path: path, line: recordLine, detail: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty { try endRecord() }
        return records
    }
}

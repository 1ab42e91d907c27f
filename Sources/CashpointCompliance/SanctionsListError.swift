/// Why a sanctions list file was refused. A refused file loads nothing: the parsers return every entry
/// or throw.
public struct SanctionsListError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// Not UTF-8 nor Windows-1252 text, or empty.
        case unreadable
        /// A quoted field that never closes.
        case unterminatedQuote
        /// A row with a different number of fields than the format (or the header) has.
        case wrongFieldCount
        /// The EU file's header lacks a column the parser needs.
        case missingColumn
        /// An entry number or logical id that is not a number.
        case badIdentifier
        /// An entry with no name.
        case missingName
        /// Two rows for the same OFAC entry number.
        case duplicateEntry
        /// An alias or address row for an entry the main file does not have.
        case unknownEntry
        /// The files given are not a list this parser knows (by name or by header), or a part is missing.
        case unknownFormat
    }

    public var code: Code
    /// The file's name as given.
    public var file: String
    /// 1-based line of the row (0 when the problem is the file as a whole).
    public var line: Int
    public var detail: String

    public init(_ code: Code, file: String, line: Int, _ detail: String) {
        self.code = code
        self.file = file
        self.line = line
        self.detail = detail
    }

    public var description: String {
        line > 0 ? "\(file):\(line): \(detail) (\(code.rawValue))" : "\(file): \(detail) (\(code.rawValue))"
    }
}

/// A delimited-text reader (RFC 4180 quoting: a field in double quotes may hold the delimiter, line breaks
/// and doubled quotes). A quote inside an unquoted field is kept as a character, as the EU file needs;
/// a quoted field left open at the end of the file is an error.
struct DelimitedReader {
    let file: String
    let delimiter: UInt8

    /// Each row with the line it starts on. Blank lines are skipped; a UTF-8 byte order mark and DOS
    /// end-of-file marks (0x1A, which OFAC's files end with) are ignored.
    func rows(_ text: String) throws(SanctionsListError) -> [(line: Int, fields: [String])] {
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var rows: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var rowLine = 1
        var i = 0
        var quoted = false
        var fieldStarted = false
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldStarted = false
        }
        func endRow() {
            endField()
            let blank = fields.count == 1 && fields[0].allSatisfy { $0 == " " || $0 == "\t" || $0 == "\u{1A}" }
            if !blank { rows.append((rowLine, fields)) }
            fields.removeAll(keepingCapacity: true)
        }
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 2
                        continue
                    }
                    quoted = false
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case delimiter:
                endField()
            case UInt8(ascii: "\r"):
                break
            case UInt8(ascii: "\n"):
                endRow()
                line += 1
                rowLine = line
            case UInt8(ascii: "\""):
                // A quote opens a quoted field only at its start (spaces before it allowed, as OFAC writes none).
                if !fieldStarted && field.allSatisfy({ $0 == UInt8(ascii: " ") }) {
                    field.removeAll(keepingCapacity: true)
                    quoted = true
                    fieldStarted = true
                } else {
                    field.append(b)
                }
            case 0x1A:
                break
            default:
                field.append(b)
                if b != UInt8(ascii: " ") { fieldStarted = true }
            }
            i += 1
        }
        if quoted {
            throw SanctionsListError(.unterminatedQuote, file: file, line: rowLine, "a quoted field is never closed")
        }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        return rows
    }
}

/// Bytes of a list file as text: UTF-8, else Windows-1252 (as OFAC's files have been published).
func decodeListText(_ bytes: [UInt8], file: String) throws(SanctionsListError) -> String {
    if bytes.isEmpty { throw SanctionsListError(.unreadable, file: file, line: 0, "the file is empty") }
    if let text = String(validating: bytes, as: UTF8.self) { return text }
    return String(String.UnicodeScalarView(bytes.map { windows1252[Int($0)] }))
}

/// Windows-1252: Latin-1 except 0x80-0x9F.
private let windows1252: [Unicode.Scalar] = (0..<256).map { byte -> Unicode.Scalar in
    let high: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ]
    let value = (0x80..<0xA0).contains(byte) ? high[byte - 0x80] : UInt32(byte)
    return Unicode.Scalar(value) ?? "?"
}

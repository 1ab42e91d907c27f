public import ATM87
import Foundation

/// The protocol examples of `fixtures/protocol-examples.json`, and the Markdown that
/// `docs/protocol.md` shows for them: a full hex dump of the frame and a field-by-field table.
///
/// `atm-harness examples --write docs/protocol.md` regenerates the page's example section, and
/// `Tests/ATM87Tests/ProtocolDocTests.swift` decodes every dump in the page, so it cannot drift.
public struct ProtocolExample: Sendable, Decodable {
    public var id: String
    public var title: String
    public var text: String
    public var mti: String
    public var fields: [String: String]

    /// The example as a message.
    public func message() throws -> ATM87Message {
        guard let mti = MTI(self.mti) else {
            throw ProtocolExampleError(reason: "example \(self.id): MTI \(self.mti) is not four digits")
        }
        var fields: [Int: String] = [:]
        for (key, value) in self.fields {
            guard let number = Int(key) else {
                throw ProtocolExampleError(reason: "example \(self.id): field key \(key) is not a number")
            }
            fields[number] = value
        }
        return try ATM87Message(mti: mti, fields: fields)
    }
}

public struct ProtocolExampleError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { self.reason }
}

public enum ProtocolExamples {
    struct File: Decodable {
        var note: String
        var examples: [ProtocolExample]
    }

    /// The markers around the generated section of `docs/protocol.md`.
    public static let beginMarker = "<!-- BEGIN GENERATED EXAMPLES: atm-harness examples --write docs/protocol.md -->"
    public static let endMarker = "<!-- END GENERATED EXAMPLES -->"

    public static func load(_ path: String) throws -> [ProtocolExample] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(File.self, from: data).examples
    }

    /// The Markdown of every example, between the markers.
    public static func markdown(for examples: [ProtocolExample]) throws -> String {
        var out = [beginMarker, ""]
        for example in examples {
            let message = try example.message()
            let violations = ATM87Rules.check(message)
            guard violations.isEmpty else {
                throw ProtocolExampleError(
                    reason: "example \(example.id) breaks the rules: "
                        + violations.map(\.description).joined(separator: "; ")
                )
            }
            let problems = vocabularyProblems(message)
            guard problems.isEmpty else {
                throw ProtocolExampleError(
                    reason: "example \(example.id) shows a field otherwise than the vocabulary writes it: "
                        + problems.map(\.description).joined(separator: "; ")
                )
            }
            out.append(contentsOf: section(example, message))
        }
        out.append(endMarker)
        return out.joined(separator: "\n")
    }

    /// Where an example's structured fields (3, 48, 54, 63, 90, 95) differ from what the vocabulary
    /// (`ProcessingCode`, `ATM87TLV` with `AdminTag`, `CardAccounts`, `AdditionalAmount`,
    /// `MiniStatementLine`, `OriginalDataElements`, `ReplacementAmounts`) reads and writes: a field it
    /// refuses, or one it reads but writes back otherwise. A documented example shows each field as the
    /// terminal and the switch write it.
    public static func vocabularyProblems(_ message: ATM87Message) -> [FieldFormatError] {
        var problems: [FieldFormatError] = []
        func check(_ field: Int, _ rewrite: (String) throws(FieldFormatError) -> String) {
            guard let value = message[field] else { return }
            do {
                if try rewrite(value) != value {
                    problems.append(FieldFormatError(field: field, code: .layout, "is not written back the same"))
                }
            } catch {
                problems.append(error)
            }
        }
        check(3, processingCode)
        switch message.mti.messageClass {
        case 6: check(48, administrativeTLV(request: message.mti == .administrativeRequest))
        case 2: check(48) { value throws(FieldFormatError) in try CardAccounts(field: value).field }
        default: break
        }
        check(54) { value throws(FieldFormatError) in AdditionalAmount.encode(try AdditionalAmount.decode(value)) }
        check(63) { value throws(FieldFormatError) in MiniStatementLine.encode(try MiniStatementLine.decode(value)) }
        check(90) { value throws(FieldFormatError) in try OriginalDataElements(field: value).field }
        check(95) { value throws(FieldFormatError) in try ReplacementAmounts(field: value).field }
        return problems
    }

    static func processingCode(_ value: String) throws(FieldFormatError) -> String {
        do {
            return try ProcessingCode(field: value).field
        } catch .malformed {
            throw FieldFormatError(field: 3, code: .notDigits, "a processing code is six digits")
        } catch {
            throw FieldFormatError(field: 3, code: .unknownCode, "a transaction or account type ATM-87 does not define")
        }
    }

    /// Field 48 of a 0600 or 0610: TLV elements whose tags are `AdminTag`s; a 0600's names its operation.
    static func administrativeTLV(request: Bool) -> (String) throws(FieldFormatError) -> String {
        { value throws(FieldFormatError) in
            let tlv: ATM87TLV
            do throws(ATM87TLV.ParseError) {
                tlv = try ATM87TLV(parsing: value)
            } catch {
                throw FieldFormatError(field: 48, code: .tlv, error.description)
            }
            if request, tlv.operation == nil {
                throw FieldFormatError(field: 48, code: .unknownCode, "OP names no operation")
            }
            if tlv.elements.contains(where: { AdminTag(rawValue: $0.tag) == nil }) {
                throw FieldFormatError(field: 48, code: .unknownCode, "a tag that is not an AdminTag")
            }
            return tlv.encoded
        }
    }

    static func section(_ example: ProtocolExample, _ message: ATM87Message) -> [String] {
        let bytes = message.framedBytes
        var lines = [
            "### \(example.title)",
            "",
            "<!-- example: \(example.id) -->",
            example.text,
            "",
            "Frame: \(bytes.count) bytes (2 length bytes + \(bytes.count - 2)).",
            "",
            "```hexdump",
            HexDump.format(bytes),
            "```",
            "",
        ]
        lines.append(contentsOf: table(message))
        lines.append("")
        return lines
    }

    /// The field-by-field table: what each part of the frame is.
    public static func table(_ message: ATM87Message) -> [String] {
        let encoded = message.encodedBytes
        let primary = String(decoding: encoded[4..<20], as: UTF8.self)
        var rows = [
            "| Field | Name | Format | On the wire | Value |",
            "|---|---|---|---|---|",
            "| length | Frame length (binary, big-endian) | 2 bytes | `\(HexDump.hex(Array(message.framedBytes.prefix(2))))` | \(encoded.count) |",
            "| MTI | Message type indicator | n 4 | `\(message.mti)` | \(ATM87Spec.message(message.mti)?.name ?? "") |",
            "| 1 | Primary bitmap | b 8 | `\(primary)` | fields \(message.fieldNumbers.filter { $0 <= 64 }.map(String.init).joined(separator: ", "))\(message.hasSecondaryBitmap ? " and a secondary bitmap" : "") |",
        ]
        if message.hasSecondaryBitmap {
            let secondary = String(decoding: encoded[20..<36], as: UTF8.self)
            rows.append(
                "| 65-128 | Secondary bitmap | b 8 | `\(secondary)` | fields \(message.fieldNumbers.filter { $0 > 64 }.map(String.init).joined(separator: ", ")) |"
            )
        }
        for field in message.fieldNumbers {
            guard let spec = ATM87Spec.field(field), let value = message[field] else { continue }
            let prefix: String
            switch spec.lengthType {
            case .fixed: prefix = ""
            case .llvar: prefix = String(format: "%02d", value.count)
            case .lllvar: prefix = String(format: "%03d", value.count)
            }
            rows.append("| \(field) | \(spec.name) | \(formatLabel(spec)) | `\(prefix)\(value)` | `\(value)` |")
        }
        return rows
    }

    public static func formatLabel(_ spec: ATM87FieldSpec) -> String {
        switch spec.lengthType {
        case .fixed: return "\(spec.format.rawValue) \(spec.length)"
        case .llvar: return "\(spec.format.rawValue) ..\(spec.length) LLVAR"
        case .lllvar: return "\(spec.format.rawValue) ...\(spec.length) LLLVAR"
        }
    }

    /// Replaces the generated section of a Markdown page with a new one.
    public static func replaceSection(in page: String, with section: String) throws -> String {
        guard let begin = page.range(of: beginMarker), let end = page.range(of: endMarker),
            begin.upperBound <= end.lowerBound
        else {
            throw ProtocolExampleError(reason: "the page has no generated-examples markers")
        }
        return String(page[..<begin.lowerBound]) + section + String(page[end.upperBound...])
    }

    /// The generated section as it stands in a page, markers included.
    public static func currentSection(in page: String) -> String? {
        guard let begin = page.range(of: beginMarker), let end = page.range(of: endMarker),
            begin.upperBound <= end.lowerBound
        else { return nil }
        return String(page[begin.lowerBound..<end.upperBound])
    }
}

/// The examples of a Markdown page, read back: each hex dump with the table that follows it.
public struct DocumentedExample: Sendable {
    public var id: String
    public var bytes: [UInt8]
    /// Table rows: field label (`length`, `MTI`, `1`, `65-128`, or a number) to (wire, value) cells.
    public var rows: [(field: String, wire: String, value: String)]

    /// Every example of the page, in order.
    public static func parse(page: String) throws -> [DocumentedExample] {
        var examples: [DocumentedExample] = []
        let lines = page.components(separatedBy: "\n")
        var index = 0
        var currentID = "unnamed"
        while index < lines.count {
            let line = lines[index]
            if line.hasPrefix("<!-- example: ") {
                currentID = line.replacingOccurrences(of: "<!-- example: ", with: "")
                    .replacingOccurrences(of: " -->", with: "")
            }
            guard line == "```hexdump" else {
                index += 1
                continue
            }
            var dump: [String] = []
            index += 1
            while index < lines.count && lines[index] != "```" {
                dump.append(lines[index])
                index += 1
            }
            guard let bytes = HexDump.parse(dump.joined(separator: "\n")) else {
                throw ProtocolExampleError(reason: "example \(currentID): the hex dump does not parse")
            }
            index += 1
            while index < lines.count && !lines[index].hasPrefix("|") { index += 1 }
            var rows: [(String, String, String)] = []
            while index < lines.count && lines[index].hasPrefix("|") {
                let cells = lines[index].split(separator: "|", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                if cells.count >= 6 && cells[1] != "Field" && !cells[1].hasPrefix("---") {
                    rows.append(
                        (
                            cells[1], cells[4].trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                            cells[5].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                        )
                    )
                }
                index += 1
            }
            examples.append(DocumentedExample(id: currentID, bytes: bytes, rows: rows))
        }
        return examples
    }
}

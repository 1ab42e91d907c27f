/// The one way a message is shown in logs and tools: field by field, with the PAN masked to its first
/// 6 and last 4 digits and every secret field (PIN block, track 2, expiry, MAC, keys, tokens) shown
/// only by its length.
public enum ATM87PrettyPrinter {
    /// A multi-line rendering: the MTI and its name, then one line per field.
    public static func format(_ message: ATM87Message) -> String {
        let name = ATM87Spec.message(message.mti)?.name ?? "unknown message type"
        var lines = ["MTI \(message.mti) (\(name))"]
        for field in message.fieldNumbers {
            let spec = ATM87Spec.field(field)
            let label = spec?.name ?? "field \(field)"
            let tag = "  [\(field)]"
            let padded = tag + String(repeating: " ", count: max(1, 8 - tag.count))
            lines.append("\(padded)\(label): \(shownValue(of: field, in: message))")
        }
        return lines.joined(separator: "\n")
    }

    /// A one-line rendering for log metadata: `0200 2=476173******0119 3=010000 ... 52=<16 bytes>`.
    public static func oneLine(_ message: ATM87Message) -> String {
        var parts = ["\(message.mti)"]
        for field in message.fieldNumbers {
            parts.append("\(field)=\(shownValue(of: field, in: message))")
        }
        return parts.joined(separator: " ")
    }

    /// What may be shown of one field's value.
    public static func shownValue(of field: Int, in message: ATM87Message) -> String {
        guard let value = message[field] else { return "" }
        if field == 48 {
            // Field 48's TLV may carry an enciphered password or a PIN block: those by length only.
            guard let tlv = try? ATM87TLV(parsing: value) else { return "<unparsed TLV, \(value.count) chars>" }
            return "{\(tlv.description)}"
        }
        switch ATM87Spec.field(field)?.sensitivity ?? .secret {
        case .none:
            return value
        case .pan:
            return maskPAN(value)
        case .secret:
            if ATM87Spec.field(field)?.format == .b {
                return "<redacted \(value.count / 2) bytes>"
            }
            return "<redacted \(value.count) chars>"
        }
    }

    /// A PAN as its first 6 and last 4 digits with the middle starred; a value too short to mask
    /// safely (under 13 characters) shows only its last 4, and one of 4 or fewer shows nothing. The one
    /// masking of a PAN in Cashpoint (docs/security.md, "Masking a PAN"): logs, the bank's records, the
    /// journal, receipts and screens all call this.
    public static func maskPAN(_ pan: String) -> String {
        // A PAN is ASCII digits: masked byte by byte (per request in the switch), without breaking the
        // text into Characters.
        var bytes = Array(pan.utf8)
        if bytes.allSatisfy({ $0 < 0x80 }) {
            let shownFirst = bytes.count >= 13 ? 6 : 0
            let shownLast = bytes.count > 4 ? 4 : 0
            for index in shownFirst..<(bytes.count - shownLast) { bytes[index] = UInt8(ascii: "*") }
            return String(decoding: bytes, as: UTF8.self)
        }
        let digits = Array(pan)
        if digits.count >= 13 {
            return String(digits[0..<6]) + String(repeating: "*", count: digits.count - 10)
                + String(digits[(digits.count - 4)...])
        }
        if digits.count > 4 {
            return String(repeating: "*", count: digits.count - 4) + String(digits[(digits.count - 4)...])
        }
        return String(repeating: "*", count: digits.count)
    }
}

extension ATM87Message: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The masked one-line rendering: safe to log.
    public var description: String { ATM87PrettyPrinter.oneLine(self) }

    /// The masked one-line rendering: safe to log.
    public var debugDescription: String { ATM87PrettyPrinter.oneLine(self) }

    /// `dump` and debuggers see the masked fields, never the storage.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [(label: String?, value: Any)]([(label: "mti", value: self.mti.description)])
                + self.fieldNumbers.map {
                    (label: String?.some("field \($0)"), value: ATM87PrettyPrinter.shownValue(of: $0, in: self) as Any)
                },
            displayStyle: .struct
        )
    }
}

/// Classic hex dumps, as `docs/protocol.md` shows frames:
///
///     0000  00 5A 30 32 30 30 37 32  33 43 30 30 30 31 30 38  |.Z0200723C000108|
public enum HexDump {
    /// Sixteen bytes a line: offset, hex in two groups of eight, and the printable ASCII.
    public static func format(_ bytes: some Collection<UInt8>) -> String {
        let all = Array(bytes)
        var lines: [String] = []
        var offset = 0
        while offset < all.count {
            let row = all[offset..<min(offset + 16, all.count)]
            var hex = ""
            for (index, byte) in row.enumerated() {
                if index == 8 { hex += " " }
                hex += hexByte(byte) + " "
            }
            hex += String(repeating: " ", count: max(0, 49 - hex.count))
            let ascii = String(row.map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." })
            let position = String(offset, radix: 16, uppercase: true)
            lines.append(
                String(repeating: "0", count: max(0, 4 - position.count)) + position + "  " + hex + " |" + ascii + "|"
            )
            offset += 16
        }
        return lines.joined(separator: "\n")
    }

    /// Reads the bytes back from a dump made by `format` (offset and ASCII columns are ignored), or from
    /// plain hex with any white space. `nil` if a line does not parse or offsets do not follow on.
    public static func parse(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = Substring(rawLine)
            if let bar = line.firstIndex(of: "|") { line = line[..<bar] }
            var tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !tokens.isEmpty else { continue }
            // A dump line starts with a 4+ digit offset; plain hex lines have only 2-digit tokens.
            if tokens.count > 1, (4...8).contains(tokens[0].count), let offset = Int(tokens[0], radix: 16) {
                guard offset == bytes.count else { return nil }
                tokens.removeFirst()
            }
            for token in tokens {
                guard token.count % 2 == 0 else { return nil }
                var index = token.startIndex
                while index < token.endIndex {
                    let next = token.index(index, offsetBy: 2)
                    guard let byte = UInt8(token[index..<next], radix: 16) else { return nil }
                    bytes.append(byte)
                    index = next
                }
            }
        }
        return bytes
    }

    /// Uppercase hex of the bytes, no spaces.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        bytes.map(hexByte).joined()
    }

    static func hexByte(_ byte: UInt8) -> String {
        String(UnicodeScalar(Hex.digit(byte >> 4))) + String(UnicodeScalar(Hex.digit(byte & 0x0F)))
    }
}

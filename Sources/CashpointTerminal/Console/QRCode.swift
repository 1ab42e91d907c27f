import CQRencode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a text has no QR code.
public enum QRCodeError: Error, Sendable, Hashable {
    /// More than the largest QR code (version 40) holds at error correction level M: 2,331 bytes.
    case tooLong
    /// libqrencode refused for another reason (an empty text, no memory).
    case encodingFailed
}

/// A QR code's modules, made by libqrencode, and its drawing in a terminal: the otpauth URI a staff
/// member scans into an authenticator app. The modules are the secret's: draw them only for its owner.
public struct QRCode: Sendable {
    /// Modules per side (21 for version 1, 4 more per version, 177 for version 40).
    public let size: Int
    /// Row by row, true for a dark module.
    private let modules: [Bool]

    /// The most bytes a QR code carries at all (version 40, level L); anything longer is not tried.
    static let maximumBytes = 2_953

    /// Whether the module at `row`, `column` (from the top left, 0-based) is dark; outside the code, as in
    /// its quiet zone, false.
    public func isDark(row: Int, column: Int) -> Bool {
        guard (0..<self.size).contains(row), (0..<self.size).contains(column) else { return false }
        return self.modules[row * self.size + column]
    }

    /// The UTF-8 bytes of `text` in byte mode, error correction M, the smallest version that holds them
    /// (libqrencode's `QRcode_encodeData`: the same as `QRcode_encodeString8bit`, and takes a NUL too).
    public init(encoding text: String) throws(QRCodeError) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maximumBytes else { throw .tooLong }
        errno = 0
        guard let code = QRcode_encodeData(Int32(bytes.count), bytes, 0, QR_ECLEVEL_M) else {
            throw errno == ERANGE ? .tooLong : .encodingFailed
        }
        defer { QRcode_free(code) }
        let size = Int(code.pointee.width)
        guard size > 0, let data = code.pointee.data else { throw .encodingFailed }
        // Bit 0 of each byte is the module's colour (1 dark); the other bits say what the module is part of.
        self.size = size
        self.modules = (0..<size * size).map { data[$0] & 1 == 1 }
    }

    /// The code drawn with Unicode half blocks, two module rows per text line, with a quiet zone of
    /// `quietZone` modules (default 2; negative is 0) on every side.
    /// Drawn for a terminal with a dark background: LIGHT modules (and the quiet zone) are painted (the
    /// glyph's foreground), dark modules are blank: upper light & lower light -> "█", upper light only ->
    /// "▀", lower light only -> "▄", neither -> " ". Each line has the same width (size + 2*quietZone
    /// characters). The side is odd, so the last line's lower half is below the code and its quiet zone:
    /// left blank, as the background.
    public func halfBlockLines(quietZone: Int = 2) -> [String] {
        let quietZone = max(quietZone, 0)
        let side = self.size + 2 * quietZone
        // Light: inside the drawn square and not a dark module. Rows and columns count from the quiet zone.
        func isLight(_ row: Int, _ column: Int) -> Bool {
            row < side && !self.isDark(row: row - quietZone, column: column - quietZone)
        }
        return stride(from: 0, to: side, by: 2).map { row in
            String(
                (0..<side).map { column -> Character in
                    switch (isLight(row, column), isLight(row + 1, column)) {
                    case (true, true): "█"
                    case (true, false): "▀"
                    case (false, true): "▄"
                    case (false, false): " "
                    }
                }
            )
        }
    }

    /// The inverse mapping, for tests and tools: lines drawn as above back to a PBM (P1) image, `scale`
    /// pixels per module (at least 1), dark modules black — what `zbarimg` reads. Any character other than
    /// the three blocks, and a short line's missing end, is dark.
    public static func pbm(fromHalfBlockLines lines: [String], scale: Int = 4) -> String {
        let scale = max(scale, 1)
        let rows = lines.map(Array.init)
        let width = rows.map(\.count).max() ?? 0
        // 1 is black in a PBM.
        var pixels: [[Character]] = []
        for line in rows {
            var upper: [Character] = []
            var lower: [Character] = []
            for column in 0..<width {
                let glyph = column < line.count ? line[column] : " "
                let (upperLight, lowerLight) =
                    switch glyph {
                    case "█": (true, true)
                    case "▀": (true, false)
                    case "▄": (false, true)
                    default: (false, false)
                    }
                upper += repeatElement(upperLight ? "0" : "1", count: scale)
                lower += repeatElement(lowerLight ? "0" : "1", count: scale)
            }
            pixels += repeatElement(upper, count: scale)
            pixels += repeatElement(lower, count: scale)
        }
        // Netpbm asks for lines of at most 70 characters; whitespace between P1 digits is optional.
        var text = "P1\n\(width * scale) \(pixels.count)\n"
        for row in pixels {
            var start = 0
            while start < row.count {
                let end = min(start + 70, row.count)
                text += String(row[start..<end]) + "\n"
                start = end
            }
        }
        return text
    }
}

import CashpointSecurity
import CashpointTerminal
import Foundation
import Testing

@Suite("QR codes through libqrencode, drawn with half blocks for a dark terminal")
struct QRCodeTests {
    static let secret = Array("12345678901234567890".utf8)

    @Test("sizes: 21 modules for a short text, more for a URI; finder patterns in three corners")
    func modules() throws {
        let short = try QRCode(encoding: "HELLO")
        #expect(short.size == 21)
        let uri = try QRCode(encoding: OTPAuthURI.make(user: "tina.teller", secret: Self.secret))
        #expect(uri.size > 21)
        #expect((uri.size - 17) % 4 == 0)
        for code in [short, uri] {
            let last = code.size - 1
            // A finder pattern's outer ring is dark, the ring inside it light, its 3x3 centre dark.
            for (row, column) in [(0, 0), (0, last - 6), (last - 6, 0)] {
                #expect(code.isDark(row: row, column: column))
                #expect(code.isDark(row: row + 6, column: column + 6))
                #expect(!code.isDark(row: row + 1, column: column + 1))
                #expect(code.isDark(row: row + 3, column: column + 3))
            }
            // Outside the code is light.
            #expect(!code.isDark(row: -1, column: 0))
            #expect(!code.isDark(row: 0, column: code.size))
        }
    }

    @Test("too long for any QR code: tooLong; an empty text: encodingFailed")
    func errors() {
        #expect(throws: QRCodeError.tooLong) { try QRCode(encoding: String(repeating: "x", count: 3_000)) }
        // Version 40 at level M holds 2,331 bytes; 2,332 fit only at level L.
        #expect(throws: QRCodeError.tooLong) { try QRCode(encoding: String(repeating: "x", count: 2_332)) }
        #expect(throws: Never.self) { try QRCode(encoding: String(repeating: "x", count: 2_331)) }
        #expect(throws: QRCodeError.encodingFailed) { try QRCode(encoding: "") }
    }

    @Test("half blocks: light modules painted, dark blank, the quiet zone painted, every line as wide")
    func halfBlocks() throws {
        let code = try QRCode(encoding: "HELLO")
        let lines = code.halfBlockLines()
        let side = code.size + 4
        #expect(lines.count == (side + 1) / 2)
        #expect(lines.allSatisfy { $0.count == side })
        #expect(lines.joined().allSatisfy { "█▀▄ ".contains($0) })
        // The top quiet zone: two light rows, one full line.
        #expect(lines[0] == String(repeating: "█", count: side))
        // The second line: the quiet zone's columns painted; the finder's top edge (dark) under light.
        let second = Array(lines[1])
        #expect(second[0] == "█" && second[1] == "█" && second[side - 1] == "█")
        #expect(second[2] == " ")  // both rows of the finder pattern's left edge are dark
        // The last line: the quiet zone's bottom row above nothing.
        #expect(lines.last == String(repeating: "▀", count: side))
        // Every module comes back from the drawing.
        for row in 0..<code.size {
            for column in 0..<code.size {
                let glyph = Array(lines[(row + 2) / 2])[column + 2]
                let light = (row + 2) % 2 == 0 ? "█▀".contains(glyph) : "█▄".contains(glyph)
                #expect(light == !code.isDark(row: row, column: column))
            }
        }
        #expect(code.halfBlockLines(quietZone: 0).count == (code.size + 1) / 2)
        #expect(code.halfBlockLines(quietZone: 4).allSatisfy { $0.count == code.size + 8 })
    }

    @Test("PBM: P1, scale pixels per module, dark black")
    func pbm() {
        let text = QRCode.pbm(fromHalfBlockLines: ["█▀", "▄ "], scale: 2)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines == ["P1", "4 8", "0000", "0000", "0011", "0011", "1111", "1111", "0011", "0011"])
        let wide = QRCode.pbm(fromHalfBlockLines: [String(repeating: "█", count: 40)], scale: 4)
        let wideLines = wide.split(separator: "\n").map(String.init)
        #expect(wideLines[1] == "160 8")
        #expect(wideLines.allSatisfy { $0.count <= 70 })
        #expect(wideLines.dropFirst(2).joined() == String(repeating: "0", count: 160 * 8))
    }

    @Test(
        "zbarimg reads the drawn otpauth URI back exactly",
        .enabled(
            if: QRTool.zbarimg != nil || QRTool.required,
            "zbarimg is not installed (Debian package zbar-tools); CASHPOINT_REQUIRE_OTP_TOOLS=1 makes this fail"
        ),
        arguments: ["tina.teller", "ada.admin", "a.rather.long-user_name.2026"]
    )
    func zbarimg(user: String) throws {
        guard let zbarimg = QRTool.zbarimg else {
            Issue.record("zbarimg is not installed: install the Debian package zbar-tools (apt-get install zbar-tools)")
            return
        }
        var generator = SystemRandomNumberGenerator()
        let parameters = user.count > 12 ? OTPParameters(algorithm: .sha512, digits: 8)! : .standard
        let uri = OTPAuthURI.make(
            user: user,
            secret: OneTimePassword.newSecret(using: &generator),
            parameters: parameters
        )
        let lines = try QRCode(encoding: uri).halfBlockLines()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString).pbm")
        try Data(QRCode.pbm(fromHalfBlockLines: lines).utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: zbarimg)
        process.arguments = ["--raw", "-q", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "zbarimg found no code (exit \(process.terminationStatus))")
        // zbarimg ends its one line with a newline.
        #expect(String(decoding: data, as: UTF8.self) == uri + "\n")
    }
}

/// zbarimg, found on PATH; when it is missing the test is skipped, or fails when CI is "true" or
/// CASHPOINT_REQUIRE_OTP_TOOLS=1.
enum QRTool {
    static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["CI"] == "true" || environment["CASHPOINT_REQUIRE_OTP_TOOLS"] == "1"
    }

    static let zbarimg: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/zbarimg" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }()
}

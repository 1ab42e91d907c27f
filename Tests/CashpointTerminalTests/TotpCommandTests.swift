import ArgumentParser
import CashpointSecurity
import CashpointTerminal
import Foundation
import Testing

@Suite("atm-terminal totp: the code from a secret file; a bad file is a readable error")
struct TotpCommandTests {
    /// RFC 6238's SHA-1 seed in base32.
    static let rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

    /// A file holding `contents`, removed after `body`.
    static func withFile(_ contents: [UInt8], _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("totp-\(UUID().uuidString)").path
        try Data(contents).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    static func run(_ arguments: [String], now: Int64 = 0) throws -> String {
        try TerminalCommands.totp(try TotpOptions.parse(arguments), now: now)
    }

    @Test("RFC 6238's rows through the command: 8 digits, each algorithm, and the seconds left")
    func rfcRows() throws {
        let seeds: [(String, String)] = [
            ("SHA1", "12345678901234567890"), ("SHA256", "12345678901234567890123456789012"),
            ("sha512", "1234567890123456789012345678901234567890123456789012345678901234"),
        ]
        let expected = ["SHA1": "94287082", "SHA256": "46119246", "sha512": "90693936"]
        for (algorithm, seed) in seeds {
            // Lowercase, indented, over two lines, with a final newline: as someone copies it.
            let encoded = Base32.encode(Array(seed.utf8)).lowercased()
            let text = "  \(encoded.prefix(8)) \(encoded.dropFirst(8).prefix(8))\n\t\(encoded.dropFirst(16))\n"
            try Self.withFile(Array(text.utf8)) { file in
                let output = try Self.run(
                    ["--secret-file", file, "--at", "59", "--digits", "8", "--algorithm", algorithm]
                )
                #expect(output == "\(expected[algorithm]!) (1 s left)")
            }
        }
    }

    @Test("defaults: SHA-1, 6 digits, now")
    func defaults() throws {
        try Self.withFile(Array((Self.rfcSecret + "\n").utf8)) { file throws in
            // RFC 4226 Appendix D: counter 1 is 287082; 31 s is in step 1, 29 s before its end.
            #expect(try Self.run(["--secret-file", file], now: 31) == "287082 (29 s left)")
            #expect(try Self.run(["--secret-file", file, "--at", "30"], now: 1_000_000) == "287082 (30 s left)")
        }
    }

    @Test("bad options: a ValidationError naming the option")
    func badOptions() throws {
        try Self.withFile(Array(Self.rfcSecret.utf8)) { file in
            for (arguments, message) in [
                (["--digits", "7"], "--digits takes 6 or 8, got 7"),
                (["--algorithm", "MD5"], "--algorithm takes SHA1, SHA256 or SHA512, got 'MD5'"),
                (["--at=-1"], "--at takes seconds since 1970 (0 or more), got -1"),
            ] {
                let error = #expect(throws: ValidationError.self) { try Self.run(["--secret-file", file] + arguments) }
                #expect(error?.message == message)
            }
        }
        #expect(throws: (any Error).self) { try TotpOptions.parse([]) }
    }

    @Test(
        "bad files: the reason and the file's name, never its content",
        arguments: [
            ([UInt8](), SecretFileError.Code.empty), (Array(" \n\t=\n".utf8), .empty),
            (Array("GEZDGNBV1GY3TQOJQ".utf8), .notBase32), (Array("SECRET-PASSWORD!".utf8), .notBase32),
            (Array("MZX".utf8), .notBase32), ([0xFF, 0xFE, 0x41], .notText),
            (Array(repeating: UInt8(ascii: "A"), count: 4_097), .tooLarge),
        ]
    )
    func badFiles(contents: [UInt8], code: SecretFileError.Code) throws {
        try Self.withFile(contents) { file in
            let error = #expect(throws: SecretFileError.self) { try Self.run(["--secret-file", file]) }
            #expect(error?.code == code)
            #expect(error?.description.contains(file) == true)
            #expect(error?.description.contains("PASSWORD") == false)
        }
    }

    @Test("a missing file or a folder: unreadable, with the system's reason")
    func unreadable() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/secret"
        let error = #expect(throws: SecretFileError.self) { try Self.run(["--secret-file", missing]) }
        #expect(error?.code == .unreadable)
        #expect(error?.description == "cannot read the secret file \(missing): No such file or directory")
        let folder = #expect(throws: SecretFileError.self) {
            try Self.run(["--secret-file", FileManager.default.temporaryDirectory.path])
        }
        #expect(folder?.code == .unreadable)
        #expect(folder?.description.hasSuffix("Is a directory") == true)
    }
}

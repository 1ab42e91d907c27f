import ATM87
import CashpointSecurity
import Foundation
import Testing

@Suite("One-time passwords: RFC 4226 HOTP, RFC 6238 TOTP, their step window")
struct OneTimePasswordTests {
    /// RFC 6238 Appendix B's seeds: "12345678901234567890" repeated to the hash's length.
    static func rfcSeed(_ algorithm: OTPAlgorithm) -> [UInt8] {
        let length =
            switch algorithm {
            case .sha1: 20
            case .sha256: 32
            case .sha512: 64
            }
        return Array(String(repeating: "1234567890", count: 7).utf8.prefix(length))
    }

    /// RFC 6238 Appendix B, every row: time, algorithm, 8-digit TOTP.
    static let appendixB: [(Int64, OTPAlgorithm, String)] = [
        (59, .sha1, "94287082"), (59, .sha256, "46119246"), (59, .sha512, "90693936"),
        (1_111_111_109, .sha1, "07081804"), (1_111_111_109, .sha256, "68084774"),
        (1_111_111_109, .sha512, "25091201"),
        (1_111_111_111, .sha1, "14050471"), (1_111_111_111, .sha256, "67062674"),
        (1_111_111_111, .sha512, "99943326"),
        (1_234_567_890, .sha1, "89005924"), (1_234_567_890, .sha256, "91819424"),
        (1_234_567_890, .sha512, "93441116"),
        (2_000_000_000, .sha1, "69279037"), (2_000_000_000, .sha256, "90698825"),
        (2_000_000_000, .sha512, "38618901"),
        (20_000_000_000, .sha1, "65353130"), (20_000_000_000, .sha256, "77737706"),
        (20_000_000_000, .sha512, "47863826"),
    ]

    @Test("RFC 6238 Appendix B: every time, SHA-1, SHA-256 and SHA-512 at 8 digits", arguments: Self.appendixB)
    func rfc6238(time: Int64, algorithm: OTPAlgorithm, expected: String) throws {
        let parameters = try #require(OTPParameters(algorithm: algorithm, digits: 8))
        let secret = Self.rfcSeed(algorithm)
        #expect(OneTimePassword.code(secret: secret, at: time, parameters: parameters) == expected)
        let step = OneTimePassword.step(at: time)
        #expect(OneTimePassword.matchingStep(expected, secret: secret, at: time, parameters: parameters) == step)
        // The RFC's table also gives T as a hex counter: 59 s is step 1, 20000000000 s is 0x27BC86AA.
        #expect(OneTimePassword.step(at: 59) == 1)
        #expect(OneTimePassword.step(at: 20_000_000_000) == 0x27BC_86AA)
    }

    @Test("RFC 4226 Appendix D: HOTP values for counters 0 to 9")
    func rfc4226() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        let secret = Array("12345678901234567890".utf8)
        let values = (0..<10).map {
            OneTimePassword.hotp(secret: secret, counter: UInt64($0), digits: 6, algorithm: .sha1)
        }
        #expect(values == expected)
    }

    @Test("steps: floor(t / 30) from the epoch, floor below it; seconds left in the step")
    func steps() {
        #expect(OneTimePassword.step(at: 0) == 0)
        #expect(OneTimePassword.step(at: 29) == 0)
        #expect(OneTimePassword.step(at: 30) == 1)
        #expect(OneTimePassword.step(at: -1) == -1)
        #expect(OneTimePassword.step(at: -30) == -1)
        #expect(OneTimePassword.step(at: -31) == -2)
        #expect(OneTimePassword.step(at: 100, period: 60) == 1)
        #expect(OneTimePassword.secondsLeft(at: 0) == 30)
        #expect(OneTimePassword.secondsLeft(at: 29) == 1)
        #expect(OneTimePassword.secondsLeft(at: 59) == 1)
        #expect(OneTimePassword.secondsLeft(at: -1) == 1)
    }

    @Test("the window: the current step, then one either side; two steps off is refused")
    func window() {
        let secret = Self.rfcSeed(.sha1)
        let now: Int64 = 1_700_000_015
        let step = OneTimePassword.step(at: now)
        for offset in -1...1 {
            let code = OneTimePassword.code(secret: secret, at: now + Int64(offset) * 30)
            #expect(OneTimePassword.matchingStep(code, secret: secret, at: now) == step + Int64(offset))
            #expect(
                OneTimePassword.matchingStep(code, secret: secret, at: now, window: 0) == (offset == 0 ? step : nil)
            )
        }
        for offset in [-2, 2] {
            let code = OneTimePassword.code(secret: secret, at: now + Int64(offset) * 30)
            #expect(OneTimePassword.matchingStep(code, secret: secret, at: now) == nil)
            #expect(OneTimePassword.matchingStep(code, secret: secret, at: now, window: 2) == step + Int64(offset))
        }
        // Another secret's code does not match.
        let other = OneTimePassword.code(secret: Self.rfcSeed(.sha256), at: now)
        #expect(OneTimePassword.matchingStep(other, secret: secret, at: now) == nil)
        // Steps before 1970 never match, and the window at step 0 does not wrap.
        let first = OneTimePassword.code(secret: secret, at: 0)
        #expect(OneTimePassword.matchingStep(first, secret: secret, at: 10) == 0)
        let wrapped = OneTimePassword.hotp(secret: secret, counter: .max, digits: 6, algorithm: .sha1)
        #expect(OneTimePassword.matchingStep(wrapped, secret: secret, at: 10) == nil || wrapped == first)
    }

    @Test("typed codes: the wrong length, non-digits, spaces and other scripts' digits are refused")
    func malformedCodes() {
        let secret = Self.rfcSeed(.sha1)
        let now: Int64 = 1_234_567_890
        let code = OneTimePassword.code(secret: secret, at: now)
        #expect(OneTimePassword.matchingStep(code, secret: secret, at: now) != nil)
        for typed in [
            "", String(code.dropLast()), code + "0", " " + code, code + " ", "12a456", "١٢٣٤٥٦", "+12345", "-12345",
        ] {
            #expect(OneTimePassword.matchingStep(typed, secret: secret, at: now) == nil, "\(typed.debugDescription)")
        }
        // An 8-digit code under 6-digit parameters, and the reverse.
        let eight = OneTimePassword.code(secret: secret, at: now, parameters: OTPParameters(digits: 8)!)
        #expect(OneTimePassword.matchingStep(eight, secret: secret, at: now) == nil)
        #expect(
            OneTimePassword.matchingStep(code, secret: secret, at: now, parameters: OTPParameters(digits: 8)!) == nil
        )
    }

    @Test("parameters: 6 or 8 digits and a 30 s period, when built and when decoded")
    func parameters() throws {
        #expect(OTPParameters.standard.algorithm == .sha1)
        #expect(OTPParameters.standard.digits == 6)
        #expect(OTPParameters.standard.period == 30)
        #expect(OTPParameters() == .standard)
        #expect(OTPParameters(algorithm: .sha512, digits: 8)?.digits == 8)
        for digits in [0, 5, 7, 9, 10] { #expect(OTPParameters(digits: digits) == nil) }
        for period in [0, 15, 60] { #expect(OTPParameters(period: period) == nil) }

        let encoded = try JSONEncoder().encode(OTPParameters(algorithm: .sha256, digits: 8)!)
        #expect(
            try JSONDecoder().decode(OTPParameters.self, from: encoded) == OTPParameters(algorithm: .sha256, digits: 8)
        )
        let seven = Data(#"{"algorithm":"SHA1","digits":7,"period":30}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(OTPParameters.self, from: seven) }
        let md5 = Data(#"{"algorithm":"MD5","digits":6,"period":30}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(OTPParameters.self, from: md5) }
        #expect(OTPAlgorithm.allCases.map(\.rawValue) == ["SHA1", "SHA256", "SHA512"])
    }

    @Test("a new secret: 20 bytes from the generator, different each time")
    func newSecret() {
        var generator = SplitMix64(seed: 7)
        let first = OneTimePassword.newSecret(using: &generator)
        let second = OneTimePassword.newSecret(using: &generator)
        #expect(first.count == 20)
        #expect(second.count == 20)
        #expect(first != second)
        var system = SystemRandomNumberGenerator()
        #expect(OneTimePassword.newSecret(using: &system).count == 20)
    }
}

@Suite("Base32 (RFC 4648): the form a secret is typed or scanned in")
struct Base32Tests {
    /// RFC 4648 section 10, without the padding `encode` leaves off.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ]

    @Test("RFC 4648 section 10's vectors, both ways, with and without padding", arguments: Self.vectors)
    func rfc4648(plain: String, encoded: String) {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
        #expect(Base32.decode(encoded) == Array(plain.utf8))
        let padded = encoded + String(repeating: "=", count: (8 - encoded.count % 8) % 8)
        #expect(Base32.decode(padded) == Array(plain.utf8))
        #expect(Base32.decode(encoded.lowercased()) == Array(plain.utf8))
    }

    @Test("round trips of every length 0 to 64 with seeded random bytes")
    func roundTrips() {
        var generator = SplitMix64(seed: 4648)
        for length in 0...64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let text = Base32.encode(bytes)
            #expect(text.count == (length * 8 + 4) / 5)
            #expect(text.allSatisfy { "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains($0) })
            #expect(Base32.decode(text) == bytes)
        }
    }

    @Test("spaces, hyphens and padding are ignored; anything else, or an impossible length, is nil")
    func typing() {
        let rfc = Array("12345678901234567890".utf8)
        #expect(Base32.encode(rfc) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        #expect(Base32.decode("gezd gnbv gy3t qojq-gezd gnbv gy3t qojq") == rfc)
        #expect(Base32.decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ========") == rfc)
        for bad in ["GEZDGNBV1", "GEZDGNB0", "GEZD\tGNBV", "GEZD\nGNBV", "GEZDGNBÄ", "GEZD_GNBV", "GEZDGNBV8"] {
            #expect(Base32.decode(bad) == nil, "\(bad.debugDescription)")
        }
        // 1, 3 or 6 symbols past a multiple of 8 are not a whole number of bytes.
        for bad in ["M", "MZX", "MZXW6Y", "MZXW6YTBO"] { #expect(Base32.decode(bad) == nil, "\(bad)") }
    }
}

@Suite("The otpauth URI an authenticator app scans")
struct OTPAuthURITests {
    @Test("the Key Uri Format: issuer-prefixed label, base32 secret, issuer, algorithm, digits, period")
    func form() {
        let secret = Array("12345678901234567890".utf8)
        #expect(
            OTPAuthURI.make(user: "tina.teller", secret: secret)
                == "otpauth://totp/Cashpoint:tina.teller?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                + "&issuer=Cashpoint&algorithm=SHA1&digits=6&period=30"
        )
        #expect(
            OTPAuthURI.make(
                user: "ada_admin-2",
                secret: secret,
                parameters: OTPParameters(algorithm: .sha256, digits: 8)!
            )
                == "otpauth://totp/Cashpoint:ada_admin-2?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                + "&issuer=Cashpoint&algorithm=SHA256&digits=8&period=30"
        )
    }

    @Test("label and issuer are percent-encoded: spaces, colons, ampersands, non-ASCII")
    func percentEncoding() {
        let uri = OTPAuthURI.make(user: "a b:c&d", secret: [0xFF], issuer: "Bank & Co: Zürich")
        #expect(
            uri
                == "otpauth://totp/Bank%20%26%20Co%3A%20Z%C3%BCrich:a%20b%3Ac%26d?secret=74"
                + "&issuer=Bank%20%26%20Co%3A%20Z%C3%BCrich&algorithm=SHA1&digits=6&period=30"
        )
        let components = URLComponents(string: uri)
        #expect(components?.scheme == "otpauth")
        #expect(components?.host == "totp")
        #expect(components?.queryItems?.first { $0.name == "issuer" }?.value == "Bank & Co: Zürich")
    }
}

@Suite("Recovery codes: single use, typed by hand")
struct RecoveryCodesTests {
    @Test("ten codes of XXXXX-XXXXX from the 32 symbols without 0, O, 1 and I, all different")
    func format() {
        var generator = SplitMix64(seed: 42)
        let codes = RecoveryCodes.generate(using: &generator)
        #expect(codes.count == 10)
        #expect(Set(codes).count == 10)
        let symbols = Set("23456789ABCDEFGHJKLMNPQRSTUVWXYZ")
        for code in codes {
            #expect(code.count == 11)
            #expect(Array(code)[5] == "-")
            #expect(code.replacingOccurrences(of: "-", with: "").allSatisfy { symbols.contains($0) })
            #expect(RecoveryCodes.normalize(code) == code)
        }
        #expect(RecoveryCodes.generate(count: 3, using: &generator).count == 3)
        #expect(RecoveryCodes.generate(count: 0, using: &generator).isEmpty)
        // Every symbol turns up: 2,000 codes draw 20,000 of them.
        let many = RecoveryCodes.generate(count: 2_000, using: &generator).joined()
        #expect(Set(many).subtracting(["-"]) == symbols)
    }

    @Test("typed codes: any case, hyphens and spaces anywhere; other symbols or lengths are nil")
    func normalize() {
        #expect(RecoveryCodes.normalize("abcde-fghjk") == "ABCDE-FGHJK")
        #expect(RecoveryCodes.normalize("ABCDEFGHJK") == "ABCDE-FGHJK")
        #expect(RecoveryCodes.normalize(" ab cd e-fg-hj k ") == "ABCDE-FGHJK")
        for bad in [
            "", "ABCDE-FGHJ", "ABCDE-FGHJKL", "ABCDE-FGHJ0", "ABCDE-FGHJO", "ABCDE-FGHJ1", "ABCDE-FGHJI",
            "ABCDE_FGHJK", "ABCDE-FGHJ\u{0130}", "ABCDE-FGHJ\n",
        ] {
            #expect(RecoveryCodes.normalize(bad) == nil, "\(bad.debugDescription)")
        }
    }
}

// MARK: - Independent generators: oathtool and pyotp

/// A program the interoperability tests run, found on PATH; when it is missing the test is skipped, or
/// fails when CI is "true" or CASHPOINT_REQUIRE_OTP_TOOLS=1.
struct OTPTool: Sendable {
    /// What the test reports when the tool is missing.
    let missing: String
    /// The program and leading arguments, or nil when it is missing.
    let command: [String]?

    static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["CI"] == "true" || environment["CASHPOINT_REQUIRE_OTP_TOOLS"] == "1"
    }

    /// Runs when the tool is there, or when it is required (and then fails naming its package).
    var shouldRun: Bool { self.command != nil || Self.required }

    static let oathtool = OTPTool(
        missing: "oathtool is not installed: install the Debian package oathtool (apt-get install oathtool)",
        command: Self.onPath("oathtool").map { [$0] }
    )

    /// The Python of scripts/test's pyotp virtualenv (CASHPOINT_PYTHON), else python3, if it imports pyotp.
    static let pyotp: OTPTool = {
        let missing = "pyotp is not importable: pip install pyotp (scripts/test installs it into .data/venv-pyotp)"
        let python = ProcessInfo.processInfo.environment["CASHPOINT_PYTHON"] ?? Self.onPath("python3")
        guard let python, let probe = try? Self.run([python, "-c", "import pyotp"]), probe.status == 0 else {
            return OTPTool(missing: missing, command: nil)
        }
        return OTPTool(missing: missing, command: [python])
    }()

    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `arguments` (the first is the program's path) with `input` on standard input.
    static func run(_ arguments: [String], input: String = "") throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

@Suite("TOTP against independent generators: oathtool and pyotp")
struct OTPInteroperabilityTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let secret: [UInt8]
        let time: Int64
        let parameters: OTPParameters

        var testDescription: String {
            "\(self.parameters.algorithm.rawValue)/\(self.parameters.digits) at \(self.time)"
        }
    }

    /// 20 seeded secrets (one from `newSecret`, the rest 16 to 40 bytes) and times up to 2096, each under
    /// SHA-1 and SHA-256 at 6 and 8 digits.
    static let cases: [Case] = {
        var generator = SplitMix64(seed: 6238)
        var cases: [Case] = []
        for index in 0..<20 {
            let secret =
                index == 0
                ? OneTimePassword.newSecret(using: &generator)
                : (0..<Int.random(in: 16...40, using: &generator)).map { _ in
                    UInt8.random(in: .min ... .max, using: &generator)
                }
            let time = Int64.random(in: 60...4_000_000_000, using: &generator)
            for algorithm in [OTPAlgorithm.sha1, .sha256] {
                for digits in [6, 8] {
                    cases.append(
                        Case(
                            secret: secret,
                            time: time,
                            parameters: OTPParameters(algorithm: algorithm, digits: digits)!
                        )
                    )
                }
            }
        }
        return cases
    }()

    /// Each case's codes at t, t - 60 and t + 60 from one tool: its code at t is accepted at t (at t's
    /// own step), and its codes two steps off are refused at t (and accepted at their own time).
    static func check(_ codes: [(Case, Int64, String)]) {
        #expect(codes.count == Self.cases.count * 3)
        for (item, time, code) in codes {
            let expectedLength = item.parameters.digits
            #expect(code.count == expectedLength, "\(item.testDescription): '\(code)'")
            let atT = OneTimePassword.matchingStep(
                code,
                secret: item.secret,
                at: item.time,
                parameters: item.parameters
            )
            if time == item.time {
                #expect(atT == OneTimePassword.step(at: item.time), "\(item.testDescription)")
            } else {
                #expect(atT == nil, "\(item.testDescription): the code for \(time) is accepted at \(item.time)")
                let own = OneTimePassword.matchingStep(code, secret: item.secret, at: time, parameters: item.parameters)
                #expect(own == OneTimePassword.step(at: time), "\(item.testDescription) at \(time)")
            }
        }
    }

    static func times(_ item: Case) -> [Int64] { [item.time, item.time - 60, item.time + 60] }

    @Test(
        "oathtool --totp: its codes are accepted at their time, two steps off refused",
        .enabled(
            if: OTPTool.oathtool.shouldRun,
            "oathtool is not installed (Debian package oathtool); CASHPOINT_REQUIRE_OTP_TOOLS=1 makes this fail"
        )
    )
    func oathtool() throws {
        guard let command = OTPTool.oathtool.command else {
            Issue.record(Comment(rawValue: OTPTool.oathtool.missing))
            return
        }
        var codes: [(Case, Int64, String)] = []
        for item in Self.cases {
            for time in Self.times(item) {
                // The secret goes on standard input ('-'), not on the command line.
                let run = try OTPTool.run(
                    command + [
                        "--totp=\(item.parameters.algorithm.rawValue)", "-b", "-d", "\(item.parameters.digits)",
                        "-s", "30", "--now", "@\(time)", "-",
                    ],
                    input: Base32.encode(item.secret) + "\n"
                )
                try #require(run.status == 0, "oathtool exited \(run.status) for \(item.testDescription)")
                codes.append((item, time, run.output.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
        Self.check(codes)
    }

    @Test(
        "pyotp TOTP.at: its codes are accepted at their time, two steps off refused",
        .enabled(
            if: OTPTool.pyotp.shouldRun,
            "pyotp is not importable (pip install pyotp); CASHPOINT_REQUIRE_OTP_TOOLS=1 makes this fail"
        )
    )
    func pyotp() throws {
        guard let command = OTPTool.pyotp.command else {
            Issue.record(Comment(rawValue: OTPTool.pyotp.missing))
            return
        }
        // One Python run for all: a line "BASE32 DIGITS DIGEST TIME" in, its code out.
        let script = """
            import hashlib, pyotp, sys
            for line in sys.stdin:
                secret, digits, digest, time = line.split()
                print(pyotp.TOTP(secret, digits=int(digits), digest=getattr(hashlib, digest)).at(int(time)))
            """
        var asked: [(Case, Int64)] = []
        var input = ""
        for item in Self.cases {
            for time in Self.times(item) {
                let digest = item.parameters.algorithm == .sha1 ? "sha1" : "sha256"
                input += "\(Base32.encode(item.secret)) \(item.parameters.digits) \(digest) \(time)\n"
                asked.append((item, time))
            }
        }
        let run = try OTPTool.run(command + ["-c", script], input: input)
        try #require(run.status == 0, "python with pyotp exited \(run.status)")
        let lines = run.output.split(separator: "\n").map(String.init)
        try #require(lines.count == asked.count, "pyotp printed \(lines.count) codes for \(asked.count) questions")
        Self.check(zip(asked, lines).map { ($0.0, $0.1, $1) })
    }
}

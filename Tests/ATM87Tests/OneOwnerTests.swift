import ATM87
import Foundation
import Testing

/// Rules with one owner in `ATM87` (issue 19): the masking of a PAN, the seeded generator and the
/// building of a terminal's card requests. These read the repository's Swift sources and fail when a
/// second copy comes back anywhere, so the copies cannot drift apart again.
@Suite("one owner per rule: source scans")
struct OneOwnerTests {
    static let thisFile = URL(fileURLWithPath: #filePath).standardizedFileURL.path

    /// Every Swift file under the folders, as (path from the repository root, lines).
    static func swiftFiles(under folders: [String]) throws -> [(path: String, lines: [Substring])] {
        var files: [(String, [Substring])] = []
        for folder in folders {
            let root = repositoryRoot.appendingPathComponent(folder)
            let enumerator = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
            // This file names the needles it looks for: it is not read.
            for case let url as URL in enumerator
            where url.pathExtension == "swift" && url.standardizedFileURL.path != Self.thisFile {
                let text = try String(contentsOf: url, encoding: .utf8)
                let path = String(url.path.dropFirst(repositoryRoot.path.count + 1))
                files.append((path, text.split(separator: "\n", omittingEmptySubsequences: false)))
            }
        }
        #expect(files.count > 50, "found only \(files.count) Swift files: is the repository root right?")
        return files
    }

    /// The lines, outside comments, that contain one of the needles, as (path:line, text); `_` and
    /// case are ignored, so `0x9E37_79B9_7F4A_7C15` and `0x9e3779b97f4a7c15` are one constant.
    static func lines(with needles: [String], in folders: [String]) throws -> [(place: String, text: String)] {
        let normalize = { (text: Substring) in text.replacingOccurrences(of: "_", with: "").lowercased() }
        let wanted = needles.map { normalize(Substring($0)) }
        var found: [(String, String)] = []
        for (path, lines) in try Self.swiftFiles(under: folders) {
            for (index, line) in lines.enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("//") else { continue }
                let text = normalize(line)
                if wanted.contains(where: { text.contains($0) }) { found.append(("\(path):\(index + 1)", code)) }
            }
        }
        return found
    }

    /// The places (path:line) of those lines.
    static func occurrences(of needles: [String], in folders: [String]) throws -> [String] {
        try Self.lines(with: needles, in: folders).map(\.place)
    }

    @Test("a PAN is masked by one function: ATM87PrettyPrinter.maskPAN")
    func oneMasking() throws {
        let definitions = try Self.occurrences(of: ["func maskPAN", "func maskedPAN", "func maskPan"], in: ["Sources"])
        #expect(definitions.count == 1, "\(definitions)")
        #expect(definitions.allSatisfy { $0.hasPrefix("Sources/ATM87/ATM87PrettyPrinter.swift:") }, "\(definitions)")
        // Every use names the one function: no other type grows a `maskPAN` of its own.
        let others = try Self.lines(with: ["maskPAN"], in: ["Sources"]).filter {
            !$0.text.contains("ATM87PrettyPrinter.maskPAN")
                && !$0.place.hasPrefix("Sources/ATM87/ATM87PrettyPrinter.swift:")
        }
        #expect(others.isEmpty, "\(others.map(\.place))")
    }

    @Test("SplitMix64 is written once, in ATM87, and nowhere else, tests included")
    func oneSplitMix() throws {
        let mixing = try Self.occurrences(
            of: ["0xBF58_476D_1CE4_E5B9", "0x94D0_49BB_1331_11EB"],
            in: ["Sources", "Tests"]
        )
        #expect(mixing.count == 2, "\(mixing)")
        #expect(mixing.allSatisfy { $0.hasPrefix("Sources/ATM87/SplitMix64.swift:") }, "\(mixing)")
        let increments = try Self.occurrences(of: ["0x9E37_79B9_7F4A_7C15"], in: ["Sources"])
        #expect(increments.count == 1, "\(increments)")
        #expect(increments.allSatisfy { $0.hasPrefix("Sources/ATM87/SplitMix64.swift:") }, "\(increments)")
        let generators = try Self.occurrences(of: [": RandomNumberGenerator"], in: ["Sources"])
        #expect(generators.count == 1, "\(generators)")
    }

    @Test("SplitMix64's outputs are the published ones, so every seeded run replays as before")
    func splitMixOutputs() {
        var zero = SplitMix64(seed: 0)
        #expect(
            [zero.next(), zero.next(), zero.next()] == [
                0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F,
            ]
        )
        var answer = SplitMix64(seed: 42)
        #expect(
            [answer.next(), answer.next(), answer.next()] == [
                13_679_457_532_755_275_413, 2_949_826_092_126_892_291, 5_139_283_748_462_763_858,
            ]
        )
    }

    @Test(
        "a terminal's 0200 and reversal advice are built in one place: the fields only they carry are set nowhere else"
    )
    func oneBuilder() throws {
        let builder = "Sources/ATM87/TerminalRequests.swift:"
        // 22 entry mode, 52 PIN block, 90 original data, 95 replacement amounts, 125 new PIN block.
        let fields = try Self.occurrences(
            of: [".set(22,", ".set(52,", ".set(90,", ".set(95,", ".set(125,"],
            in: ["Sources"]
        )
        #expect(fields.count == 5, "\(fields)")
        #expect(fields.allSatisfy { $0.hasPrefix(builder) }, "\(fields)")
        let messages = try Self.occurrences(
            of: [
                "(mti: .financialRequest", "(mti: .reversalAdvice", "mti: .reversalAdviceRepeat",
                "header(.reversalAdvice",
            ],
            in: ["Sources"]
        )
        #expect(messages.isEmpty, "\(messages)")
        // The STAN's count and format: once.
        let stans = try Self.occurrences(of: ["% 999_999", "\"%06d\""], in: ["Sources"])
        #expect(stans.isEmpty, "\(stans)")
    }

    /// The text of one Swift file, from the repository root.
    static func source(_ path: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("the ATM's rules are its session's: the card-number rule, the cassette countdown, no wire field read")
    func atmSessionRules() throws {
        // What a card number is: one rule (Luhn.isValidPAN: 12 to 19 digits that pass the check), which the
        // ATM's card reader, the teller desk and the configuration's test cards all ask.
        let lengths = try Self.occurrences(of: ["12...19", "12 ... 19"], in: ["Sources"])
        #expect(lengths.allSatisfy { $0.hasPrefix("Sources/ATM87/Luhn.swift:") }, "\(lengths)")
        let readers = try Self.occurrences(of: ["isValidPAN("], in: ["Sources"]).filter { $0.hasPrefix("Sources/CashpointTerminal/ATM/") }
        #expect(readers.count == 1, "\(readers)")
        #expect(readers.allSatisfy { $0.hasPrefix("Sources/CashpointTerminal/ATM/ATMSession.swift:") }, "\(readers)")
        // Notes counted down: in the session, once.
        let countdowns = try Self.occurrences(of: ["].count = max(0", ".count - notes"], in: ["Sources"])
        #expect(countdowns.count == 1, "\(countdowns)")
        #expect(countdowns.allSatisfy { $0.hasPrefix("Sources/CashpointTerminal/ATM/ATMSession.swift:") }, "\(countdowns)")
        // The session reads a typed answer, never a message's fields.
        let session = try Self.source("Sources/CashpointTerminal/ATM/ATMSession.swift")
        #expect(!session.contains("ATM87Message"))
        #expect(!session.contains("answer["))
    }

    @Test("what becomes of a request in flight at start is the store-and-forward core's rule alone")
    func oneRecoveryRule() throws {
        let reasons = try Self.occurrences(of: ["stoppedDuringDispense", "noAnswerBeforeStop"], in: ["Sources"])
        #expect(reasons.allSatisfy { $0.hasPrefix("Sources/CashpointTerminal/Journal/StoreAndForward.swift:") }, "\(reasons)")
        #expect(!reasons.isEmpty)
    }

    @Test("every journal event of the ATM's session is written: none is passed over")
    func everyJournalEventWritten() throws {
        let shell = try Self.source("Sources/CashpointTerminal/ATM/ATMController+Journal.swift")
        let start = try #require(shell.range(of: "func record(_ event: ATMJournalEvent)"))
        let end = try #require(shell.range(of: "\n    }\n", range: start.upperBound..<shell.endIndex))
        let body = shell[start.upperBound..<end.lowerBound]
        #expect(!body.contains("break"), "a journal event is passed over")
        #expect(!body.contains("default:"), "a journal event may be passed over unseen")
    }
}

import ATM87
import Foundation
import Testing

/// Seeded mutation fuzzing of the decoder: every outcome is a message that re-encodes to exactly the
/// input bytes, or a typed error that points inside the input. Any input that ever broke this is kept
/// in Regressions/decoder.txt and replayed first.
@Suite("ATM-87 decoder fuzzing")
struct FuzzTests {
    static let casesPerSeed = 25_000
    static let seeds: [UInt64] = [0xA7_87, 0xC0FFEE, 0x5EED_0003, 0x0BAD_F00D]

    /// Checks one input; returns a reason if the decoder misbehaved.
    static func check(_ input: [UInt8]) -> String? {
        do {
            let message = try ATM87Message(decoding: input)
            let again = message.encodedBytes
            if again != input {
                return "decoded, but re-encodes to different bytes"
            }
            if (try? ATM87Message(decoding: again)) != message {
                return "decoded, but the re-encoding decodes to another message"
            }
            _ = ATM87Rules.check(message)
            _ = ATM87PrettyPrinter.format(message)
            return nil
        } catch {
            if let offset = error.offset, !(0...input.count).contains(offset) {
                return "error offset \(offset) outside the input of \(input.count) bytes"
            }
            if let field = error.field, !(1...128).contains(field) {
                return "error names field \(field)"
            }
            if error.detail.isEmpty { return "error without detail" }
            return nil
        }
    }

    static func mutate(_ input: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let interesting: [UInt8] = Array("0123456789ABCDEF=D C".utf8) + [0x00, 0x7F, 0xFF, 0x20]
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let choice = Int.random(in: 0..<9, using: &generator)
            if bytes.isEmpty { bytes.append(0x30) }
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            switch choice {
            case 0:  // flip a bit
                bytes[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
            case 1:  // an interesting character
                bytes[index] = interesting.randomElement(using: &generator)!
            case 2:  // any byte
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            case 3:  // insert
                bytes.insert(interesting.randomElement(using: &generator)!, at: index)
            case 4:  // delete a run
                let end = min(bytes.count, index + Int.random(in: 1...8, using: &generator))
                bytes.removeSubrange(index..<end)
            case 5:  // truncate
                bytes.removeSubrange(index..<bytes.count)
            case 6:  // duplicate a run
                let end = min(bytes.count, index + Int.random(in: 1...16, using: &generator))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            case 7:  // a bitmap character: sets or clears fields
                let position = 4 + Int.random(in: 0..<32, using: &generator)
                if position < bytes.count {
                    bytes[position] = Array("0123456789ABCDEF".utf8).randomElement(using: &generator)!
                }
            default:  // a digit somewhere (length prefixes are digits)
                bytes[index] = UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &generator)
            }
        }
        return bytes
    }

    @Test("kept regression inputs", arguments: try! FuzzTests.regressions())
    func regression(_ entry: Regression) throws {
        #expect(Self.check(entry.bytes) == nil, "\(entry.name)")
        let outcome: String
        do {
            _ = try ATM87Message(decoding: entry.bytes)
            outcome = "ok"
        } catch {
            outcome = error.code.description
        }
        #expect(outcome == entry.expected, "\(entry.name)")
    }

    @Test("100,000 seeded mutations of valid messages: a valid message or a typed error", arguments: seeds)
    func mutations(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let corpus = try exampleMessages().map(\.message.encodedBytes) + [try typicalWithdrawal().encodedBytes]
        var decoded = 0
        var failures: [String] = []
        for number in 0..<Self.casesPerSeed {
            let input = Self.mutate(corpus.randomElement(using: &generator)!, using: &generator)
            if let reason = Self.check(input) {
                failures.append("seed \(seed) case \(number): \(reason): \(HexDump.hex(input))")
                if failures.count > 5 { break }
            } else if (try? ATM87Message(decoding: input)) != nil {
                decoded += 1
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // The mutations must reach both outcomes, or the fuzzer proves nothing.
        #expect(decoded > Self.casesPerSeed / 100)
        #expect(decoded < Self.casesPerSeed / 2)
    }

    struct Regression: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expected: String
        var testDescription: String { self.name }
    }

    /// Regressions/decoder.txt: `name | hex | expected outcome (ok or an error code)`.
    static func regressions() throws -> [Regression] {
        let text = try String(
            contentsOfFile: repositoryFile("Tests/ATM87Tests/Regressions/decoder.txt"),
            encoding: .utf8
        )
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard parts.count == 3 else { return nil }
            return Regression(name: parts[0], bytes: HexDump.parse(parts[1]) ?? [], expected: parts[2])
        }
    }
}

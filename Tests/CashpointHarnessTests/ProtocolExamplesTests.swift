import ATM87
import CashpointHarness
import Testing

/// The documented examples show every structured field as the vocabulary (Sources/ATM87/Vocabulary.swift)
/// writes it, and `ProtocolExamples` refuses to render one that does not.
@Suite("harness: the documented examples against the vocabulary")
struct ProtocolExamplesTests {
    @Test("every structured field of the documented examples reads and writes back byte for byte")
    func documentedExamples() throws {
        var seen: Set<Int> = []
        for (id, message) in try exampleMessages() {
            let problems = ProtocolExamples.vocabularyProblems(message)
            #expect(problems.isEmpty, "\(id): \(problems)")
            for field in [3, 48, 54, 63, 90, 95] where message.contains(field) { seen.insert(field) }
        }
        // The examples show fields 3, 48 (both kinds), 54, 90 and 95.
        #expect(seen.isSuperset(of: [3, 48, 54, 90, 95]))
    }

    @Test("an example whose structured field the vocabulary cannot read is reported, by field")
    func documentedExampleProblems() throws {
        let examples = Dictionary(uniqueKeysWithValues: try exampleMessages().map { ($0.id, $0.message) })
        var message = try #require(examples["0200-withdrawal"])
        try message.set(3, "990000")
        #expect(ProtocolExamples.vocabularyProblems(message).map(\.field) == [3])
        var reversal = ATM87Message(mti: .reversalAdvice)
        try reversal.set(90, String(repeating: "0", count: 42))
        try reversal.set(95, "000000006000" + "000000000000" + "X00000000" + "C00000000")
        #expect(ProtocolExamples.vocabularyProblems(reversal).map(\.field) == [95])
        var response = ATM87Message(mti: .financialResponse)
        try response.set(54, "0001978C000000240000")
        try response.set(48, "AN012CP0000000001AN0")
        #expect(ProtocolExamples.vocabularyProblems(response).map(\.field) == [48])
    }
}

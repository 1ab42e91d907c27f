import ATM87
import CashpointHarness
import Foundation
import Testing

/// docs/protocol.md cannot drift from the code: every hex dump in it decodes, obeys the rules and
/// matches the field table beside it, and its generated section is what the fixtures give today.
@Suite("docs/protocol.md")
struct ProtocolDocTests {
    func page() throws -> String {
        try String(contentsOfFile: repositoryFile("docs/protocol.md"), encoding: .utf8)
    }

    @Test("every hex dump in the page decodes, obeys its rules and matches its table")
    func everyExampleDecodes() throws {
        let examples = try DocumentedExample.parse(page: try self.page())
        #expect(examples.count >= 13)
        for example in examples {
            let frame = example.bytes
            try #require(frame.count >= 2, "\(example.id)")
            #expect(Int(frame[0]) << 8 | Int(frame[1]) == frame.count - 2, "\(example.id): length prefix")
            let message = try ATM87Message(decoding: Array(frame.dropFirst(2)))
            #expect(ATM87Rules.check(message).isEmpty, "\(example.id)")
            let rows = Dictionary(
                example.rows.map { ($0.field, ($0.wire, $0.value)) },
                uniquingKeysWith: { first, _ in first }
            )
            #expect(rows["MTI"]?.0 == message.mti.description, "\(example.id)")
            #expect(rows["length"]?.1 == String(frame.count - 2), "\(example.id)")
            let fieldRows = example.rows.compactMap { Int($0.field) }.filter { $0 > 1 }
            #expect(fieldRows == message.fieldNumbers, "\(example.id): the table lists other fields")
            for field in message.fieldNumbers {
                #expect(rows[String(field)]?.1 == message[field], "\(example.id): field \(field)")
            }
        }
    }

    @Test("the generated section is what the fixtures give: run atm-harness examples --write docs/protocol.md")
    func generatedSectionIsCurrent() throws {
        let fixtures = try ProtocolExamples.load(repositoryFile("fixtures/protocol-examples.json"))
        let expected = try ProtocolExamples.markdown(for: fixtures)
        let current = try #require(ProtocolExamples.currentSection(in: try self.page()))
        #expect(current == expected)
    }
}

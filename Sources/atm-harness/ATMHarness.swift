import ATM87
import ArgumentParser
import CashpointHarness
import Foundation
import NIOCore

@main
struct ATMHarness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-harness",
        abstract:
            "Tools for the ATM-87 protocol and the switch: decode messages, render the documented examples, play scripted sequences, flood a switch with garbage, load it as many ATMs do, measure posting.",
        subcommands: [
            Decode.self, Examples.self, Run.self, Flood.self, Load.self, LoadBankFixture.self, QuietAccounts.self,
            BenchPosting.self, Bank.self,
        ]
    )
}

struct Decode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode an ATM-87 message or frame and check it against the spec.",
        discussion: """
            Reads hex (plain, or a hex dump as docs/protocol.md shows) from the argument or, with no \
            argument, from standard input. Prints the message through the masking printer (PAN as first \
            6 and last 4 digits; PIN block, track 2, MAC, keys and tokens never shown) and every broken \
            rule. Exits 1 if the input does not decode or breaks a rule.
            """
    )

    @Argument(help: "The message or frame in hex.")
    var hex: String?

    @Flag(help: "The input starts with the 2-byte length prefix (auto-detected when omitted).")
    var framed = false

    func run() async throws {
        let text = self.hex ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        guard var bytes = HexDump.parse(text), !bytes.isEmpty else {
            throw ValidationError("the input is not hex (pairs of 0-9, A-F), nor a hex dump")
        }
        let looksFramed = bytes.count >= 2 && Int(bytes[0]) << 8 | Int(bytes[1]) == bytes.count - 2
        if self.framed || looksFramed {
            let declared = bytes.count >= 2 ? Int(bytes[0]) << 8 | Int(bytes[1]) : -1
            guard declared == bytes.count - 2 else {
                print("frame error: the length prefix says \(declared) bytes, but \(bytes.count - 2) follow")
                throw ExitCode(1)
            }
            bytes.removeFirst(2)
            print("frame: 2 length bytes + \(bytes.count)")
        }
        let message: ATM87Message
        do {
            message = try ATM87Message(decoding: bytes)
        } catch {
            print("decode error: \(error)")
            throw ExitCode(1)
        }
        print(ATM87PrettyPrinter.format(message))
        let violations = ATM87Rules.check(message)
        if violations.isEmpty {
            print("rules: ok")
        } else {
            for violation in violations { print("rule broken: \(violation)") }
            throw ExitCode(1)
        }
    }
}

struct Examples: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render the protocol examples (hex dump and field table) for docs/protocol.md.",
        discussion: "With --write PAGE, replaces the page's generated section; otherwise prints it."
    )

    @Option(help: "The examples file.")
    var fixtures = "fixtures/protocol-examples.json"

    @Option(help: "A Markdown page whose generated examples section is replaced.")
    var write: String?

    func run() async throws {
        let examples = try ProtocolExamples.load(self.fixtures)
        let section = try ProtocolExamples.markdown(for: examples)
        guard let page = self.write else {
            print(section)
            return
        }
        let current = try String(contentsOfFile: page, encoding: .utf8)
        let updated = try ProtocolExamples.replaceSection(in: current, with: section)
        try updated.write(toFile: page, atomically: true, encoding: .utf8)
        print("wrote \(examples.count) examples into \(page)")
    }
}

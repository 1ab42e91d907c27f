import ATM87
import ArgumentParser
import CashpointSecurity
import Foundation
import Testing

@testable import CashpointTerminal

/// The branch desk with two switches of one bank: a lost link signs the terminal on to the next one
/// (fresh keys) and the member of staff goes on without signing on again (the staff token is the
/// bank's, not a switch's).
@Suite("The teller desk fails over between switches", .timeLimit(.minutes(1)))
struct TellerDeskFailoverTests {
    /// A branch terminal of the fake bank on ports 1 and 2, its master key in a file; the body gets
    /// the configuration, the two ports and tina's code now.
    static func withDesk(
        _ body: (TerminalConfiguration, FakeSwitch, FakeSwitches, String) async throws -> Void
    ) async throws {
        let bank = TellerDeskTests.bank()
        let switches = FakeSwitches([1: bank, 2: bank])
        let code = TellerDeskTests.code(TellerDeskTests.tina, bank)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("desk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyFile = folder.appendingPathComponent("master.key").path
        try Data(String(repeating: "42", count: 32).utf8).write(to: URL(fileURLWithPath: keyFile))
        let configuration = TerminalConfiguration(
            terminal: "BRANCH01",
            switches: [SwitchAddress(host: "127.0.0.1", port: 1), SwitchAddress(host: "127.0.0.1", port: 2)],
            masterKeyFile: keyFile
        )
        try await body(configuration, bank, switches, code)
    }

    @Test("the first switch goes mid-session: the desk says so, signs on to the second, and the same staff session goes on there")
    func failover() async throws {
        try await Self.withDesk { configuration, bank, switches, code in
            let keypad = DeskKeypad([
                "tina.teller", "teller-test-password", .text(code),
                "1", "CP0000000001",
                // The first switch stops: its connection drops, and it refuses new ones.
                .run {
                    switches.stop([1])
                    bank.dropConnections()
                },
                "1", "CP0000000001",
                "1", "CP0000000001",
                "0",
            ])
            try await TerminalCommands.teller(configuration, connector: switches, io: keypad)
            let shown = keypad.shown
            #expect(shown.contains("signed on to the switch at 127.0.0.1:1, session keys received"))
            #expect(shown.contains("The link to the switch was lost"))
            #expect(shown.contains("Signed on to the switch at 127.0.0.1:2; still signed on as tina.teller."))
            #expect(shown.contains("may or may not have been done"))
            #expect(shown.components(separatedBy: "Balance of CP0000000001").count - 1 == 2)
            #expect(shown.contains("== signed off =="))
            // Two sign-ons (fresh keys each), one LOGIN: the staff token went on to the second switch.
            let received = bank.received
            #expect(received.filter { $0[70] == NetworkManagementCode.signOn.field }.count == 2)
            let operations = TellerDeskTests.administrative(bank).map(\.operation)
            #expect(operations.filter { $0 == "LOGIN" }.count == 1)
            #expect(operations.filter { $0 == "BALANCE" }.count == 2)
        }
    }

    @Test("no switch answers after the link is lost: the desk stops, naming the switches")
    func noneAnswers() async throws {
        try await Self.withDesk { configuration, bank, switches, code in
            let keypad = DeskKeypad([
                "tina.teller", "teller-test-password", .text(code),
                .run {
                    switches.stop([1, 2])
                    bank.dropConnections()
                },
                "1", "CP0000000001",
            ])
            do {
                try await TerminalCommands.teller(configuration, connector: switches, io: keypad)
                Issue.record("the desk went on with no switch")
            } catch let error as ValidationError {
                #expect(error.message.hasPrefix("the switches at 127.0.0.1:1, 127.0.0.1:2: "), "\(error.message)")
            }
            #expect(keypad.shown.contains("The link to the switch was lost"))
        }
    }

    @Test("the desk starts with the first switch down: it signs on to the second")
    func firstDownAtStart() async throws {
        try await Self.withDesk { configuration, _, switches, _ in
            switches.stop([1])
            let keypad = DeskKeypad([])
            try await TerminalCommands.teller(configuration, connector: switches, io: keypad)
            #expect(keypad.shown.contains("signed on to the switch at 127.0.0.1:2, session keys received"))
        }
    }
}

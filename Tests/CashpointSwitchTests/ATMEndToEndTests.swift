import ATM87
import ATMTestSupport
import CashpointSecurity
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// `atm-terminal atm --plain`, the real program, driven line by line against a switch over a fresh
/// demo bank: what a customer sees, what the receipt says, what the ledger holds afterwards.
@Suite("The ATM program against the switch", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct ATMEndToEndTests {
    /// Runs the program with the lines as its input; returns everything it printed.
    static func atm(port: Int, _ lines: [String], arguments: [String] = [], dataFolder: String? = nil) async throws -> String {
        let folder = try dataFolder ?? temporaryFolder()
        defer { if dataFolder == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let (status, text) = try await runATMTerminal(
            ["atm", "--plain"] + ATMTerminalBinary.terminal(port: port, folder: folder) + arguments,
            input: lines.joined(separator: "\n") + "\n"
        )
        #expect(status == 0, "atm-terminal exited \(status):\n\(text)")
        return text
    }

    @Test("fast cash: account choice, 50 from the cassettes, cash taken, receipt with RRN, card back")
    func fastCash() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [alice.pan, alice.pin, "a", "b", "a", "take", "h", "take", "q"])
            #expect(screen.contains("[CHOOSE AN ACCOUNT]") || screen.contains("[CASH WITHDRAWAL]"))
            #expect(screen.contains("[TAKE YOUR CASH]"))
            #expect(screen.contains("CASH WITHDRAWAL"))
            #expect(screen.contains("CARD            476173******0119"))
            #expect(screen.contains("AMOUNT                 50.00 EUR"))
            #expect(screen.contains("BALANCE             2,450.00 EUR"))
            #expect(screen.contains("Station Square"))
            let rrn = try #require(screen.split(separator: "\n").first { $0.contains("|RRN ") })
            #expect(rrn.filter(\.isNumber).count == 12)
            #expect(screen.contains("AUTH CODE"))
            #expect(screen.contains("cassettes: 20.00 EUR x 500 ok, 50.00 EUR x 199 ok"))
            #expect(screen.contains("[PLEASE TAKE YOUR CARD]"))
            #expect(!screen.contains(alice.pan))
            #expect(try await under.bank.balance(alice.current) == 245_000)
            #expect(try await under.auditCount("session.end") == 1)
        }
    }

    @Test("a wrong PIN, then the right one in the same session; the balance")
    func wrongThenRight() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [bob.pan, "9999", bob.pin, "c", "h", "take", "q"])
            #expect(screen.contains("Incorrect PIN. Please try again."))
            #expect(screen.contains("[MAIN MENU]"))
            #expect(screen.contains("Balance: 800.00 EUR"))
            #expect(screen.components(separatedBy: "* card ejected").count == 2)
        }
    }

    @Test("three wrong PINs: the card is retained")
    func threeWrong() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [bob.pan, "0000", "0001", "0002", "q"])
            #expect(screen.contains("[CARD RETAINED]"))
            #expect(screen.contains("* card captured"))
            #expect(!screen.contains("* card ejected"))
        }
    }

    @Test("a deposit, and the new balance on screen and receipt")
    func deposit() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [bob.pan, bob.pin, "e", "3550", "h", "take", "q"])
            #expect(screen.contains("Deposited 35.50 EUR."))
            #expect(screen.contains("Balance: 835.50 EUR"))
            #expect(screen.contains("BALANCE               835.50 EUR"))
            #expect(try await under.bank.balance(bob.current) == 83_550)
        }
    }

    @Test("a jam: part of the cash given, the rest reversed, the account charged only for what was given")
    func jam() async throws {
        try await SwitchUnderTest.with { under in
            // 100.00 is two 50s; the dispenser stops after one.
            let screen = try await Self.atm(
                port: under.port,
                [bob.pan, bob.pin, "a", "c", "take", "h", "take", "q"],
                arguments: ["--fault", "jam:1"]
            )
            #expect(screen.contains("the dispenser jammed after 1 of 2 notes"))
            #expect(screen.contains("Only 50.00 EUR of"))
            #expect(screen.contains("DISPENSED              50.00 EUR"))
            #expect(screen.contains("reversal sent (partialDispense): answered 00"))
            #expect(screen.contains("50.00 EUR x 199"))
            #expect(try await under.bank.balance(bob.current) == 75_000)
        }
    }

    @Test("a teller creates a customer; the bank allocates the account and a Luhn-valid card, which works at the ATM")
    func newCustomerAtTheATM() async throws {
        try await SwitchUnderTest.with { under in
            let (pan, pin, customer) = try await under.terminal("BRANCH01") { branch in
                #expect(try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39] == "00")
                let created = try await branch.create([("UN", "gil"), ("CN", "Gil Grey")])
                #expect(created[39] == "00")
                let pan = try #require(created[2])
                #expect(Luhn.isValidPAN(pan))
                let tlv = try ATM87TLV(parsing: try #require(created[48]))
                let block = try #require(tlv[.pinBlock].flatMap(Hex.decode))
                let pin = try PINBlock.decipher(block, pan: pan, key: try #require(branch.keys).pin)
                let deposit = try await branch.administrative(
                    .deposit,
                    fields: [4: "000000010000", 102: try #require(created.trimmed(102))]
                )
                #expect(deposit[39] == "00")
                return (pan, pin, try #require(tlv[.customerID]))
            }
            // Pending (know your customer) until a compliance officer verifies gil.
            try await under.terminal("BRANCH01") { desk in
                let login = try await desk.staffLogin(
                    userName: "cora.compliance", password: "compliance-test-password", code: under.code("cora.compliance"))
                #expect(login[39] == "00")
                let verified = try await desk.administrative(
                    .verify, [(.customerID, customer), (.kycStatus, "verified"), (.reason, "ID seen at the desk")])
                #expect(verified[39] == "00")
            }
            let screen = try await Self.atm(port: under.port, [pan, pin, "a", "a", "take", "h", "take", "q"])
            #expect(screen.contains("[TAKE YOUR CASH]"))
            #expect(screen.contains("BALANCE                80.00 EUR"))
        }
    }
}

/// `atm-terminal atm --plain` as a process the test talks to line by line, reads as it prints, and
/// can kill.
final class RunningATM: Sendable {
    struct State {
        var output = ""
        var waiters: [(id: UUID, text: String, times: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var ended = false
    }

    let process: Process
    let input: Pipe
    let state = Mutex(State())

    init(port: Int, dataFolder: String, arguments: [String] = []) throws {
        self.process = Process()
        self.process.executableURL = ATMTerminalBinary.url
        self.process.arguments = ["atm", "--plain"] + ATMTerminalBinary.terminal(port: port, folder: dataFolder) + arguments
        self.input = Pipe()
        let output = Pipe()
        self.process.standardInput = self.input
        self.process.standardOutput = output
        self.process.standardError = output
        output.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            let ready = self.state.withLock { state in
                if data.isEmpty { state.ended = true } else { state.output += String(decoding: data, as: UTF8.self) }
                let output = state.output
                let ended = state.ended
                let ready = state.waiters.filter { ended || output.components(separatedBy: $0.text).count > $0.times }
                state.waiters.removeAll { ended || output.components(separatedBy: $0.text).count > $0.times }
                return ready
            }
            if data.isEmpty { handle.readabilityHandler = nil }
            for waiter in ready { waiter.continuation.resume(returning: true) }
        }
        try self.process.run()
    }

    func type(_ lines: [String]) {
        self.input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    var output: String { self.state.withLock { $0.output } }

    /// Waits until the output has shown `text` `times` times (or the program ended, or 30 s passed: a
    /// recorded failure rather than a run that never ends).
    func waitFor(_ text: String, times: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) async {
        let id = UUID()
        let expiry = Task {
            try await Task.sleep(for: .seconds(30))
            let waiter = self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: false)
        }
        defer { expiry.cancel() }
        let found = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready = self.state.withLock { state in
                if state.ended || state.output.components(separatedBy: text).count > times { return true }
                state.waiters.append((id, text, times, continuation))
                return false
            }
            if ready { continuation.resume(returning: true) }
        }
        if !found { Issue.record("atm-terminal never printed \"\(text)\" \(times) time(s)", sourceLocation: sourceLocation) }
    }

    func kill9() {
        kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
    }

    /// Ends the input (the program quits) and waits for it.
    func finish() async -> Int32 {
        try? self.input.fileHandleForWriting.close()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                self.process.waitUntilExit()
                continuation.resume()
            }.start()
        }
        return self.process.terminationStatus
    }
}

@Suite("The ATM's journal and store-and-forward against the switch", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct ATMStoreAndForwardTests {
    @Test("kill -9 after a withdrawal is sent and before its answer: on restart the reversal goes once, the customer is whole")
    func crash() async throws {
        try await SwitchUnderTest.with { under in
            let folder = try temporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try await under.holdingRow("CP0000000003") {
                let atm = try RunningATM(port: under.port, dataFolder: folder)
                atm.type([bob.pan, bob.pin, "a", "b"])
                // The withdrawal is at the switch, waiting for bob's row.
                await atm.waitFor("[PLEASE WAIT]", times: 2)
                for _ in 0..<200 {
                    let waiting = try await under.bank.count(
                        "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%bank.post_committed(%'"
                    )
                    if waiting > 0 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                atm.kill9()
            }
            // The row is free: the withdrawal the switch held commits (on a loaded machine, not at once).
            for _ in 0..<200 {
                if try await under.bank.balance(bob.current) == 75_000 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await under.bank.balance(bob.current) == 75_000)
            // The terminal starts again: the journal has a request with no answer; it reverses it first.
            let again = try RunningATM(port: under.port, dataFolder: folder)
            again.type(["q"])
            #expect(await again.finish() == 0)
            #expect(again.output.contains("reversal sent (noAnswerBeforeStop): answered 00; done"))
            #expect(try await under.bank.balance(bob.current) == 80_000)
            // And once more: nothing left to send, nothing moves.
            let third = try RunningATM(port: under.port, dataFolder: folder)
            third.type(["q"])
            #expect(await third.finish() == 0)
            #expect(!third.output.contains("reversal sent"))
            #expect(try await under.bank.balance(bob.current) == 80_000)
            #expect(try await under.ledgerAgrees())

            let journal = try ElectronicJournal(path: folder + "/journal.sqlite", masterKey: try masterKey("ATM00001"))
            let kinds = try journal.records().map(\.kind)
            let sent = try #require(kinds.firstIndex(of: "request.sent").flatMap { first in kinds[(first + 1)...].firstIndex(of: "request.sent") })
            let doubt = try #require(kinds.firstIndex(of: "doubt"))
            let reversal = try #require(kinds.firstIndex(of: "reversal.sent"))
            let answered = try #require(kinds.firstIndex(of: "reversal.answered"))
            #expect(sent < doubt && doubt < reversal && reversal < answered)
            #expect(try journal.records(kinds: ["reversal.answered"]).first?.detail["code"] == "00")
            #expect(try journal.verify().isIntact)
            #expect(try journal.safEntries(states: [.done]).count == 1)
        }
    }
}

@Suite("End of day: the ATM's totals against the switch's ledger", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct ATMReconciliationTests {
    /// `atm-terminal ARGUMENTS --config ATM00001 --port --data-folder`: its exit status and output.
    static func command(_ arguments: [String], port: Int, folder: String) async throws -> (status: Int32, output: String) {
        try await runATMTerminal(arguments + ATMTerminalBinary.terminal(port: port, folder: folder))
    }

    @Test("a mixed session reconciles in balance; a reversal the terminal never saw makes both sides say by how much")
    func reconcile() async throws {
        try await SwitchUnderTest.with { under in
            let folder = try temporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            // The cassettes loaded (the ledger moves 20,000.00 from the vault into the ATM's cash).
            let load = try await Self.command(["replenish", "--counts", "500,200"], port: under.port, folder: folder)
            #expect(load.status == 0, "\(load.output)")
            #expect(load.output.contains("The ledger's cash for ATM00001: 20,000.00"))
            // alice: 50.00 cash, a 10.00 deposit, 25.00 to her savings, then 100.00 of which the jammed
            // dispenser gives 50.00 (the other 50.00 reversed).
            let session = try await ATMEndToEndTests.atm(
                port: under.port,
                [
                    alice.pan, alice.pin, "a", "b", "a", "take", "a", "e", "a", "1000", "a", "f", "a", "a", "2500", "a",
                    "a", "c", "a", "take", "h", "take", "q",
                ],
                arguments: ["--fault", "jam:1"],
                dataFolder: folder
            )
            #expect(session.contains("Deposited 10.00 EUR."))
            #expect(session.contains("Transferred 25.00 EUR"))
            #expect(session.contains("reversal sent (partialDispense): answered 00; done"))
            let first = try await Self.command(["reconcile"], port: under.port, folder: folder)
            #expect(first.status == 0, "\(first.output)")
            #expect(first.output.contains("in balance (00)"))
            #expect(first.output.contains("Withdrawals               2        150.00 EUR"))
            #expect(first.output.contains("Withdrawal reversals      1         50.00 EUR"))
            #expect(first.output.contains("Transfers                 1         25.00 EUR"))
            // 20,000.00 loaded, 100.00 given out, 10.00 in the deposit bin.
            #expect(first.output.contains("Cash: the ledger and the machine (cassettes and deposit bin) agree on 19,910.00."))

            // A deposit, then its reversal sent by someone else straight to the switch: reversed in full in
            // its period, it counts nowhere at the switch, and still as a deposit here.
            _ = try await ATMEndToEndTests.atm(
                port: under.port,
                [bob.pan, bob.pin, "e", "1000", "h", "take", "q"],
                dataFolder: folder
            )
            let journal = try ElectronicJournal(path: folder + "/journal.sqlite", masterKey: try masterKey("ATM00001"))
            let deposit = try #require(try journal.safEntries(states: [.settled]).last { $0.processingCode.hasPrefix("21") })
            try await under.terminal("ATM00001") { (atm) async throws in
                var advice = try atm.header(.reversalAdvice)
                try advice.set(2, bob.pan)
                try advice.set(3, "210000")
                try advice.set(4, "000000001000")
                try advice.set(49, "978")
                try advice.set(
                    90,
                    OriginalDataElements(mti: .financialRequest, stan: deposit.originalSTAN, transmissionTime: deposit.originalTime).field
                )
                #expect(try await atm.send(advice)[39] == "00")
            }
            let second = try await Self.command(["reconcile"], port: under.port, folder: folder)
            #expect(second.status == 1)
            #expect(second.output.contains("DIFFERENCE (95)"))
            #expect(second.output.contains("differs: deposits: 1 for 10.00 here, 0 for 0.00 at the switch"))
            #expect(second.output.contains("the machine (cassettes and deposit bin) holds 19,920.00 (difference 10.00)"))
            #expect(try await under.auditCount("reconcile.difference") == 1)
            let totals = try await Self.command(["totals"], port: under.port, folder: folder)
            #expect(totals.output.contains("since the cutover at"))
            let cutovers = try journal.records(kinds: ["cutover"])
            #expect(cutovers.map { $0.detail["balanced"] } == ["yes", "no"])
        }
    }
}

/// The `atm-terminal` this test run was built with, and the options that point it at a switch under test.
enum ATMTerminalBinary {
    static var url: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("atm-terminal")
        return FileManager.default.fileExists(atPath: beside.path)
            ? beside : repositoryRoot.appendingPathComponent(".build/debug/atm-terminal")
    }

    /// ATM00001's configuration, the switch's port, and a data folder of the test's own.
    static func terminal(port: Int, folder: String) -> [String] {
        [
            "--config", repositoryRoot.appendingPathComponent("fixtures/terminals/ATM00001.json").path,
            "--port", String(port), "--data-folder", folder,
        ]
    }
}

/// Runs `atm-terminal` to its end with the given input (none: an empty one); its exit status and all it
/// printed, standard error included.
func runATMTerminal(_ arguments: [String], input: String = "") async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = ATMTerminalBinary.url
    process.arguments = arguments
    let stdin = Pipe()
    let output = Pipe()
    process.standardInput = stdin
    process.standardOutput = output
    process.standardError = output
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let data = await withCheckedContinuation { continuation in
        Thread {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(returning: data)
        }.start()
    }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The ATM's controller in the test's process (a manual clock, a recording front end) over TCP to a
/// switch under test: what the shell does when the switch is slow, gone, and back.
@Suite("The ATM controller against the switch", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct ATMControllerAgainstSwitchTests {
    static func with(
        _ under: SwitchUnderTest,
        cassettes: [Cassette] = [Cassette(denomination: 2_000, count: 50, currency: "978")],
        timeouts: ATMTimeouts = ATMTimeouts(),
        seed: UInt64,
        _ body: (ControllerUnderTest) async throws -> Void
    ) async throws {
        var configuration = TerminalConfiguration(terminal: "ATM00001", port: under.port, cassettes: cassettes, timeouts: timeouts)
        configuration.fixture = repositoryRoot.appendingPathComponent("fixtures/bank.json").path
        let key = try configuration.loadMasterKey().key
        try await ControllerUnderTest.with(configuration: configuration, masterKey: key, connector: TCPConnector(), seed: seed, body)
    }

    @Test("no answer in time (the response timer on the manual clock): the card comes back, and the reversal goes once the link is up again")
    func doubtSettledAfterReconnect() async throws {
        try await SwitchUnderTest.with { under in
            try await Self.with(
                under,
                cassettes: [Cassette(denomination: 5_000, count: 10, currency: "978")],
                timeouts: ATMTimeouts(response: .seconds(2)),
                seed: 1
            ) { (atm) async throws in
                await atm.waitFor("[WELCOME]")
                // Bob's account is held: his withdrawal waits at the switch past the ATM's patience.
                try await under.holdingRow("CP0000000003") {
                    atm.type([.typed(bob.pan), .typed(bob.pin), .key(.function(.a)), .key(.function(.a))])
                    await atm.waitFor("[PLEASE WAIT]", times: 2)
                    await atm.advance(.seconds(2))
                    await atm.waitFor("no answer from the switch")
                    await atm.waitFor("Your account will not be charged.")
                }
                // The link was closed at the timeout; the ATM tries again after its retry delay, and its
                // reversal settles the withdrawal whichever way it went.
                await atm.advance(.seconds(5))
                await atm.waitFor("reversal sent (timeout): answered 00")
                #expect(try await under.bank.balance(bob.current) == 80_000)
                atm.type([.take, .quit])
                await atm.running.value
                #expect(atm.shown.contains("[PLEASE TAKE YOUR CARD]"))
                #expect(!atm.shown.contains("[TAKE YOUR CASH]"))
                #expect(!atm.shown.contains(bob.pan))
            }
        }
    }

    @Test("an idle ATM tests its link; when the switch is gone it goes out of service and comes back by itself")
    func keepAliveAndReconnect() async throws {
        try await SwitchUnderTest.with { under in
            try await Self.with(under, seed: 2) { (atm) async throws in
                await atm.waitFor("[WELCOME]")
                try await under.current.stop()
                await atm.waitFor("[SORRY]", times: 2)
                try await under.startAgain(samePort: true)
                await atm.advance(.seconds(5))
                await atm.waitFor("signed on to the switch", times: 2)
                await atm.waitFor("[WELCOME]", times: 2)
                atm.type([.typed(alice.pan), .typed(alice.pin)])
                await atm.waitFor("[MAIN MENU]")
                atm.type([.key(.cancel), .take, .quit])
            }
        }
    }

    @Test("the switch stops while a customer is at the menu: the card comes back at once, the machine is out of service, and it serves again when the switch returns")
    func switchStopsDuringSession() async throws {
        try await SwitchUnderTest.with { under in
            try await Self.with(under, seed: 3) { (atm) async throws in
                await atm.waitFor("[WELCOME]")
                atm.type([.typed(alice.pan), .typed(alice.pin)])
                await atm.waitFor("[MAIN MENU]")
                try await under.current.stop()
                await atm.waitFor("Service is temporarily")
                atm.type([.take])
                await atm.waitFor("[SORRY]", times: 2)
                // While the switch is away the journal goes on: the card returned and taken are on record.
                #expect(try atm.journal.records(kinds: ["card.taken"]).count == 1)
                try await under.startAgain(samePort: true)
                await atm.advance(.seconds(5))
                await atm.waitFor("[WELCOME]", times: 2)
                atm.type([.quit])
                await atm.running.value
                #expect(try await under.bank.balance(alice.current) == 250_000)
                #expect(try await under.ledgerAgrees())
                #expect(try atm.journal.verify().isIntact)
                #expect(try atm.journal.records(kinds: ["link.down"]).count >= 1)
            }
        }
    }
}

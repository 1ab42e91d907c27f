import ATM87
import ATMTestSupport
import CashpointSecurity
import CashpointTerminal
import Crypto
import Foundation
import Testing

/// The ATM's shell with its session core on a manual clock, against a switch in memory: every timer an
/// answer starts must run in the shell (the core's own tests cannot see a shell that loses them), and
/// every wait is an event, never an action that waits.
@Suite("The ATM controller (shell) on a manual clock", .timeLimit(.minutes(1)))
struct ATMControllerTests {
    static let pan = "4761739001010119"
    static let masterKey = SymmetricKey(data: [UInt8](repeating: 0x42, count: 32))

    static func configuration(_ timeouts: ATMTimeouts = ATMTimeouts()) -> TerminalConfiguration {
        TerminalConfiguration(
            terminal: "ATM00001",
            cassettes: [
                Cassette(denomination: 2_000, count: 500, currency: "978"),
                Cassette(denomination: 5_000, count: 200, currency: "978"),
            ],
            timeouts: timeouts
        )
    }

    static func with(
        _ bank: FakeSwitch,
        timeouts: ATMTimeouts = ATMTimeouts(),
        dispenser: EmulatedDispenser = EmulatedDispenser(),
        journalFolder: String? = nil,
        _ body: (ControllerUnderTest) async throws -> Void
    ) async throws {
        try await ControllerUnderTest.with(
            configuration: Self.configuration(timeouts),
            masterKey: Self.masterKey,
            connector: bank,
            dispenser: dispenser,
            journalFolder: journalFolder,
            seed: 7,
            body
        )
    }

    /// The card, its PIN, fast cash 50.00 (B on the fast-cash screen) from its one account.
    static let fastCash50: [ATMInput] = [.typed(pan), .typed("1234"), .key(.function(.a)), .key(.function(.b))]

    @Test("cash presented and not taken: at cashTake it is retracted, the whole amount reversed (queued and sent), the card returned")
    func cashNotTaken() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type(Self.fastCash50)
            await atm.waitFor("[TAKE YOUR CASH]")
            await atm.waitFor("* cash presented: 50.00 EUR")
            // Nothing happens before the cash-take time: the timer the answer started is still running.
            await atm.clock.sleeper(within: .seconds(30))
            atm.clock.advance(by: .seconds(29))
            #expect(!atm.shown.contains("cash retracted"))
            await atm.advance(.seconds(1))
            await atm.waitFor("* cash retracted")
            await atm.waitFor("reversal sent (cashNotTaken): answered 00; done")
            await atm.waitFor("[PLEASE TAKE YOUR CARD]")
            let advice = try #require(bank.received.last { $0.mti == .reversalAdvice })
            let withdrawal = try #require(bank.received.last { $0.mti == .financialRequest && $0[3]?.hasPrefix("01") == true })
            #expect(advice[4] == withdrawal[4])
            #expect(try ReplacementAmounts(field: advice[95] ?? "").actual == 0)
            #expect(try OriginalDataElements(field: advice[90] ?? "").stan == withdrawal[11])
            #expect(try atm.journal.records(kinds: ["cash.retracted"]).count == 1)
            #expect(try atm.journal.records(kinds: ["reversal.queued"]).first?.detail["reason"] == "cashNotTaken")
            #expect(try atm.journal.safEntries(states: [.queued, .armed]).isEmpty)
            #expect(atm.frontEnd.statuses.last?.cashPresented == nil)
            #expect(atm.frontEnd.statuses.last?.cardOut == true)
            atm.type([.take, .quit])
        }
    }

    @Test("the card not taken: at cardTake it is captured, the card session ended, and the machine welcomes the next customer after the message")
    func cardNotTaken() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed(Self.pan), .typed("1234"), .key(.function(.h))])
            await atm.waitFor("[PLEASE TAKE YOUR CARD]")
            await atm.waitFor("* card ejected")
            await atm.advance(.seconds(30))
            await atm.waitFor("* card captured")
            await atm.waitFor("[CARD RETAINED]")
            await atm.advance(.seconds(5))
            await atm.waitFor("[WELCOME]", times: 2)
            #expect(try atm.journal.records(kinds: ["card.captured"]).first?.detail["reason"] == "card not taken")
            // The card session was ended at the switch when the card came back.
            #expect(bank.received.contains { $0.mti == .administrativeRequest })
            #expect(atm.frontEnd.statuses.last?.cardInReader == nil)
            atm.type([.quit])
        }
    }

    @Test("the result screen's input timer: after a balance, more time is not asked, the card comes back")
    func resultScreenTimesOut() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed(Self.pan), .typed("1234"), .key(.function(.c))])
            await atm.waitFor("[BALANCE INQUIRY]")
            await atm.advance(.seconds(30))
            await atm.waitFor("Your session has timed out.")
            await atm.waitFor("* card ejected")
            // And the card-take timer the return started runs too.
            await atm.advance(.seconds(30))
            await atm.waitFor("* card captured")
            atm.type([.quit])
        }
    }

    @Test("no answer within the response time: in doubt, the card back, the link dropped; the reversal goes when the link is up again, before anyone is served")
    func responseTimeout() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank, timeouts: ATMTimeouts(response: .seconds(10))) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed(Self.pan), .typed("1234")])
            await atm.waitFor("[MAIN MENU]")
            bank.set { $0.cards = .silence }
            atm.type([.key(.function(.a)), .key(.function(.b))])
            await atm.waitFor("[PLEASE WAIT]", times: 2)
            await atm.advance(.seconds(10))
            await atm.waitFor("no answer from the switch")
            await atm.waitFor("Your account will not be charged.")
            #expect(try atm.journal.safEntries(states: [.queued]).count == 1)
            bank.set { $0.cards = .answer("00") }
            atm.type([.take])
            await atm.waitFor("[SORRY]", times: 2)
            await atm.advance(.seconds(5))
            await atm.waitFor("reversal sent (timeout): answered 00; done")
            await atm.waitFor("[WELCOME]", times: 2)
            let drained = try #require(atm.shown.range(of: "reversal sent (timeout)"))
            let served = try #require(atm.shown.range(of: "[WELCOME]", options: .backwards))
            #expect(drained.lowerBound < served.lowerBound)
            #expect(bank.connectionCount == 2)
            // Sent once, after the new link's sign-on: not on the link that timed out as it closed (whose
            // answer would be lost, and the advice repeated as a 0421).
            let advices = bank.received.filter { $0.mti == .reversalAdvice || $0.mti == .reversalAdviceRepeat }
            #expect(advices.map(\.mti) == [.reversalAdvice])
            let signOns = bank.received.indices.filter { bank.received[$0][70] == NetworkManagementCode.signOn.field }
            let advice = try #require(bank.received.firstIndex { $0.mti == .reversalAdvice })
            #expect(signOns.count == 2 && signOns[1] < advice)
            atm.type([.quit])
        }
    }

    @Test("an idle machine tests its link: an echo with no answer drops the link, the machine is out of service, and it comes back by itself")
    func keepAlive() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            bank.set { $0.echoes = .silence }
            await atm.advance(.seconds(60))
            // The echo's deadline: the response time.
            await atm.advance(.seconds(30))
            #expect(bank.received.contains { $0[70] == NetworkManagementCode.echo.field })
            await atm.waitFor("the link to the switch is gone")
            await atm.waitFor("[SORRY]", times: 2)
            bank.set { $0.echoes = .answer("00") }
            await atm.advance(.seconds(5))
            await atm.waitFor("signed on to the switch", times: 2)
            await atm.waitFor("[WELCOME]", times: 2)
            atm.type([.quit])
        }
    }

    @Test("the link goes while a deposit waits: in doubt at once, reversed after the reconnect; the switch unreachable meanwhile")
    func linkLostInFlight() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed(Self.pan), .typed("1234")])
            await atm.waitFor("[MAIN MENU]")
            bank.set { $0.cards = .silence }
            atm.type([.key(.function(.e)), .typed("3550")])
            await atm.waitFor("[PLEASE WAIT]", times: 2)
            bank.set {
                $0.reachable = false
                $0.cards = .answer("00")
            }
            bank.dropConnections()
            await atm.waitFor("Your account will not be charged.")
            atm.type([.take])
            await atm.waitFor("[SORRY]", times: 2)
            await atm.advance(.seconds(5))
            await atm.waitFor("the switch cannot be reached")
            #expect(try atm.journal.safEntries(states: [.queued]).count == 1)
            bank.set { $0.reachable = true }
            await atm.advance(.seconds(5))
            await atm.waitFor("reversal sent (linkLost): answered 00; done")
            await atm.waitFor("[WELCOME]", times: 2)
            #expect(try atm.journal.safEntries(states: [.queued]).isEmpty)
            #expect(try atm.journal.verify().isIntact)
            atm.type([.quit])
        }
    }

    @Test("a restart with a reversal queued: it is sent before the first customer is served; keys typed meanwhile wait")
    func queueDrainsFirst() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bank = FakeSwitch(masterKey: Self.masterKey)
        // The first run: the switch hangs on the withdrawal, and the terminal stops dead before the answer
        // (as kill -9 would: nothing more of it runs).
        bank.set { $0.cards = .answer("00") }
        try await Self.with(bank, journalFolder: folder) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed(Self.pan), .typed("1234")])
            await atm.waitFor("[MAIN MENU]")
            bank.set { $0.cards = .silence }
            atm.type([.key(.function(.a)), .key(.function(.b))])
            await atm.waitFor("[PLEASE WAIT]", times: 2)
            atm.running.cancel()
        }
        bank.set { $0.cards = .answer("00") }
        try await Self.with(bank, journalFolder: folder) { (atm) async throws in
            // Typed at once, as a script's lines arrive: they wait for the machine.
            atm.type([.typed(Self.pan), .typed("1234"), .key(.function(.h)), .take, .quit])
            await atm.waitFor("reversal sent (noAnswerBeforeStop): answered 00; done")
            await atm.waitFor("[MAIN MENU]")
            let drained = try #require(atm.shown.range(of: "reversal sent"))
            let served = try #require(atm.shown.range(of: "[ENTER YOUR PIN]"))
            #expect(drained.lowerBound < served.lowerBound)
            #expect(!atm.shown.contains("out of service: the card is not taken in"))
        }
    }

    @Test("a jam: the dispenser's result is an event; part of the cash presented, the rest reversed once it is taken")
    func jam() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank, dispenser: EmulatedDispenser(jamAfter: 1)) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            // 100.00: two 50s; the dispenser jams after one.
            atm.type([.typed(Self.pan), .typed("1234"), .key(.function(.a)), .key(.function(.c))])
            await atm.waitFor("the dispenser jammed after 1 of 2 notes")
            await atm.waitFor("[TAKE YOUR CASH]")
            atm.type([.take])
            await atm.waitFor("reversal sent (partialDispense): answered 00; done")
            let advice = try #require(bank.received.last { $0.mti == .reversalAdvice })
            #expect(try ReplacementAmounts(field: advice[95] ?? "").actual == 5_000)
            #expect(try atm.journal.cassettes()?.map(\.count) == [500, 199])
            atm.type([.key(.function(.h)), .take, .quit])
        }
    }

    @Test("a receipt belongs to its customer: gone from the status when the card is taken, never shown to the next")
    func receiptClearedForNextCustomer() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed(Self.pan), .typed("1234"), .key(.function(.c))])
            await atm.waitFor("[BALANCE INQUIRY]")
            let first = try #require(atm.frontEnd.statuses.last?.receipt)
            #expect(first.contains { $0.contains("476173******0119") })
            atm.type([.key(.function(.h))])
            await atm.waitFor("[PLEASE TAKE YOUR CARD]")
            atm.type([.take])
            await atm.waitFor("[WELCOME]", times: 2)
            // The next customer: nothing of the first one's receipt beside the screen.
            atm.type([.typed("5555555555554444")])
            await atm.waitFor("[ENTER YOUR PIN]", times: 2)
            let statuses = atm.frontEnd.statuses
            // From the moment the first customer's card was taken on.
            let taken = try #require(statuses.lastIndex { $0.cardOut })
            let after = statuses[(taken + 1)...]
            #expect(!after.isEmpty)
            #expect(after.allSatisfy { $0.receipt.isEmpty })
            #expect(after.last?.cardInReader == "555555******4444")
            atm.type([.key(.cancel), .take, .quit])
        }
    }

    @Test("what the reader reads must be a card number: other digits are given back unread, nothing sent")
    func unreadableCard() async throws {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        try await Self.with(bank) { (atm) async throws in
            await atm.waitFor("[WELCOME]")
            atm.type([.typed("4761739001010118")])
            await atm.waitFor("This card cannot be read.")
            atm.type([.take, .quit])
            await atm.running.value
            #expect(!bank.received.contains { $0.mti == .financialRequest })
            #expect(try atm.journal.records(kinds: ["card.unreadable"]).count == 1)
            #expect(!atm.shown.contains("4761739001010118"))
        }
    }
}

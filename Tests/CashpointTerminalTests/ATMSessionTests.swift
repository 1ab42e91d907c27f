import ATM87
import CashpointTerminal
import Testing

/// The ATM's card session, fed events and read by its actions: no socket, no clock.
@Suite("ATM session")
struct ATMSessionTests {
    static let pan = "4761739001010119"
    static let timeouts = ATMTimeouts()

    /// 50s and 20s, ten of each, EUR; fast cash 20, 50, 100, 200.
    static func session(
        cassettes: [Cassette] = [
            Cassette(denomination: 5_000, count: 10, currency: "978"),
            Cassette(denomination: 2_000, count: 10, currency: "978"),
        ],
        fastCash: [Int64] = [2_000, 5_000, 10_000, 20_000]
    ) -> ATMSession {
        var session = ATMSession(settings: ATMSettings(currency: "978", fastCash: fastCash), cassettes: cassettes)
        _ = session.linkUp()
        return session
    }

    /// An 0210 as the shell types it for the session.
    static func answer(_ code: String, _ fields: [Int: String] = [:]) -> CardAnswer {
        var all: [Int: String] = [11: "000042", 37: "533512000042", 39: code]
        if code == "00" { all[38] = "A1B2C3" }
        for (field, value) in fields { all[field] = value }
        return CardAnswer(try! ATM87Message(mti: .financialResponse, fields: all))
    }

    static func balance(_ minor: Int64) -> String {
        AdditionalAmount(amount: minor, currency: "978").field
    }

    static func keys(_ session: inout ATMSession, _ digits: String) -> [ATMAction] {
        var actions: [ATMAction] = []
        for digit in digits.utf8 { actions += session.key(.digit(digit - 0x30)) }
        return actions
    }

    static func sent(_ actions: [ATMAction]) -> CardRequest? {
        for case .send(let request) in actions { return request }
        return nil
    }

    static func screens(_ actions: [ATMAction]) -> [ATMScreen] {
        actions.compactMap { if case .show(let screen) = $0 { return screen } else { return nil } }
    }

    static func reversals(_ actions: [ATMAction]) -> [ReversalOrder] {
        actions.compactMap { if case .reverse(let order) = $0 { return order } else { return nil } }
    }

    /// A session at the main menu of a card with the given accounts.
    static func atMenu(accounts: [String] = ["CP0000000001"], _ session: ATMSession = Self.session()) -> ATMSession {
        var session = session
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "1234")
        _ = session.key(.enter)
        _ = session.answerReceived(
            Self.answer("00", [48: CardAccounts(accounts).field, 54: Self.balance(250_000), 62: "token"])
        )
        return session
    }

    // MARK: Screens and the PIN

    @Test("out of service until the link is up; welcome then; out of service again when it goes")
    func service() {
        var session = ATMSession(settings: ATMSettings(), cassettes: [])
        #expect(session.screen == .outOfService)
        #expect(session.cardInserted(pan: Self.pan).isEmpty)
        #expect(session.linkUp() == [.show(.welcome)])
        #expect(session.linkLost() == [.stopTimer, .show(.outOfService)])
    }

    @Test("a card asks for the PIN, shown masked; Clear empties it; a short PIN is refused")
    func pinEntry() {
        var session = Self.session()
        let inserted = session.cardInserted(pan: Self.pan)
        #expect(inserted.contains(.show(.pinEntry(entered: 0, notice: nil))))
        #expect(inserted.contains(.startTimer(.input, Self.timeouts.input)))
        #expect(inserted.contains(.journal(.cardInserted(maskedPAN: "476173******0119"))))
        #expect(Self.keys(&session, "12").last == .show(.pinEntry(entered: 2, notice: nil)))
        #expect(session.key(.clear) == [.show(.pinEntry(entered: 0, notice: nil))])
        _ = Self.keys(&session, "123")
        #expect(session.key(.enter) == [.show(.pinEntry(entered: 0, notice: "A PIN is 4 to 12 digits."))])
        _ = Self.keys(&session, "1234567890123")
        #expect(session.screen == .pinEntry(entered: 12, notice: "A PIN is 4 to 12 digits."))
    }

    @Test("the PIN travels once, in a balance inquiry, and is then forgotten")
    func pinSent() {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "9731")
        let actions = session.key(.enter)
        #expect(Self.sent(actions) == CardRequest(ProcessingCode(.balanceInquiry), pan: Self.pan, pin: "9731"))
        #expect(actions.contains(.startTimer(.response, Self.timeouts.response)))
        #expect(session.screen == .pleaseWait)
        #expect(!String(reflecting: session).contains("9, 7, 3, 1"))
        let menu = session.answerReceived(Self.answer("00", [62: "token"]))
        #expect(Self.screens(menu) == [.mainMenu(ATMMenu(fastCash: true, otherAmount: true, transfer: false), notice: nil)])
        // The next request carries no PIN: the card session's token goes instead.
        _ = session.key(.function(.c))
        let balance = Self.sent(session.key(.function(.c)) + [])
        #expect(balance == nil)  // C again is no key on the please-wait screen
    }

    @Test("a wrong PIN (55) lets the customer try again in the same session")
    func wrongPIN() {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "1111")
        _ = session.key(.enter)
        let again = session.answerReceived(Self.answer("55"))
        #expect(again.contains(.show(.pinEntry(entered: 0, notice: "Incorrect PIN. Please try again."))))
        #expect(!again.contains(.ejectCard))
        _ = Self.keys(&session, "1234")
        #expect(Self.sent(session.key(.enter))?.pin == "1234")
        _ = session.answerReceived(Self.answer("00"))
        #expect(session.screen == .mainMenu(ATMMenu(fastCash: true, otherAmount: true, transfer: false), notice: nil))
    }

    @Test("75, and the other capture codes ISO 8583 gives, keep the card", arguments: ["75", "04", "38", "41", "43"])
    func capture(code: String) {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "1111")
        _ = session.key(.enter)
        let actions = session.answerReceived(Self.answer(code))
        #expect(actions.contains(.captureCard))
        #expect(!actions.contains(.ejectCard))
        #expect(actions.contains(.startTimer(.message, Self.timeouts.message)))
        guard case .cardRetained = session.screen else {
            Issue.record("expected card retained, got \(session.screen)")
            return
        }
        #expect(session.timerFired(.message) == [.endCustomer, .show(.welcome)])
        #expect(session.isIdle)
    }

    @Test("an unknown or expired card is returned with the reason")
    func refusedCard() {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "1234")
        _ = session.key(.enter)
        let actions = session.answerReceived(Self.answer("54"))
        #expect(actions.contains(.ejectCard))
        #expect(!actions.contains(.endCardSession))
        #expect(session.screen == .takeCard(lines: ["This card has expired."]))
        #expect(session.take() == [.stopTimer, .journal(.cardTaken), .endCustomer, .show(.welcome)])
    }

    @Test("Cancel at the PIN returns the card")
    func cancelPIN() {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        let actions = session.key(.cancel)
        #expect(actions.contains(.ejectCard))
        #expect(actions.contains(.startTimer(.cardTake, Self.timeouts.cardTake)))
    }

    // MARK: Cash

    @Test("fast cash: an amount, the account choice, the dispense, cash taken, receipt, card back")
    func fastCash() throws {
        var session = Self.atMenu(accounts: ["CP0000000001", "CP0000000002"])
        #expect(Self.screens(session.key(.function(.a))) == [.fastCash(amounts: [2_000, 5_000, 10_000, 20_000], currency: "978")])
        let choice = session.key(.function(.c))  // 100.00
        #expect(Self.screens(choice) == [.accountChoice(title: "CASH WITHDRAWAL", accounts: ["CP0000000001", "CP0000000002"])])
        let request = try #require(Self.sent(session.key(.function(.b))))
        #expect(request == CardRequest(ProcessingCode(.withdrawal), pan: Self.pan, amount: 10_000, from: "CP0000000002"))
        let approved = session.answerReceived(Self.answer("00", [54: Self.balance(990_000)]))
        let plan = DispensePlan(notes: [2, 0])
        #expect(approved.contains(.dispense(plan)))
        let presented = session.dispenseEnded(given: plan)
        #expect(presented.contains(.presentCash(10_000)))
        #expect(presented.contains(.startTimer(.cashTake, Self.timeouts.cashTake)))
        #expect(session.cassettes.map(\.count) == [8, 10])
        let taken = session.take()
        let receipt = try #require(taken.compactMap { if case .printReceipt(let r) = $0 { return r } else { return nil } }.first)
        #expect(receipt.retrievalReference == "533512000042")
        #expect(receipt.authorization == "A1B2C3")
        #expect(receipt.stan == "000042")
        #expect(receipt.balance == 990_000)
        #expect(receipt.maskedPAN == "476173******0119")
        #expect(receipt.account == "CP0000000002")
        #expect(Self.reversals(taken).isEmpty)
        // Another transaction? No: the card comes back and the card session ends at the switch.
        let done = session.key(.function(.h))
        #expect(done.contains(.endCardSession))
        #expect(done.contains(.ejectCard))
        #expect(session.take().contains(.show(.welcome)))
    }

    @Test("fast cash offers only what the cassettes can pay; empty cassettes take cash off the menu")
    func fastCashFiltered() {
        var session = Self.atMenu(
            Self.session(cassettes: [Cassette(denomination: 5_000, count: 3, currency: "978")], fastCash: [2_000, 5_000, 10_000, 20_000])
        )
        #expect(Self.screens(session.key(.function(.a))) == [.fastCash(amounts: [5_000, 10_000], currency: "978")])
        var empty = Self.atMenu(Self.session(cassettes: [Cassette(denomination: 5_000, count: 0, currency: "978")]))
        #expect(empty.screen == .mainMenu(ATMMenu(fastCash: false, otherAmount: false, transfer: false), notice: nil))
        #expect(empty.key(.function(.a)).isEmpty)
        #expect(empty.key(.function(.b)).isEmpty)
        #expect(ATMDisplay(empty.screen).lines.contains("Cash is not available at this machine."))
    }

    @Test("other amount: typed in whole units, refused when the notes cannot make it, 60 from 50s and 20s")
    func otherAmount() throws {
        var session = Self.atMenu()
        _ = session.key(.function(.b))
        _ = Self.keys(&session, "35")
        #expect(session.screen == .amountEntry(title: "CASH WITHDRAWAL", amount: 3_500, currency: "978", wholeUnits: true, notice: nil))
        let refused = session.key(.enter)
        #expect(Self.sent(refused) == nil)
        #expect(Self.screens(refused).first == .amountEntry(title: "CASH WITHDRAWAL", amount: 0, currency: "978", wholeUnits: true, notice: "Amounts made of notes of 20.00, 50.00."))
        _ = Self.keys(&session, "60")
        let request = try #require(Self.sent(session.key(.enter)))
        #expect(request.amount == 6_000)
        #expect(session.answerReceived(Self.answer("00")).contains(.dispense(DispensePlan(notes: [0, 3]))))
    }

    @Test("a jam: part of the cash, the counts down by the notes given, a reversal of the rest once taken")
    func partialDispense() {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.c))  // 100.00: two 50s
        _ = session.answerReceived(Self.answer("00", [54: Self.balance(240_000)]))
        let given = DispensePlan(notes: [1, 0])
        let presented = session.dispenseEnded(given: given)
        #expect(presented.contains(.presentCash(5_000)))
        #expect(Self.screens(presented) == [.takeCash(amount: 5_000, currency: "978", requested: 10_000)])
        #expect(session.cassettes.map(\.count) == [9, 10])
        let taken = session.take()
        #expect(Self.reversals(taken) == [ReversalOrder(amount: 10_000, dispensed: 5_000, reason: .partialDispense)])
        let receipt = taken.compactMap { if case .printReceipt(let r) = $0 { return r } else { return nil } }.first
        #expect(receipt?.dispensed == 5_000)
    }

    @Test("a jam before the first note: nothing given, the whole amount reversed")
    func nothingDispensed() {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.a))
        _ = session.answerReceived(Self.answer("00"))
        let actions = session.dispenseEnded(given: DispensePlan(notes: [0, 0]))
        #expect(Self.reversals(actions) == [ReversalOrder(amount: 2_000, dispensed: 0, reason: .dispenseFailed)])
        #expect(!actions.contains(.presentCash(0)))
        #expect(session.cassettes.map(\.count) == [10, 10])
    }

    @Test("cash not taken is retracted, the withdrawal reversed in full, the card returned")
    func cashNotTaken() {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.b))  // 50.00
        _ = session.answerReceived(Self.answer("00"))
        _ = session.dispenseEnded(given: DispensePlan(notes: [1, 0]))
        let actions = session.timerFired(.cashTake)
        #expect(actions.contains(.retractCash))
        #expect(Self.reversals(actions) == [ReversalOrder(amount: 5_000, dispensed: 0, reason: .cashNotTaken)])
        #expect(actions.contains(.ejectCard))
        #expect(session.cassettes.map(\.count) == [9, 10])
    }

    @Test("a card not taken is captured")
    func cardNotTaken() {
        var session = Self.atMenu()
        _ = session.key(.function(.h))
        let actions = session.timerFired(.cardTake)
        #expect(actions.contains(.captureCard))
        #expect(session.screen == .cardRetained(lines: ["Your card was not taken", "and has been retained."]))
    }

    // MARK: Doubt

    @Test("no answer in time: the customer is told, the card returned, the withdrawal reversed in full")
    func responseTimeout() {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.b))
        let actions = session.timerFired(.response)
        #expect(actions.contains(.journal(.outcomeInDoubt(.timeout))))
        #expect(Self.reversals(actions) == [ReversalOrder(amount: 5_000, dispensed: 0, reason: .timeout)])
        #expect(actions.contains(.ejectCard))
        #expect(!actions.contains { if case .dispense = $0 { return true } else { return false } })
        // A late answer changes nothing.
        #expect(session.answerReceived(Self.answer("00")).isEmpty)
    }

    @Test("a withdrawal answered 91 or 96 is in doubt: nothing dispensed, reversed in full", arguments: ["91", "96"])
    func switchCouldNotFinish(code: String) {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.b))
        let actions = session.answerReceived(Self.answer(code))
        #expect(actions.contains(.journal(.outcomeInDoubt(.switchFailed))))
        #expect(Self.reversals(actions) == [ReversalOrder(amount: 5_000, dispensed: 0, reason: .switchFailed)])
        #expect(actions.contains(.ejectCard))
        #expect(!actions.contains { if case .dispense = $0 { return true } else { return false } })
        // A balance inquiry answered 91 moves no money: no reversal.
        var inquiry = Self.atMenu()
        _ = inquiry.key(.function(.c))
        #expect(Self.reversals(inquiry.answerReceived(Self.answer(code))).isEmpty)
    }

    @Test("a lost link while a deposit waits: reversed; a balance inquiry needs no reversal")
    func linkLostInFlight() {
        var session = Self.atMenu()
        _ = session.key(.function(.e))
        _ = Self.keys(&session, "3550")
        #expect(Self.sent(session.key(.enter)) == CardRequest(ProcessingCode(.deposit), pan: Self.pan, amount: 3_550, from: "CP0000000001"))
        #expect(Self.reversals(session.linkLost()) == [ReversalOrder(amount: 3_550, dispensed: 0, reason: .linkLost)])

        var inquiry = Self.atMenu()
        _ = inquiry.key(.function(.c))
        let actions = inquiry.timerFired(.response)
        #expect(Self.reversals(actions).isEmpty)
        #expect(actions.contains(.ejectCard))
    }

    // MARK: Timeouts

    @Test("an input screen times out: more time? once, then the card is returned")
    func moreTime() {
        var session = Self.atMenu()
        let asked = session.timerFired(.input)
        #expect(asked.contains(.show(.moreTime)))
        #expect(asked.contains(.startTimer(.moreTime, Self.timeouts.moreTime)))
        let back = session.key(.function(.a))
        #expect(back.contains(.show(.mainMenu(ATMMenu(fastCash: true, otherAmount: true, transfer: false), notice: nil))))
        let second = session.timerFired(.input)
        #expect(second.contains(.ejectCard))
        #expect(session.screen == .takeCard(lines: ["Your session has timed out."]))
    }

    @Test("no answer to more time? returns the card; typed PIN digits are dropped while it is asked")
    func moreTimeUnanswered() {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "12")
        _ = session.timerFired(.input)
        _ = session.key(.enter)
        #expect(session.screen == .pinEntry(entered: 0, notice: nil))
        var other = Self.session()
        _ = other.cardInserted(pan: Self.pan)
        _ = other.timerFired(.input)
        #expect(other.timerFired(.moreTime).contains(.ejectCard))
    }

    @Test("a timer that is not the screen's is ignored")
    func staleTimer() {
        var session = Self.atMenu()
        #expect(session.timerFired(.cashTake).isEmpty)
        #expect(session.timerFired(.response).isEmpty)
    }

    // MARK: Other transactions

    @Test("a deposit shows and prints the new balance")
    func deposit() {
        var session = Self.atMenu()
        _ = session.key(.function(.e))
        _ = Self.keys(&session, "12345")
        #expect(session.screen == .amountEntry(title: "DEPOSIT", amount: 12_345, currency: "978", wholeUnits: false, notice: nil))
        _ = session.key(.enter)
        let actions = session.answerReceived(Self.answer("00", [54: Self.balance(262_345)]))
        #expect(actions.contains { if case .printReceipt(let r) = $0 { return r.balance == 262_345 } else { return false } })
        #expect(session.screen == .result(title: "DEPOSIT", lines: ["Deposited 123.45 EUR.", "Balance: 2,623.45 EUR"]))
        #expect(Self.screens(session.key(.function(.a))).first == .mainMenu(ATMMenu(fastCash: true, otherAmount: true, transfer: false), notice: nil))
    }

    @Test("a transfer goes between the card's own accounts: the other one is offered, nothing else")
    func transfer() throws {
        var session = Self.atMenu(accounts: ["CP0000000001", "CP0000000002", "CP0000000005"])
        _ = session.key(.function(.f))
        _ = session.key(.function(.a))
        #expect(session.screen == .accountChoice(title: "TRANSFER TO", accounts: ["CP0000000002", "CP0000000005"]))
        #expect(ATMDisplay(session.screen).keys == [.a: "CP0000000002", .b: "CP0000000005", .h: "Cancel"])
        #expect(session.key(.function(.c)).isEmpty)
        _ = session.key(.function(.b))
        _ = Self.keys(&session, "2500")
        #expect(
            Self.sent(session.key(.enter))
                == CardRequest(ProcessingCode(.transfer), pan: Self.pan, amount: 2_500, from: "CP0000000001", to: "CP0000000005")
        )

        // Two accounts: the other one is the payee without asking.
        var two = Self.atMenu(accounts: ["CP0000000001", "CP0000000002"])
        _ = two.key(.function(.f))
        _ = two.key(.function(.b))
        #expect(two.screen == .amountEntry(title: "TRANSFER", amount: 0, currency: "978", wholeUnits: false, notice: nil))
        _ = Self.keys(&two, "1000")
        let request = try #require(Self.sent(two.key(.enter)))
        #expect(request.from == "CP0000000002")
        #expect(request.to == "CP0000000001")

        // One account: no transfer on the menu, and its key does nothing.
        var single = Self.atMenu()
        #expect(single.screen == .mainMenu(ATMMenu(fastCash: true, otherAmount: true, transfer: false), notice: nil))
        #expect(single.key(.function(.f)).isEmpty)
    }

    @Test(
        "a refusal is shown in words and another transaction offered",
        arguments: [
            ("51", "Insufficient funds."), ("61", "This exceeds your daily withdrawal limit."),
            ("1K", "We need to verify your identity first. Please visit a branch with your ID."),
        ]
    )
    func refusal(code: String, words: String) {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.d))
        let actions = session.answerReceived(Self.answer(code))
        #expect(!actions.contains { if case .dispense = $0 { return true } else { return false } })
        guard case .result(_, let lines) = session.screen else {
            Issue.record("expected a result, got \(session.screen)")
            return
        }
        #expect(lines.joined(separator: " ") == words)
        #expect(session.cassettes.map(\.count) == [10, 10])
    }

    @Test("a mini-statement is shown and printed")
    func statement() {
        var session = Self.atMenu()
        _ = session.key(.function(.d))
        let lines = [
            MiniStatementLine(date: "261201", kind: "withdrawal", amount: -5_000, balanceAfter: 245_000),
            MiniStatementLine(date: "261130", kind: "deposit", amount: 10_000, balanceAfter: 250_000),
        ]
        let actions = session.answerReceived(Self.answer("00", [63: MiniStatementLine.encode(lines)]))
        #expect(actions.contains { if case .printReceipt(let r) = $0 { return r.statement == lines } else { return false } })
        #expect(session.screen == .result(title: "MINI-STATEMENT", lines: ["01/12/26 withdrawal -50.00", "30/11/26 deposit 100.00"]))
    }

    @Test("a PIN change: current, new twice (a mismatch starts again), one request with both PINs")
    func pinChange() throws {
        var session = Self.atMenu()
        _ = session.key(.function(.g))
        _ = Self.keys(&session, "1234")
        _ = session.key(.enter)
        _ = Self.keys(&session, "5678")
        _ = session.key(.enter)
        _ = Self.keys(&session, "5679")
        _ = session.key(.enter)
        #expect(session.screen == .pinChange(.new, entered: 0, notice: "The PINs differ. Please start again."))
        _ = Self.keys(&session, "5678")
        _ = session.key(.enter)
        _ = Self.keys(&session, "5678")
        let request = try #require(Self.sent(session.key(.enter)))
        #expect(request == CardRequest(ProcessingCode(.pinChange), pan: Self.pan, pin: "1234", newPIN: "5678"))
        #expect(!String(reflecting: session).contains("5, 6, 7, 8"))
        _ = session.answerReceived(Self.answer("00"))
        #expect(session.screen == .result(title: "CHANGE PIN", lines: ["Your PIN has been changed."]))
    }

    // MARK: One rule each

    @Test("the card reader takes 12 to 19 digits that pass the Luhn check; anything else comes back unread",
        arguments: ["4761739001010118", "12345678901", "47617390010101190000", "4761-7390"])
    func unreadableCard(digits: String) {
        var session = Self.session()
        let actions = session.cardInserted(pan: digits)
        #expect(actions.contains(.journal(.cardUnreadable(digits: digits.count))))
        #expect(actions.contains(.ejectCard))
        #expect(!actions.contains { if case .journal(.cardInserted) = $0 { return true } else { return false } })
        #expect(session.screen == .takeCard(lines: ["This card cannot be read."]))
        #expect(session.cardInReader == nil || session.cardInReader == "")
        #expect(session.take() == [.stopTimer, .journal(.cardTaken), .endCustomer, .show(.welcome)])
        #expect(ATMSession.isCardNumber(Self.pan))
    }

    @Test("take: the cash when it is presented, the card when it is out, nothing otherwise")
    func take() {
        var session = Self.atMenu()
        #expect(session.take().isEmpty)
        _ = session.key(.function(.a))
        _ = session.key(.function(.b))
        _ = session.answerReceived(Self.answer("00"))
        _ = session.dispenseEnded(given: DispensePlan(notes: [1, 0]))
        let cash = session.take()
        #expect(cash.contains(.journal(.cashTaken)))
        #expect(!cash.contains(.journal(.cardTaken)))
        _ = session.key(.function(.h))
        let card = session.take()
        #expect(card.contains(.journal(.cardTaken)))
        #expect(card.contains(.endCustomer))
        #expect(session.isIdle)
    }

    @Test("the cassettes count down in the session only, and the dispense's record carries the counts after it")
    func cassetteCountdown() {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.c))  // 100.00: two 50s
        _ = session.answerReceived(Self.answer("00"))
        let actions = session.dispenseEnded(given: DispensePlan(notes: [2, 0]))
        let after = [Cassette(denomination: 5_000, count: 8, currency: "978"), Cassette(denomination: 2_000, count: 10, currency: "978")]
        #expect(
            actions.first
                == .journal(.dispensed(given: DispensePlan(notes: [2, 0]), planned: DispensePlan(notes: [2, 0]), amount: 10_000, complete: true, cassettes: after))
        )
        #expect(session.cassettes == after)
        // A second dispensed event changes nothing: the session is presenting, not dispensing.
        #expect(session.dispenseEnded(given: DispensePlan(notes: [2, 0])).isEmpty)
        #expect(session.cassettes == after)
    }

    @Test("a customer who leaves while the link is down leaves the machine out of service")
    func customerLeavesOffline() {
        var session = Self.atMenu()
        let lost = session.linkLost()
        #expect(lost.contains(.ejectCard))
        #expect(session.take() == [.stopTimer, .journal(.cardTaken), .endCustomer, .show(.outOfService)])
        #expect(session.isOutOfService)
        #expect(session.linkUp() == [.show(.welcome)])
    }

    @Test("a request that could not go out: the card comes back, nothing is reversed (nothing was sent)")
    func requestNotSent() {
        var session = Self.atMenu()
        _ = session.key(.function(.a))
        _ = session.key(.function(.b))
        let actions = session.requestNotSent()
        #expect(Self.reversals(actions).isEmpty)
        #expect(actions.contains(.ejectCard))
        #expect(session.screen == .takeCard(lines: ["Sorry, your transaction could", "not be completed."]))
    }

    @Test("the answer reaches the session typed: a capture asked in field 44, the accounts of field 48")
    func typedAnswer() {
        var session = Self.session()
        _ = session.cardInserted(pan: Self.pan)
        _ = Self.keys(&session, "1234")
        _ = session.key(.enter)
        let answer = Self.answer("05", [44: "CAPTURE CARD"])
        #expect(answer.captureCard)
        #expect(session.answerReceived(answer).contains(.captureCard))
        #expect(Self.answer("00", [48: CardAccounts(["CP1", "CP2"]).field]).accounts == ["CP1", "CP2"])
        #expect(Self.answer("00", [54: Self.balance(1_234)]).ledgerBalance == 1_234)
    }
}

@Suite("dispense plans")
struct DispensePlanTests {
    static func cassettes(_ pairs: [(Int64, Int)]) -> [Cassette] {
        pairs.map { Cassette(denomination: $0.0, count: $0.1, currency: "978") }
    }

    @Test("cases greedy gets wrong: 60 from 50s and 20s, 80 from 50s and 20s, 130 from 100s, 50s, 20s")
    func greedyFails() {
        let planner = DispensePlanner()
        #expect(planner.plan(6_000, from: Self.cassettes([(5_000, 10), (2_000, 10)])) == DispensePlan(notes: [0, 3]))
        #expect(planner.plan(8_000, from: Self.cassettes([(5_000, 10), (2_000, 10)])) == DispensePlan(notes: [0, 4]))
        // 130: greedy takes a 100 and cannot make the 30 left from 20s; the plan is a 50 and four 20s.
        let plan = planner.plan(13_000, from: Self.cassettes([(10_000, 5), (5_000, 5), (2_000, 5)]))
        #expect(plan == DispensePlan(notes: [0, 1, 4]))
        #expect(plan?.amount(of: Self.cassettes([(10_000, 5), (5_000, 5), (2_000, 5)])) == 13_000)
    }

    @Test("counts and the note limit bind: fewest notes within them, or no plan")
    func bounds() {
        // 100 with one 50: five 20s.
        #expect(DispensePlanner().plan(10_000, from: Self.cassettes([(5_000, 1), (2_000, 10)])) == DispensePlan(notes: [0, 5]))
        #expect(DispensePlanner().plan(10_000, from: Self.cassettes([(5_000, 1), (2_000, 2)])) == nil)
        #expect(DispensePlanner().plan(9_000, from: Self.cassettes([(5_000, 1), (2_000, 10)])) == DispensePlan(notes: [1, 2]))
        #expect(DispensePlanner(maxNotes: 3).plan(8_000, from: Self.cassettes([(5_000, 10), (2_000, 10)])) == nil)
        #expect(DispensePlanner().plan(3_000, from: Self.cassettes([(5_000, 10), (2_000, 10)])) == nil)
        #expect(DispensePlanner().plan(0, from: Self.cassettes([(5_000, 10)])) == nil)
        #expect(DispensePlanner().plan(5_000, from: []) == nil)
    }

    @Test("property: the plan is as small as a brute-force search finds, and exists exactly when one exists")
    func againstBruteForce() {
        var random = SplitMix64(seed: 20_261_201)
        let denominations: [Int64] = [1_000, 2_000, 5_000, 10_000, 20_000]
        for _ in 0..<400 {
            let kinds = Int(random.next() % 3) + 1
            var chosen: [Int64] = []
            while chosen.count < kinds {
                let d = denominations[Int(random.next() % UInt64(denominations.count))]
                if !chosen.contains(d) { chosen.append(d) }
            }
            let cassettes = chosen.map { Cassette(denomination: $0, count: Int(random.next() % 5), currency: "978") }
            let maxNotes = Int(random.next() % 8) + 1
            let amount = Int64(random.next() % 40 + 1) * 1_000
            let planner = DispensePlanner(maxNotes: maxNotes)
            let plan = planner.plan(amount, from: cassettes)
            let best = Self.bruteForce(amount, cassettes, maxNotes: maxNotes)
            #expect(plan?.noteCount == best, "amount \(amount) cassettes \(cassettes.map { ($0.denomination, $0.count) }) max \(maxNotes)")
            if let plan {
                #expect(plan.amount(of: cassettes) == amount)
                for (notes, cassette) in zip(plan.notes, cassettes) { #expect(notes <= cassette.count) }
            }
        }
    }

    /// Every combination of counts: the fewest notes making the amount within the limit.
    static func bruteForce(_ amount: Int64, _ cassettes: [Cassette], maxNotes: Int) -> Int? {
        var best: Int?
        func walk(_ index: Int, _ left: Int64, _ notes: Int) {
            if left == 0 {
                if notes <= maxNotes && (best == nil || notes < best!) { best = notes }
                return
            }
            guard index < cassettes.count, left > 0 else { return }
            for count in 0...cassettes[index].count {
                let value = Int64(count) * cassettes[index].denomination
                if value > left { break }
                walk(index + 1, left - value, notes + count)
            }
        }
        walk(0, amount, 0)
        return best
    }

    @Test("cassette states: ok, low at the threshold, empty")
    func states() {
        #expect(Cassette(denomination: 2_000, count: 21, currency: "978", lowThreshold: 20).state == .ok)
        #expect(Cassette(denomination: 2_000, count: 20, currency: "978", lowThreshold: 20).state == .low)
        #expect(Cassette(denomination: 2_000, count: 0, currency: "978").state == .empty)
    }

    @Test("the emulated dispenser jams after N notes once, then works")
    func jam() {
        var dispenser = EmulatedDispenser(jamAfter: 3)
        let first = dispenser.dispense(DispensePlan(notes: [2, 3]))
        #expect(first.given == DispensePlan(notes: [2, 1]))
        #expect(!first.complete)
        #expect(dispenser.dispense(DispensePlan(notes: [2, 3])).complete)
    }
}

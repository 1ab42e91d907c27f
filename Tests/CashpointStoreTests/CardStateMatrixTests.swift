import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// Every card status and condition at every entry point gives the code docs/protocol.md documents
/// ("Card sessions and session tokens"): the PIN check that opens a card session, and each later request
/// that carries the session's token. The SQL functions only report facts and the card rules
/// (`CardRules`) alone choose the answer; the test also checks that `bank.card_session_refused`, the
/// query inside every session call, stops the session exactly when the documented answer is a refusal.
@Suite("card states: every status at every entry point", .serialized, .enabled(if: databaseTestsEnabled))
struct CardStateMatrixTests {
    /// The statuses a card may have (the database's `cards_status_check`).
    static let statuses = ["active", "blocked", "captured", "closed"]

    enum Condition: String, CaseIterable, Sendable {
        case none, expired, customerLocked, sessionEnded
    }

    enum EntryPoint: String, CaseIterable, Sendable {
        case pinCheck, withdrawal, deposit, transfer, balance, statement, pinChange
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var status: String
        var condition: Condition
        var testDescription: String { "\(self.status), \(self.condition.rawValue)" }
    }

    static let cases = Self.statuses.flatMap { status in Condition.allCases.map { Case(status: status, condition: $0) } }

    /// The documented answer, written out here rather than asked of `CardRules`: blocked or captured 75
    /// with capture, another status but active 62, then past its expiry 54, then a locked customer 62;
    /// within a session an ended session 63, whatever the card. A PIN check opens a new session, so an
    /// ended one does not concern it.
    static func documented(_ status: String, _ condition: Condition, _ entry: EntryPoint) -> (String, Bool) {
        if entry != .pinCheck, condition == .sessionEnded { return ("63", false) }
        switch status {
        case "blocked", "captured": return ("75", true)
        case "active": break
        default: return ("62", false)
        }
        switch condition {
        case .expired: return ("54", false)
        case .customerLocked: return ("62", false)
        case .none, .sessionEnded: return ("00", false)
        }
    }

    @Test("the documented code at the PIN check and at every request of the session", arguments: Self.cases)
    func matrix(_ card: Case) async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let presented = service.present(pan: alicePAN)
            let opened = try await service.authenticateCard(presented, pin: "1234", terminal: "ATM00001", ip: nil)
            guard case .approved(let holder) = opened else { throw TestFailure("alice's PIN was refused: \(opened)") }
            let session = "matrix-" + UUID().uuidString
            try await bank.asSuperuser { connection in
                try await connection.query(
                    PostgresQuery(unsafeSQL: "UPDATE bank.cards SET status = '\(card.status)' WHERE id = \(holder.cardID)"),
                    logger: quietLogger
                )
                switch card.condition {
                case .expired:
                    try await connection.query(
                        "UPDATE bank.cards SET expiry = current_date - 1 WHERE id = \(holder.cardID)",
                        logger: quietLogger
                    )
                case .customerLocked:
                    try await connection.query(
                        "UPDATE bank.users SET locked = true WHERE id = \(holder.userID)",
                        logger: quietLogger
                    )
                case .none, .sessionEnded: break
                }
            }
            if card.condition == .sessionEnded {
                try await service.endSession(
                    id: session,
                    of: holder.actorName,
                    role: "customer",
                    expires: Date().addingTimeInterval(120),
                    terminal: "ATM00001",
                    ip: nil
                )
            }
            // The query inside every session call stops the session exactly when the answer is a refusal.
            let stopped = try await bank.count(
                """
                SELECT count(*)::int FROM bank.card_session_refused(
                    '\\x\(Hex.lowercase(presented.digest))'::bytea, '\(session)', \(holder.cardID))
                """
            )
            #expect((stopped == 1) == (Self.documented(card.status, card.condition, .balance).0 != "00"))

            let keys = KeyMaker()
            for entry in EntryPoint.allCases {
                let before = try await bank.balance("CP0000000001") + bank.balance("CP0000000002")
                let (code, capture): (ResponseCode, Bool)
                if entry == .pinCheck {
                    switch try await service.authenticateCard(presented, pin: "1234", terminal: "ATM00001", ip: nil) {
                    case .approved: (code, capture) = (.approved, false)
                    case .refused(let refused, let kept): (code, capture) = (refused, kept)
                    }
                } else {
                    let operation: CardOperation =
                        switch entry {
                        case .withdrawal: .withdrawal(amount: 100, account: nil)
                        case .deposit: .deposit(amount: 100, account: nil)
                        case .transfer: .transfer(amount: 100, from: nil, to: "CP0000000002")
                        case .balance: .balance(account: nil)
                        case .statement: .miniStatement(account: nil)
                        case .pinChange, .pinCheck: .pinChange(newPIN: "1234")
                        }
                    let answer = try await service.perform(
                        operation,
                        for: holder,
                        card: presented,
                        key: keys.next(),
                        ip: nil,
                        session: session
                    )
                    (code, capture) = (answer.code, answer.capture)
                }
                let (expected, kept) = Self.documented(card.status, card.condition, entry)
                #expect(code.rawValue == expected, "\(entry.rawValue)")
                #expect(capture == kept, "\(entry.rawValue)")
                if expected != "00" {
                    let after = try await bank.balance("CP0000000001") + bank.balance("CP0000000002")
                    #expect(after == before, "\(entry.rawValue) moved money")
                }
            }
        }
    }

    @Test("the statuses the matrix covers are the ones the database allows")
    func statusesAreTheDatabases() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let check = try await bank.asSuperuser { connection in
                let rows = try await connection.query(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'cards_status_check'",
                    logger: quietLogger
                )
                for try await definition in rows.decode(String.self) { return definition }
                throw TestFailure("no cards_status_check")
            }
            let allowed = check.split(separator: "'").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            #expect(Set(allowed) == Set(Self.statuses), "\(check)")
        }
    }
}

import ATM87
import CashpointHarness
import CashpointTerminal
import Crypto
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The ATM's session, the harness's script terminal, the bank check and `atm-terminal compose` build a
/// card's 0200 and its reversal advice (0420, 0421) through the one builder in `ATM87`: for the same
/// values they make the same bytes. The session sends to an echo server, so what it sent comes back as
/// its answer and is compared too.
@Suite("one builder: terminal, harness and CLI make the same messages", .timeLimit(.minutes(1)))
struct OneBuilderTests {
    static let now = Date(timeIntervalSince1970: 1_764_063_072)  // 1125093112 UTC
    static let pan = "4761739001010119"
    static let token = "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"
    static let masterKey = SymmetricKey(size: .bits256)

    /// A link to an echo server: a message sent on it comes back as its answer.
    static func withLink(_ body: (SwitchLink) async throws -> Void) async throws {
        try await ChaosProxyTests.withGroup { group in
            let server = try await ChaosProxyTests.echoServer(group)
            let port = try #require(server.localAddress?.port)
            try await SwitchLink.with(host: "127.0.0.1", port: port, group: group) { link in try await body(link) }
            try await server.close()
        }
    }

    /// The ATM's protocol session at ATM00001, its clock stopped at `now`, a card session open.
    static func session(_ link: SwitchLink, firstSTAN: Int) -> TerminalSession {
        let session = TerminalSession(
            link: link,
            terminal: "ATM00001",
            masterKey: Self.masterKey,
            currency: "978",
            firstSTAN: firstSTAN,
            now: { Self.now }
        )
        session.cardToken = Self.token
        return session
    }

    /// The harness's script terminal at ATM00001, a card session open.
    static func scriptTerminal(firstSTAN: Int) -> ScriptTerminal {
        var terminal = ScriptTerminal(terminal: "ATM00001", masterKey: Self.masterKey, firstSTAN: firstSTAN)
        terminal.cardToken = Self.token
        return terminal
    }

    @Test(
        "a 0200 of every kind: the same bytes from the ATM's session, a script and compose",
        arguments: TransactionKind.allCases
    )
    func financialRequest(kind: TransactionKind) async throws {
        let amount = kind.movesMoney ? 10_000 : 0
        let to = kind == .transfer ? "CP0000000002" : nil
        var script = Self.scriptTerminal(firstSTAN: 42)
        let stamp = script.stamp(now: Self.now)
        let harness = try script.card(
            kind,
            pan: Self.pan,
            pin: nil,
            newPIN: nil,
            amount: amount,
            from: "CP0000000001",
            to: to,
            stamp
        )
        var composed = try TransactionRequestBuilder(terminalID: "ATM00001", currency: "978").request(
            kind,
            pan: Self.pan,
            amount: amount,
            stan: 42,
            time: TransmissionTime(unixSeconds: Int(Self.now.timeIntervalSince1970)),
            fromAccount: "CP0000000001",
            toAccount: to
        )
        // compose prints the request without a credential: the session layer adds it.
        #expect(!composed.contains(52) && !composed.contains(62))
        try composed.set(62, Self.token)
        #expect(composed.encodedBytes == harness.encodedBytes)

        try await Self.withLink { link in
            let session = Self.session(link, firstSTAN: 42)
            let card = CardRequest(kind.code, pan: Self.pan, amount: Int64(amount), from: "CP0000000001", to: to)
            let echoed = try await session.cardRequest(card)
            let built = try #require(session.lastCardRequest)
            #expect(built.encodedBytes == harness.encodedBytes)
            #expect(echoed.encodedBytes == harness.encodedBytes)
        }
    }

    @Test(
        "a 0420 and its 0421: the same bytes from the session, a script, the store-and-forward queue and the bank check"
    )
    func reversalAdvice() async throws {
        var script = Self.scriptTerminal(firstSTAN: 42)
        let cash = script.stamp(now: Self.now)
        let original = try script.card(
            .withdrawal,
            pan: Self.pan,
            pin: nil,
            newPIN: nil,
            amount: 10_000,
            from: "CP0000000001",
            to: nil,
            cash
        )
        let stamp = script.stamp(now: Self.now)
        let harness = try script.reversal(of: original, dispensed: 6_000, stamp)
        let harnessWithout95 = try script.reversal(of: original, dispensed: nil, stamp)
        #expect(harness.mti == .reversalAdvice)
        #expect(harness[11] == "000043")
        #expect(harness[95] == "000000006000" + String(repeating: "0", count: 30))
        #expect(!harnessWithout95.contains(95))

        try await Self.withLink { link in
            // The ATM's session: the 0200 (STAN 42), then its reversal sent (STAN 43).
            let session = Self.session(link, firstSTAN: 42)
            let sent = try session.build(
                CardRequest(TransactionKind.withdrawal.code, pan: Self.pan, amount: 10_000, from: "CP0000000001")
            )
            #expect(sent.encodedBytes == original.encodedBytes)
            let first = try await session.reversal(of: sent, dispensed: 6_000)
            #expect(first.encodedBytes == harness.encodedBytes)

            // The store-and-forward queue's entry for the same 0200.
            let entry = SAFEntry(
                id: 1,
                state: .queued,
                originalSTAN: try #require(sent[11]),
                originalTime: try #require(sent[7]),
                processingCode: try #require(sent[3]),
                amount: 10_000,
                currency: "978",
                dispensed: 6_000
            )
            let queued = try Self.session(link, firstSTAN: 43).reversalAdvice(for: entry, pan: Self.pan)
            #expect(queued.encodedBytes == harness.encodedBytes)

            // The bank check's advice of a request in doubt: nothing dispensed, no field 95.
            let doubt = try Self.session(link, firstSTAN: 43).reversalAdvice(of: sent, dispensed: nil)
            #expect(doubt.encodedBytes == harnessWithout95.encodedBytes)

            // The repeats: the same advice as a 0421, with the first one's STAN and time.
            var repeated = harness
            repeated.mti = .reversalAdviceRepeat
            var again = entry
            again.adviceSTAN = first[11]
            again.adviceTime = first[7]
            again.attempts = 1
            let queuedRepeat = try Self.session(link, firstSTAN: 500).reversalAdvice(for: again, pan: Self.pan)
            #expect(queuedRepeat.encodedBytes == repeated.encodedBytes)
            let sentRepeat = try await session.reversal(of: sent, dispensed: 6_000, repeatOf: first)
            #expect(sentRepeat.encodedBytes == repeated.encodedBytes)
            let doubtRepeat = try Self.session(link, firstSTAN: 500).reversalAdvice(
                of: sent,
                dispensed: nil,
                repeatOf: doubt
            )
            var doubtExpected = harnessWithout95
            doubtExpected.mti = .reversalAdviceRepeat
            #expect(doubtRepeat.encodedBytes == doubtExpected.encodedBytes)
        }
    }

    @Test("the flood's template is a 0200 as the builder makes it, with a dummy PIN block and MAC")
    func floodTemplate() throws {
        let template = try ATM87Message(decoding: try Garbler.template())
        #expect(template.mti == .financialRequest)
        #expect(ATM87Rules.check(template).isEmpty, "\(ATM87Rules.check(template))")
        #expect(template[22] == FinancialRequest.entryMode)
        #expect(template.binary(52) == [UInt8](repeating: 0xAB, count: 16))
    }
}

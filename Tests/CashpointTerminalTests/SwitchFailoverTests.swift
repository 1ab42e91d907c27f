import ATM87
import CashpointTerminal
import Testing

/// Where a terminal's link goes when it is lost: the rotation over its list of switches, and what the
/// ATM's session shows meanwhile. Pure: events in, steps and actions out, no socket, no clock.
@Suite("Switch failover: the rotation and the session's \"one moment\"")
struct SwitchFailoverTests {
    static let a = SwitchAddress(host: "10.0.0.1", port: 8583)
    static let b = SwitchAddress(host: "10.0.0.2", port: 8583)
    static let c = SwitchAddress(host: "::1", port: 9000)

    @Test("a lost link moves to the next switch at once, wrapping around; a sign-on that works starts a new round")
    func rotation() {
        var rotation = SwitchRotation([Self.a, Self.b, Self.c], retryDelay: .seconds(5))
        #expect(rotation.current == Self.a)
        rotation.signedOn()
        #expect(rotation.failed() == .connect(Self.b))
        rotation.signedOn()
        #expect(rotation.failed() == .connect(Self.c))
        rotation.signedOn()
        // Wraps around to the first.
        #expect(rotation.failed() == .connect(Self.a))
        #expect(rotation.current == Self.a)
    }

    @Test("every switch failing in a row: the next one after the retry delay, then round again for as long as it takes")
    func allDown() {
        var rotation = SwitchRotation([Self.a, Self.b], retryDelay: .seconds(5))
        rotation.signedOn()
        // a lost, b refused: both failed in a row.
        #expect(rotation.failed() == .connect(Self.b))
        #expect(rotation.failed() == .retry(Self.a, after: .seconds(5)))
        // A new round: a refused again, b at once, then the delay again.
        #expect(rotation.failed() == .connect(Self.b))
        #expect(rotation.failed() == .retry(Self.a, after: .seconds(5)))
        #expect(rotation.failed() == .connect(Self.b))
        rotation.signedOn()
        #expect(rotation.current == Self.b)
        #expect(rotation.failed() == .connect(Self.a))
    }

    @Test("one switch: a lost link waits the retry delay and tries it again, as a terminal always did")
    func oneSwitch() {
        var rotation = SwitchRotation([Self.a], retryDelay: .seconds(5))
        rotation.signedOn()
        #expect(rotation.failed() == .retry(Self.a, after: .seconds(5)))
        #expect(rotation.failed() == .retry(Self.a, after: .seconds(5)))
    }

    static func session() -> ATMSession {
        var session = ATMSession(
            settings: ATMSettings(currency: "978", fastCash: [5_000, 10_000]),
            cassettes: [Cassette(denomination: 5_000, count: 10, currency: "978")]
        )
        _ = session.linkUp()
        return session
    }

    @Test("an idle machine whose link moves shows \"one moment\", takes no card, and welcomes again when the next switch answers")
    func idleMoves() {
        var session = Self.session()
        #expect(session.linkMoving() == [.stopTimer, .show(.oneMoment)])
        #expect(session.screen == .oneMoment)
        #expect(session.isMoving)
        #expect(!session.isOutOfService)
        #expect(session.cardInserted(pan: "4761739001010119").isEmpty)
        // Another move while moving changes nothing on the screen.
        #expect(session.linkMoving().isEmpty)
        #expect(session.linkUp() == [.show(.welcome)])
        #expect(session.isIdle)
    }

    @Test("no switch answers: \"one moment\" becomes out of service; a machine out of service stays so while it tries the others")
    func noneAnswers() {
        var session = Self.session()
        _ = session.linkMoving()
        #expect(session.linkLost() == [.stopTimer, .show(.outOfService)])
        #expect(session.linkMoving().isEmpty)
        #expect(session.screen == .outOfService)
        #expect(session.linkUp() == [.show(.welcome)])
    }

    @Test("a withdrawal in flight when the link moves: in doubt and reversed in full, as for any lost link; the customer then sees \"one moment\"")
    func inFlightMoves() {
        var session = Self.session()
        _ = session.cardInserted(pan: "4761739001010119")
        for digit in "1234".utf8 { _ = session.key(.digit(digit - 0x30)) }
        _ = session.key(.enter)
        var answer = try! ATM87Message(mti: .financialResponse, fields: [11: "000001", 39: "00", 38: "A1B2C3"])
        try! answer.set(48, CardAccounts(["CP0000000001"]).field)
        _ = session.answerReceived(CardAnswer(answer))
        // Fast cash, 50.00.
        _ = session.key(.function(.a))
        _ = session.key(.function(.a))
        var moving = session
        var lost = session
        let moved = moving.linkMoving()
        // The money rule is the same whichever way the link goes.
        #expect(moved == lost.linkLost())
        #expect(moved.contains(.reverse(ReversalOrder(amount: 5_000, dispensed: 0, reason: .linkLost))))
        #expect(moving.take() == [.stopTimer, .journal(.cardTaken), .endCustomer, .show(.oneMoment)])
        #expect(lost.take() == [.stopTimer, .journal(.cardTaken), .endCustomer, .show(.outOfService)])
        #expect(moving.linkUp() == [.show(.welcome)])
    }

    @Test("the one-moment screen's text")
    func screen() {
        let display = ATMDisplay(.oneMoment)
        #expect(display.title == "ONE MOMENT, PLEASE")
        #expect(!display.plainText.lowercased().contains("out of service"))
    }
}

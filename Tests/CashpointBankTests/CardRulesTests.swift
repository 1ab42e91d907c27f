import CashpointBank
import Testing

@Suite("card rules")
struct CardRulesTests {
    @Test(
        "each card state has one answer, at the PIN check and within a card session alike",
        arguments: [
            ("active", false, false, nil as String?, false),
            ("blocked", false, false, "75", true),
            ("captured", false, false, "75", true),
            ("closed", false, false, "62", false),
            ("stolen", false, false, "62", false),
            ("active", true, false, "54", false),
            ("active", false, true, "62", false),
            // The status comes first: a blocked card of a locked customer is still kept.
            ("blocked", true, true, "75", true),
            // Then the expiry.
            ("active", true, true, "54", false),
        ]
    )
    func rules(status: String, expired: Bool, userLocked: Bool, code: String?, capture: Bool) {
        let refusal = CardRules.refusal(CardState(status: status, expired: expired, userLocked: userLocked))
        #expect(refusal?.code.rawValue == code)
        #expect((refusal?.capture ?? false) == capture)
        #expect(refusal.map { $0.record == .cardRefused } ?? true)
    }

    @Test("within a card session: the card gone or another card 14, an ended session 63, else the card's state")
    func session() {
        let blocked = CardState(status: "blocked", expired: false, userLocked: false)
        let gone = CardRules.refusal(CardSessionState(cardID: nil, card: nil, ended: false), sessionCard: 7)
        #expect(gone?.code == .unknownCard && gone?.record == .notRecorded)
        let other = CardRules.refusal(CardSessionState(cardID: 8, card: .usable, ended: false), sessionCard: 7)
        #expect(other?.code == .unknownCard)
        // An ended session is refused as a token, whatever the card's state.
        let ended = CardRules.refusal(CardSessionState(cardID: 7, card: blocked, ended: true), sessionCard: 7)
        #expect(ended?.code == .securityViolation && ended?.record == .tokenRefused && ended?.capture == false)
        let kept = CardRules.refusal(CardSessionState(cardID: 7, card: blocked, ended: false), sessionCard: 7)
        #expect(kept == CardRules.refusal(blocked))
        #expect(CardRules.refusal(CardSessionState(cardID: 7, card: .usable, ended: false), sessionCard: 7) == nil)
    }
}

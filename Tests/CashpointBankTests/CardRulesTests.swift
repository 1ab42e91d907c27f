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
            ("stolen", false, false, "62", false),
            ("active", true, false, "54", false),
            ("active", false, true, "62", false),
            // The status comes first: a blocked card of a locked customer is still kept.
            ("blocked", true, true, "75", true),
        ]
    )
    func rules(status: String, expired: Bool, userLocked: Bool, code: String?, capture: Bool) {
        let refusal = CardRules.refusal(status: status, expired: expired, userLocked: userLocked)
        #expect(refusal?.code.rawValue == code)
        #expect((refusal?.capture ?? false) == capture)
    }
}

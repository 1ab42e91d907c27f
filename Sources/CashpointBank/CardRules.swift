/// Why a card may not be used now, and what the terminal is told.
public struct CardRefusal: Sendable, Hashable {
    public var code: ResponseCode
    /// The terminal keeps the card (75 and the other capture codes).
    public var capture: Bool
    /// For the audit row and the log.
    public var reason: String

    public init(code: ResponseCode, capture: Bool, reason: String) {
        self.code = code
        self.capture = capture
        self.reason = reason
    }
}

/// The card rules, in one place: which card may be used, and the answer when it may not. The PIN check
/// (opening a card session) and every later request of the session (carrying its token) ask them.
public enum CardRules {
    /// The refusal for a card in this state, or nil when it may be used:
    /// - blocked (the third wrong PIN, or a teller's `LOCKCARD`) or captured: 75, keep the card;
    /// - any other status but `active`: 62;
    /// - past its expiry: 54;
    /// - its customer locked: 62.
    public static func refusal(status: String, expired: Bool, userLocked: Bool) -> CardRefusal? {
        switch status {
        case "active": break
        case "blocked", "captured":
            return CardRefusal(code: .pinTriesExceeded, capture: true, reason: "card \(status)")
        default:
            return CardRefusal(code: .restricted, capture: false, reason: "card \(status)")
        }
        if expired { return CardRefusal(code: .expiredCard, capture: false, reason: "expired") }
        if userLocked { return CardRefusal(code: .restricted, capture: false, reason: "customer locked") }
        return nil
    }
}

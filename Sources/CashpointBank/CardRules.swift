/// Why a card may not be used now, and what the terminal is told.
public struct CardRefusal: Sendable, Hashable {
    /// How the refusal is recorded in the audit log.
    public enum Record: Sendable, Hashable {
        /// `card.refused`, naming the card and the reason.
        case cardRefused
        /// `token.refused`: the card-session token is no longer good (its session was ended).
        case tokenRefused
        /// Nothing to record against: the token's card is gone.
        case notRecorded
    }

    public var code: ResponseCode
    /// The terminal keeps the card (75 and the other capture codes).
    public var capture: Bool
    /// For the audit row and the log.
    public var reason: String
    public var record: Record

    public init(code: ResponseCode, capture: Bool, reason: String, record: Record = .cardRefused) {
        self.code = code
        self.capture = capture
        self.reason = reason
        self.record = record
    }
}

/// A card's state as the store reports it: facts, no response code. The store reads the status, whether
/// the card is past its expiry (the database's date) and whether its customer is locked; `CardRules`
/// alone turns them into an answer.
public struct CardState: Sendable, Hashable {
    public var status: String
    public var expired: Bool
    public var userLocked: Bool

    public init(status: String, expired: Bool, userLocked: Bool) {
        self.status = status
        self.expired = expired
        self.userLocked = userLocked
    }

    /// The state of a card with nothing against it.
    public static let usable = CardState(status: "active", expired: false, userLocked: false)
}

/// A card session's state as the store found it when it did not go on with a request: the card the
/// session's PAN names now (`card` nil: no such card any more), and whether the session was ended.
public struct CardSessionState: Sendable, Hashable {
    public var cardID: Int64?
    public var card: CardState?
    public var ended: Bool

    public init(cardID: Int64?, card: CardState?, ended: Bool) {
        self.cardID = cardID
        self.card = card
        self.ended = ended
    }
}

/// The card rules, in one place: which card may be used, and the answer when it may not. The PIN check
/// (opening a card session) and every later request of the session (carrying its token) ask them; the
/// SQL functions only report the facts (`CardState`, `CardSessionState`) and refuse to go on exactly when
/// a fact differs from `CardState.usable` (`CardStateMatrixTests` ties the two).
public enum CardRules {
    /// The refusal for a card in this state, or nil when it may be used:
    /// - blocked (the third wrong PIN, or a teller's `LOCKCARD`) or captured: 75, keep the card;
    /// - any other status but `active`: 62;
    /// - past its expiry: 54;
    /// - its customer locked: 62.
    public static func refusal(_ state: CardState) -> CardRefusal? {
        switch state.status {
        case "active": break
        case "blocked", "captured":
            return CardRefusal(code: .pinTriesExceeded, capture: true, reason: "card \(state.status)")
        default:
            return CardRefusal(code: .restricted, capture: false, reason: "card \(state.status)")
        }
        if state.expired { return CardRefusal(code: .expiredCard, capture: false, reason: "expired") }
        if state.userLocked { return CardRefusal(code: .restricted, capture: false, reason: "customer locked") }
        return nil
    }

    /// The refusal for a request of the card session opened for card `sessionCard`, or nil when it may go on:
    /// - the PAN names no card now, or another card: 14;
    /// - the session was ended (`LOGOUT`): 63, recorded as a refused token;
    /// - otherwise the card's own state, as at the PIN check.
    public static func refusal(_ session: CardSessionState, sessionCard: Int64) -> CardRefusal? {
        guard let cardID = session.cardID, cardID == sessionCard, let card = session.card else {
            return CardRefusal(code: .unknownCard, capture: false, reason: "the token's card is gone", record: .notRecorded)
        }
        if session.ended {
            return CardRefusal(
                code: .securityViolation,
                capture: false,
                reason: "the token's session has ended",
                record: .tokenRefused
            )
        }
        return Self.refusal(card)
    }
}

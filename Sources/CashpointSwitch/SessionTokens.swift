public import CashpointSecurity
public import Foundation
public import JWTKit
import Synchronization

/// The claims of a session token (JWT, HS256 under a key derived from the switch key).
public struct SessionClaims: JWTPayload, Sendable {
    /// Who: `card:<masked PAN>` or the staff user name.
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    /// The session's id: ending the session refuses the token from then on.
    public var jti: IDClaim
    /// The terminal the session belongs to (field 41): any other terminal is refused.
    public var tid: String
    /// customer, teller or admin.
    public var role: String
    public var uid: Int64
    /// Card sessions: the card, a digest of its PAN (first 16 bytes of the peppered HMAC, hex), and
    /// the accounts it may use (default first).
    public var cid: Int64?
    public var pan: String?
    public var acc: [String]?

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        // Expiry is checked by `SessionTokens.check` against the switch's injected clock.
    }
}

/// Why a token was refused; each is answered 63 (or 57/58 for a role that may not do the request)
/// and audited.
public enum TokenRefusal: String, Sendable, Hashable, Error {
    case malformedOrForged = "the token is malformed or its signature does not verify"
    case expired = "the token has expired"
    case otherTerminal = "the token belongs to another terminal"
    case otherCard = "the token belongs to another card"
    case ended = "the token's session has ended"
}

/// Issues and checks session tokens. Ended sessions are remembered until their tokens expire.
public struct SessionTokens: Sendable {
    let keys: JWTKeyCollection
    let now: @Sendable () -> Date
    let ended: EndedSessions

    public init(switchKey: SwitchKey, now: @escaping @Sendable () -> Date) async {
        self.keys = await JWTKeyCollection().add(hmac: HMACKey(key: switchKey.tokenSigning), digestAlgorithm: .sha256)
        self.now = now
        self.ended = EndedSessions()
    }

    public func issue(
        subject: String,
        terminal: String,
        role: String,
        userID: Int64,
        lifetime: Duration,
        cardID: Int64? = nil,
        panDigest: String? = nil,
        accounts: [String]? = nil
    ) async throws -> (token: String, claims: SessionClaims) {
        let now = self.now()
        let claims = SessionClaims(
            sub: SubjectClaim(value: subject),
            exp: ExpirationClaim(value: now.addingTimeInterval(Double(lifetime.components.seconds))),
            iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString),
            tid: terminal,
            role: role,
            uid: userID,
            cid: cardID,
            pan: panDigest,
            acc: accounts
        )
        return (try await self.keys.sign(claims), claims)
    }

    /// The claims of a valid token for this terminal (and this card, when `panDigest` is given).
    public func check(
        _ token: String,
        terminal: String,
        panDigest: String?
    ) async -> Result<SessionClaims, TokenRefusal> {
        let claims: SessionClaims
        do {
            claims = try await self.keys.verify(token, as: SessionClaims.self)
        } catch {
            return .failure(.malformedOrForged)
        }
        let now = self.now()
        guard now < claims.exp.value else { return .failure(.expired) }
        guard claims.tid == terminal else { return .failure(.otherTerminal) }
        if let panDigest, claims.pan != panDigest { return .failure(.otherCard) }
        if self.ended.state.withLock({ $0[claims.jti.value] != nil }) { return .failure(.ended) }
        return .success(claims)
    }

    /// Ends a session: its token is refused from now on.
    public func end(_ claims: SessionClaims) {
        let now = self.now()
        self.ended.state.withLock { ended in
            ended[claims.jti.value] = claims.exp.value
            if ended.count > 1024 { ended = ended.filter { $0.value > now } }
        }
    }
}

final class EndedSessions: Sendable {
    let state = Mutex<[String: Date]>([:])
}

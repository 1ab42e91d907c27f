public import CashpointSecurity
public import Foundation
public import JWTKit
import Crypto
import Synchronization

/// The claims of a session token (JWT, HS256 under a key derived from the switch key).
public struct SessionClaims: JWTPayload, Sendable, Equatable {
    /// Who: `card:<masked PAN>` or the staff user name.
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    /// The session's id: ending the session refuses the token from then on.
    public var jti: IDClaim
    /// The terminal the session belongs to (field 41): any other terminal is refused.
    public var tid: String
    /// customer, teller, admin or compliance.
    public var role: String
    public var uid: Int64
    /// Card sessions: the card, a digest of its PAN (first 16 bytes of the peppered HMAC, hex), and
    /// the accounts it may use (default first).
    public var cid: Int64?
    public var pan: String?
    public var acc: [String]?
    /// Staff sessions: when the second factor was last checked (Unix seconds): at sign-on, then at
    /// each step-up. High-risk requests need it within the step-up window.
    public var fa: Int64?

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

/// Issues and checks session tokens: compact JWS (RFC 7515) with HS256, header
/// `{"alg":"HS256","typ":"JWT"}`, under a key derived from the switch key. Ended sessions are
/// remembered until their tokens expire.
///
/// Signing and checking are done here with swift-crypto rather than through jwt-kit's
/// `JWTKeyCollection`: that is an actor, and a hop to it and back on every token request took the
/// request off its connection's event loop twice. The claims stay jwt-kit's types.
public struct SessionTokens: Sendable {
    let key: PreparedHMAC.Key
    let now: @Sendable () -> Date
    let ended: EndedSessions

    /// The header every token carries, base64url-encoded once.
    static let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    public init(switchKey: SwitchKey, now: @escaping @Sendable () -> Date) {
        self.key = PreparedHMAC.Key(switchKey.tokenSigning)
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
        accounts: [String]? = nil,
        factorAt: Date? = nil
    ) throws -> (token: String, claims: SessionClaims) {
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
            acc: accounts,
            fa: factorAt.map { Int64($0.timeIntervalSince1970.rounded(.down)) }
        )
        return try self.sign(claims)
    }

    /// The same session's token with its second factor checked at `factorAt` (a step-up): same id,
    /// same expiry.
    public func reissue(_ claims: SessionClaims, factorAt: Date) throws -> String {
        var claims = claims
        claims.fa = Int64(factorAt.timeIntervalSince1970.rounded(.down))
        return try self.sign(claims).token
    }

    func sign(_ claims: SessionClaims) throws -> (token: String, claims: SessionClaims) {
        let signingInput = Self.header + "." + Base64URL.encode(Array(try JSONEncoder().encode(claims)))
        let signature = Array(signingInput.utf8).withUnsafeBytes { PreparedHMAC.code(for: $0, using: self.key) }
        return (signingInput + "." + Base64URL.encode(Array(signature)), claims)
    }

    /// The claims of a valid token for this terminal (and this card, when `panDigest` is given).
    public func check(
        _ token: String,
        terminal: String,
        panDigest: String?
    ) -> Result<SessionClaims, TokenRefusal> {
        guard let claims = self.verified(token) else { return .failure(.malformedOrForged) }
        let now = self.now()
        guard now < claims.exp.value else { return .failure(.expired) }
        guard claims.tid == terminal else { return .failure(.otherTerminal) }
        if let panDigest, claims.pan != panDigest { return .failure(.otherCard) }
        if self.ended.state.withLock({ $0[claims.jti.value] != nil }) { return .failure(.ended) }
        return .success(claims)
    }

    /// The claims when the token is three base64url parts, its header says HS256 (no other algorithm
    /// is accepted: no `none`, no key confusion) and its signature verifies (in constant time). The
    /// claims are read by `SessionClaimsReader`, not `JSONDecoder`: this runs on every token request.
    func verified(_ token: String) -> SessionClaims? {
        var token = token
        return token.withUTF8 { utf8 -> SessionClaims? in
            guard let firstDot = utf8.firstIndex(of: UInt8(ascii: ".")),
                let secondDot = utf8[(firstDot + 1)...].firstIndex(of: UInt8(ascii: ".")),
                !utf8[(secondDot + 1)...].contains(UInt8(ascii: ".")),
                Self.saysHS256(UnsafeBufferPointer(rebasing: utf8[..<firstDot])),
                let signature = Base64URL.decode(utf8[(secondDot + 1)...]),
                PreparedHMAC.isValid(
                    signature,
                    authenticating: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[..<secondDot]),
                    using: self.key
                ),
                let payload = Base64URL.decode(utf8[(firstDot + 1)..<secondDot])
            else { return nil }
            return SessionClaimsReader.claims(payload)
        }
    }

    /// The claims as `JSONDecoder` reads them: what `verified` did before `SessionClaimsReader`, kept
    /// for the tests that compare the two.
    static func decodedWithJSONDecoder(_ payload: [UInt8]) -> SessionClaims? {
        try? JSONDecoder().decode(SessionClaims.self, from: Data(payload))
    }

    /// Whether a token's header says HS256. The header this switch issues is compared as it is, so a
    /// token request decodes one JSON document (its claims); any other header is decoded.
    static func saysHS256(_ encoded: UnsafeBufferPointer<UInt8>) -> Bool {
        if encoded.elementsEqual(Self.header.utf8) { return true }
        guard let bytes = Base64URL.decode(encoded[...]),
            let header = try? JSONDecoder().decode(Header.self, from: Data(bytes))
        else { return false }
        return header.alg == "HS256"
    }

    struct Header: Decodable {
        var alg: String
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

/// base64url without padding (RFC 4648 section 5), as JWS uses it.
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.last == "=" { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// The bytes of base64url text without padding, nil for any other character, a length that is
    /// not one of base64's, or unused bits that are not zero (one text for each byte string). Done
    /// byte by byte with a table: this runs on every token request.
    static func decode(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count * 3 / 4)
        var bits: UInt32 = 0
        var count = 0
        for character in text {
            let value = Self.values[Int(character)]
            guard value < 64 else { return nil }
            bits = bits << 6 | UInt32(value)
            count += 1
            if count == 4 {
                bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
                bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
                bytes.append(UInt8(truncatingIfNeeded: bits))
                bits = 0
                count = 0
            }
        }
        switch count {
        case 2:
            guard bits & 0xF == 0 else { return nil }
            bytes.append(UInt8(truncatingIfNeeded: bits >> 4))
        case 3:
            guard bits & 0x3 == 0 else { return nil }
            bytes.append(UInt8(truncatingIfNeeded: bits >> 10))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 2))
        default: break
        }
        return bytes
    }

    /// Each byte's value in base64url's alphabet, 255 when it is not in it.
    static let values: [UInt8] = {
        var values = [UInt8](repeating: 255, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        for (value, character) in alphabet.enumerated() { values[Int(character)] = UInt8(value) }
        return values
    }()
}

final class EndedSessions: Sendable {
    let state = Mutex<[String: Date]>([:])
}

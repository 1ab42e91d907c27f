import CashpointSecurity
import CashpointSwitch
import Foundation
import Testing

@Suite("Session tokens (no database)")
struct SessionTokenTests {
    @Test("a token is valid for its terminal and card until it expires or its session ends")
    func lifecycle() async throws {
        let clock = TestClock()
        let tokens = SessionTokens(switchKey: SwitchKey(SecretKey.generate()), now: clock.now)
        let (token, claims) = try tokens.issue(
            subject: "card:476173******0119",
            terminal: "ATM00001",
            role: "customer",
            userID: 3,
            lifetime: .seconds(120),
            cardID: 1,
            panDigest: "00112233445566778899AABBCCDDEEFF",
            accounts: ["CP0000000001"]
        )
        #expect(token.split(separator: ".").count == 3)
        #expect(!token.contains("4761739001010119"))
        #expect(try tokens.check(token, terminal: "ATM00001", panDigest: claims.pan).get().uid == 3)
        #expect(refusal(tokens.check(token, terminal: "ATM00002", panDigest: claims.pan)) == .otherTerminal)
        #expect(refusal(tokens.check(token, terminal: "ATM00001", panDigest: "FF")) == .otherCard)
        clock.advance(by: 120)
        #expect(refusal(tokens.check(token, terminal: "ATM00001", panDigest: claims.pan)) == .expired)
        clock.advance(by: -60)
        tokens.end(claims)
        #expect(refusal(tokens.check(token, terminal: "ATM00001", panDigest: claims.pan)) == .ended)
    }

    @Test("a token signed under another switch key, or altered, is refused")
    func forged() async throws {
        let mine = SessionTokens(switchKey: SwitchKey(SecretKey.generate()), now: { Date() })
        let theirs = SessionTokens(switchKey: SwitchKey(SecretKey.generate()), now: { Date() })
        let (token, _) = try theirs.issue(
            subject: "tina.teller",
            terminal: "BRANCH01",
            role: "admin",
            userID: 1,
            lifetime: .seconds(900)
        )
        #expect(refusal(mine.check(token, terminal: "BRANCH01", panDigest: nil)) == .malformedOrForged)
        #expect(refusal(mine.check("not.a.token", terminal: "BRANCH01", panDigest: nil)) == .malformedOrForged)
        // The payload changed (role raised) with the old signature.
        let (own, _) = try mine.issue(
            subject: "tina",
            terminal: "BRANCH01",
            role: "teller",
            userID: 1,
            lifetime: .seconds(900)
        )
        let parts = own.split(separator: ".").map(String.init)
        let payload = String(decoding: Data(base64Encoded: Self.padded(parts[1]))!, as: UTF8.self)
            .replacingOccurrences(of: "\"teller\"", with: "\"admin\"")
        let raised = [
            parts[0],
            Data(payload.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"), parts[2],
        ]
        .joined(separator: ".")
        #expect(refusal(mine.check(raised, terminal: "BRANCH01", panDigest: nil)) == .malformedOrForged)
        // The same claims under `alg: none` with no signature, or signed with the key as an HS512 token.
        let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        #expect(refusal(mine.check("\(none).\(parts[1]).", terminal: "BRANCH01", panDigest: nil)) == .malformedOrForged)
        let hs512 = Data(#"{"alg":"HS512","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        #expect(
            refusal(mine.check("\(hs512).\(parts[1]).\(parts[2])", terminal: "BRANCH01", panDigest: nil))
                == .malformedOrForged
        )
        // The untouched token passes, so the refusals above are the changes'.
        #expect(refusal(mine.check(own, terminal: "BRANCH01", panDigest: nil)) == nil)
    }

    static func padded(_ base64url: String) -> String {
        var text = base64url.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return text
    }
}

/// The refusal of a check, nil when it passed.
func refusal(_ result: Result<SessionClaims, TokenRefusal>) -> TokenRefusal? {
    if case .failure(let refusal) = result { return refusal }
    return nil
}

import CashpointSecurity
import Crypto
import Foundation
import JWTKit
import Testing

@testable import CashpointSwitch

/// `SessionClaimsReader` against what it replaced: JSONEncoder's output read back, and JSONDecoder's
/// answers for the same bytes.
@Suite("Session token claims without JSONDecoder")
struct SessionClaimsReaderTests {
    /// A card session's claims as the switch issues them, then changed by `change`.
    static func claims(_ change: (inout SessionClaims) -> Void = { _ in }) -> SessionClaims {
        let tokens = SessionTokens(switchKey: SwitchKey(SecretKey.generate()), now: { Date(timeIntervalSinceReferenceDate: 818_000_000.123456) })
        var claims = try! tokens.issue(
            subject: "card:476173******0119",
            terminal: "ATM00001",
            role: "customer",
            userID: 3,
            lifetime: .seconds(120)
        ).claims
        change(&claims)
        return claims
    }

    /// Claim sets the switch issues, and ones it does not but could: every optional claim absent or
    /// present, strings with every escape JSONEncoder writes and with raw UTF-8, extreme numbers.
    static let claimSets: [SessionClaims] = [
        claims(),
        claims {
            $0.cid = 1
            $0.pan = "00112233445566778899AABBCCDDEEFF"
            $0.acc = ["CP0000000001", "CP0000000002"]
        },
        claims {
            $0.cid = 1
            $0.pan = "00112233445566778899AABBCCDDEEFF"
            $0.acc = []
        },
        claims {
            $0.sub = "tina.teller"
            $0.tid = "BRANCH01"
            $0.role = "admin"
            $0.uid = 1
            $0.fa = 1_765_100_000
        },
        claims {
            $0.sub = ""
            $0.jti = ""
            $0.tid = ""
            $0.role = ""
            $0.uid = 0
            $0.pan = ""
            $0.acc = [""]
        },
        claims {
            $0.sub = #"quote " backslash \ slash / end"#
            $0.tid = "tab\tnew\nline\r\u{8}\u{C}"
        },
        claims {
            $0.sub = "\u{0}\u{1}\u{1F}\u{7F}"
            $0.role = "été"
            $0.pan = "😀 ∑ 中文 \u{10FFFF}"
            $0.acc = ["\u{2028}\u{2029}", "é"]
        },
        claims {
            $0.uid = .max
            $0.cid = .min
            $0.fa = -1
        },
        claims {
            $0.uid = .min
            $0.cid = 0
            $0.fa = .max
        },
        claims { $0.exp.value = Date(timeIntervalSinceReferenceDate: 0) },
        claims { $0.iat.value = Date(timeIntervalSinceReferenceDate: -1.5) },
        claims { $0.exp.value = Date(timeIntervalSinceReferenceDate: 1e20) },
        claims { $0.iat.value = Date(timeIntervalSinceReferenceDate: .leastNonzeroMagnitude) },
        claims { $0.exp.value = Date(timeIntervalSinceReferenceDate: 0.1) },
        claims { $0.iat.value = Date(timeIntervalSinceReferenceDate: -1e-7) },
        claims { $0.exp.value = Date(timeIntervalSince1970: 1_765_100_120) },
        claims { $0.exp.value = Date().addingTimeInterval(120) },
    ]

    @Test("JSONEncoder's output reads back to the same claims, as JSONDecoder reads it", arguments: claimSets)
    func roundTrip(claims: SessionClaims) throws {
        let json = Array(try JSONEncoder().encode(claims))
        let read = try #require(SessionClaimsReader.claims(json))
        #expect(read == claims)
        #expect(read == SessionTokens.decodedWithJSONDecoder(json))
    }

    @Test("random claim sets read back as JSONDecoder reads them")
    func randomRoundTrips() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "Z", "9", "\"", "\\", "/", "\n", "\u{0}", "\u{1F}", "é", "😀", "中", " ", "\u{7F}", "-"]
        func text() -> String { (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement()! }.joined() }
        for _ in 0..<500 {
            let claims = Self.claims {
                $0.sub = SubjectClaim(value: text())
                $0.exp.value = Date(timeIntervalSinceReferenceDate: Double.random(in: -1e10...1e10, using: &generator))
                $0.iat.value = Date(timeIntervalSinceReferenceDate: Double(Int32.random(in: .min ... .max, using: &generator)))
                $0.tid = text()
                $0.role = text()
                $0.uid = Int64.random(in: .min ... .max, using: &generator)
                $0.cid = Bool.random() ? Int64.random(in: .min ... .max, using: &generator) : nil
                $0.pan = Bool.random() ? text() : nil
                $0.acc = Bool.random() ? (0..<Int.random(in: 0...3)).map { _ in text() } : nil
                $0.fa = Bool.random() ? Int64.random(in: 0...2_000_000_000, using: &generator) : nil
            }
            let json = Array(try JSONEncoder().encode(claims))
            let read = SessionClaimsReader.claims(json)
            #expect(read == claims, "\(String(decoding: json, as: UTF8.self))")
            #expect(read == SessionTokens.decodedWithJSONDecoder(json))
        }
    }

    /// Valid JSON that JSONEncoder does not write (other key order, whitespace, escapes it does not
    /// use, integers and exponents for dates): read as JSONDecoder reads it.
    static let otherValidPayloads = [
        #"{"uid":3,"role":"customer","tid":"ATM00001","jti":"j","iat":800000000,"exp":8.0000012E8,"sub":"s"}"#,
        " \t\r\n{ \"sub\" : \"s\" , \"exp\" : 1e9 , \"iat\" : -0 , \"jti\" : \"j\" , \"tid\" : \"t\" , \"role\" : \"r\" , \"uid\" : -0 } \n",
        #"{"sub":"\u00e9\u00E9\ud83d\ude00\u0000\/\b\f","exp":1.5e-3,"iat":0.0,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"\u0073ub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":[ "a" , "\u0062" ],"cid":7}"#,
        #"{"sub":"s","exp":1E+2,"iat":1e-2,"jti":"j","tid":"t","role":"r","uid":9223372036854775807,"fa":-9223372036854775808}"#,
    ]

    @Test("other valid JSON for the claims is read as JSONDecoder reads it", arguments: otherValidPayloads)
    func otherValid(payload: String) throws {
        let json = Array(payload.utf8)
        let read = try #require(SessionClaimsReader.claims(json))
        #expect(read == SessionTokens.decodedWithJSONDecoder(json))
    }

    static let valid =
        #"{"sub":"s","exp":800000120.5,"iat":800000000,"jti":"j","tid":"t","role":"r","uid":1,"cid":2,"pan":"p","acc":["a","b"],"fa":3}"#

    /// What the switch never issues, each refused.
    static let malformed: [String] = [
        "", " ", "{}", "[]", "null", "\"s\"", "{", "}", "{,}", #"{"sub"}"#, #"{"sub":}"#,
        // A required claim missing.
        #"{"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r"}"#,
        // Unknown keys, keys twice, keys that only look like ours.
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"nbf":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"uid":2}"#,
        #"{"sub":"s","sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"\u0000fa":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"Fa":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"fa ":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"":1}"#,
        #"{sub:"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        // Trailing garbage, missing or extra separators.
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}x"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}{}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1},"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,}"#,
        #"{"sub":"s" "exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s",,"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub"::"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        "{\"sub\":\"s\",\"exp\":1,\"iat\":1,\"jti\":\"j\",\"tid\":\"t\",\"role\":\"r\",\"uid\":1}\u{0}",
        // Wrong types and nulls.
        #"{"sub":1,"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":null,"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":"1","iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":null,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":true,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":"1"}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1.5}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1.0}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1e2}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"cid":null}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"pan":null}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":null}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":"a"}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":[1]}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":[null]}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":["a",]}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":[,"a"]}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":["a" "b"]}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":[["a"]]}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,"acc":{}}"#,
        #"{"sub":{"a":1},"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        // Numbers outside JSON's grammar or out of range.
        #"{"sub":"s","exp":01,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1.,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":.5,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":+1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":-,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1e,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1e+,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1e400,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":NaN,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":Infinity,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":0x10,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":9223372036854775808}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":-9223372036854775809}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":00}"#,
        #"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":- 1}"#,
        // Strings: bad escapes, lone surrogates, raw control characters, unterminated.
        #"{"sub":"\x","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\u12","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\u12G4","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\ud83d","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\ude00","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\ud83d\u0041","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\ud83dx\ude00","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\ud83d\ud83d","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"\","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        "{\"sub\":\"a\tb\",\"exp\":1,\"iat\":1,\"jti\":\"j\",\"tid\":\"t\",\"role\":\"r\",\"uid\":1}",
        "{\"sub\":\"a\nb\",\"exp\":1,\"iat\":1,\"jti\":\"j\",\"tid\":\"t\",\"role\":\"r\",\"uid\":1}",
        #"{"sub":'s',"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
        #"{"sub":"s,"exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#,
    ]

    @Test("malformed claims are refused", arguments: malformed)
    func refused(payload: String) {
        #expect(SessionClaimsReader.claims(Array(payload.utf8)) == nil)
    }

    @Test("invalid UTF-8 in a string is refused, in a key too")
    func invalidUTF8() {
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF]] {
            let inValue = Array(#"{"sub":""#.utf8) + bad + Array(#"","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#.utf8)
            #expect(SessionClaimsReader.claims(inValue) == nil)
            let escaped = Array(#"{"sub":"\u00e9"#.utf8) + bad + Array(#"","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1}"#.utf8)
            #expect(SessionClaimsReader.claims(escaped) == nil)
            let inKey = Array(#"{"sub":"s","exp":1,"iat":1,"jti":"j","tid":"t","role":"r","uid":1,""#.utf8) + bad + Array(#"":1}"#.utf8)
            #expect(SessionClaimsReader.claims(inKey) == nil)
        }
    }

    @Test("every proper prefix of a valid payload is refused")
    func prefixes() throws {
        let json = Array(Self.valid.utf8)
        #expect(SessionClaimsReader.claims(json) != nil)
        for length in 0..<json.count {
            #expect(SessionClaimsReader.claims(Array(json[..<length])) == nil, "\(length)")
        }
    }

    /// Every byte of a valid payload replaced by each of a set of bytes: no crash, and whatever the
    /// reader accepts, JSONDecoder reads the same (the reader is never laxer than the old path).
    @Test("one byte changed anywhere: refused, or read as JSONDecoder reads it")
    func mutations() throws {
        let json = Array(Self.valid.utf8)
        let replacements: [UInt8] = Array(#"{}[]":,.-+0159eE\u xnulltrue "#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xFF]
        var accepted = 0
        for position in json.indices {
            for replacement in replacements where replacement != json[position] {
                var mutated = json
                mutated[position] = replacement
                guard let read = SessionClaimsReader.claims(mutated) else { continue }
                accepted += 1
                #expect(read == SessionTokens.decodedWithJSONDecoder(mutated), "\(String(decoding: mutated, as: UTF8.self))")
            }
            // Removed and doubled.
            for mutated in [Array(json[..<position] + json[(position + 1)...]), Array(json[...position] + json[position...])] {
                if let read = SessionClaimsReader.claims(mutated) {
                    accepted += 1
                    #expect(read == SessionTokens.decodedWithJSONDecoder(mutated))
                }
            }
        }
        // Digits changed in numbers and letters in strings still read: the comparison above ran.
        #expect(accepted > 50)
    }

    // MARK: The token around the claims

    /// A token for `header` and `payload` JSON, signed with `tokens`' key.
    static func token(header: String, payload: String, key: SymmetricKey) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key)
        return input + "." + Base64URL.encode(Array(signature))
    }

    @Test("a header other than the switch's own is decoded: HS256 in any form passes, any other algorithm does not")
    func foreignHeaders() throws {
        let switchKey = SwitchKey(SecretKey.generate())
        let tokens = SessionTokens(switchKey: switchKey, now: { Date(timeIntervalSinceReferenceDate: 818_000_000) })
        let payload = Self.valid
        let expected = try #require(SessionClaimsReader.claims(Array(payload.utf8)))
        for header in [#"{"alg":"HS256","typ":"JWT"}"#, #"{"typ":"JWT","alg":"HS256"}"#, #"{"alg":"HS256"}"#, #" { "alg" : "HS256" } "#, #"{"alg":"HS256","kid":"x"}"#] {
            let token = Self.token(header: header, payload: payload, key: switchKey.tokenSigning)
            #expect(tokens.verified(token) == expected, "\(header)")
        }
        for header in [#"{"alg":"none"}"#, #"{"alg":"HS512","typ":"JWT"}"#, #"{"alg":"hs256"}"#, #"{"typ":"JWT"}"#, "{", "", #"{"alg":["HS256"]}"#] {
            let token = Self.token(header: header, payload: payload, key: switchKey.tokenSigning)
            #expect(tokens.verified(token) == nil, "\(header)")
        }
    }

    @Test("a well-signed token whose claims are malformed is refused as malformed, through check")
    func signedMalformed() throws {
        let switchKey = SwitchKey(SecretKey.generate())
        let tokens = SessionTokens(switchKey: switchKey, now: { Date(timeIntervalSinceReferenceDate: 0) })
        for payload in Self.malformed {
            let token = Self.token(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: payload, key: switchKey.tokenSigning)
            #expect(refusal(tokens.check(token, terminal: "t", panDigest: nil)) == .malformedOrForged)
        }
        let good = Self.token(header: #"{"alg":"HS256","typ":"JWT"}"#, payload: Self.valid, key: switchKey.tokenSigning)
        #expect(refusal(tokens.check(good, terminal: "t", panDigest: nil)) == nil)
    }

    @Test("a token's shape: three parts, base64url without padding, nothing else")
    func shapes() throws {
        let switchKey = SwitchKey(SecretKey.generate())
        let tokens = SessionTokens(switchKey: switchKey, now: { Date() })
        let (token, claims) = try tokens.issue(subject: "tina", terminal: "BRANCH01", role: "teller", userID: 1, lifetime: .seconds(900))
        #expect(tokens.verified(token) == claims)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        for variant in [
            "", ".", "..", "...", parts[0], "\(parts[0]).\(parts[1])", "\(token).", ".\(token)", "\(token).\(parts[2])",
            "\(parts[0])..\(parts[2])", "\(parts[0]).\(parts[1]).", "\(token)=", "\(parts[0])=.\(parts[1]).\(parts[2])",
            "\(parts[0]).\(parts[1])A.\(parts[2])", "\(parts[0]).\(parts[1]).\(parts[2].dropLast())", "\(token) ",
            "\(parts[0]).+\(parts[1].dropFirst()).\(parts[2])", "\(parts[0]).\(parts[1]).+\(parts[2].dropFirst())",
        ] {
            #expect(tokens.verified(variant) == nil, "\(variant)")
        }
    }

    @Test("base64url: every length round trips; other alphabets, padding and non-zero unused bits are refused")
    func base64url() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Base64URL.encode(bytes)
            #expect(Self.decode(text) == bytes)
            #expect(text == Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"))
        }
        #expect(Self.decode("QQ") == [0x41])
        for bad in ["Q", "QR", "QUF", "QUG", "QQ==", "QQ=", "+/+/", "QU F", "QUFB\n", "QUFBQ", "Ã"] {
            #expect(Self.decode(bad) == nil, "\(bad)")
        }
    }

    static func decode(_ text: String) -> [UInt8]? {
        Array(text.utf8).withUnsafeBufferPointer { Base64URL.decode($0[...]) }
    }
}

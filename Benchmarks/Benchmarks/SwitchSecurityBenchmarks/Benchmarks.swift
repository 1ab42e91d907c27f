import ATM87
import Benchmark
import CashpointSecurity
import CashpointSwitch
import Foundation

/// What the switch spends on security per request, before any database work: the MAC check of a 0200
/// and the MAC of its 0210 (AES-CMAC), deciphering a PIN block (ISO 9564 format 4, AES-256), checking a
/// session token (JWT, HS256), parsing an administrative TLV.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 1_000,
        maxDuration: .seconds(5),
        maxIterations: 1_000_000
    )

    let macKey = SessionKeys.generate().mac
    let pinKey = SessionKeys.generate().pin
    let pan = "4761739001010119"
    var request = try! ATM87Message(
        mti: .financialRequest,
        fields: [
            2: pan, 3: "010000", 4: "000000010000", 7: "1125093112", 11: "000002", 12: "093112", 13: "1125",
            22: "051", 41: "ATM00001", 49: "978", 102: "CP0000000001",
        ]
    )
    var generator = SystemRandomNumberGenerator()
    try! request.set(52, bytes: try! PINBlock.encipher(pin: "1234", pan: pan, key: pinKey, using: &generator))
    let signed = try! MessageAuthentication.sign(request, key: macKey)
    var response = try! signed.makeResponse()
    try! response.set(38, "A1B2C3")
    try! response.set(39, "00")
    try! response.set(54, "0001978C000000240000")

    Benchmark("MAC: verify a 0200 and sign its 0210 (AES-CMAC)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(MessageAuthentication.verify(signed, key: macKey))
            blackHole(try! MessageAuthentication.sign(response, key: macKey))
        }
    }

    let block = signed.binary(52)!
    Benchmark("PIN block: decipher (format 4, AES-256)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! PINBlock.decipher(block, pan: pan, key: pinKey))
        }
    }

    let tlv = "OP006CREATEUN004doraCN009Dora DiazEX0043012DL00550000DC0015"
    Benchmark("TLV: parse an administrative payload") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try! ATM87TLV(parsing: tlv))
        }
    }

    Benchmark("Token: check a card session's JWT (HS256)") { benchmark in
        let tokens = await SessionTokens(switchKey: SwitchKey(SecretKey.generate()), now: { Date() })
        let (token, claims) = try await tokens.issue(
            subject: "card:476173******0119",
            terminal: "ATM00001",
            role: "customer",
            userID: 3,
            lifetime: .seconds(120),
            cardID: 1,
            panDigest: "00112233445566778899AABBCCDDEEFF",
            accounts: ["CP0000000001", "CP0000000002"]
        )
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(await tokens.check(token, terminal: "ATM00001", panDigest: claims.pan))
        }
    }
}

import ATM87
import Testing

@Suite("Luhn check of card numbers")
struct LuhnTests {
    @Test(
        "the fixture cards and well-known test numbers pass",
        arguments: [
            "4761739001010119", "5555555555554444", "4000000000000002", "4111111111111111", "4000001234567899",
            "378282246310005", "6011111111111117", "79927398713",
        ].filter { $0.count >= 12 }
    )
    func valid(_ pan: String) {
        #expect(Luhn.isValidPAN(pan))
    }

    @Test(
        "a changed digit, swapped digits, a wrong length or a non-digit fail",
        arguments: [
            "4761739001010118", "4761739001011019", "4111111111111112", "4000000000000011", "41111111111",
            "41111111111111111111", "4111-11111111111", "", "411111111111111a", "５５５５５５５５５５５５４４４４",
        ]
    )
    func invalid(_ pan: String) {
        #expect(!Luhn.isValidPAN(pan))
    }

    @Test("the check digit completes a number to a valid PAN")
    func checkDigit() throws {
        #expect(Luhn.checkDigit(for: "7992739871") == "3")
        #expect(Luhn.checkDigit(for: "476173900101011") == "9")
        #expect(Luhn.checkDigit(for: "400000000000000") == "2")
        #expect(Luhn.checkDigit(for: "") == nil)
        #expect(Luhn.checkDigit(for: "12a") == nil)
        for account in 0..<200 {
            let partial = "476173" + String(repeating: "0", count: 9 - String(account).count) + String(account)
            let digit = try #require(Luhn.checkDigit(for: partial))
            #expect(Luhn.isValidPAN(partial + String(digit)), "\(partial)")
        }
    }
}

import ATM87
import CashpointTerminal
import Testing

@Suite("What the ATM shows")
struct ScreenTextTests {
    @Test(
        "amounts typed at the keypad",
        arguments: [
            ("50", 5_000 as Int64?), ("20.5", 2_050), ("20.05", 2_005), ("0.01", 1), (" 7 ", 700),
            ("20.", nil), ("20.123", nil), ("-5", nil), ("abc", nil), ("", nil), ("1e3", nil), ("99999999", nil),
        ]
    )
    func amounts(text: String, minor: Int64?) {
        #expect(ScreenText.parseAmount(text) == minor)
    }

    @Test("money, balances of field 54, and words for every refusal")
    func formats() {
        #expect(ScreenText.money(123_456_789) == "1,234,567.89")
        #expect(ScreenText.money(5) == "0.05")
        #expect(ScreenText.money(-250_000) == "-2,500.00")
        #expect(ScreenText.balance("0001978C000000240000") == 240_000)
        #expect(ScreenText.balance("0001978D000000000100") == -100)
        #expect(ScreenText.balance("garbage") == nil)
        for code in [
            "12", "13", "14", "30", "51", "54", "55", "57", "58", "61", "62", "63", "65", "75", "76", "77", "91", "94",
        ] {
            #expect(!ScreenText.refusal(code).contains("code"))
        }
        #expect(ScreenText.refusal("96").contains("96"))
    }

    @Test("a receipt shows the masked card, never the PAN")
    func receipt() throws {
        var answer = ATM87Message(mti: .financialResponse)
        try answer.set(2, "4761739001010119")
        try answer.set(4, "000000005000")
        try answer.set(11, "000042")
        try answer.set(38, "A1B2C3")
        try answer.set(54, "0001978C000000240000")
        try answer.set(63, "261125|withdrawal|D000000005000|C000000240000")
        let text = Receipt.text(title: "CASH WITHDRAWAL", answer: answer, terminal: "ATM00001")
        #expect(text.contains("476173******0119"))
        #expect(!text.contains("4761739001010119"))
        #expect(text.contains("Balance     2,400.00"))
        #expect(text.contains("25/11/26 withdrawal -50.00"))
    }
}

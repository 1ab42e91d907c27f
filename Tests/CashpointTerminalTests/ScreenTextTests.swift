import ATM87
import CashpointTerminal
import Foundation
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
            "1K", "12", "13", "14", "30", "51", "54", "55", "57", "58", "59", "61", "62", "63", "65", "75", "76", "77", "91", "94",
        ] {
            #expect(!ScreenText.refusal(code).contains("code"))
        }
        #expect(ScreenText.refusal("96").contains("96"))
    }

    @Test("a receipt: bank, date and time, terminal and location, masked card, amount, codes, balance")
    func receipt() throws {
        let data = ReceiptData(
            title: "CASH WITHDRAWAL",
            maskedPAN: "476173******0119",
            amount: 5_000,
            dispensed: 5_000,
            currency: "978",
            account: "CP0000000001",
            authorization: "A1B2C3",
            retrievalReference: "000000000417",
            stan: "000042",
            responseCode: "00",
            balance: 240_000,
            statement: [MiniStatementLine(date: "261125", kind: "withdrawal", amount: -5_000, balanceAfter: 240_000)]
        )
        // 2026-12-01 15:32:07 UTC
        let lines = Receipt.lines(
            data,
            Receipt.Header(bankName: "CASHPOINT BANK", terminal: "ATM00001", location: "Station Square", time: 1_796_139_127)
        )
        let text = lines.joined(separator: "\n")
        #expect(lines.first == "         CASHPOINT BANK")
        #expect(text.contains("ATM00001          Station Square"))
        #expect(text.contains("01/12/2026"))
        #expect(text.contains("15:32:07"))
        #expect(text.contains("CARD            476173******0119"))
        #expect(text.contains("AMOUNT                 50.00 EUR"))
        #expect(text.contains("AUTH CODE                 A1B2C3"))
        #expect(text.contains("RRN                 000000000417"))
        #expect(text.contains("STAN                      000042"))
        #expect(text.contains("BALANCE             2,400.00 EUR"))
        #expect(text.contains("25/11/26 withdrawal       -50.00"))
        #expect(!text.contains("DISPENSED"))
        #expect(lines.allSatisfy { $0.count <= Receipt.width })
    }

    @Test("a partial dispense prints what was given and charged, and no balance")
    func partialReceipt() {
        let data = ReceiptData(title: "CASH WITHDRAWAL", maskedPAN: "476173******0119", amount: 10_000, dispensed: 5_000, currency: "978", balance: 1)
        let text = Receipt.lines(data, Receipt.Header(bankName: "B", terminal: "T", location: "L", time: 0)).joined(separator: "\n")
        #expect(text.contains("DISPENSED              50.00 EUR"))
        #expect(text.contains("CHARGED                50.00 EUR"))
        #expect(!text.contains("BALANCE"))
    }
}

@Suite("The full-screen ATM's frame")
struct FullScreenFrameTests {
    static let notes = ["", "TELLER DESK (another terminal):", "  atm-terminal teller --port 8583", "STOP EVERYTHING: scripts/demo stop"]

    static func status(receipt: [String], cash: Int64? = nil) -> ATMStatus {
        ATMStatus(
            terminal: "ATM00001",
            location: "Station Square",
            online: true,
            cassettes: [Cassette(denomination: 2_000, count: 500, currency: "978"), Cassette(denomination: 5_000, count: 199, currency: "978")],
            currency: "978",
            cardInReader: "555555******4444",
            cashPresented: cash,
            receipt: receipt
        )
    }

    static func receipt() -> [String] {
        let data = ReceiptData(
            title: "CASH WITHDRAWAL", maskedPAN: "555555******4444", amount: 5_000, currency: "978", account: "CP0000000003",
            authorization: "A00001", retrievalReference: "533512000001", stan: "000042", responseCode: "00", balance: 70_000
        )
        return Receipt.lines(data, Receipt.Header(bankName: "CASHPOINT BANK", terminal: "ATM00001", location: "Station Square", time: 1_796_000_000))
    }

    @Test("a receipt and the notes fit beside the machine: nothing drawn twice, no row longer or lower than the terminal", arguments: [
        TerminalSize(rows: 24, columns: 80), TerminalSize(rows: 32, columns: 110), TerminalSize(rows: 20, columns: 60),
    ])
    func fits(size: TerminalSize) {
        let screen = FullScreenFrontEnd(notes: Self.notes, size: { size }, output: { _ in })
        screen.draw(ATMDisplay(.result(title: "CASH WITHDRAWAL", lines: ["Please take your receipt."])), status: Self.status(receipt: Self.receipt(), cash: 5_000))
        let rows = screen.frame(size)
        #expect(rows.count <= size.rows)
        #expect(rows.allSatisfy { $0.count <= size.columns })
        let text = rows.joined(separator: "\n")
        #expect(text.components(separatedBy: "TELLER DESK").count <= 2)
        if size.rows >= 24 && size.columns >= 80 {
            #expect(text.contains("TELLER DESK"))
            #expect(text.contains("RRN"))
            #expect(text.contains("CASH  50.00 EUR out: T takes it"))
        }
    }

    @Test("no receipt in the status, none beside the screen")
    func receiptGone() {
        let screen = FullScreenFrontEnd(notes: Self.notes, size: { TerminalSize(rows: 32, columns: 110) }, output: { _ in })
        screen.draw(ATMDisplay(.welcome), status: Self.status(receipt: Self.receipt()))
        #expect(screen.frame(TerminalSize(rows: 32, columns: 110)).joined().contains("RECEIPT"))
        screen.draw(ATMDisplay(.welcome), status: Self.status(receipt: []))
        #expect(!screen.frame(TerminalSize(rows: 32, columns: 110)).joined().contains("RECEIPT"))
    }
}

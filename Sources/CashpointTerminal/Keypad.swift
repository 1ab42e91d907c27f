public import ATM87
import Foundation

/// Where a keypad session reads keys and shows screens: the console, or a script in tests.
public protocol KeypadIO: AnyObject {
    func show(_ text: String)
    /// A line typed at the prompt; nil when input has ended.
    func ask(_ prompt: String) async -> String?
    /// Like `ask`, but the keys are not shown (a PIN, a password): each is echoed as `*`.
    func askSecret(_ prompt: String) async -> String?
}

/// What a customer reads for each answer: the words an ATM shows, never a bare code.
public enum ScreenText {
    public static func refusal(_ code: String?) -> String {
        switch code {
        case "12": return "This transaction is not possible."
        case "13": return "That amount is not possible."
        case "14": return "This card is not recognised."
        case "30": return "The request could not be read. Please try again."
        case "51": return "Insufficient funds."
        case "54": return "This card has expired."
        case "55": return "Incorrect PIN."
        case "57": return "This transaction is not allowed with this card."
        case "58": return "This transaction is not allowed at this terminal."
        case "61": return "This exceeds your daily withdrawal limit."
        case "62": return "This card or account is restricted. Please contact your bank."
        case "63": return "Security check failed. Please insert your card again."
        case "65": return "You have reached today's number of withdrawals."
        case "75": return "Too many incorrect PINs. Your card has been retained. Please contact your bank."
        case "76": return "That account is not available."
        case "77": return "The account to pay into is not available."
        case "91": return "Service is temporarily unavailable. Please try later."
        case "94": return "This request was already made."
        default: return "The transaction could not be completed (code \(code ?? "none"))."
        }
    }

    /// Minor units as `1,234.56`.
    public static func money(_ minor: Int64) -> String {
        let sign = minor < 0 ? "-" : ""
        let value = abs(minor)
        var whole = String(value / 100)
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole = String(whole.dropLast(3))
        }
        let cents = value % 100
        return "\(sign)\(whole)\(grouped).\(cents < 10 ? "0" : "")\(cents)"
    }

    /// `50`, `50.5`, `50.05` → minor units; nil for anything else.
    public static func parseAmount(_ text: String) -> Int64? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0, whole < 10_000_000 else {
            return nil
        }
        var cents: Int64 = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy(\.isNumber), let fraction = Int64(parts[1])
            else {
                return nil
            }
            cents = parts[1].count == 1 ? fraction * 10 : fraction
        }
        return whole * 100 + cents
    }

    /// The balance of field 54 (`0001` + currency + `C`/`D` + 12 digits), in minor units.
    public static func balance(_ field54: String?) -> Int64? {
        guard let field54, field54.count == 20, let digits = Int64(field54.suffix(12)) else { return nil }
        return Array(field54)[7] == "D" ? -digits : digits
    }
}

/// The customer's side of an ATM: insert a card, enter the PIN (masked), choose transactions, take
/// the card back. The PIN is checked once, with the first request (a balance inquiry, as ATMs do); the
/// card session's token carries the rest. A third wrong PIN keeps the card.
public final class ATMKeypad {
    let session: TerminalSession
    let io: any KeypadIO

    public init(session: TerminalSession, io: any KeypadIO) {
        self.session = session
        self.io = io
    }

    /// Serves customers until input ends or `q` is typed at the card prompt.
    public func run() async throws {
        while let pan = await self.io.ask("Insert card (type the card number), or q to quit:") {
            let card = pan.trimmingCharacters(in: .whitespaces)
            if card == "q" || card == "quit" { return }
            guard (12...19).contains(card.count), card.allSatisfy(\.isNumber) else {
                self.io.show("That is not a card number (12 to 19 digits).")
                continue
            }
            try await self.serve(card: card)
        }
    }

    /// One card session: PIN, then the menu until the card is returned or kept.
    func serve(card pan: String) async throws {
        self.session.cardToken = nil
        var opened: ATM87Message?
        while opened == nil {
            guard let pin = await self.io.askSecret("Enter PIN, then Enter:") else { return }
            guard (4...12).contains(pin.count), pin.allSatisfy(\.isNumber) else {
                self.io.show("A PIN is 4 to 12 digits.")
                continue
            }
            let answer = try await self.session.cardRequest(.balance, pan: pan, pin: pin)
            switch answer[39] {
            case "00": opened = answer
            case "55": self.io.show(ScreenText.refusal("55") + " Please try again.")
            case "75":
                self.io.show(ScreenText.refusal("75"))
                return
            default:
                self.io.show(ScreenText.refusal(answer[39]) + "\nPlease take your card.")
                return
            }
        }
        self.io.show("Welcome. Card \(ATM87PrettyPrinter.maskPAN(pan)).")
        menu: while true {
            let choice = await self.io.ask(
                "1 Balance  2 Withdraw cash  3 Deposit  4 Transfer  5 Mini-statement  6 Change PIN  0 Return card:"
            )
            switch choice?.trimmingCharacters(in: .whitespaces) {
            case nil, "0": break menu
            case "1":
                try await self.transaction(.balance, pan: pan, title: "BALANCE")
            case "2":
                guard let amount = await self.amount("Amount to withdraw:") else { continue }
                try await self.transaction(.withdrawal, pan: pan, amount: amount, title: "CASH WITHDRAWAL") {
                    self.io.show("Please take your cash: \(ScreenText.money(amount)).")
                }
            case "3":
                guard let amount = await self.amount("Amount to deposit:") else { continue }
                try await self.transaction(.deposit, pan: pan, amount: amount, title: "DEPOSIT")
            case "4":
                guard let target = await self.io.ask("Account to pay into:"), !target.isEmpty else { continue }
                guard let amount = await self.amount("Amount to transfer:") else { continue }
                try await self.transaction(
                    .transfer,
                    pan: pan,
                    amount: amount,
                    to: target.trimmingCharacters(in: .whitespaces),
                    title: "TRANSFER"
                )
            case "5":
                try await self.transaction(.statement, pan: pan, title: "MINI-STATEMENT")
            case "6":
                guard let old = await self.io.askSecret("Current PIN:"),
                    let new = await self.io.askSecret("New PIN (4 to 12 digits):"),
                    let again = await self.io.askSecret("New PIN again:")
                else { break menu }
                guard new == again else {
                    self.io.show("The new PINs differ; nothing was changed.")
                    continue
                }
                let answer = try await self.session.cardRequest(.pinChange, pan: pan, pin: old, newPIN: new)
                self.io.show(answer[39] == "00" ? "Your PIN has been changed." : ScreenText.refusal(answer[39]))
                if answer[39] == "75" { return }
            default:
                self.io.show("Please choose 0 to 6.")
            }
        }
        _ = try? await self.session.endCardSession()
        self.io.show("Please take your card. Thank you.")
    }

    func amount(_ prompt: String) async -> Int64? {
        guard let text = await self.io.ask(prompt) else { return nil }
        guard let amount = ScreenText.parseAmount(text), amount > 0 else {
            self.io.show("Type an amount such as 50 or 20.50.")
            return nil
        }
        return amount
    }

    func transaction(
        _ kind: TransactionKind,
        pan: String,
        amount: Int64 = 0,
        to: String? = nil,
        title: String,
        onApproval: () -> Void = {}
    ) async throws {
        let answer = try await self.session.cardRequest(kind, pan: pan, amount: Int(amount), to: to)
        guard answer[39] == "00" else {
            self.io.show(ScreenText.refusal(answer[39]))
            if answer[39] == "63" { self.session.cardToken = nil }
            return
        }
        onApproval()
        self.io.show(Receipt.text(title: title, answer: answer, terminal: self.session.terminal))
    }
}

/// The receipt an ATM prints: never the full PAN.
public enum Receipt {
    public static func text(title: String, answer: ATM87Message, terminal: String) -> String {
        var lines = [
            "------------------------------",
            "  CASHPOINT  \(title)",
            "  Terminal \(terminal)   STAN \(answer[11] ?? "")",
            "  Card \(answer[2].map(ATM87PrettyPrinter.maskPAN) ?? "")",
        ]
        if let amount = answer.integer(4), amount > 0 {
            lines.append("  Amount      \(ScreenText.money(Int64(amount)))")
        }
        if let auth = answer[38] { lines.append("  Auth code   \(auth)") }
        if let balance = ScreenText.balance(answer[54]) { lines.append("  Balance     \(ScreenText.money(balance))") }
        if let statement = answer[63] {
            for line in statement.split(separator: ";") {
                let parts = line.split(separator: "|").map(String.init)
                guard parts.count == 4 else { continue }
                let amount = (parts[2].first == "D" ? -1 : 1) * (Int64(parts[2].dropFirst()) ?? 0)
                let day = Array(parts[0])
                let date =
                    day.count == 6 ? "\(String(day[4...5]))/\(String(day[2...3]))/\(String(day[0...1]))" : parts[0]
                lines.append(
                    "  \(date) \(parts[1].padding(toLength: 10, withPad: " ", startingAt: 0)) \(ScreenText.money(amount))"
                )
            }
        }
        lines.append("------------------------------")
        return lines.joined(separator: "\n")
    }
}

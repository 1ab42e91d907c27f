import ATM87

/// The eight function keys beside an ATM's display: A-D down the left, E-H down the right.
public enum FunctionKey: String, Sendable, Hashable, CaseIterable, Comparable {
    case a = "A", b = "B", c = "C", d = "D", e = "E", f = "F", g = "G", h = "H"

    public static func < (lhs: FunctionKey, rhs: FunctionKey) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The first `count` keys, A onwards (at most seven: H is kept for back or cancel).
    static func first(_ count: Int) -> [FunctionKey] { Array(Self.allCases.prefix(min(count, 7))) }
}

/// A key of the ATM: the keypad's digits, Enter, Clear and Cancel, and the function keys.
public enum ATMKey: Sendable, Hashable {
    case digit(UInt8)
    case enter
    case clear
    case cancel
    case function(FunctionKey)
}

/// What the display shows. The state machine says which screen and with what; `ATMDisplay` turns it
/// into lines and key labels, so a test reads a screen without a terminal.
public enum ATMScreen: Sendable, Hashable {
    case outOfService
    /// The machine signs on to another switch (its link was lost): a customer waits a moment.
    case oneMoment
    case welcome
    /// `entered` digits so far, shown as `*`; `notice` above the prompt (a wrong PIN, a short PIN).
    case pinEntry(entered: Int, notice: String?)
    case pleaseWait
    case mainMenu(ATMMenu, notice: String?)
    case fastCash(amounts: [Int64], currency: String)
    /// Choose one of the card's accounts.
    case accountChoice(title: String, accounts: [String])
    /// `amount` in minor units as typed so far; `wholeUnits`: cash is asked in whole notes' units.
    case amountEntry(title: String, amount: Int64, currency: String, wholeUnits: Bool, notice: String?)
    case pinChange(PINChangeStage, entered: Int, notice: String?)
    case takeCash(amount: Int64, currency: String, requested: Int64)
    /// The outcome of a transaction, then "another transaction?" (A yes, H no).
    case result(title: String, lines: [String])
    case moreTime
    /// The card is in the reader's mouth; `lines` say why it is coming back.
    case takeCard(lines: [String])
    case cardRetained(lines: [String])
}

/// Which PIN a PIN change is asking for.
public enum PINChangeStage: Sendable, Hashable {
    case current
    case new
    case confirm
}

/// What the main menu offers: cash only when the cassettes can pay something.
public struct ATMMenu: Sendable, Hashable {
    public var fastCash: Bool
    public var otherAmount: Bool
    public var deposit: Bool
    public var transfer: Bool

    public init(fastCash: Bool, otherAmount: Bool, deposit: Bool = true, transfer: Bool = true) {
        self.fastCash = fastCash
        self.otherAmount = otherAmount
        self.deposit = deposit
        self.transfer = transfer
    }

    /// The function key of each choice, as the main menu labels them.
    public enum Choice: Sendable, Hashable {
        case fastCash, otherAmount, balance, statement, deposit, transfer, pinChange, returnCard
    }

    public var keys: [FunctionKey: Choice] {
        var keys: [FunctionKey: Choice] = [.c: .balance, .d: .statement, .g: .pinChange, .h: .returnCard]
        if self.fastCash { keys[.a] = .fastCash }
        if self.otherAmount { keys[.b] = .otherAmount }
        if self.deposit { keys[.e] = .deposit }
        if self.transfer { keys[.f] = .transfer }
        return keys
    }
}

/// A screen as text: a title, body lines, an entry line, and the label of each function key.
public struct ATMDisplay: Sendable, Hashable {
    public var title: String
    public var lines: [String]
    /// What is being typed (masked for a PIN), with its prompt.
    public var entry: String?
    public var keys: [FunctionKey: String]

    public init(title: String, lines: [String] = [], entry: String? = nil, keys: [FunctionKey: String] = [:]) {
        self.title = title
        self.lines = lines
        self.entry = entry
        self.keys = keys
    }

    /// The text of a screen.
    public init(_ screen: ATMScreen) {
        switch screen {
        case .outOfService:
            self.init(title: "SORRY", lines: ["This machine is temporarily", "out of service."])
        case .oneMoment:
            self.init(title: "ONE MOMENT, PLEASE", lines: ["The machine is reconnecting.", "It will be ready shortly."])
        case .welcome:
            self.init(title: "WELCOME", lines: ["Please insert your card."])
        case .pinEntry(let entered, let notice):
            self.init(
                title: "ENTER YOUR PIN",
                lines: (notice.map { [$0, ""] } ?? [])
                    + ["Enter your PIN, then press Enter.", "Clear to correct, Cancel to stop."],
                entry: "PIN: " + String(repeating: "*", count: entered)
            )
        case .pleaseWait:
            self.init(title: "PLEASE WAIT", lines: ["Your transaction is being processed."])
        case .mainMenu(let menu, let notice):
            let labels: [ATMMenu.Choice: String] = [
                .fastCash: "Fast cash", .otherAmount: "Other amount", .balance: "Balance",
                .statement: "Mini-statement", .deposit: "Deposit", .transfer: "Transfer",
                .pinChange: "Change PIN", .returnCard: "Return card",
            ]
            var lines = ["Please select a service."]
            if let notice { lines = [notice, ""] + lines }
            if !menu.fastCash && !menu.otherAmount { lines.append("Cash is not available at this machine.") }
            self.init(title: "MAIN MENU", lines: lines, keys: menu.keys.mapValues { labels[$0]! })
        case .fastCash(let amounts, let currency):
            var keys: [FunctionKey: String] = [.h: "Back"]
            for (key, amount) in zip(FunctionKey.first(amounts.count), amounts) {
                keys[key] = ScreenText.cash(amount, currency: currency)
            }
            self.init(title: "FAST CASH", lines: ["Choose an amount."], keys: keys)
        case .accountChoice(let title, let accounts):
            var keys: [FunctionKey: String] = [.h: "Cancel"]
            for (key, account) in zip(FunctionKey.first(accounts.count), accounts) { keys[key] = account }
            self.init(title: title, lines: ["Choose an account."], keys: keys)
        case .amountEntry(let title, let amount, let currency, let wholeUnits, let notice):
            let shown = wholeUnits ? ScreenText.cash(amount, currency: currency) : ScreenText.money(amount) + " " + ScreenText.currencyName(currency)
            self.init(
                title: title,
                lines: (notice.map { [$0, ""] } ?? [])
                    + [wholeUnits ? "Type the amount, then press Enter." : "Type the amount in cents, then press Enter."],
                entry: "Amount: " + shown
            )
        case .pinChange(let stage, let entered, let notice):
            let prompt: String
            switch stage {
            case .current: prompt = "Enter your current PIN."
            case .new: prompt = "Enter your new PIN (4 to 12 digits)."
            case .confirm: prompt = "Enter your new PIN again."
            }
            self.init(
                title: "CHANGE PIN",
                lines: (notice.map { [$0, ""] } ?? []) + [prompt],
                entry: "PIN: " + String(repeating: "*", count: entered)
            )
        case .takeCash(let amount, let currency, let requested):
            var lines = ["Please take your cash:", ScreenText.cash(amount, currency: currency)]
            if amount < requested {
                lines += ["", "Only \(ScreenText.cash(amount, currency: currency)) of", "\(ScreenText.cash(requested, currency: currency)) could be given.", "You are charged only for the cash given."]
            }
            self.init(title: "TAKE YOUR CASH", lines: lines)
        case .result(let title, let lines):
            self.init(
                title: title,
                lines: lines + ["", "Another transaction?"],
                keys: [.a: "Yes", .h: "No, return card"]
            )
        case .moreTime:
            self.init(title: "MORE TIME?", lines: ["Do you need more time?"], keys: [.a: "Yes", .h: "No"])
        case .takeCard(let lines):
            self.init(title: "PLEASE TAKE YOUR CARD", lines: lines + ["Thank you for using Cashpoint."])
        case .cardRetained(let lines):
            self.init(title: "CARD RETAINED", lines: lines + ["Please contact your bank."])
        }
    }

    /// The screen as plain text: a title line, the body, key labels (left keys, then right keys) and the
    /// entry line.
    public var plainText: String {
        var out = ["[\(self.title)]"] + self.lines.map { "  " + $0 }
        for key in FunctionKey.allCases {
            if let label = self.keys[key] { out.append("  \(key.rawValue) \(label)") }
        }
        if let entry = self.entry { out.append("  " + entry) }
        return out.joined(separator: "\n")
    }
}

extension ScreenText {
    /// ISO 4217 numeric code to its letters, for the few currencies a demo bank holds.
    public static func currencyName(_ code: String) -> String {
        switch code {
        case "978": return "EUR"
        case "840": return "USD"
        case "826": return "GBP"
        case "756": return "CHF"
        default: return code
        }
    }

    /// Cash as a customer reads it: `50.00 EUR`.
    public static func cash(_ minor: Int64, currency: String) -> String {
        Self.money(minor) + " " + Self.currencyName(currency)
    }

    /// The words for an answer's code, when it is not an approval.
    static func refusalLines(_ code: String?) -> [String] {
        Self.wrap(Self.refusal(code))
    }

    /// Splits a sentence into display lines of at most 30 characters.
    static func wrap(_ text: String, width: Int = 30) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}

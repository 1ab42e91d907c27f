import ATM87

/// The receipt an ATM prints: bank, date and time, terminal and location, masked PAN, the transaction,
/// amount, authorization code, RRN, STAN and, where asked for, the balance. Never the full PAN.
public enum Receipt {
    public static let width = 32

    /// Where and when: what the terminal adds to a transaction's data.
    public struct Header: Sendable, Hashable {
        public var bankName: String
        public var terminal: String
        public var location: String
        /// Unix seconds, UTC.
        public var time: Int

        public init(bankName: String, terminal: String, location: String, time: Int) {
            self.bankName = bankName
            self.terminal = terminal
            self.location = location
            self.time = time
        }
    }

    public static func lines(_ data: ReceiptData, _ header: Header) -> [String] {
        let date = CivilDate(unixSeconds: header.time)
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        var lines = [
            Self.centred(header.bankName),
            Self.pair(header.terminal, header.location),
            Self.pair(
                "\(two(date.day))/\(two(date.month))/\(date.year)",
                "\(two(date.hour)):\(two(date.minute)):\(two(date.second))"
            ),
            "",
            Self.pair("CARD", data.maskedPAN),
        ]
        if let account = data.account { lines.append(Self.pair("ACCOUNT", account)) }
        lines.append(data.title)
        if data.amount > 0 {
            lines.append(Self.pair("AMOUNT", ScreenText.cash(data.amount, currency: data.currency)))
        }
        if let dispensed = data.dispensed, dispensed != data.amount {
            lines.append(Self.pair("DISPENSED", ScreenText.cash(dispensed, currency: data.currency)))
            lines.append(Self.pair("CHARGED", ScreenText.cash(dispensed, currency: data.currency)))
        }
        if let auth = data.authorization { lines.append(Self.pair("AUTH CODE", auth)) }
        if let rrn = data.retrievalReference { lines.append(Self.pair("RRN", rrn)) }
        if let stan = data.stan { lines.append(Self.pair("STAN", stan)) }
        if let code = data.responseCode, code != "00" { lines.append(Self.pair("RESPONSE", code)) }
        if let balance = data.balance, data.dispensed == nil || data.dispensed == data.amount {
            lines.append(Self.pair("BALANCE", ScreenText.cash(balance, currency: data.currency)))
        }
        for line in data.statement {
            lines.append(Self.pair("\(line.printedDate) \(line.kind.prefix(10))", ScreenText.money(line.amount)))
        }
        lines += ["", Self.centred("THANK YOU")]
        return lines
    }

    static func pair(_ left: String, _ right: String) -> String {
        let gap = max(1, Self.width - left.count - right.count)
        return left + String(repeating: " ", count: gap) + right
    }

    static func centred(_ text: String) -> String {
        String(repeating: " ", count: max(0, (Self.width - text.count) / 2)) + text
    }
}

/// An emulated cash dispenser: it gives the notes of a plan one by one, and with a jam fault set it
/// stops after that many notes (once: the next dispense works again).
public struct EmulatedDispenser: Sendable {
    /// Notes to give before the next dispense jams; nil: no fault.
    public var jamAfter: Int?

    public init(jamAfter: Int? = nil) { self.jamAfter = jamAfter }

    /// The notes actually given, and whether that is the whole plan.
    public mutating func dispense(_ plan: DispensePlan) -> (given: DispensePlan, complete: Bool) {
        guard let limit = self.jamAfter, limit < plan.noteCount else { return (plan, true) }
        self.jamAfter = nil
        var left = limit
        var given = plan.notes.map { _ in 0 }
        for (index, notes) in plan.notes.enumerated() {
            let take = min(notes, left)
            given[index] = take
            left -= take
        }
        return (DispensePlan(notes: given), false)
    }
}

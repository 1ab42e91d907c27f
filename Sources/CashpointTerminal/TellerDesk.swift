import ATM87
import CashpointSecurity
import Foundation

/// A branch terminal's desk: a teller or administrator signs on with user name and password (sent as
/// a password block), then serves customers with administrative requests (0600). What the role may
/// not do is refused by the switch (58), and said so.
public final class TellerDesk {
    let session: TerminalSession
    let io: any KeypadIO

    public init(session: TerminalSession, io: any KeypadIO) {
        self.session = session
        self.io = io
    }

    static let menu = """
        1 Balance  2 Deposit  3 Withdraw  4 New customer  5 Lock account  6 Unlock account
        7 Lock card  8 Unlock card  9 Unlock user  10 Users  11 Audit log  0 Sign off:
        """

    /// Signs a member of staff on, serves until `0` or the end of input, then signs them off.
    public func run() async throws {
        guard try await self.signOn() else { return }
        menu: while true {
            let choice = await self.io.ask(Self.menu)?.trimmingCharacters(in: .whitespaces)
            switch choice {
            case nil, "0": break menu
            case "1":
                guard let account = await self.io.ask("Account:") else { break menu }
                let answer = try await self.session.administrative(.balance, fields: [102: account])
                self.report(answer) { tlv in "Balance of \(account): \(Self.signed(tlv[.balance]))" }
            case "2", "3":
                guard let account = await self.io.ask("Account:"), let text = await self.io.ask("Amount:") else {
                    break menu
                }
                guard let amount = ScreenText.parseAmount(text), amount > 0 else {
                    self.io.show("Type an amount such as 50 or 20.50.")
                    continue
                }
                let deposit = choice == "2"
                let answer = try await self.session.administrative(
                    deposit ? .deposit : .withdraw,
                    fields: [4: String(format: "%012lld", amount), 102: account]
                )
                self.report(answer) { tlv in
                    "\(deposit ? "Deposited" : "Paid out") \(ScreenText.money(amount)) (auth \(tlv[.authorization] ?? "?")); "
                        + "balance of \(account): \(Self.signed(tlv[.balance]))"
                }
            case "4":
                try await self.newCustomer()
            case "5", "6":
                guard let account = await self.io.ask("Account:") else { break menu }
                let answer = try await self.session.administrative(
                    choice == "5" ? .lockAccount : .unlockAccount,
                    fields: [102: account]
                )
                self.report(answer) { _ in "Account \(account) \(choice == "5" ? "locked" : "unlocked")." }
            case "7", "8":
                guard let pan = await self.io.ask("Card number:") else { break menu }
                let answer = try await self.session.administrative(
                    choice == "7" ? .lockCard : .unlockCard,
                    fields: [2: pan]
                )
                self.report(answer) { _ in
                    "Card \(ATM87PrettyPrinter.maskPAN(pan)) \(choice == "7" ? "locked" : "unlocked")."
                }
            case "9":
                guard let user = await self.io.ask("User name:") else { break menu }
                let answer = try await self.session.administrative(.unlockUser, [(.userName, user)])
                self.report(answer) { _ in "User \(user) unlocked." }
            case "10":
                let answer = try await self.session.administrative(.listUsers, [(.limit, "50")])
                self.report(answer) { tlv in
                    (["id | user | role | locked | failed tries"] + tlv.all(AdminTag.user.rawValue) + ["\(tlv[.count] ?? "?") users"])
                        .joined(separator: "\n")
                }
            case "11":
                let action = await self.io.ask("Action to show (empty: all):") ?? ""
                var filter: [(AdminTag, String)] = [(.limit, "10")]
                if !action.isEmpty { filter.append((.action, action)) }
                let answer = try await self.session.administrative(.readAudit, filter)
                self.report(answer) { tlv in
                    (["id | time (UTC) | actor | action | outcome | device"] + tlv.all(AdminTag.auditRow.rawValue)).joined(separator: "\n")
                }
            default:
                self.io.show("Please choose 0 to 11.")
            }
        }
        _ = try? await self.session.administrative(.logout)
        self.io.show("Signed off.")
    }

    /// CREATE: the customer, an account and a card in one request; the card's first PIN comes back as a
    /// PIN block under this terminal's session PIN key, deciphered here only to print the PIN mailer.
    func newCustomer() async throws {
        guard let user = await self.io.ask("User name for the customer:"),
            let name = await self.io.ask("Full name:"),
            let typedAccount = await self.io.ask("New account number (Enter: the bank allocates one):"),
            let typedPAN = await self.io.ask("Card number of the new card (Enter: the bank issues one):")
        else { return }
        var fields: [Int: String] = [:]
        let account = typedAccount.trimmingCharacters(in: .whitespaces)
        let pan = typedPAN.trimmingCharacters(in: .whitespaces)
        if !account.isEmpty { fields[102] = account }
        if !pan.isEmpty {
            guard Luhn.isValidPAN(pan) else {
                self.io.show("That card number fails its check digit (Luhn); nothing was created.")
                return
            }
            fields[2] = pan
        }
        let answer = try await self.session.administrative(
            .createCustomer,
            [(.userName, user), (.customerName, name)],
            fields: fields
        )
        guard answer[39] == "00" else {
            var text = answer[39] == "58" ? "Your role may not do this." : ScreenText.refusal(answer[39])
            if let made = answer[44] { text += " (\(made))" }
            self.io.show(text)
            return
        }
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()
        // The 0610 names the account (102) and the card (2), typed or allocated by the bank.
        let madeAccount = answer.trimmed(102) ?? account
        let madePAN = answer[2] ?? pan
        self.io.show(
            "Customer \(tlv[.customerID] ?? "?") created with account \(madeAccount) and card \(ATM87PrettyPrinter.maskPAN(madePAN))."
        )
        if let block = tlv[.pinBlock].flatMap(Hex.decode), let keys = self.session.keys,
            let pin = try? PINBlock.decipher(block, pan: madePAN, key: keys.pin)
        {
            self.io.show(
                """
                ---- PIN MAILER (print, seal, hand over; shown once) ----
                  Card \(ATM87PrettyPrinter.maskPAN(madePAN))   first PIN: \(pin)
                ---------------------------------------------------------
                """
            )
        }
    }

    func signOn() async throws -> Bool {
        while let user = await self.io.ask("User name:") {
            guard let password = await self.io.askSecret("Password:") else { return false }
            let answer = try await self.session.staffLogin(userName: user, password: password)
            switch answer[39] {
            case "00":
                let role = answer[48].flatMap { try? ATM87TLV(parsing: $0) }?["RL"] ?? "staff"
                self.io.show("Signed on as \(user) (\(role)).")
                return true
            case "55": self.io.show("Wrong user name or password.")
            case "62": self.io.show("This user is locked. Another teller or an administrator can unlock it.")
            default: self.io.show(ScreenText.refusal(answer[39]))
            }
        }
        return false
    }

    func report(_ answer: ATM87Message, approved: (ATM87TLV) -> String) {
        guard answer[39] == "00" else {
            self.io.show(
                answer[39] == "58" ? "Your role may not do this." : ScreenText.refusal(answer[39])
            )
            return
        }
        self.io.show(approved(answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()))
    }

    static func signed(_ value: String?) -> String {
        guard let value, let first = value.first, let digits = Int64(value.dropFirst()) else { return "?" }
        return ScreenText.money(first == "D" ? -digits : digits)
    }
}

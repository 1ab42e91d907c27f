import ATM87
import CashpointSecurity
import Foundation

/// A branch terminal's desk: a teller, administrator or compliance officer signs on with user name, password (a password
/// block) and a one-time code from an authenticator app (or enrols one with an enrolment code), then
/// serves customers with administrative requests (0600). The switch's questions are answered here:
/// a code when it asks for one (1A, step-up), a reason when an operation is held for a second person
/// (four eyes). What the role may not do is refused by the switch (58), and said so. No password,
/// code, secret or recovery code is kept or written anywhere: they are shown on screen only where the
/// feature says (the enrolment screen, an enrolment code for an administrator to hand over).
public final class TellerDesk {
    let session: TerminalSession
    let io: any KeypadIO
    /// The member of staff signed on (their user name).
    var user = ""
    /// The clock the case queue's ages are counted by.
    var now: @Sendable () -> Date = { Date() }
    /// After a lost link: signs the terminal on to the next switch that answers (fresh keys) and names
    /// it; throws when none does. Nil: a lost link ends the desk.
    public var relink: (() async throws -> SwitchAddress)?

    public init(session: TerminalSession, io: any KeypadIO) {
        self.session = session
        self.io = io
    }

    static let menu = """
        1 Balance  2 Deposit  3 Withdraw  4 New customer  5 Lock account  6 Unlock account
        7 Lock card  8 Unlock card  9 Unlock user  10 Users  11 Audit log
        12 Pending approvals  13 My requests  14 Daily limits  15 Enrol staff  16 New staff
        17 Change role  18 KYC record  19 Verify customer  20 Cases  0 Sign off:
        """

    static let codePrompt = "One-time code:"
    static let reasonPrompt = "Reason (for the second person):"

    /// Signs a member of staff on, serves until `0` or the end of input, then signs them off.
    public func run() async throws {
        while true {
            do {
                guard try await self.signOn() else { return }
                break
            } catch let error as LinkError {
                try await self.moved(after: error)
            }
        }
        menu: while true {
            let choice = await self.io.ask(Self.menu)?.trimmingCharacters(in: .whitespaces)
            do {
                try await self.serve(choice)
            } catch DeskEnd.ended {
                break menu
            } catch let error as LinkError {
                try await self.moved(after: error)
            }
        }
        _ = try? await self.session.administrative(.logout)
        self.io.show("Signed off.")
    }

    /// The end of the menu: 0, or the end of input.
    enum DeskEnd: Error { case ended }

    /// The link was lost (or not trusted any more): the desk signs on to the next switch that answers
    /// and goes on; the member of staff stays signed on (the staff token is the bank's, valid at every
    /// switch of it). What was being sent may or may not have been done: the desk says so, and does not
    /// send it again by itself. Rethrows `error` when there is no `relink`.
    func moved(after error: LinkError) async throws {
        guard let relink = self.relink else { throw error }
        self.io.show("The link to the switch was lost (\(error)).")
        let address = try await relink()
        self.io.show(
            "Signed on to the switch at \(address)"
                + (self.user.isEmpty ? "." : "; still signed on as \(self.user). What you were doing may or may not have been done: check it before doing it again.")
        )
    }

    /// One choice of the menu; `DeskEnd.ended` for 0 or the end of input.
    func serve(_ choice: String?) async throws {
        menu: do {
            switch choice {
            case nil, "0": break menu
            case "1":
                guard let account = await self.io.ask("Account:") else { break menu }
                let answer = try await self.perform(DeskRequest(.balance, fields: [102: account]))
                self.report(answer) { tlv in "Balance of \(account): \(Self.signed(tlv[.balance]))" }
            case "2", "3":
                guard let account = await self.io.ask("Account:"), let text = await self.io.ask("Amount:") else {
                    break menu
                }
                guard let amount = ScreenText.parseAmount(text), amount > 0 else {
                    self.io.show("Type an amount such as 50 or 20.50.")
                    return
                }
                let deposit = choice == "2"
                let answer = try await self.perform(
                    DeskRequest(
                        deposit ? .deposit : .withdraw,
                        fields: [4: String(format: "%012lld", amount), 102: account]
                    )
                )
                self.report(answer) { tlv in
                    "\(deposit ? "Deposited" : "Paid out") \(ScreenText.money(amount)) (auth \(tlv[.authorization] ?? "?")); "
                        + "balance of \(account): \(Self.signed(tlv[.balance]))"
                }
            case "4":
                try await self.newCustomer()
            case "5":
                guard let account = await self.io.ask("Account:") else { break menu }
                let answer = try await self.perform(DeskRequest(.lockAccount, fields: [102: account]))
                self.report(answer) { _ in "Account \(account) locked." }
            case "6":
                guard let account = await self.io.ask("Account:"), let reason = await self.askReason() else { return }
                let answer = try await self.perform(DeskRequest(.unlockAccount, fields: [102: account], reason: reason))
                self.report(answer) { _ in "Account \(account) unlocked." }
            case "7":
                guard let pan = await self.io.ask("Card number:") else { break menu }
                let answer = try await self.perform(DeskRequest(.lockCard, fields: [2: pan]))
                self.report(answer) { _ in "Card \(ATM87PrettyPrinter.maskPAN(pan)) locked." }
            case "8":
                guard let pan = await self.io.ask("Card number:"), let reason = await self.askReason() else { return }
                let answer = try await self.perform(DeskRequest(.unlockCard, fields: [2: pan], reason: reason))
                self.report(answer) { _ in "Card \(ATM87PrettyPrinter.maskPAN(pan)) unlocked." }
            case "9":
                guard let user = await self.io.ask("User name:"), let reason = await self.askReason() else { return }
                let answer = try await self.perform(DeskRequest(.unlockUser, [(.userName, user)], reason: reason))
                self.report(answer) { _ in "User \(user) unlocked." }
            case "10":
                let answer = try await self.perform(DeskRequest(.listUsers, [(.limit, "50")]))
                self.report(answer) { tlv in
                    let count = "\(tlv[.count] ?? "?") users"
                    return (["id | user | role | locked | failed tries"] + tlv.all(AdminTag.user.rawValue) + [count])
                        .joined(separator: "\n")
                }
            case "11":
                let action = await self.io.ask("Action to show (empty: all):") ?? ""
                var filter: [(AdminTag, String)] = [(.limit, "10")]
                if !action.isEmpty { filter.append((.action, action)) }
                let answer = try await self.perform(DeskRequest(.readAudit, filter))
                self.report(answer) { tlv in
                    (["id | time (UTC) | actor | action | outcome | device"] + tlv.all(AdminTag.auditRow.rawValue))
                        .joined(separator: "\n")
                }
            case "12": try await self.pendingApprovals()
            case "13": try await self.myRequests()
            case "14": try await self.dailyLimits()
            case "15": try await self.enrolStaff()
            case "16": try await self.newStaff()
            case "17": try await self.changeRole()
            case "18": try await self.kycRecord()
            case "19": try await self.verifyCustomer()
            case "20": try await self.caseQueue()
            default:
                self.io.show("Please choose 0 to 20.")
            }
            return
        }
        throw DeskEnd.ended
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
        guard let identity = await self.askIdentity() else { return }
        guard
            let answer = try await self.perform(
                DeskRequest(
                    .createCustomer,
                    [(.userName, user), (.customerName, name)] + identity.elements,
                    fields: fields,
                    secrets: [(.documentNumber, identity.documentNumber)]
                )
            )
        else { return }
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
                + " KYC pending: deposits only until a compliance officer verifies them."
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

    // MARK: Sign-on

    /// User name, password and one-time code (asked for up front; Enter for none), sent as one LOGIN.
    /// The switch's 1A says what it needs next: a code (`NF` `OT`), or an enrolment code (`NF` `EC`) for
    /// a member of staff without a second factor, whose answer brings the new secret and recovery codes
    /// (shown once) and asks for a first code from them.
    func signOn() async throws -> Bool {
        while let user = await self.io.ask("User name:") {
            guard let password = await self.io.askSecret("Password:"),
                let first = await self.io.askSecret("One-time code (or recovery code):")
            else { return false }
            var code = Self.entered(first)
            var enrolmentCode: String?
            // A few rounds at most: code, enrolment code, first code from the new secret, a replay.
            login: for _ in 0..<6 {
                let answer = try await self.session.staffLogin(
                    userName: user,
                    password: password,
                    code: code,
                    enrolmentCode: enrolmentCode
                )
                let sentCode = code != nil
                code = nil
                enrolmentCode = nil
                switch answer[39] {
                case "00":
                    let role = answer[48].flatMap { try? ATM87TLV(parsing: $0) }?[.role] ?? "staff"
                    self.user = user
                    self.io.show("Signed on as \(user) (\(role)).")
                    return true
                case "1A":
                    let next = Self.nextFactor(answer)
                    if next == "EC" {
                        self.io.show("You have no second factor yet: your administrator gives you an enrolment code.")
                        guard let typed = await self.io.askSecret("Enrolment code:") else { return false }
                        guard let entered = Self.entered(typed) else { break login }
                        enrolmentCode = entered
                        continue
                    }
                    if answer[48].flatMap({ try? ATM87TLV(parsing: $0) })?[.secret] != nil {
                        guard self.showEnrolment(of: user, answer) else { break login }
                        guard let typed = await self.io.askSecret("Code from your authenticator app:") else {
                            return false
                        }
                        guard let entered = Self.entered(typed) else { break login }
                        code = entered
                        continue
                    }
                    guard let typed = await self.io.askSecret(Self.codePrompt) else { return false }
                    guard let entered = Self.entered(typed) else { break login }
                    code = entered
                case "63" where sentCode:
                    self.io.show(Self.replayed)
                    guard let typed = await self.io.askSecret(Self.codePrompt) else { return false }
                    guard let entered = Self.entered(typed) else { break login }
                    code = entered
                case "55":
                    self.io.show("Wrong user name, password or code.")
                    break login
                case "62":
                    self.io.show("This user is locked. Another member of staff can ask for it to be unlocked.")
                    break login
                case "58":
                    self.io.show("Staff cannot sign on at this terminal.")
                    break login
                default:
                    self.io.show(ScreenText.refusal(answer[39]))
                    break login
                }
            }
        }
        return false
    }

    static let replayed = "That code was used already; wait for the next one."

    /// The enrolment answer (1A with `SK` and `RC`): the new secret in base32 (grouped by 4), as an
    /// otpauth URI and as a QR code, and the ten recovery codes, shown once to the member of staff
    /// signing on. False when the blocks do not decipher (nothing is shown then).
    func showEnrolment(of user: String, _ answer: ATM87Message) -> Bool {
        let secretText: String
        let recovery: String
        do {
            guard let secret = try self.session.reveal(.secret, in: answer),
                let codes = try self.session.reveal(.recoveryCodes, in: answer)
            else { return false }
            secretText = secret
            recovery = codes
        } catch {
            self.io.show("The switch's answer could not be read (\(error)); try again.")
            return false
        }
        guard let secret = Base32.decode(secretText) else {
            self.io.show("The switch sent a secret that is not base32; try again.")
            return false
        }
        let uri = OTPAuthURI.make(user: user, secret: secret)
        var lines = [
            "==== YOUR SECOND FACTOR (shown once, to you only) ====",
            "Add it to an authenticator app: scan the QR code, or type the secret key.",
            "Secret key: \(DeskText.grouped(Base32.encode(secret)))",
            uri,
        ]
        if let code = try? QRCode(encoding: uri) {
            lines += code.halfBlockLines()
        }
        lines.append("Recovery codes (shown once: write them down; each signs you on once instead of a code):")
        let codes = recovery.split(separator: " ").map(String.init)
        for start in stride(from: 0, to: codes.count, by: 5) {
            lines.append("  " + codes[start..<min(start + 5, codes.count)].joined(separator: "  "))
        }
        lines.append("=======================================================")
        self.io.show(lines.joined(separator: "\n"))
        return true
    }

    // MARK: Sending, with the switch's questions answered

    /// Sends a request; when the switch asks for a one-time code (1A `NF` `OT`: step-up) or a reason
    /// (30 `NF` `RS`: a held operation), asks for it and sends the request again (a new STAN). Nil
    /// when the member of staff gives no answer to such a question (nothing more is sent).
    func perform(_ request: DeskRequest) async throws -> ATM87Message? {
        var request = request
        var code: String?
        for _ in 0..<5 {
            var elements = request.elements
            if let reason = request.reason { elements.append((.reason, reason)) }
            let answer = try await self.session.administrative(
                request.operation,
                elements,
                fields: request.fields,
                code: code,
                secrets: request.secrets
            )
            let sentCode = code != nil
            code = nil
            switch (answer[39], Self.nextFactor(answer)) {
            case ("1A", _):
                self.io.show("This needs a fresh one-time code.")
                guard let typed = await self.io.askSecret(Self.codePrompt), let entered = Self.entered(typed) else {
                    self.io.show("Not done: no code.")
                    return nil
                }
                code = entered
            case ("30", "RS"?):
                self.io.show("This is checked by a second person before it takes effect.")
                guard let reason = await self.askReason() else { return nil }
                request.reason = reason
            case ("63", _) where sentCode:
                self.io.show(Self.replayed)
                guard let typed = await self.io.askSecret(Self.codePrompt), let entered = Self.entered(typed) else {
                    self.io.show("Not done: no code.")
                    return nil
                }
                code = entered
            case ("55", _) where sentCode:
                self.io.show("Wrong code.")
                return nil
            default:
                return answer
            }
        }
        self.io.show("Not done.")
        return nil
    }

    /// A reason for the second person: nil (and said so) when none is given.
    func askReason() async -> String? {
        guard let typed = await self.io.ask(Self.reasonPrompt), let reason = Self.entered(typed) else {
            self.io.show("Not done: a held change needs a reason.")
            return nil
        }
        return reason
    }

    /// What was typed, without surrounding blanks; nil when nothing was.
    static func entered(_ typed: String) -> String? {
        let text = typed.trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
    }

    /// `NF` of an answer: what the switch wants sent next (`OT`, `EC`, `RS`).
    static func nextFactor(_ answer: ATM87Message) -> String? {
        answer[48].flatMap { try? ATM87TLV(parsing: $0) }?[.nextFactor]
    }

    /// Says how a request ended: `approved` for 00, held (09) with its change number, and a readable
    /// refusal otherwise (field 44, the switch's reason, when it gave one). Nil (no answer) says nothing.
    func report(_ answer: ATM87Message?, checking: Bool = false, approved: (ATM87TLV) -> String) {
        guard let answer else { return }
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()
        switch answer[39] {
        case "00": self.io.show(approved(tlv))
        case "09": self.io.show("Held for a second person's approval as change \(tlv[.change] ?? "?").")
        default: self.io.show(DeskText.refusal(answer, checking: checking))
        }
    }

    static func signed(_ value: String?) -> String {
        guard let value, let first = value.first, let digits = Int64(value.dropFirst()) else { return "?" }
        return ScreenText.money(first == "D" ? -digits : digits)
    }
}

/// One administrative request of the desk: the operation, its elements and fields, code blocks
/// (enciphered for each message it is sent in) and the reason for a held change.
struct DeskRequest {
    var operation: AdminOperation
    var elements: [(AdminTag, String)]
    var fields: [Int: String]
    var secrets: [(AdminTag, String)]
    var reason: String?

    init(
        _ operation: AdminOperation,
        _ elements: [(AdminTag, String)] = [],
        fields: [Int: String] = [:],
        secrets: [(AdminTag, String)] = [],
        reason: String? = nil
    ) {
        self.operation = operation
        self.elements = elements
        self.fields = fields
        self.secrets = secrets
        self.reason = reason
    }
}

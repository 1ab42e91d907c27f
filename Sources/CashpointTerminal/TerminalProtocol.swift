public import ATM87
public import CashpointSecurity
public import Crypto
public import Foundation

/// A terminal's side of the protocol, without a connection: STANs and times, the sign-on and its keys,
/// PIN blocks under the session PIN key, the MAC on every request after sign-on and the check of every
/// answer, the card session's token and the staff token. It builds and checks; whoever holds the
/// connection sends (`TerminalSession` waits for each answer; the ATM's controller gets answers as
/// events).
public class TerminalProtocol {
    public let terminal: String
    public let currency: String
    let masterKey: SymmetricKey
    let now: @Sendable () -> Date
    public private(set) var keys: SessionKeys?
    public private(set) var stan: Int
    /// The card session's token, from the first PIN-checked answer; nil when no card session is open.
    public var cardToken: String?
    /// The signed-on teller's or administrator's token.
    public var staffToken: String?
    /// The last 0200 built (without its MAC), which a reversal names.
    public private(set) var lastCardRequest: ATM87Message?

    public init(
        terminal: String,
        masterKey: SymmetricKey,
        currency: String = "978",
        firstSTAN: Int = Int.random(in: 1...900_000),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.terminal = terminal
        self.masterKey = masterKey
        self.currency = currency
        self.stan = firstSTAN - 1
        self.now = now
    }

    /// Takes over the keys of an earlier session of this terminal (after a reconnect).
    public func resume(keys: SessionKeys) {
        self.keys = keys
    }

    // MARK: Building messages

    public func nextSTAN() -> String { self.nextHeader().stan.field }

    /// The header of the next request: this terminal, the next STAN, the time now.
    func nextHeader() -> RequestHeader {
        let stan = STAN.after(self.stan)
        self.stan = stan.value
        return RequestHeader(
            terminal: self.terminal,
            stan: stan,
            time: TransmissionTime(unixSeconds: Int(self.now().timeIntervalSince1970))
        )
    }

    /// A request with fields 7, 11 and 41 (and 12 and 13 for a 0200) set.
    public func header(_ mti: MTI) throws -> ATM87Message {
        try self.nextHeader().message(mti)
    }

    /// Field 52 for a PIN: ISO 9564 format 4 under the session PIN key.
    public func pinBlock(pin: String, pan: String) throws -> [UInt8] {
        guard let keys = self.keys else { throw LinkError("not signed on") }
        var generator = SystemRandomNumberGenerator()
        return try PINBlock.encipher(pin: pin, pan: pan, key: keys.pin, using: &generator)
    }

    /// The MAC under the session MAC key (once signed on; before, the message goes as it is).
    public func signed(_ message: ATM87Message) throws -> ATM87Message {
        guard let keys = self.keys else { return message }
        return try MessageAuthentication.sign(message, key: keys.mac)
    }

    /// An answer the terminal may act on: it answers `request` (the same STAN) and its MAC verifies.
    /// Anything else is an error: the terminal must not act on it.
    public func checked(_ answer: ATM87Message, answering request: ATM87Message?) throws -> ATM87Message {
        if let request, let stan = request[11], answer[11] != stan {
            throw LinkError("the answer's STAN \(answer[11] ?? "none") is not the request's \(stan)")
        }
        if let keys = self.keys, answer.contains(64) || answer.contains(128) {
            if let failure = MessageAuthentication.verify(answer, key: keys.mac) {
                throw LinkError("the switch's answer failed its MAC check: \(failure.rawValue)")
            }
        }
        return answer
    }

    // MARK: Network management

    /// Sign-on (0800/001), MACed under the key derived from the master key.
    public func signOnRequest() throws -> ATM87Message {
        var request = try self.header(.networkManagementRequest)
        try request.set(70, NetworkManagementCode.signOn.field)
        return try MessageAuthentication.sign(request, key: SignOnKey.derive(from: self.masterKey))
    }

    /// The sign-on's answer: when approved, field 120 is unwrapped under the master key, its check
    /// values checked, and the answer's MAC verified under the new MAC key; the keys are then the
    /// session's. A refusal is returned as it is.
    @discardableResult
    public func acceptSignOn(_ answer: ATM87Message) throws -> ATM87Message {
        guard answer[39] == "00" else { return answer }
        guard let material = answer[120] else { throw LinkError("the sign-on answer has no keys (field 120)") }
        let keys = try KeyMaterial.decode(material, under: self.masterKey)
        if let failure = MessageAuthentication.verify(answer, key: keys.mac) {
            throw LinkError("the sign-on answer failed its MAC check: \(failure.rawValue)")
        }
        self.keys = keys
        return answer
    }

    /// Key change's answer (0810/161, MACed under the old key): the new keys.
    @discardableResult
    public func acceptKeyChange(_ answer: ATM87Message) throws -> ATM87Message {
        guard answer[39] == "00" else { return answer }
        guard let material = answer[120] else { throw LinkError("the key change answer has no keys (field 120)") }
        self.keys = try KeyMaterial.decode(material, under: self.masterKey)
        return answer
    }

    /// Sign-off's answer: approved, the keys are forgotten.
    public func acceptSignOff(_ answer: ATM87Message) {
        if answer[39] == "00" { self.keys = nil }
    }

    /// A network management request (0800) with its code, unsigned.
    public func networkRequest(_ code: NetworkManagementCode) throws -> ATM87Message {
        var request = try self.header(.networkManagementRequest)
        try request.set(70, code.field)
        return request
    }

    // MARK: Card transactions

    /// Builds the 0200 of a card request (STAN, times, PIN blocks or the card session's token), without
    /// sending it: a terminal journals it first. It becomes `lastCardRequest`.
    public func build(_ card: CardRequest) throws -> ATM87Message {
        self.lastCardRequest = nil
        let header = self.nextHeader()
        let credential: CardCredential
        if let pin = card.pin {
            credential = .pinBlock(try self.pinBlock(pin: pin, pan: card.pan))
        } else if let token = self.cardToken {
            credential = .token(token)
        } else {
            throw LinkError("no PIN and no card session")
        }
        let request = try FinancialRequest(
            header: header,
            pan: card.pan,
            processingCode: card.processingCode,
            amount: card.amount,
            currency: self.currency,
            from: card.from,
            to: card.to,
            credential: credential,
            newPINBlock: try card.newPIN.map { try self.pinBlock(pin: $0, pan: card.pan) }
        ).message()
        self.lastCardRequest = request
        return request
    }

    /// A card request's checked answer: its token, when it carries one, is the card session's.
    public func acceptCardAnswer(_ answer: ATM87Message) {
        if let token = answer[62] { self.cardToken = token }
    }

    /// The reversal advice of a store-and-forward entry: a 0420 with a new STAN and time the first
    /// time, then 0421 repeats carrying the first one's STAN and time, so the switch sees one advice.
    public func reversalAdvice(for entry: SAFEntry, pan: String) throws -> ATM87Message {
        let header: RequestHeader
        if let stan = entry.adviceSTAN, let time = entry.adviceTime {
            header = RequestHeader(
                terminal: self.terminal,
                stan: try STAN(field: stan),
                time: try TransmissionTime(transmission: time)
            )
        } else {
            header = self.nextHeader()
        }
        return try ReversalAdvice(
            header: header,
            isRepeat: entry.adviceSTAN != nil && entry.adviceTime != nil,
            pan: pan,
            processingCode: try ProcessingCode(field: entry.processingCode),
            amount: entry.amount,
            currency: entry.currency,
            original: OriginalDataElements(
                mti: .financialRequest,
                stan: entry.originalSTAN,
                transmissionTime: entry.originalTime
            ),
            replacement: ReplacementAmounts(actual: entry.dispensed)
        ).message()
    }

    /// The reversal advice (0420) of an earlier 0200 (or of its answer, which echoes it), without
    /// sending it; `dispensed` is the cash actually given (nil: no field 95). With `repeatOf`, the
    /// first advice, it is the 0421 that repeats it with the first one's STAN and time.
    public func reversalAdvice(
        of original: ATM87Message,
        dispensed: Int?,
        repeatOf earlier: ATM87Message? = nil
    ) throws -> ATM87Message {
        let header = try earlier.map(RequestHeader.init(of:))
        return try ReversalAdvice(
            reversing: original,
            header: header ?? self.nextHeader(),
            isRepeat: earlier != nil,
            replacement: dispensed.map { ReplacementAmounts(actual: Int64($0)) }
        ).message()
    }

    /// LOGOUT with the card session's token (0600), which ends the card session at the switch; nil when
    /// no card session is open. The token is forgotten here.
    public func logoutRequest() throws -> ATM87Message? {
        guard let token = self.cardToken else { return nil }
        self.cardToken = nil
        return try self.administrativeRequest(AdminOperation.logout.rawValue, [], fields: [:], token: token)
    }

    /// A 0600: the operation and its TLV elements, other fields as given, and a token (the staff token
    /// unless another is given). `secrets` (a password, a one-time or enrolment code) follow the plain
    /// elements as code blocks under the session PIN key, bound to this message's STAN and time.
    public func administrativeRequest(
        _ operation: String,
        _ elements: [(String, String)],
        fields: [Int: String],
        token: String?,
        secrets: [(AdminTag, String)] = []
    ) throws -> ATM87Message {
        var request = try self.header(.administrativeRequest)
        var tlv = ATM87TLV([.init("OP", operation)])
        for (tag, value) in elements { tlv.append(tag, value) }
        for (tag, text) in secrets { tlv.append(tag, try self.block(text, tag, in: request)) }
        try request.set(48, tlv.encoded)
        for (field, value) in fields { try request.set(field, value) }
        if let token = token ?? self.staffToken { try request.set(62, token) }
        return request
    }

    // MARK: Staff: sign-on, second factor, code blocks

    /// LOGIN (0600): the user name, the password as a password block and, when given, a one-time code
    /// (`OT`, or a recovery code) and an enrolment code (`EC`), each a code block bound to this
    /// message's STAN and time.
    public func loginRequest(
        userName: String,
        password: String,
        code: String? = nil,
        enrolmentCode: String? = nil
    ) throws -> ATM87Message {
        var secrets: [(AdminTag, String)] = [(.password, password)]
        if let code { secrets.append((.oneTimeCode, code)) }
        if let enrolmentCode { secrets.append((.enrolmentCode, enrolmentCode)) }
        return try self.administrativeRequest(
            AdminOperation.login.rawValue,
            [(AdminTag.userName.rawValue, userName)],
            fields: [:],
            token: nil,
            secrets: secrets
        )
    }

    /// A code block for `tag` (`PW`, `OT`, `EC`): `text` enciphered under the session PIN key with the
    /// tag's purpose, the terminal, and `request`'s fields 11 and 7 as associated data.
    public func block(_ text: String, _ tag: AdminTag, in request: ATM87Message) throws -> String {
        guard let keys = self.keys else { throw LinkError("not signed on") }
        guard let purpose = tag.blockPurpose else { throw LinkError("\(tag.rawValue) is not a code block") }
        guard let stan = request[11], let time = request[7] else {
            throw LinkError("a code block needs the message's STAN and transmission time")
        }
        return try MessageBlock.encipher(
            text,
            purpose: purpose,
            key: keys.pin,
            terminal: self.terminal,
            stan: stan,
            transmitted: time
        )
    }

    /// The clear text of a code block in a 0610's field 48 (`SK`, `RC`, `EC`): deciphered under the
    /// session PIN key with the 0600's fields 11 and 7, which the 0610 echoes. Nil when the answer has
    /// no such element; an error when it does not decipher (the terminal must not use it).
    public func reveal(_ tag: AdminTag, in answer: ATM87Message) throws -> String? {
        guard let keys = self.keys else { throw LinkError("not signed on") }
        do {
            return try MessageBlock.reveal(tag, in: answer, key: keys.pin, terminal: self.terminal)
        } catch {
            throw LinkError("the switch's \(tag.rawValue) block: \(error.description)")
        }
    }

    /// An administrative answer to `request`: a token in its field 62 replaces the staff token (an
    /// approved sign-on, and any request that carried a one-time code: step-up issues a new token). A LOGOUT's answer,
    /// and the answer to a request made with another token (a card's), change nothing.
    public func acceptAdministrativeAnswer(_ answer: ATM87Message, to request: ATM87Message) {
        guard let token = answer[62], request.mti == .administrativeRequest else { return }
        let operation = request[48].flatMap { try? ATM87TLV(parsing: $0) }?.operation
        guard operation != .logout else { return }
        if operation == .login ? answer[39] == "00" : request[62] == nil || request[62] == self.staffToken {
            self.staffToken = token
        }
    }
}

public import ATM87
public import CashpointSecurity
public import Crypto
public import Foundation

/// A terminal's side of the protocol over one link: sign-on and key delivery, STANs and times, PIN
/// blocks and password blocks under the session PIN key, the MAC on every message after sign-on and
/// the check of the MAC on every answer, the card session's token and the staff token.
public final class TerminalSession {
    public let link: SwitchLink
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
    /// The last 0200 sent (without its MAC), which a reversal names.
    public private(set) var lastCardRequest: ATM87Message?

    public init(
        link: SwitchLink,
        terminal: String,
        masterKey: SymmetricKey,
        currency: String = "978",
        firstSTAN: Int = Int.random(in: 1...900_000),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.link = link
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

    // MARK: Sending

    /// Signs (when signed on), sends, and checks the answer's MAC. An answer whose MAC does not
    /// verify is an error: the terminal must not act on it.
    public func send(
        _ message: ATM87Message,
        sign: Bool = true,
        timeout: Duration = .seconds(10)
    ) async throws -> ATM87Message {
        var outgoing = message
        if sign, let keys = self.keys { outgoing = try MessageAuthentication.sign(message, key: keys.mac) }
        let answer = try await self.link.exchange(outgoing, timeout: timeout)
        guard answer[11] == message[11] || message[11] == nil else {
            throw LinkError("the answer's STAN \(answer[11] ?? "none") is not the request's \(message[11] ?? "none")")
        }
        if let keys = self.keys, answer.contains(64) || answer.contains(128) {
            if let failure = MessageAuthentication.verify(answer, key: keys.mac) {
                throw LinkError("the switch's answer failed its MAC check: \(failure.rawValue)")
            }
        }
        return answer
    }

    // MARK: Network management

    /// Sign-on (0800/001), MACed under the key derived from the master key: the 0810's field 120 is unwrapped under the master key, its check values
    /// checked, and its MAC verified under the new MAC key.
    @discardableResult
    public func signOn() async throws -> ATM87Message {
        var request = try self.header(.networkManagementRequest)
        try request.set(70, "001")
        let answer = try await self.link.exchange(
            MessageAuthentication.sign(request, key: SignOnKey.derive(from: self.masterKey))
        )
        guard answer[39] == "00" else { return answer }
        guard let material = answer[120] else { throw LinkError("the sign-on answer has no keys (field 120)") }
        let keys = try KeyMaterial.decode(material, under: self.masterKey)
        if let failure = MessageAuthentication.verify(answer, key: keys.mac) {
            throw LinkError("the sign-on answer failed its MAC check: \(failure.rawValue)")
        }
        self.keys = keys
        return answer
    }

    /// Key change (0800/161): the answer is MACed under the old key and carries the new keys.
    @discardableResult
    public func changeKeys() async throws -> ATM87Message {
        let answer = try await self.networkRequest("161")
        guard answer[39] == "00" else { return answer }
        guard let material = answer[120] else { throw LinkError("the key change answer has no keys (field 120)") }
        self.keys = try KeyMaterial.decode(material, under: self.masterKey)
        return answer
    }

    @discardableResult
    public func echo() async throws -> ATM87Message { try await self.networkRequest("301") }

    @discardableResult
    public func signOff() async throws -> ATM87Message {
        let answer = try await self.networkRequest("002")
        if answer[39] == "00" { self.keys = nil }
        return answer
    }

    func networkRequest(_ code: String) async throws -> ATM87Message {
        var request = try self.header(.networkManagementRequest)
        try request.set(70, code)
        return try await self.send(request)
    }

    // MARK: Card transactions

    /// A 0200 for a card: with the PIN (field 52) when given or when no card session is open, else with
    /// the card session's token (field 62). An approved PIN-checked answer opens the card session.
    public func cardRequest(
        _ kind: TransactionKind,
        pan: String,
        pin: String? = nil,
        amount: Int = 0,
        from: String? = nil,
        to: String? = nil,
        newPIN: String? = nil
    ) async throws -> ATM87Message {
        try await self.cardRequest(
            CardRequest(kind.code, amount: Int64(amount), from: from, to: to, pin: pin, newPIN: newPIN),
            pan: pan
        )
    }

    /// The 0200 of an ATM session's request: built, PIN blocks made (the PINs go no further), sent,
    /// and kept as `lastCardRequest` for a reversal. A timeout or a lost link is a `LinkError`.
    public func cardRequest(
        _ card: CardRequest,
        pan: String,
        timeout: Duration = .seconds(10)
    ) async throws -> ATM87Message {
        try await self.send(cardRequest: self.build(card, pan: pan), timeout: timeout)
    }

    /// Builds the 0200 (STAN, times, PIN blocks or the card session's token), without sending it: a
    /// terminal journals it first. It becomes `lastCardRequest`.
    public func build(_ card: CardRequest, pan: String) throws -> ATM87Message {
        self.lastCardRequest = nil
        let header = self.nextHeader()
        let credential: CardCredential
        if let pin = card.pin {
            credential = .pinBlock(try self.pinBlock(pin: pin, pan: pan))
        } else if let token = self.cardToken {
            credential = .token(token)
        } else {
            throw LinkError("no PIN and no card session")
        }
        let request = try FinancialRequest(
            header: header,
            pan: pan,
            processingCode: card.processingCode,
            amount: card.amount,
            currency: self.currency,
            from: card.from,
            to: card.to,
            credential: credential,
            newPINBlock: try card.newPIN.map { try self.pinBlock(pin: $0, pan: pan) }
        ).message()
        self.lastCardRequest = request
        return request
    }

    /// Sends a built 0200 and keeps the card session's token from its answer.
    public func send(cardRequest request: ATM87Message, timeout: Duration = .seconds(10)) async throws -> ATM87Message {
        let answer = try await self.send(request, timeout: timeout)
        if let token = answer[62] { self.cardToken = token }
        return answer
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

    /// Sends the reversal advice (0420, or 0421 for a repeat) of an earlier 0200 and returns its
    /// answer; `dispensed` is the cash actually given (nil: none).
    public func reversal(
        of original: ATM87Message,
        dispensed: Int?,
        repeatOf earlier: ATM87Message? = nil,
        timeout: Duration = .seconds(10)
    )
        async throws -> ATM87Message
    {
        let advice = try self.reversalAdvice(of: original, dispensed: dispensed, repeatOf: earlier)
        return try await self.send(advice, timeout: timeout)
    }

    // MARK: Staff and administration

    /// LOGIN: the password travels as a password block under the session PIN key.
    @discardableResult
    public func staffLogin(userName: String, password: String) async throws -> ATM87Message {
        guard let keys = self.keys else { throw LinkError("not signed on") }
        var request = try self.header(.administrativeRequest)
        let block = try PasswordBlock.encipher(
            password: password,
            key: keys.pin,
            terminal: self.terminal,
            stan: request[11]!,
            transmitted: request[7]!
        )
        try request.set(48, ATM87TLV(.login, [(.userName, userName), (.password, block)]).encoded)
        let answer = try await self.send(request)
        if answer[39] == "00", let token = answer[62] { self.staffToken = token }
        return answer
    }

    /// A 0600: the operation and its TLV elements, other fields as given, and a token (the staff
    /// token unless another is given).
    public func administrative(
        _ operation: AdminOperation,
        _ elements: [(AdminTag, String)] = [],
        fields: [Int: String] = [:],
        token: String? = nil
    ) async throws -> ATM87Message {
        try await self.administrative(operation.rawValue, elements.map { ($0.0.rawValue, $0.1) }, fields: fields, token: token)
    }

    /// A 0600 naming any operation by its text (a harness script may send one the switch refuses).
    public func administrative(
        _ operation: String,
        _ elements: [(String, String)] = [],
        fields: [Int: String] = [:],
        token: String? = nil
    ) async throws -> ATM87Message {
        var request = try self.header(.administrativeRequest)
        var tlv = ATM87TLV([.init("OP", operation)])
        for (tag, value) in elements { tlv.append(tag, value) }
        try request.set(48, tlv.encoded)
        for (field, value) in fields { try request.set(field, value) }
        if let token = token ?? self.staffToken { try request.set(62, token) }
        return try await self.send(request)
    }

    /// Ends the card session (LOGOUT with the card token): the token is refused from then on.
    @discardableResult
    public func endCardSession() async throws -> ATM87Message? {
        guard let token = self.cardToken else { return nil }
        self.cardToken = nil
        return try await self.administrative(.logout, token: token)
    }
}

public import ATM87
public import CashpointSecurity
public import CashpointTerminal
public import Crypto
public import Foundation

/// The terminal a script plays: its keys, tokens and STANs, the requests each step makes, and what
/// each answer changes. No I/O: the runner sends what this builds and hands back what came.
public struct ScriptTerminal {
    public let terminal: String
    let masterKey: SymmetricKey
    public var currency: String = "978"
    public private(set) var keys: SessionKeys?
    public var cardToken: String?
    public var staffToken: String?
    var lastSTAN: Int

    public init(terminal: String, masterKey: SymmetricKey, firstSTAN: Int) {
        self.terminal = terminal
        self.masterKey = masterKey
        self.lastSTAN = firstSTAN - 1
    }

    /// A step's own values: a fresh STAN and the transmission time, which its request carries and
    /// which the script reads as `${stan}`, `${time}`, `${localTime}`, `${localDate}`.
    public struct Stamp: Sendable, Hashable {
        public var trace: STAN
        public var time: TransmissionTime

        /// Field 11.
        public var stan: String { self.trace.field }

        public var variables: [String: String] {
            [
                "stan": self.stan, "time": self.time.transmission, "localTime": self.time.localTime,
                "localDate": self.time.localDate,
            ]
        }
    }

    public mutating func stamp(now: Date) -> Stamp {
        let trace = STAN.after(self.lastSTAN)
        self.lastSTAN = trace.value
        return Stamp(trace: trace, time: TransmissionTime(unixSeconds: Int(now.timeIntervalSince1970)))
    }

    /// The request header of a step: this terminal, the stamp's STAN and time.
    public func header(_ stamp: Stamp) -> RequestHeader {
        RequestHeader(terminal: self.terminal, stan: stamp.trace, time: stamp.time)
    }

    /// A request with fields 7, 11 and 41 (and 12 and 13 for a 0200) from the stamp.
    public func header(_ mti: MTI, _ stamp: Stamp) throws -> ATM87Message {
        try self.header(stamp).message(mti)
    }

    /// An ISO 9564 format 4 PIN block under the session PIN key.
    public func pinBlock(pin: String, pan: String) throws -> [UInt8] {
        guard let keys = self.keys else {
            throw ScriptError(.badStep, "a PIN block needs the session keys: sign on first")
        }
        var generator = SystemRandomNumberGenerator()
        return try PINBlock.encipher(pin: pin, pan: pan, key: keys.pin, using: &generator)
    }

    /// A network management request (field 70: 001 sign-on, 002 sign-off, 161 key change, 301 echo).
    public func network(_ code: String, _ stamp: Stamp) throws -> ATM87Message {
        var request = try self.header(.networkManagementRequest, stamp)
        try request.set(70, code)
        return request
    }

    /// A card's 0200: the PIN block when a PIN is given, else the card session's token.
    public func card(
        _ kind: TransactionKind,
        pan: String,
        pin: String?,
        newPIN: String?,
        amount: Int,
        from: String?,
        to: String?,
        _ stamp: Stamp
    ) throws -> ATM87Message {
        let credential: CardCredential
        if let pin {
            credential = .pinBlock(try self.pinBlock(pin: pin, pan: pan))
        } else if let token = self.cardToken {
            credential = .token(token)
        } else {
            throw ScriptError(
                .badStep,
                "a card step without a pin needs an open card session (an earlier approved PIN)"
            )
        }
        return try FinancialRequest(
            header: self.header(stamp),
            pan: pan,
            processingCode: kind.code,
            amount: Int64(amount),
            currency: self.currency,
            from: from,
            to: to,
            credential: credential,
            newPINBlock: try newPIN.map { try self.pinBlock(pin: $0, pan: pan) }
        ).message()
    }

    /// A reversal advice (0420) of an earlier 0200: its card, type, amount and currency, field 90
    /// naming it, and field 95 when part of the cash was dispensed.
    public func reversal(of original: ATM87Message, dispensed: Int?, _ stamp: Stamp) throws -> ATM87Message {
        try ReversalAdvice(
            reversing: original,
            header: self.header(stamp),
            replacement: dispensed.map { ReplacementAmounts(actual: Int64($0)) }
        ).message()
    }

    /// LOGIN: the password as a password block under the session PIN key, bound to this message, and
    /// a one-time code (`OT`) and an enrolment code (`EC`) when given, as code blocks bound to it too.
    public func login(
        user: String,
        password: String,
        code: String? = nil,
        enrolmentCode: String? = nil,
        _ stamp: Stamp
    ) throws -> ATM87Message {
        var secrets: [(AdminTag, String)] = [(.password, password)]
        if let code { secrets.append((.oneTimeCode, code)) }
        if let enrolmentCode { secrets.append((.enrolmentCode, enrolmentCode)) }
        return try self.administrative("LOGIN", [("UN", user)], fields: [:], token: nil, secrets: secrets, stamp)
    }

    /// A 0600 with `OP` and the elements, then the code blocks of `secrets` (bound to the stamp's STAN
    /// and time), other fields as given, and the token given (if any).
    public func administrative(
        _ operation: String,
        _ elements: [(String, String)],
        fields: [Int: String],
        token: String?,
        secrets: [(AdminTag, String)] = [],
        _ stamp: Stamp
    ) throws -> ATM87Message {
        var request = try self.header(.administrativeRequest, stamp)
        var tlv = ATM87TLV([.init("OP", operation)])
        for (tag, value) in elements { tlv.append(tag, value) }
        for (tag, text) in secrets { tlv.append(tag, try self.block(text, tag, stamp)) }
        try request.set(48, tlv.encoded)
        for (field, value) in fields.sorted(by: { $0.key < $1.key }) { try request.set(field, value) }
        if let token { try request.set(62, token) }
        return request
    }

    /// A code block (`PW`, `OT`, `EC`) under the session PIN key, bound to the stamp's STAN and time.
    public func block(_ text: String, _ tag: AdminTag, _ stamp: Stamp) throws -> String {
        guard let keys = self.keys else {
            throw ScriptError(.badStep, "a \(tag.rawValue) block needs the session keys: sign on first")
        }
        guard let purpose = tag.blockPurpose else { throw ScriptError(.badStep, "\(tag.rawValue) is not a code block") }
        return try MessageBlock.encipher(
            text,
            purpose: purpose,
            key: keys.pin,
            terminal: self.terminal,
            stan: stamp.stan,
            transmitted: stamp.time.transmission
        )
    }

    /// The clear text of a code block in an answer's field 48 (`SK`, `RC`, `EC`), deciphered with the
    /// answer's fields 11 and 7 (the request's, echoed); nil when the answer has no such element.
    public func reveal(_ tag: AdminTag, in answer: ATM87Message) throws(ScriptError) -> String? {
        guard let keys = self.keys else {
            throw ScriptError(.badStep, "48.\(tag.rawValue) cannot be deciphered: no session keys")
        }
        do {
            return try MessageBlock.reveal(tag, in: answer, key: keys.pin, terminal: self.terminal)
        } catch {
            throw ScriptError(.badStep, "48.\(tag.rawValue): \(error.description)")
        }
    }

    /// Whether a request is a sign-on, which is MACed under the key derived from the master key.
    static func isSignOn(_ message: ATM87Message) -> Bool {
        message.mti == .networkManagementRequest && message[70] == "001"
    }

    /// The request signed as the protocol says (`auto`), unsigned (`none`), or with a MAC that cannot verify (`bad`).
    public func sign(_ message: ATM87Message, _ mode: Script.MACMode = .auto) throws -> ATM87Message {
        let key: SymmetricKey
        if Self.isSignOn(message) {
            key = SignOnKey.derive(from: self.masterKey)
        } else if let keys = self.keys {
            key = keys.mac
        } else {
            // Not signed on: there is no key to sign with, and the switch answers 58 either way.
            guard mode == .bad else { return message }
            key = SymmetricKey(size: .bits256)
        }
        switch mode {
        case .none: return message
        case .auto: return try MessageAuthentication.sign(message, key: key)
        case .bad:
            var signed = try MessageAuthentication.sign(message, key: key)
            let field = MessageAuthentication.macField(of: signed)
            var mac = signed.binary(field) ?? []
            if !mac.isEmpty { mac[mac.count - 1] ^= 0x01 }
            try signed.set(field, bytes: mac)
            return signed
        }
    }

    /// What an answer changes: keys after a sign-on or key change (their MAC checked), none after a
    /// sign-off, the card session's and the staff token. Returns what was wrong with the answer's MAC
    /// or keys, if anything (the answer must then not be acted on).
    public mutating func absorb(_ answer: ATM87Message, to request: ATM87Message?) -> String? {
        let approved = answer[39] == "00"
        if let request, Self.isSignOn(request) {
            guard approved else { return nil }
            guard let material = answer[120] else { return "the sign-on answer has no keys (field 120)" }
            do {
                let keys = try KeyMaterial.decode(material, under: self.masterKey)
                if let failure = MessageAuthentication.verify(answer, key: keys.mac) {
                    return "the sign-on answer failed its MAC check under the new keys: \(failure.rawValue)"
                }
                self.keys = keys
            } catch {
                return "the sign-on answer's keys do not unwrap: \(error)"
            }
            return nil
        }
        if let keys = self.keys, answer.contains(64) || answer.contains(128),
            let failure = MessageAuthentication.verify(answer, key: keys.mac)
        {
            return "the answer failed its MAC check: \(failure.rawValue)"
        }
        guard let request else { return nil }
        switch (request.mti, request[70]) {
        case (.financialRequest, _):
            // An approved PIN opens the card session whatever the transaction's own outcome.
            if let token = answer[62] { self.cardToken = token }
        case (.administrativeRequest, _):
            // A token in a 0610 is the staff token: from an approved LOGIN, and a new one from a step-up
            // (a request that carried a one-time code), whatever its own outcome (a held change: 09).
            // A LOGOUT's answer, or the answer to a request made with another token, changes nothing.
            let operation = request[48].flatMap { try? ATM87TLV(parsing: $0) }?["OP"]
            let ours = operation == "LOGIN" ? approved : request[62] == nil || request[62] == self.staffToken
            if let token = answer[62], operation != "LOGOUT", ours {
                self.staffToken = token
            }
        case _ where !approved:
            break
        case (.networkManagementRequest, "161"?):
            guard let material = answer[120] else { return "the key change answer has no keys (field 120)" }
            do {
                self.keys = try KeyMaterial.decode(material, under: self.masterKey)
            } catch {
                return "the key change answer's keys do not unwrap: \(error)"
            }
        case (.networkManagementRequest, "002"?):
            self.keys = nil
        default:
            break
        }
        return nil
    }
}

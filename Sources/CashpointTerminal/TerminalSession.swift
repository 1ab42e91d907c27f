public import ATM87
public import CashpointSecurity
public import Crypto
public import Foundation

/// A terminal's side of the protocol over one link, one exchange at a time: each request is signed,
/// sent, and its answer awaited and checked (`TerminalProtocol` builds and checks). The teller desk, the
/// operator's commands and the harness use it; the ATM's controller, which must never wait inside an
/// action, uses `TerminalProtocol` over an `ATMConnection` instead.
public final class TerminalSession: TerminalProtocol {
    public let link: SwitchLink

    public init(
        link: SwitchLink,
        terminal: String,
        masterKey: SymmetricKey,
        currency: String = "978",
        firstSTAN: Int = Int.random(in: 1...900_000),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.link = link
        super.init(terminal: terminal, masterKey: masterKey, currency: currency, firstSTAN: firstSTAN, now: now)
    }

    // MARK: Sending

    /// Signs (when signed on), sends, and checks the answer (its STAN and MAC). An answer that does
    /// not check is an error: the terminal must not act on it.
    public func send(
        _ message: ATM87Message,
        sign: Bool = true,
        timeout: Duration = .seconds(10)
    ) async throws -> ATM87Message {
        let outgoing = sign ? try self.signed(message) : message
        let answer = try await self.link.exchange(outgoing, timeout: timeout)
        return try self.checked(answer, answering: message)
    }

    // MARK: Network management

    /// Sign-on (0800/001): the answer's keys become the session's.
    @discardableResult
    public func signOn() async throws -> ATM87Message {
        try self.acceptSignOn(try await self.link.exchange(self.signOnRequest()))
    }

    /// Key change (0800/161): the answer is MACed under the old key and carries the new keys.
    @discardableResult
    public func changeKeys() async throws -> ATM87Message {
        try self.acceptKeyChange(try await self.send(self.networkRequest(.keyChange)))
    }

    @discardableResult
    public func echo() async throws -> ATM87Message { try await self.send(self.networkRequest(.echo)) }

    @discardableResult
    public func signOff() async throws -> ATM87Message {
        let answer = try await self.send(self.networkRequest(.signOff))
        self.acceptSignOff(answer)
        return answer
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
            CardRequest(kind.code, pan: pan, amount: Int64(amount), from: from, to: to, pin: pin, newPIN: newPIN)
        )
    }

    /// The 0200 of a card request: built, PIN blocks made (the PINs go no further), sent, and kept as
    /// `lastCardRequest` for a reversal. A timeout or a lost link is a `LinkError`.
    public func cardRequest(_ card: CardRequest, timeout: Duration = .seconds(10)) async throws -> ATM87Message {
        try await self.send(cardRequest: self.build(card), timeout: timeout)
    }

    /// Sends a built 0200 and keeps the card session's token from its answer.
    public func send(cardRequest request: ATM87Message, timeout: Duration = .seconds(10)) async throws -> ATM87Message {
        let answer = try await self.send(request, timeout: timeout)
        self.acceptCardAnswer(answer)
        return answer
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
    public func staffLogin(userName: String, password: String, code: String? = nil) async throws -> ATM87Message {
        guard let keys = self.keys else { throw LinkError("not signed on") }
        var request = try self.header(.administrativeRequest)
        let block = try PasswordBlock.encipher(
            password: password,
            key: keys.pin,
            terminal: self.terminal,
            stan: request[11]!,
            transmitted: request[7]!
        )
        var elements: [(AdminTag, String)] = [(.userName, userName), (.password, block)]
        if let code {
            elements.append(
                (
                    .oneTimeCode,
                    try MessageBlock.encipher(
                        code, purpose: .code, key: keys.pin, terminal: self.terminal, stan: request[11]!,
                        transmitted: request[7]!)
                )
            )
        }
        try request.set(48, ATM87TLV(.login, elements).encoded)
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
        try await self.send(self.administrativeRequest(operation, elements, fields: fields, token: token))
    }

    /// Ends the card session (LOGOUT with the card token): the token is refused from then on.
    @discardableResult
    public func endCardSession() async throws -> ATM87Message? {
        guard let request = try self.logoutRequest() else { return nil }
        return try await self.send(request)
    }
}

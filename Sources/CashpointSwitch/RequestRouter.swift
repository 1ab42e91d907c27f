public import ATM87
import CashpointDatabase
public import CashpointBank
import CashpointSecurity
import Crypto
import Foundation
public import Logging
import Metrics

/// Where a request came from.
public struct Peer: Sendable, Hashable {
    public var ip: String?
    public var connection: Int

    public init(ip: String?, connection: Int) {
        self.ip = ip
        self.connection = connection
    }
}

/// A request refused before it reached the bank: answered with `code`; `reason` goes to the log (and,
/// shortened, to field 44); `audit` names the audit action when the refusal is a security event.
struct Refusal: Error {
    var code: ResponseCode
    var reason: String
    var audit: String?

    init(_ code: ResponseCode, _ reason: String, audit: String? = nil) {
        self.code = code
        self.reason = reason
        self.audit = audit
    }
}

/// One request in flight: what was asked, by which terminal, with which session keys.
struct Exchange {
    var request: ATM87Message
    var terminal: String
    var stan: String
    var transmitted: String
    var peer: Peer
    var keys: SessionKeys?
    var logger: Logger

    var key: IdempotencyKey { IdempotencyKey(terminal: self.terminal, stan: self.stan, transmitted: self.transmitted) }
}

/// The protocol layer between the TCP server and the bank: a decoded request in, its response out.
/// It checks the message rules, the terminal's session and MAC, the card's PIN block or token, turns
/// the request into one call of the bank API (`Bank`), and builds, signs, logs and counts the answer.
/// It never reaches the store but through the bank. The server calls it once per frame, in order per
/// connection.
///
/// - 0800: sign-on (001) is MACed under the key derived from the terminal's master key and returns
///   fresh session keys; echo (301), sign-off (002) and key change (161) need the session MAC.
/// - 0200, 0420/0421, 0600, 0500: need the session MAC (field 64, or 128 with a secondary bitmap).
///   A wrong or missing MAC is answered 63, audited, and nothing is done.
/// - Every response after sign-on carries a MAC under the session MAC key.
public final class RequestRouter: Sendable {
    public let bank: Bank
    public let sessions: TerminalSessions
    public let tokens: SessionTokens
    public let health: DatabaseHealth
    public let configuration: SwitchConfiguration
    /// Sanctions screening at CREATE; nil: customers are recorded not screened.
    public let screening: CustomerScreening?
    let logger: Logger
    let metrics = SwitchMetrics()

    public init(
        bank: Bank,
        sessions: TerminalSessions,
        tokens: SessionTokens,
        health: DatabaseHealth,
        configuration: SwitchConfiguration,
        screening: CustomerScreening? = nil,
        logger: Logger
    ) {
        self.screening = screening
        self.bank = bank
        self.sessions = sessions
        self.tokens = tokens
        self.health = health
        self.configuration = configuration
        self.logger = logger
    }

    /// The answer to a frame that did not decode: a 30 when its MTI and STAN could be read (the
    /// caller keeps the connection), nil when not (the caller closes it).
    public func respond(toMalformed error: ATM87Error, from peer: Peer) -> ATM87Message? {
        var logger = self.logger
        logger[metadataKey: LogKey.connection] = "\(peer.connection)"
        guard let mti = error.mti, let stan = error.stan, !mti.isResponse,
            let responseMTI = ATM87Spec.message(mti)?.response,
            stan.utf8.count == 6, stan.utf8.allSatisfy({ (0x30...0x39).contains($0) })
        else {
            logger.warning(
                "malformed frame without a readable MTI and STAN: closing",
                metadata: [LogKey.error: "\(error)"]
            )
            self.metrics.malformedClosed.increment()
            return nil
        }
        logger.warning(
            "malformed message answered 30",
            metadata: [LogKey.mti: "\(mti)", LogKey.stan: "\(stan)", LogKey.error: "\(error)"]
        )
        self.metrics.malformedAnswered.increment()
        var response = ATM87Message(mti: responseMTI)
        try? response.set(11, stan)
        try? response.set(39, ResponseCode.formatError.rawValue)
        try? response.set(44, Self.shortReason(error.code.description))
        return response
    }

    /// The answer to a decoded request; nil for a message that gets no answer (a response sent to the
    /// switch).
    public func respond(to request: ATM87Message, from peer: Peer) async -> ATM87Message? {
        let started = ContinuousClock.now
        // The request's metadata (connection, MTI, STAN, terminal, masked PAN, processing code) is
        // made only for a line that is logged.
        let logger = RequestLogHandler.logger(self.logger, for: request, connection: peer.connection)

        guard !request.mti.isResponse else {
            logger.warning("a response-type message sent to the switch: dropped")
            self.metrics.requests(mti: request.mti, code: "none").increment()
            return nil
        }
        var response: ATM87Message
        guard ATM87Spec.message(request.mti)?.response != nil else {
            // A request type outside ATM-87 (0100, 0400, 0820, ...): its response type, 12, so the
            // terminal need not wait for its own timeout. No MAC: the request's was not checked, and
            // the switch signs nothing on behalf of an unchecked sender.
            logger.notice("a request type the switch does not serve: answered 12")
            response = Self.unservedResponse(to: request)
            self.metrics.requests(mti: request.mti, code: "12").increment()
            return response
        }
        self.metrics.inFlight.increment()
        defer { self.metrics.inFlight.decrement() }
        do {
            response = try await self.health.guarding { [self, logger] in
                try await self.handle(request, peer: peer, logger: logger)
            }
        } catch let error as DatabaseUnavailable {
            let code = Bank.responseCode(for: error)
            logger.error(
                "database unavailable",
                metadata: [LogKey.error: "\(error)", LogKey.responseCode: "\(code.rawValue)"]
            )
            let reason = error.kind == .deadlineExceeded ? "deadline passed" : "database unreachable"
            response = self.plainResponse(to: request, code: code, reason: reason)
            // The session keys are usually cached, so the answer is MACed even with no database.
            response = await self.signIfPossible(response, terminal: request.trimmed(41), logger: logger)
        } catch {
            let code = Bank.responseCode(for: error)
            logger.error(
                "request failed",
                metadata: [LogKey.error: "\(error)", LogKey.responseCode: "\(code.rawValue)"]
            )
            response = self.plainResponse(to: request, code: code, reason: nil)
            response = await self.signIfPossible(response, terminal: request.trimmed(41), logger: logger)
        }
        let code = response[39] ?? "--"
        let elapsed = ContinuousClock.now - started
        self.metrics.requests(mti: request.mti, code: code).increment()
        self.metrics.duration(mti: request.mti).recordNanoseconds(elapsed.totalNanoseconds)
        logger.info(
            "answered",
            metadata: [
                LogKey.responseCode: "\(code)",
                LogKey.latencyMs: "\(String(format: "%.2f", Double(elapsed.totalNanoseconds) / 1_000_000))",
            ]
        )
        return response
    }

    func handle(_ request: ATM87Message, peer: Peer, logger: Logger) async throws -> ATM87Message {
        // A misplaced MAC is a security matter (63 and an audit row, at the MAC check below), and an
        // unknown processing code an invalid transaction (12, after the MAC check); the rest is 30.
        let checked = ATM87Rules.check(request)
        let unknownProcessingCode = checked.contains { $0.kind == .valueNotAllowed && $0.fields == [3] }
        let violations = checked.filter {
            $0.kind != .macInWrongField && !($0.kind == .valueNotAllowed && $0.fields == [3])
        }
        guard violations.isEmpty else {
            let reason = violations.map(\.description).joined(separator: "; ")
            logger.warning("request breaks the message rules: answered 30", metadata: [LogKey.violations: "\(reason)"])
            let response = self.plainResponse(to: request, code: .formatError, reason: violations[0].kind.rawValue)
            return await self.signIfPossible(response, terminal: request.trimmed(41), logger: logger)
        }
        var exchange = Exchange(
            request: request,
            terminal: request.trimmed(41) ?? "",
            stan: request[11] ?? "",
            transmitted: request[7] ?? "",
            peer: peer,
            keys: nil,
            logger: logger
        )
        guard exchange.key.isWellFormed else {
            return self.plainResponse(to: request, code: .formatError, reason: "terminal id: 1-8 A-Z 0-9")
        }
        // Sign-on carries no session MAC (it is how the terminal gets its MAC key): it is checked under
        // the master-derived sign-on key instead.
        if request.mti == .networkManagementRequest, request[70] == "001" {
            return try await self.signOn(exchange, keyChange: false)
        }
        guard let keys = try await self.sessions.keys(for: exchange.terminal) else {
            logger.notice("request from a terminal without a session: answered 58")
            return self.plainResponse(to: request, code: .notPermittedToTerminal, reason: "sign on first")
        }
        exchange.keys = keys
        if let failure = MessageAuthentication.verify(request, key: keys.mac) {
            // Another switch instance may have changed the keys: read them again once.
            if failure == .wrong, let fresh = try await self.sessions.keys(for: exchange.terminal, reload: true),
                MessageAuthentication.verify(request, key: fresh.mac) == nil
            {
                exchange.keys = fresh
            } else {
                try await self.bank.recordRefusal(
                    "mac.refused",
                    code: .securityViolation,
                    terminal: exchange.terminal,
                    ip: exchange.peer.ip,
                    details: [LogKey.mti: "\(request.mti)", "stan": exchange.stan, "reason": failure.rawValue]
                )
                logger.warning("MAC refused: answered 63", metadata: [LogKey.reason: "\(failure.rawValue)"])
                return try self.sign(
                    self.plainResponse(to: request, code: .securityViolation, reason: "MAC"),
                    exchange
                )
            }
        }
        if unknownProcessingCode {
            logger.notice("unknown processing code: answered 12")
            var refused = self.plainResponse(to: request, code: .invalidTransaction, reason: "processing code")
            try await self.setReference(&refused, transactionID: nil)
            return try self.sign(refused, exchange)
        }
        let response: ATM87Message
        do {
            switch request.mti {
            case .networkManagementRequest:
                return try await self.networkManagement(exchange)
            case .financialRequest:
                response = try await self.financial(exchange)
            case .reversalAdvice, .reversalAdviceRepeat:
                response = try await self.reversal(exchange)
            case .administrativeRequest:
                response = try await self.administrative(exchange)
            case .reconciliationRequest:
                response = try await self.reconciliation(exchange)
            default:
                response = self.plainResponse(to: request, code: .invalidTransaction, reason: "unsupported")
            }
        } catch let refusal as Refusal {
            var refused = self.plainResponse(to: request, code: refusal.code, reason: refusal.reason)
            if refused.mti == .financialResponse || refused.mti == .reversalResponse {
                try await self.setReference(&refused, transactionID: nil)
            }
            if let action = refusal.audit {
                try await self.bank.recordRefusal(
                    action,
                    code: refusal.code,
                    terminal: exchange.terminal,
                    ip: exchange.peer.ip,
                    details: [LogKey.mti: "\(request.mti)", "stan": exchange.stan, "reason": refusal.reason]
                )
            }
            logger.notice(
                "refused",
                metadata: [LogKey.reason: "\(refusal.reason)", LogKey.responseCode: "\(refusal.code.rawValue)"]
            )
            return try self.sign(refused, exchange)
        }
        return try self.sign(response, exchange)
    }

    // MARK: Responses

    /// The response with the echoed fields, field 39 and, when given, a short reason in field 44.
    func plainResponse(to request: ATM87Message, code: ResponseCode, reason: String?) -> ATM87Message {
        var response: ATM87Message
        if let made = try? request.makeResponse() {
            response = made
        } else {
            response = ATM87Message(mti: ATM87Spec.message(request.mti)?.response ?? request.mti)
            if let stan = request[11] { try? response.set(11, stan) }
        }
        // Responses that must carry a field the request lacked still say who and when.
        for field in [7, 41] where !response.contains(field) {
            if let value = request[field] { try? response.set(field, value) }
        }
        try? response.set(39, code.rawValue)
        if let reason, code != .approved { try? response.set(44, Self.shortReason(reason)) }
        return response
    }

    /// Field 37, the retrieval reference number: a posting's (or reversal's) is its transaction id in
    /// 12 digits, so a repeat gets the same one; any other answer's is `R` and 11 digits from numbers
    /// the database hands out 1,000 at a time. When the database cannot hand out more, the answer goes
    /// without one (and says so in the log).
    func setReference(_ response: inout ATM87Message, transactionID: Int64?) async throws {
        if let transactionID {
            try response.set(37, Self.digits(transactionID % 1_000_000_000_000, 12))
            return
        }
        let number: Int64
        do {
            number = try await self.bank.nextReference()
        } catch {
            self.logger.warning("no retrieval reference numbers: answered without field 37")
            return
        }
        try response.set(37, "R" + Self.digits(number % 100_000_000_000, 11))
    }

    /// The bank's currency (ISO 4217 numeric).
    func bankCurrency() async throws -> String {
        guard let currency = try await self.bank.currency() else {
            throw Refusal(.systemMalfunction, "the bank has no currency configured")
        }
        return currency
    }

    /// The answer to a request type outside ATM-87: its response type (function digit plus one),
    /// fields 7, 11 and 41 as the request had them, and 12.
    static func unservedResponse(to request: ATM87Message) -> ATM87Message {
        var response = ATM87Message(mti: MTI(rawValue: request.mti.rawValue + 10))
        for field in [7, 11, 41] {
            if let value = request[field] { try? response.set(field, value) }
        }
        try? response.set(39, ResponseCode.invalidTransaction.rawValue)
        try? response.set(44, "message type not served")
        return response
    }

    func sign(_ response: ATM87Message, _ exchange: Exchange) throws -> ATM87Message {
        guard let keys = exchange.keys else { return response }
        return try MessageAuthentication.sign(response, key: keys.mac)
    }

    func signIfPossible(_ response: ATM87Message, terminal: String?, logger: Logger) async -> ATM87Message {
        guard let terminal, let keys = try? await self.sessions.keys(for: terminal) else { return response }
        return (try? MessageAuthentication.sign(response, key: keys.mac)) ?? response
    }

    /// Field 44 holds 25 printable characters.
    static func shortReason(_ text: String) -> String {
        let printable = text.unicodeScalars.map {
            $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?"
        }
        return String(String(printable).prefix(25))
    }
}

extension Duration {
    var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

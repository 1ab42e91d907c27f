import ATM87
import CashpointBank
import CashpointSecurity
import Foundation
import Logging

extension RequestRouter {
    /// Sign-on (001) and key change (161): fresh PIN and MAC keys in field 120, wrapped under the
    /// terminal master key. The sign-on 0810 is MACed under the new MAC key (the terminal checks it
    /// after unwrapping); the key change 0810 under the old one (the terminal switches after checking).
    func signOn(_ exchange: Exchange, keyChange: Bool) async throws -> ATM87Message {
        let request = exchange.request
        if !keyChange {
            // A sign-on's transmission time must be within 5 minutes of the switch's clock, and its
            // (STAN, time) new (checked in the database): a captured sign-on cannot be replayed.
            let now = self.configuration.now()
            guard let sent = Self.transmissionDate(exchange.transmitted, near: now),
                abs(sent.timeIntervalSince(now)) <= 300
            else {
                exchange.logger.warning("sign-on refused: its time is more than 5 minutes off")
                try await self.bank.recordRefusal(
                    "terminal.signon",
                    code: .securityViolation,
                    terminal: exchange.terminal,
                    ip: exchange.peer.ip,
                    details: ["reason": "transmission time more than 5 minutes off", "stan": exchange.stan]
                )
                return self.plainResponse(to: request, code: .securityViolation, reason: "clock")
            }
        }
        let outcome = try await self.sessions.start(
            terminal: exchange.terminal,
            keyChange: keyChange,
            stan: exchange.stan,
            ip: exchange.peer.ip,
            signOnRequest: keyChange ? nil : request
        )
        switch outcome {
        case .refused(let code, let reason):
            exchange.logger.warning("sign-on refused", metadata: [LogKey.reason: "\(reason)"])
            return try self.sign(
                self.plainResponse(to: request, code: ResponseCode(rawValue: code), reason: reason),
                exchange
            )
        case .started(let keys, let material, let generation):
            exchange.logger.notice(
                keyChange ? "session keys changed" : "terminal signed on",
                metadata: [LogKey.generation: "\(generation)", LogKey.pinKeyCheck: "\(KeyCheckValue.of(keys.pin))"]
            )
            var response = self.plainResponse(to: request, code: .approved, reason: nil)
            try response.set(120, material)
            if keyChange {
                return try self.sign(response, exchange)
            }
            var signed = exchange
            signed.keys = keys
            return try self.sign(response, signed)
        }
    }

    func networkManagement(_ exchange: Exchange) async throws -> ATM87Message {
        let request = exchange.request
        switch request[70] {
        case "301":
            return try self.sign(self.plainResponse(to: request, code: .approved, reason: nil), exchange)
        case "002":
            // Answered under the session's MAC key, which is then forgotten.
            let response = try self.sign(self.plainResponse(to: request, code: .approved, reason: nil), exchange)
            try await self.sessions.end(terminal: exchange.terminal, stan: exchange.stan, ip: exchange.peer.ip)
            exchange.logger.notice("terminal signed off")
            return response
        case "161":
            return try await self.signOn(exchange, keyChange: true)
        default:
            return try self.sign(
                self.plainResponse(to: request, code: .invalidTransaction, reason: "network code"),
                exchange
            )
        }
    }
}

extension RequestRouter {
    /// Field 7 (MMDDhhmmss, UTC, no year) as the instant nearest to `now`.
    static func transmissionDate(_ field7: String, near now: Date) -> Date? {
        let digits = Array(field7.utf8)
        guard digits.count == 10, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        func part(_ index: Int) -> Int { Int(digits[index] - 0x30) * 10 + Int(digits[index + 1] - 0x30) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let year = calendar.component(.year, from: now)
        let candidates = [year - 1, year, year + 1].compactMap { year -> Date? in
            var components = DateComponents()
            components.year = year
            components.month = part(0)
            components.day = part(2)
            components.hour = part(4)
            components.minute = part(6)
            components.second = part(8)
            guard let date = calendar.date(from: components),
                calendar.component(.month, from: date) == part(0), calendar.component(.day, from: date) == part(2)
            else { return nil }
            return date
        }
        return candidates.min { abs($0.timeIntervalSince(now)) < abs($1.timeIntervalSince(now)) }
    }
}

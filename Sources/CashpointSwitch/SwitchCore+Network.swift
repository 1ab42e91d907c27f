import ATM87
import CashpointBank
import CashpointSecurity
import Logging

extension SwitchCore {
    /// Sign-on (001) and key change (161): fresh PIN and MAC keys in field 120, wrapped under the
    /// terminal master key. The sign-on 0810 is MACed under the new MAC key (the terminal checks it
    /// after unwrapping); the key change 0810 under the old one (the terminal switches after checking).
    func signOn(_ exchange: Exchange, keyChange: Bool) async throws -> ATM87Message {
        let request = exchange.request
        let outcome = try await self.sessions.start(
            terminal: exchange.terminal,
            keyChange: keyChange,
            stan: exchange.stan,
            ip: exchange.peer.ip
        )
        switch outcome {
        case .refused(let reason):
            exchange.logger.warning("sign-on refused", metadata: [LogKey.reason: "\(reason)"])
            return try self.sign(
                self.plainResponse(to: request, code: .notPermittedToTerminal, reason: reason),
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

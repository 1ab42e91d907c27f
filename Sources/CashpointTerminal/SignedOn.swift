import ATM87
import CashpointSecurity

/// The switch refused a terminal's sign-on.
public struct SignOnRefused: Error, Hashable, Sendable, CustomStringConvertible {
    public var terminal: String
    /// Field 39 of the answer, when it had one.
    public var code: String?

    public var description: String { "the switch refused the sign-on of \(self.terminal) (\(self.code ?? "no code"))" }
}

extension TerminalSession {
    /// Connects to the configured switch, signs on as the configured terminal with its master key, runs
    /// `body` with the session, and signs off. Throws `TerminalConfiguration.StartError` when the key
    /// cannot be loaded, `SignOnRefused`, and `LinkError` when the link fails.
    public static func withSignedOn<T: Sendable>(
        _ configuration: TerminalConfiguration,
        _ body: (TerminalSession) async throws -> T
    ) async throws -> T {
        let key = try configuration.loadMasterKey()
        return try await SwitchLink.with(host: configuration.host, port: configuration.port) { link in
            let session = TerminalSession(
                link: link,
                terminal: configuration.terminal,
                masterKey: key.key,
                currency: configuration.currency
            )
            let answer = try await session.signOn()
            guard answer[39] == "00" else { throw SignOnRefused(terminal: configuration.terminal, code: answer[39]) }
            let result = try await body(session)
            _ = try? await session.signOff()
            return result
        }
    }
}

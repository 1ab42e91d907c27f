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
    /// Connects to the first of the configured switches that answers, signs on as the configured
    /// terminal with its master key, runs `body` with the session and the link (`SwitchLinks`, whose
    /// `signOn(_:next:)` moves the session to the next switch after a lost link), and signs off.
    /// Throws `TerminalConfiguration.StartError` when the key cannot be loaded, and, when no switch
    /// signs the terminal on, the last one's `SignOnRefused` or `LinkError`.
    public static func withSignedOn<T: Sendable>(
        _ configuration: TerminalConfiguration,
        connector: any ATMConnector = TCPConnector(),
        _ body: (TerminalSession, SwitchLinks) async throws -> T
    ) async throws -> T {
        let key = try configuration.loadMasterKey()
        let links = SwitchLinks(configuration.switches, connector: connector)
        defer { links.close() }
        let session = TerminalSession(
            link: links,
            terminal: configuration.terminal,
            masterKey: key.key,
            currency: configuration.currency
        )
        try await links.signOn(session)
        let result = try await body(session, links)
        _ = try? await session.signOff()
        return result
    }

    /// The same, for a body that needs only the session.
    public static func withSignedOn<T: Sendable>(
        _ configuration: TerminalConfiguration,
        _ body: (TerminalSession) async throws -> T
    ) async throws -> T {
        try await self.withSignedOn(configuration) { session, _ in try await body(session) }
    }
}

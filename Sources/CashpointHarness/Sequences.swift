public import ATM87
public import Crypto

/// The name the first sequences had: a sequence is a script (ScriptModel.swift), and its runner plays
/// it through ScriptRunner.
public typealias Sequence = Script

/// Plays one sequence with one terminal master key and counts the steps that did not pass.
public struct SequenceRunner: Sendable {
    public var host: String
    public var port: Int
    public var masterKey: SymmetricKey
    public var say: @Sendable (String) -> Void
    /// Sees every answer, with the step that drew it (a test checks each against the rules).
    public var inspect: @Sendable (Sequence.Step, ATM87Message) -> Void

    public init(
        host: String,
        port: Int,
        masterKey: SymmetricKey,
        say: @escaping @Sendable (String) -> Void,
        inspect: @escaping @Sendable (Sequence.Step, ATM87Message) -> Void = { _, _ in }
    ) {
        self.host = host
        self.port = port
        self.masterKey = masterKey
        self.say = say
        self.inspect = inspect
    }

    /// Runs every step; returns the number of steps that failed or could not be done.
    public func run(_ sequence: Sequence) async throws -> Int {
        let key = self.masterKey
        let result = await ScriptRunner(
            host: self.host,
            port: self.port,
            masterKey: { _ in key },
            say: self.say,
            inspect: self.inspect
        ).run(sequence)
        return result.failed + result.errors
    }
}

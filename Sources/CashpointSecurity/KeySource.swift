public import Foundation

/// Where a command finds a secret key: a key file named by its option, else the key file named by an
/// environment variable, else the key itself (64 hex characters) in another variable.
public struct KeySource: Sendable, Hashable {
    /// The key's name in messages ("pepper", "audit key").
    public var name: String
    /// The variable naming its key file.
    public var fileVariable: String
    /// The variable holding the key itself.
    public var valueVariable: String

    public init(name: String, fileVariable: String, valueVariable: String) {
        self.name = name
        self.fileVariable = fileVariable
        self.valueVariable = valueVariable
    }

    /// The pepper of the PAN, PIN and password digests.
    public static let pepper = KeySource(
        name: "pepper",
        fileVariable: "CASHPOINT_PEPPER_FILE",
        valueVariable: "CASHPOINT_PEPPER"
    )
    /// The audit chain's key.
    public static let auditKey = KeySource(
        name: "audit key",
        fileVariable: "CASHPOINT_AUDIT_KEY_FILE",
        valueVariable: "CASHPOINT_AUDIT_KEY"
    )
    /// The switch key (seals terminal keys, signs session tokens).
    public static let switchKey = KeySource(
        name: "switch key",
        fileVariable: "CASHPOINT_SWITCH_KEY_FILE",
        valueVariable: "CASHPOINT_SWITCH_KEY"
    )

    /// Whether the key is given at all: a file option, or either variable.
    public func isGiven(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        file != nil || environment[self.fileVariable] != nil || environment[self.valueVariable] != nil
    }

    /// The key from the file option, else the file variable, else the value variable.
    public func load(
        file: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SecretKey.LoadError) -> SecretKey {
        if let path = file ?? environment[self.fileVariable] {
            return try SecretKey(contentsOfFile: path, name: self.name)
        }
        if let value = environment[self.valueVariable] {
            return try SecretKey(hex: value, name: self.name)
        }
        throw SecretKey.LoadError(
            reason: "no \(self.name): pass its key file, or set \(self.fileVariable) or \(self.valueVariable)"
        )
    }

    /// The key if it is given (`isGiven`), else nil: for a key a command can do without.
    public func loadIfGiven(
        file: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SecretKey.LoadError) -> SecretKey? {
        guard self.isGiven(file: file, environment: environment) else { return nil }
        return try self.load(file: file, environment: environment)
    }
}

extension SecretKey {
    /// Writes a new random key to a new file readable by its owner only; an existing file is never
    /// overwritten.
    public static func createKeyFile(atPath path: String) throws(LoadError) {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw LoadError(reason: "\(path) exists: keys are never overwritten")
        }
        let written = FileManager.default.createFile(
            atPath: path,
            contents: Data((SecretKey.generate().hexForKeyFile + "\n").utf8),
            attributes: [.posixPermissions: 0o600]
        )
        guard written else { throw LoadError(reason: "cannot write \(path)") }
    }
}

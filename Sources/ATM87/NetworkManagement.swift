/// Field 70 of a network management request (0800): what the terminal asks of the link.
public enum NetworkManagementCode: String, Sendable, Hashable, CaseIterable {
    /// Sign-on: the switch delivers fresh session keys (field 120).
    case signOn = "001"
    /// Sign-off: the session keys are forgotten.
    case signOff = "002"
    /// Key change: new session keys under the old MAC key.
    case keyChange = "161"
    /// Echo test: the link answers.
    case echo = "301"

    /// Field 70.
    public var field: String { self.rawValue }
}

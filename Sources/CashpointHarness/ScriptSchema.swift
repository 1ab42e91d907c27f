/// The keys a script may have: at its top, in an included file, in a step (per action), in an
/// expectation. docs/harness.md's tables list the same; ScriptLoader refuses any other key.
public enum ScriptSchema {
    public static let topKeys = ["name", "description", "terminal", "variables", "data", "repeat", "steps"]
    /// An included file gives steps only: its other keys would not be used.
    public static let includedKeys = ["description", "steps"]
    /// Keys of every step.
    public static let stepKeys = ["name", "action", "set", "when"]
    /// Keys of a step that waits for an answer.
    static let answered = ["expect", "capture", "within", "timeout"]

    /// Each action's arguments: the ones it needs, and the ones it may have (beside `stepKeys`).
    public static let actions: [String: (required: [String], optional: [String])] = [
        "signOn": ([], answered + ["mac"]),
        "echo": ([], answered + ["mac"]),
        "keyChange": ([], answered + ["mac"]),
        "signOff": ([], answered + ["mac"]),
        "card": (["kind", "pan"], ["pin", "newPIN", "amount", "from", "to"] + answered + ["mac"]),
        "reversal": (["original"], ["dispensed"] + answered + ["mac"]),
        "login": (["user", "password"], ["totp", "code", "enrolmentCode"] + answered + ["mac"]),
        "admin": (["op"], ["tlv", "fields", "token", "totp", "code", "reason", "document"] + answered + ["mac"]),
        "endCardSession": ([], answered + ["mac"]),
        "send": (["mti"], ["fields", "omit"] + answered + ["mac"]),
        "raw": (["hex"], answered),
        "frame": (["hex"], answered),
        "wait": (["duration"], []),
        "disconnect": ([], []),
        "reconnect": ([], []),
        "expectClosed": ([], ["within", "timeout"]),
        "expectNoAnswer": ([], ["within", "timeout"]),
    ]

    /// The actions in the order docs/harness.md gives them.
    public static let actionNames = [
        "signOn", "echo", "keyChange", "signOff", "card", "reversal", "login", "admin", "endCardSession", "send",
        "raw", "frame", "wait", "disconnect", "reconnect", "expectClosed", "expectNoAnswer",
    ]

    /// Every key some step may have.
    public static let allStepKeys: [String] = {
        var keys = stepKeys + ["include"]
        for action in actionNames {
            for key in (actions[action]?.required ?? []) + (actions[action]?.optional ?? []) where !keys.contains(key) {
                keys.append(key)
            }
        }
        return keys
    }()

    public static let expectationKeys = FieldExpectation.CodingKeys.allCases.map(\.rawValue)

    /// The values a step has of its own (its STAN and times), which no variable may be named.
    public static let stepVariables = ["stan", "time", "localTime", "localDate"]

    /// Values written as text that a step's key takes as a scalar (`${...}` allowed).
    static let scalarKeys = [
        "name", "kind", "pan", "pin", "newPIN", "amount", "from", "to", "original", "dispensed", "user", "password",
        "op", "token", "code", "totp", "enrolmentCode", "reason", "document", "mti", "hex", "duration", "within",
        "timeout", "mac",
    ]

    /// The closest of `candidates` to a misspelt `key` (at most two edits, or a different case), if any.
    public static func suggestion(for key: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, self.distance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= min(2, max(1, key.count / 3)) else { return nil }
        return best.0
    }

    /// Levenshtein distance, with a swap of two neighbours counted as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}

import ATM87
import Foundation
import Yams

/// A harness script (`fixtures/sequences/*.yaml` or `*.json`, one schema for both): the steps one
/// terminal takes against a switch, each with what its answer must be. docs/harness.md is the reference.
public struct Script: Codable, Sendable {
    public var name: String
    public var description: String?
    public var terminal: String
    /// Variables every step may use as `${name}`.
    public var variables: [String: ScalarText]?
    /// Rows of values: the steps run once per row, with the row's values as variables.
    public var data: ScriptData?
    /// How many times the steps run (each time once per row of `data`).
    public var repeatCount: Int?
    public var steps: [Step]

    public init(
        name: String,
        description: String? = nil,
        terminal: String,
        variables: [String: ScalarText]? = nil,
        steps: [Step]
    ) {
        self.name = name
        self.description = description
        self.terminal = terminal
        self.variables = variables
        self.steps = steps
    }

    /// One step. `action` says what it does; the other keys are that action's arguments.
    public struct Step: Codable, Sendable {
        public var name: String?
        public var action: String
        // Card and reversal steps.
        public var kind: String?
        public var pan: String?
        public var pin: String?
        public var newPIN: String?
        public var amount: ScalarText?
        public var from: String?
        public var to: String?
        public var original: String?
        public var dispensed: ScalarText?
        // Staff and administration.
        public var user: String?
        public var password: String?
        public var op: String?
        public var tlv: [[String]]?
        public var token: String?
        /// A one-time code (or a recovery code) sent as `OT` with a `login` or `admin` step, literally.
        public var code: String?
        /// A TOTP secret (base32): the harness sends the code of the current time step as `OT` (a later
        /// step when this run already used the current one for the secret; docs/harness.md).
        public var totp: String?
        /// A `login` step's enrolment code, sent as `EC`.
        public var enrolmentCode: String?
        /// An `admin` step's reason for a held change, sent as `RS`.
        public var reason: String?
        /// An `admin` step's identity document number (CREATE), sent as the `IN` code block.
        public var document: String?
        // Any message by fields: `mti`, `fields` (by number or by name), `omit`, `mac`.
        public var mti: String?
        public var fields: [String: ScalarText]?
        public var omit: [String]?
        public var mac: MACMode?
        // Raw bytes and frames.
        public var hex: String?
        // Waiting: `wait` for `duration`; `expectNoAnswer` / `expectClosed` `within`; any answer `within`.
        public var duration: String?
        public var within: String?
        /// How long to wait for an answer before the step fails (default 10 s).
        public var timeout: String?
        /// Variables set before the step runs.
        public var set: [String: ScalarText]?
        /// Values taken from the answer into variables: variable name to field (`37`, `48.AU`, `mti`).
        public var capture: [String: String]?
        public var expect: [String: FieldExpectation]?
        /// A file whose steps run here (resolved when the script is loaded).
        public var include: String?
        /// The step runs only when these variables are as said (the checks of `expect`); otherwise it
        /// is skipped.
        public var when: [String: FieldExpectation]?
        /// Where the step is written (set when the script is loaded from a file).
        public var source: ScriptSource?

        public init(name: String? = nil, action: String) {
            self.name = name
            self.action = action
        }

        /// The name shown in reports: the step's own, else its action.
        public var label: String { self.name ?? self.action }

        enum CodingKeys: String, CodingKey {
            case name, action, kind, pan, pin, newPIN, amount, from, to, original, dispensed, user, password, op, tlv
            case token, code, totp, enrolmentCode, reason, document
            case mti, fields, omit, mac, hex, duration, within, timeout, set, capture, expect, include, when
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.include = try container.decodeIfPresent(String.self, forKey: .include)
            // An include step needs no action.
            self.action =
                try container.decodeIfPresent(String.self, forKey: .action) ?? (self.include == nil ? "" : "include")
            if self.action.isEmpty {
                throw DecodingError.keyNotFound(
                    CodingKeys.action,
                    .init(codingPath: container.codingPath, debugDescription: "a step needs an action (or an include)")
                )
            }
            self.name = try container.decodeIfPresent(String.self, forKey: .name)
            self.kind = try container.decodeIfPresent(String.self, forKey: .kind)
            self.pan = try container.decodeIfPresent(ScalarText.self, forKey: .pan)?.text
            self.pin = try container.decodeIfPresent(ScalarText.self, forKey: .pin)?.text
            self.newPIN = try container.decodeIfPresent(ScalarText.self, forKey: .newPIN)?.text
            self.amount = try container.decodeIfPresent(ScalarText.self, forKey: .amount)
            self.from = try container.decodeIfPresent(String.self, forKey: .from)
            self.to = try container.decodeIfPresent(String.self, forKey: .to)
            self.original = try container.decodeIfPresent(String.self, forKey: .original)
            self.dispensed = try container.decodeIfPresent(ScalarText.self, forKey: .dispensed)
            self.user = try container.decodeIfPresent(String.self, forKey: .user)
            self.password = try container.decodeIfPresent(String.self, forKey: .password)
            self.op = try container.decodeIfPresent(String.self, forKey: .op)
            self.tlv = try container.decodeIfPresent([[ScalarText]].self, forKey: .tlv)?.map { $0.map(\.text) }
            self.token = try container.decodeIfPresent(String.self, forKey: .token)
            self.code = try container.decodeIfPresent(ScalarText.self, forKey: .code)?.text
            self.totp = try container.decodeIfPresent(ScalarText.self, forKey: .totp)?.text
            self.enrolmentCode = try container.decodeIfPresent(ScalarText.self, forKey: .enrolmentCode)?.text
            self.reason = try container.decodeIfPresent(ScalarText.self, forKey: .reason)?.text
            self.document = try container.decodeIfPresent(ScalarText.self, forKey: .document)?.text
            if self.code != nil && self.totp != nil {
                throw DecodingError.dataCorruptedError(
                    forKey: .totp,
                    in: container,
                    debugDescription: "a step sends one code: code or totp, not both"
                )
            }
            self.mti = try container.decodeIfPresent(ScalarText.self, forKey: .mti)?.text
            self.fields = try container.decodeIfPresent([String: ScalarText].self, forKey: .fields)
            self.omit = try container.decodeIfPresent([ScalarText].self, forKey: .omit)?.map(\.text)
            self.mac = try container.decodeIfPresent(MACMode.self, forKey: .mac)
            self.hex = try container.decodeIfPresent(String.self, forKey: .hex)
            self.duration = try container.decodeIfPresent(ScalarText.self, forKey: .duration)?.text
            self.within = try container.decodeIfPresent(ScalarText.self, forKey: .within)?.text
            self.timeout = try container.decodeIfPresent(ScalarText.self, forKey: .timeout)?.text
            self.set = try container.decodeIfPresent([String: ScalarText].self, forKey: .set)
            self.capture = try container.decodeIfPresent([String: ScalarText].self, forKey: .capture)?.mapValues(\.text)
            self.expect = try container.decodeIfPresent([String: FieldExpectation].self, forKey: .expect)
            self.when = try container.decodeIfPresent([String: FieldExpectation].self, forKey: .when)
        }
    }

    /// How a `send` step signs its message: `auto` (a MAC when signed on), `none`, or `bad` (a MAC
    /// that cannot verify, for testing the switch's 63).
    public enum MACMode: String, Codable, Sendable {
        case auto, none, bad

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = flag ? .auto : .none
                return
            }
            let text = try container.decode(String.self)
            guard let mode = MACMode(rawValue: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "mac is true, false, auto, none or bad; not \(text)"
                )
            }
            self = mode
        }
    }
}

/// A scalar written as text, a number or a boolean (YAML and JSON both), kept as its text.
public struct ScalarText: Codable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { self.text = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self.text = text
        } else if let number = try? container.decode(Int64.self) {
            self.text = String(number)
        } else if let number = try? container.decode(Double.self) {
            self.text = String(number)
        } else if let flag = try? container.decode(Bool.self) {
            self.text = String(flag)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "expected text, a number or a boolean"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.text)
    }

    public var description: String { self.text }
}

/// What an answer's field (or its MTI) must be. Written as a string (`"00"` equals, `*` present, `-`
/// absent, `*E` echoes the request) or as a map of checks that must all hold:
/// `{equals, not-equals, prefix, matches, not-matches, present, absent, echo, eq, ne, lt, le, gt, ge,
/// change: {since, by}}`.
public struct FieldExpectation: Codable, Sendable, Hashable, ExpressibleByStringLiteral {
    public var equals: String?
    /// The value is not this text (an absent field is not it either).
    public var notEquals: String?
    /// The value starts with this text.
    public var prefix: String?
    /// A regular expression the whole value must match.
    public var matches: String?
    /// A regular expression the whole value must not match (an absent field matches none).
    public var notMatches: String?
    public var present: Bool?
    public var absent: Bool?
    /// The answer carries the request's value of the same field (jPOS's `*E`).
    public var echo: Bool?
    // Numeric comparisons on the field's amount (field 54: its first amount; `C`/`D` amounts signed).
    public var eq: String?
    public var ne: String?
    public var lt: String?
    public var le: String?
    public var gt: String?
    public var ge: String?
    /// The amount changed by `by` since the value captured in the variable `since`.
    public var change: Change?

    public struct Change: Codable, Sendable, Hashable {
        public var since: String
        public var by: String

        public init(since: String, by: String) {
            self.since = since
            self.by = by
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.since = try container.decode(String.self, forKey: .since)
            self.by = try container.decode(ScalarText.self, forKey: .by).text
        }
    }

    public init(
        equals: String? = nil,
        notEquals: String? = nil,
        prefix: String? = nil,
        matches: String? = nil,
        notMatches: String? = nil,
        present: Bool? = nil,
        absent: Bool? = nil,
        echo: Bool? = nil,
        eq: String? = nil,
        ne: String? = nil,
        lt: String? = nil,
        le: String? = nil,
        gt: String? = nil,
        ge: String? = nil,
        change: Change? = nil
    ) {
        self.equals = equals
        self.notEquals = notEquals
        self.prefix = prefix
        self.matches = matches
        self.notMatches = notMatches
        self.present = present
        self.absent = absent
        self.echo = echo
        self.eq = eq
        self.ne = ne
        self.lt = lt
        self.le = le
        self.gt = gt
        self.ge = ge
        self.change = change
    }

    public init(stringLiteral value: String) { self.init(shorthand: value) }

    /// The short string forms.
    public init(shorthand: String) {
        switch shorthand {
        case "*": self.init(present: true)
        case "-": self.init(absent: true)
        case "*E": self.init(echo: true)
        default: self.init(equals: shorthand)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case equals
        case notEquals = "not-equals"
        case prefix, matches
        case notMatches = "not-matches"
        case present, absent, echo, eq, ne, lt, le, gt, ge, change
    }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(ScalarText.self) {
            self.init(shorthand: text.text)
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys) throws -> String? {
            try container.decodeIfPresent(ScalarText.self, forKey: key)?.text
        }
        self.init(
            equals: try text(.equals),
            notEquals: try text(.notEquals),
            prefix: try text(.prefix),
            matches: try text(.matches),
            notMatches: try text(.notMatches),
            present: try container.decodeIfPresent(Bool.self, forKey: .present),
            absent: try container.decodeIfPresent(Bool.self, forKey: .absent),
            echo: try container.decodeIfPresent(Bool.self, forKey: .echo),
            eq: try text(.eq),
            ne: try text(.ne),
            lt: try text(.lt),
            le: try text(.le),
            gt: try text(.gt),
            ge: try text(.ge),
            change: try container.decodeIfPresent(Change.self, forKey: .change)
        )
        if self == FieldExpectation() {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "an expectation needs at least one check")
            )
        }
    }
}

/// Why a script cannot be read or run as written: a typed code, and words that say what to fix.
public struct ScriptError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The file cannot be read, or is neither YAML nor JSON of the schema.
        case unreadable
        /// An include names a file that includes it back.
        case includeCycle
        /// A `${...}` names no variable or function, or is malformed.
        case unknownVariable
        /// A step's arguments are missing or wrong.
        case badStep
        /// A field is named by a number or name the protocol does not have.
        case unknownField
        /// A duration is not `500ms`, `2s`, `1.5s` or `1m`.
        case badDuration
        /// An expectation's operand is not a number, or its regular expression does not compile.
        case badExpectation
        /// A key the schema does not have (a misspelling: `expcet`), or one the step's action does not take.
        case unknownKey
        /// An action the harness does not have.
        case unknownAction
        /// A `${name}` used before any variable, data column, `set` or `capture` sets it.
        case unsetVariable
        /// The `data` rows cannot be read (a CSV file, or the YAML list), or `repeat` is not a count.
        case badData
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { self.detail }
}

extension Script {
    /// Reads a script (YAML or JSON by its extension; `.yml`/`.yaml` YAML, anything else JSON), checks
    /// it as a whole (ScriptLoader: every problem of every file it includes, with file, line and
    /// column) and puts the steps of its includes in place. Its `data` rows are read by
    /// `ScriptPlan.load`, which `atm-harness run` uses.
    public static func load(_ path: String) throws(ScriptError) -> Script {
        do {
            return try ScriptPlan.load(path).script
        } catch {
            throw error.scriptError
        }
    }

    static func isYAML(_ path: String) -> Bool {
        path.hasSuffix(".yaml") || path.hasSuffix(".yml")
    }

    /// A script from its text. An included file may leave out `name` and `terminal`.
    public static func parse(_ text: String, yaml: Bool, source: String = "script") throws(ScriptError) -> Script {
        do {
            if yaml {
                return try YAMLDecoder().decode(Script.self, from: text)
            }
            return try JSONDecoder().decode(Script.self, from: Data(text.utf8))
        } catch {
            throw ScriptError(.unreadable, "\(source) is not a script: \(Self.explain(error))")
        }
    }

    /// A decoding error said as where and what.
    static func explain(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "\(path(context.codingPath)): missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, description, terminal, variables, data
        case repeatCount = "repeat"
        case steps
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        self.description = try container.decodeIfPresent(String.self, forKey: .description)
        self.terminal = try container.decodeIfPresent(String.self, forKey: .terminal) ?? ""
        self.variables = try container.decodeIfPresent([String: ScalarText].self, forKey: .variables)
        self.data = try container.decodeIfPresent(ScriptData.self, forKey: .data)
        self.repeatCount = try container.decodeIfPresent(Int.self, forKey: .repeatCount)
        self.steps = try container.decode([Step].self, forKey: .steps)
    }
}

/// Durations as scripts write them: `500ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
public enum ScriptDuration {
    /// A day, in milliseconds.
    static let longest: Double = 86_400_000

    public static func parse(_ text: String) throws(ScriptError) -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        var milliseconds: Double?
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            if let value = Double(trimmed.dropLast(suffix.count)) {
                milliseconds = value * scale * 1000
                break
            }
        }
        if milliseconds == nil, let value = Double(trimmed) { milliseconds = value * 1000 }
        guard let milliseconds, milliseconds.isFinite, milliseconds >= 0 else {
            throw ScriptError(.badDuration, "\(text) is not a duration (write 500ms, 2s, 1.5s or 1m)")
        }
        guard milliseconds <= Self.longest else {
            throw ScriptError(.badDuration, "\(text) is longer than a day, the longest a step may wait")
        }
        return .milliseconds(Int64(milliseconds.rounded()))
    }

    /// A duration as a person reads it: `12 ms` under a second, else `2.31 s`.
    public static func text(_ duration: Duration) -> String {
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        if milliseconds < 1000 { return String(format: "%.0f ms", milliseconds) }
        return String(format: "%.2f s", milliseconds / 1000)
    }
}

/// Fields named by number (`"39"`) or by their name in protocols/atm87.json, in any case and with
/// or without spaces (`"Response code"`, `response_code`, `responseCode`).
public enum ScriptFieldName {
    static func normalized(_ name: String) -> String {
        String(name.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }

    static let byName: [String: Int] = {
        var table: [String: Int] = [:]
        for number in 1...128 {
            if let spec = ATM87Spec.field(number) { table[normalized(spec.name)] = number }
        }
        return table
    }()

    public static func number(_ key: String) throws(ScriptError) -> Int {
        if let number = Int(key) {
            guard ATM87Spec.field(number) != nil else {
                throw ScriptError(.unknownField, "field \(key) is not in the ATM-87 specification")
            }
            return number
        }
        guard let number = byName[normalized(key)] else {
            throw ScriptError(.unknownField, "no field is named \"\(key)\" in protocols/atm87.json")
        }
        return number
    }
}

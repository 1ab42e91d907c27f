import ATM87
import Foundation
import Yams

/// A host script for `atm-harness simulate-switch`: how the simulated switch answers terminals (rules,
/// first match wins; no rule: as a bank would), and what the record of the run must show at the end
/// (expectations). YAML (JSON is YAML too). Read whole and checked before the simulator listens: an
/// unknown key, a bad value or a field the protocol does not have is an error with its line and column.
/// docs/harness.md, "Testing a terminal: simulate-switch", is the reference.
public struct HostScript: Sendable {
    public var name: String
    public var description: String?
    public var file: String
    /// Values a rule or an expectation may use as `${name}` (`--var` adds and overrides).
    public var variables: [String: String]
    /// Opening balances (minor units) by account number, over the fixture's.
    public var balances: [String: Int64]
    public var rules: [HostRule]
    public var expectations: [HostExpectation]

    public init(
        name: String,
        file: String = "script",
        variables: [String: String] = [:],
        balances: [String: Int64] = [:],
        rules: [HostRule] = [],
        expectations: [HostExpectation] = []
    ) {
        self.name = name
        self.file = file
        self.variables = variables
        self.balances = balances
        self.rules = rules
        self.expectations = expectations
    }
}

/// One rule: which requests it takes (`when`, every condition must hold) and what the switch does
/// with them instead of (or on top of) the bank's answer.
public struct HostRule: Sendable {
    public var name: String
    /// Where the rule is written (`file:line:column`), for the run's lines.
    public var location: String
    public var when: [String: FieldExpectation]
    /// The rule takes its first `times` matching requests only (nil: all of them).
    public var times: Int?
    /// Field 39 of the answer, instead of the bank's decision (a refusal carries no 38, 54 or token).
    public var code: String?
    /// Fields set on the answer after everything else (`${...}` allowed).
    public var fields: [Int: String]
    /// The answer goes after this long (to the terminal's connection at that time).
    public var delay: Duration?
    /// Closes the connection after reading the request, with no answer.
    public var drop: Bool
    /// The answer is sent twice.
    public var twice: Bool
    /// The answer's MAC: `wrong` signs it under another key.
    public var wrongMAC: Bool
    /// The answer's STAN (field 11): `wrong` changes it.
    public var wrongSTAN: Bool
    /// `false`: no answer at all (the connection stays open).
    public var answer: Bool
    /// The simulator ends once this rule has acted (a host that goes down).
    public var stop: Bool
    /// Variables taken from the request: name → field (`11`, `7`, `mti`).
    public var capture: [String: String]

    public init(
        name: String,
        location: String = "",
        when: [String: FieldExpectation] = [:],
        times: Int? = nil,
        code: String? = nil,
        fields: [Int: String] = [:],
        delay: Duration? = nil,
        drop: Bool = false,
        twice: Bool = false,
        wrongMAC: Bool = false,
        wrongSTAN: Bool = false,
        answer: Bool = true,
        stop: Bool = false,
        capture: [String: String] = [:]
    ) {
        self.name = name
        self.location = location
        self.when = when
        self.times = times
        self.code = code
        self.fields = fields
        self.delay = delay
        self.drop = drop
        self.twice = twice
        self.wrongMAC = wrongMAC
        self.wrongSTAN = wrongSTAN
        self.answer = answer
        self.stop = stop
        self.capture = capture
    }
}

/// What the record must show when the simulator ends: the requests the terminals sent that are
/// selected (by terminal, MTI, `reversal` of an original STAN, and `when`), how many of them there
/// are (`count`, default at least one), and what each of them holds (`each`).
public struct HostExpectation: Sendable {
    public var name: String
    public var location: String
    /// Selects the answers the simulator sent instead of the requests the terminals sent.
    public var sent: Bool
    public var terminal: String?
    /// Message types, `0420` or a pattern (`042*`).
    public var mti: [String]
    /// The original STAN (field 90, digits 5-10) of the reversal advices selected: 0420 and 0421.
    public var reversal: String?
    public var when: [String: FieldExpectation]
    public var each: [String: FieldExpectation]
    /// The number of requests selected: a number (exactly) or comparisons (`{ge: 1}`).
    public var count: FieldExpectation
    /// The name of an earlier expectation: every message this one selects comes after the first that
    /// one selects (which must select one).
    public var after: String?

    public init(
        name: String,
        location: String = "",
        sent: Bool = false,
        terminal: String? = nil,
        mti: [String] = [],
        reversal: String? = nil,
        when: [String: FieldExpectation] = [:],
        each: [String: FieldExpectation] = [:],
        count: FieldExpectation = FieldExpectation(ge: "1")
    ) {
        self.name = name
        self.location = location
        self.sent = sent
        self.terminal = terminal
        self.mti = mti
        self.reversal = reversal
        self.when = when
        self.each = each
        self.count = count
    }
}

/// A host script that cannot be used: where (`file:line:column`) and what to fix.
public struct HostScriptError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case unreadable
        case unknownKey
        case badValue
        case unknownField
        case unknownVariable
    }

    public var code: Code
    public var location: String
    public var detail: String

    public init(_ code: Code, _ location: String, _ detail: String) {
        self.code = code
        self.location = location
        self.detail = detail
    }

    public var description: String { "\(self.location): \(self.detail)" }
}

extension HostScript {
    /// Reads and checks a host script file.
    public static func load(_ path: String) throws(HostScriptError) -> HostScript {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw HostScriptError(.unreadable, path, "cannot be read (\(error.localizedDescription))")
        }
        return try self.parse(text, file: path)
    }

    static let topKeys: Set<String> = ["name", "description", "variables", "balances", "rules", "expect"]
    static let ruleKeys: Set<String> = [
        "name", "when", "times", "code", "fields", "delay", "drop", "twice", "mac", "stan", "answer", "stop", "capture",
    ]
    static let expectationKeys: Set<String> = ["name", "sent", "terminal", "mti", "reversal", "when", "each", "count", "after"]

    /// Parses and checks a host script's text; `file` names it in errors.
    public static func parse(_ text: String, file: String = "script") throws(HostScriptError) -> HostScript {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw HostScriptError(.unreadable, file, "is not YAML: \(error)")
        }
        let reader = NodeReader(file: file)
        guard let root, let top = root.mapping else {
            throw HostScriptError(.unreadable, file, "must be a mapping with rules and expect")
        }
        try reader.known(top, Self.topKeys, what: "a host script")
        var script = HostScript(
            name: try reader.text(top, "name", "name") ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent,
            file: file
        )
        script.description = try reader.text(top, "description", "description")
        if let variables = top.named("variables") {
            for (key, value) in try reader.pairs(variables, "variables") {
                script.variables[key] = try reader.scalar(value, "variables.\(key)")
            }
        }
        if let balances = top.named("balances") {
            for (key, value) in try reader.pairs(balances, "balances") {
                let text = try reader.scalar(value, "balances.\(key)")
                guard let amount = Int64(text), amount >= 0 else {
                    throw reader.error(.badValue, value, "balances.\(key) must be minor units (digits), not \(text)")
                }
                script.balances[key] = amount
            }
        }
        if let rules = top.named("rules") {
            for (index, node) in try reader.items(rules, "rules").enumerated() {
                script.rules.append(try reader.rule(node, index: index))
            }
        }
        if let expectations = top.named("expect") {
            for (index, node) in try reader.items(expectations, "expect").enumerated() {
                let expectation = try reader.expectation(node, index: index)
                if let after = expectation.after, !script.expectations.contains(where: { $0.name == after }) {
                    throw reader.error(
                        .badValue,
                        node.mapping?.named("after") ?? node,
                        "expect[\(index)].after names no earlier expectation: \(after) (the earlier ones: "
                            + script.expectations.map(\.name).joined(separator: "; ") + ")"
                    )
                }
                script.expectations.append(expectation)
            }
        }
        return script
    }
}

/// Reads the nodes of a host script, each error with the node's line and column.
struct NodeReader {
    var file: String

    func location(_ node: Node) -> String {
        node.mark.map { "\(self.file):\($0.line):\($0.column)" } ?? self.file
    }

    func error(_ code: HostScriptError.Code, _ node: Node, _ detail: String) -> HostScriptError {
        HostScriptError(code, self.location(node), detail)
    }

    func known(_ mapping: Node.Mapping, _ keys: Set<String>, what: String) throws(HostScriptError) {
        var seen: Set<String> = []
        for (key, _) in mapping {
            let name = key.string ?? ""
            guard seen.insert(name).inserted else {
                throw self.error(.badValue, key, "\"\(name)\" is written twice in \(what)")
            }
            guard keys.contains(name) else {
                throw self.error(
                    .unknownKey,
                    key,
                    "\"\(name)\" is not a key of \(what) (its keys: \(keys.sorted().joined(separator: ", ")))"
                )
            }
        }
    }

    func scalar(_ node: Node, _ what: String) throws(HostScriptError) -> String {
        guard case .scalar(let scalar) = node else {
            throw self.error(.badValue, node, "\(what) must be a single value, not a list or a mapping")
        }
        return scalar.string
    }

    /// The text of `key` in `mapping`, when it is there.
    func text(_ mapping: Node.Mapping, _ key: String, _ what: String) throws(HostScriptError) -> String? {
        guard let node = mapping.named(key) else { return nil }
        return try self.scalar(node, what)
    }

    func pairs(_ node: Node, _ what: String) throws(HostScriptError) -> [(String, Node)] {
        guard let mapping = node.mapping else { throw self.error(.badValue, node, "\(what) must be a mapping") }
        var pairs: [(String, Node)] = []
        for (key, value) in mapping { pairs.append((key.string ?? "", value)) }
        return pairs
    }

    func items(_ node: Node, _ what: String) throws(HostScriptError) -> [Node] {
        guard case .sequence(let sequence) = node else {
            throw self.error(.badValue, node, "\(what) must be a list (each item starting with -)")
        }
        return Array(sequence)
    }

    func flag(_ node: Node?, _ what: String) throws(HostScriptError) -> Bool? {
        guard let node else { return nil }
        switch try self.scalar(node, what).lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw self.error(.badValue, node, "\(what) is true or false")
        }
    }

    /// A field key: `mti`, a number or a name of protocols/atm87.json, or `48.TAG`.
    func fieldKey(_ key: String, _ node: Node) throws(HostScriptError) -> String {
        if key == "mti" { return key }
        let parts = key.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let number: Int
        do {
            number = try ScriptFieldName.number(parts[0])
        } catch {
            throw self.error(.unknownField, node, error.detail)
        }
        guard parts.count == 2 else { return "\(number)" }
        guard number == 48, !parts[1].isEmpty else {
            throw self.error(.unknownField, node, "\(key): only field 48 has elements (48.TAG)")
        }
        return "48.\(parts[1])"
    }

    /// Field conditions: field → a value (`"00"`; `"01*"` a prefix, `*` any characters; `"*"` present,
    /// `"-"` absent) or a mapping of checks (`equals`, `matches`, `present`, `absent`, `eq`...`ge`).
    func conditions(_ node: Node, _ what: String) throws(HostScriptError) -> [String: FieldExpectation] {
        var conditions: [String: FieldExpectation] = [:]
        guard let mapping = node.mapping else {
            throw self.error(.badValue, node, "\(what) must be a mapping of fields to conditions")
        }
        for (key, value) in mapping {
            let field = try self.fieldKey(key.string ?? "", key)
            conditions[field] = try self.condition(value, "\(what).\(key.string ?? "")")
        }
        return conditions
    }

    func condition(_ node: Node, _ what: String) throws(HostScriptError) -> FieldExpectation {
        if case .scalar(let scalar) = node {
            return Self.glob(scalar.string)
        }
        guard let mapping = node.mapping else { throw self.error(.badValue, node, "\(what) must be a value or a mapping") }
        let keys: Set<String> = ["equals", "matches", "prefix", "present", "absent", "eq", "ne", "lt", "le", "gt", "ge"]
        try self.known(mapping, keys, what: what)
        var expectation = FieldExpectation()
        for (key, value) in mapping {
            let name = key.string ?? ""
            let text = try self.scalar(value, "\(what).\(name)")
            switch name {
            case "equals": expectation.equals = text
            case "matches":
                do {
                    _ = try Regex(text)
                } catch {
                    throw self.error(.badValue, value, "\(what).matches: /\(text)/ is not a regular expression")
                }
                expectation.matches = text
            case "prefix": expectation.matches = Self.escaped(text) + ".*"
            case "present": expectation.present = try self.flag(value, "\(what).present")
            case "absent": expectation.absent = try self.flag(value, "\(what).absent")
            default:
                guard text.contains("${") || ScriptCheck.amount(text) != nil else {
                    throw self.error(.badValue, value, "\(what).\(name): \(text) is not a number")
                }
                switch name {
                case "eq": expectation.eq = text
                case "ne": expectation.ne = text
                case "lt": expectation.lt = text
                case "le": expectation.le = text
                case "gt": expectation.gt = text
                default: expectation.ge = text
                }
            }
        }
        guard expectation != FieldExpectation() else { throw self.error(.badValue, node, "\(what) checks nothing") }
        return expectation
    }

    /// `"*"` present, `"-"` absent, text with `*` a pattern (`*` any characters), else equals.
    static func glob(_ text: String) -> FieldExpectation {
        switch text {
        case "*": return FieldExpectation(present: true)
        case "-": return FieldExpectation(absent: true)
        default:
            guard text.contains("*") else { return FieldExpectation(equals: text) }
            return FieldExpectation(matches: text.split(separator: "*", omittingEmptySubsequences: false)
                .map { self.escaped(String($0)) }.joined(separator: ".*"))
        }
    }

    /// Text as a regular expression that matches it literally (`${...}` kept for substitution).
    static func escaped(_ text: String) -> String {
        var out = ""
        var inVariable = false
        for character in text {
            if inVariable {
                out.append(character)
                if character == "}" { inVariable = false }
                continue
            }
            if character == "{", out.hasSuffix("$") {
                inVariable = true
                out.removeLast(2)  // the `\$` written for the dollar
                out += "${"
                continue
            }
            if "\\^$.|?*+()[]{}".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    func duration(_ node: Node, _ what: String) throws(HostScriptError) -> Duration {
        let text = try self.scalar(node, what)
        do {
            return try ScriptDuration.parse(text)
        } catch {
            throw self.error(.badValue, node, "\(what): \(error.detail)")
        }
    }

    func rule(_ node: Node, index: Int) throws(HostScriptError) -> HostRule {
        let what = "rules[\(index)]"
        guard let mapping = node.mapping else { throw self.error(.badValue, node, "\(what) must be a mapping") }
        try self.known(mapping, HostScript.ruleKeys, what: "a rule")
        var rule = HostRule(name: try self.text(mapping, "name", "\(what).name") ?? "rule \(index + 1)")
        rule.location = self.location(node)
        if let when = mapping.named("when") { rule.when = try self.conditions(when, "\(what).when") }
        if let times = mapping.named("times") {
            guard let count = Int(try self.scalar(times, "\(what).times")), count >= 1 else {
                throw self.error(.badValue, times, "\(what).times is a whole number from 1")
            }
            rule.times = count
        }
        if let code = mapping.named("code") {
            let text = try self.scalar(code, "\(what).code")
            guard text.count == 2, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw self.error(.badValue, code, "\(what).code is a response code of 2 characters (\"51\"), not \(text)")
            }
            rule.code = text
        }
        if let fields = mapping.named("fields") {
            for (key, value) in try self.pairs(fields, "\(what).fields") {
                let field = try self.fieldKey(key, value)
                guard let number = Int(field) else {
                    throw self.error(.badValue, value, "\(what).fields: \(key) is not a whole field")
                }
                rule.fields[number] = try self.scalar(value, "\(what).fields.\(key)")
            }
        }
        if let delay = mapping.named("delay") { rule.delay = try self.duration(delay, "\(what).delay") }
        rule.drop = try self.flag(mapping.named("drop"), "\(what).drop") ?? false
        rule.twice = try self.flag(mapping.named("twice"), "\(what).twice") ?? false
        rule.answer = try self.flag(mapping.named("answer"), "\(what).answer") ?? true
        rule.stop = try self.flag(mapping.named("stop"), "\(what).stop") ?? false
        if let mac = mapping.named("mac") {
            switch try self.scalar(mac, "\(what).mac") {
            case "wrong": rule.wrongMAC = true
            case "right": rule.wrongMAC = false
            case let other: throw self.error(.badValue, mac, "\(what).mac is wrong or right, not \(other)")
            }
        }
        if let stan = mapping.named("stan") {
            switch try self.scalar(stan, "\(what).stan") {
            case "wrong": rule.wrongSTAN = true
            case "right": rule.wrongSTAN = false
            case let other: throw self.error(.badValue, stan, "\(what).stan is wrong or right, not \(other)")
            }
        }
        if let capture = mapping.named("capture") {
            for (name, value) in try self.pairs(capture, "\(what).capture") {
                rule.capture[name] = try self.fieldKey(try self.scalar(value, "\(what).capture.\(name)"), value)
            }
        }
        if rule.drop && (rule.delay != nil || rule.twice || rule.code != nil || !rule.answer) {
            throw self.error(.badValue, node, "\(what): drop sends no answer, so it takes no delay, twice, code or answer")
        }
        return rule
    }

    func expectation(_ node: Node, index: Int) throws(HostScriptError) -> HostExpectation {
        let what = "expect[\(index)]"
        guard let mapping = node.mapping else { throw self.error(.badValue, node, "\(what) must be a mapping") }
        try self.known(mapping, HostScript.expectationKeys, what: "an expectation")
        var expectation = HostExpectation(
            name: try self.text(mapping, "name", "\(what).name") ?? "expectation \(index + 1)"
        )
        expectation.location = self.location(node)
        expectation.sent = try self.flag(mapping.named("sent"), "\(what).sent") ?? false
        expectation.terminal = try self.text(mapping, "terminal", "\(what).terminal")
        if let mti = mapping.named("mti") {
            let values = try (mti.mapping == nil && mti.scalar == nil ? self.items(mti, "\(what).mti") : [mti])
            for value in values {
                let text = try self.scalar(value, "\(what).mti")
                guard text.count == 4, text.allSatisfy({ $0.isNumber || $0 == "*" }) else {
                    throw self.error(.badValue, value, "\(what).mti is a message type such as \"0420\" or \"042*\"")
                }
                expectation.mti.append(text)
            }
        }
        expectation.reversal = try self.text(mapping, "reversal", "\(what).reversal")
        expectation.after = try self.text(mapping, "after", "\(what).after")
        if let when = mapping.named("when") { expectation.when = try self.conditions(when, "\(what).when") }
        if let each = mapping.named("each") { expectation.each = try self.conditions(each, "\(what).each") }
        if let count = mapping.named("count") {
            if case .scalar(let scalar) = count {
                guard Int(scalar.string) != nil || scalar.string.contains("${") else {
                    throw self.error(.badValue, count, "\(what).count is a number or comparisons such as {ge: 1}")
                }
                expectation.count = FieldExpectation(eq: scalar.string)
            } else {
                expectation.count = try self.condition(count, "\(what).count")
            }
        }
        return expectation
    }
}

extension Node.Mapping {
    /// The value of the key written `key` (compared as text, whatever YAML resolved it to).
    func named(_ key: String) -> Node? {
        self.first { $0.key.string == key }?.value
    }
}

public import Crypto
public import Foundation
import Yams

/// Transaction monitoring's rules as data (`fixtures/aml-rules.yaml`, docs/compliance.md): the pure core
/// that reads and checks a rule file. No I/O: it takes the file's text and gives a `MonitoringRuleSet`
/// (or the first problem, with its line and column); the store loads the set into the database as a new
/// version (`bank.load_aml_rules`), where the rules run.
///
/// ```yaml
/// rules:
///   - id: structuring-deposits
///     description: Cash deposits kept under the reporting threshold
///     kind: structuring
///     parameters: {direction: deposit, min_count: 3, threshold: "10000.00"}
///     window: 3d
///     severity: high
///     enabled: true
/// ```
public enum MonitoringRules {
    /// The longest window a rule may have.
    public static let maximumWindowSeconds: Int64 = 400 * 86_400
    /// The most rules one file may hold.
    public static let maximumRules = 100

    /// Reads and checks a rule file's text.
    public static func parse(yaml: String) throws(MonitoringRuleError) -> MonitoringRuleSet {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw Self.syntaxError(error)
        } catch {
            throw MonitoringRuleError(.syntax, at: nil, "\(error)")
        }
        guard let root, let top = root.mapping else {
            throw MonitoringRuleError(.wrongType, at: root?.mark, "the file is a mapping with one key, rules")
        }
        try Self.onlyKeys(["rules"], in: top, of: "the file")
        guard let list = top["rules"] else { throw MonitoringRuleError(.missingKey, at: root.mark, "rules is missing") }
        guard let sequence = list.sequence else {
            throw MonitoringRuleError(.wrongType, at: list.mark, "rules is a list of rules")
        }
        guard !sequence.isEmpty else { throw MonitoringRuleError(.badValue, at: list.mark, "rules is empty") }
        guard sequence.count <= Self.maximumRules else {
            throw MonitoringRuleError(.badValue, at: list.mark, "more than \(Self.maximumRules) rules")
        }
        var rules: [MonitoringRule] = []
        var seen: Set<String> = []
        for node in sequence {
            let rule = try Self.rule(node)
            guard seen.insert(rule.id).inserted else {
                throw MonitoringRuleError(.duplicateID, at: node.mark, "rule id \(rule.id) appears twice")
            }
            rules.append(rule)
        }
        return MonitoringRuleSet(rules: rules)
    }

    static func syntaxError(_ error: YamlError) -> MonitoringRuleError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return MonitoringRuleError(.syntax, at: mark, problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return MonitoringRuleError(.syntax, at: context.mark, "duplicate keys: \(duplicates.joined(separator: ", "))")
        default:
            return MonitoringRuleError(.syntax, at: nil, "\(error)")
        }
    }

    static let ruleKeys: Set<String> = ["id", "description", "kind", "parameters", "window", "severity", "enabled"]

    static func rule(_ node: Node) throws(MonitoringRuleError) -> MonitoringRule {
        guard let mapping = node.mapping else {
            throw MonitoringRuleError(.wrongType, at: node.mark, "a rule is a mapping of \(Self.ruleKeys.sorted().joined(separator: ", "))")
        }
        try Self.onlyKeys(Self.ruleKeys, in: mapping, of: "a rule")
        let id = try Self.text("id", in: mapping, at: node)
        guard id.range(of: #"^[a-z][a-z0-9_-]{0,39}$"#, options: .regularExpression) != nil else {
            throw MonitoringRuleError(.badValue, at: mapping["id"]?.mark, "id \(id): lower-case letters, digits, - and _, at most 40, a letter first")
        }
        let description = try Self.text("description", in: mapping, at: node)
        guard (1...200).contains(description.count) else {
            throw MonitoringRuleError(.badValue, at: mapping["description"]?.mark, "the description has 1 to 200 characters")
        }
        let kindText = try Self.text("kind", in: mapping, at: node)
        guard let kind = MonitoringRule.Kind(rawValue: kindText) else {
            throw MonitoringRuleError(
                .badValue,
                at: mapping["kind"]?.mark,
                "unknown kind \(kindText): \(MonitoringRule.Kind.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let severityText = try Self.text("severity", in: mapping, at: node)
        guard let severity = AlertSeverity(rawValue: severityText) else {
            throw MonitoringRuleError(.badValue, at: mapping["severity"]?.mark, "the severity is low, medium or high")
        }
        let windowNode = try Self.required("window", in: mapping, at: node)
        guard let window = Self.seconds(windowNode.scalar?.string ?? ""), window <= Self.maximumWindowSeconds else {
            throw MonitoringRuleError(
                .badValue,
                at: windowNode.mark,
                "the window is a whole number and a unit, s, m, h or d (10m, 3d), above 0 and at most 400d"
            )
        }
        let enabledNode = try Self.required("enabled", in: mapping, at: node)
        guard let enabled = enabledNode.scalar.flatMap({ ["true": true, "false": false][$0.string] }) else {
            throw MonitoringRuleError(.wrongType, at: enabledNode.mark, "enabled is true or false")
        }
        let parametersNode = try Self.required("parameters", in: mapping, at: node)
        guard let parameters = parametersNode.mapping else {
            throw MonitoringRuleError(.wrongType, at: parametersNode.mark, "parameters is a mapping")
        }
        return MonitoringRule(
            id: id,
            description: description,
            parameters: try Self.parameters(kind, parameters, at: parametersNode),
            windowSeconds: window,
            severity: severity,
            enabled: enabled
        )
    }

    static func parameters(
        _ kind: MonitoringRule.Kind,
        _ mapping: Node.Mapping,
        at node: Node
    ) throws(MonitoringRuleError) -> MonitoringRule.Parameters {
        var reader = ParameterReader(mapping: mapping, node: node)
        let parameters: MonitoringRule.Parameters
        switch kind {
        case .structuring:
            let direction = try reader.text("direction")
            guard let cash = MonitoringRule.CashDirection(rawValue: direction) else {
                throw MonitoringRuleError(.badValue, at: mapping["direction"]?.mark, "direction is deposit or withdrawal")
            }
            parameters = .structuring(
                direction: cash,
                minCount: try reader.count("min_count", 2...1_000),
                threshold: try reader.amount("threshold", minimum: 1)
            )
        case .velocity:
            let maxCount = try reader.optionalCount("max_count", 1...1_000)
            let maxAmount = try reader.optionalAmount("max_amount")
            guard maxCount != nil || maxAmount != nil else {
                throw MonitoringRuleError(.missingKey, at: node.mark, "a velocity rule has max_count, max_amount or both")
            }
            parameters = .velocity(maxCount: maxCount, maxAmount: maxAmount)
        case .cashOutRing:
            parameters = .cashOutRing(minCards: try reader.count("min_cards", 2...10_000))
        case .passThrough:
            parameters = .passThrough(
                minAmount: try reader.amount("min_amount", minimum: 1),
                outPercent: try reader.count("out_percent", 1...100)
            )
        case .dormantReactivated:
            parameters = .dormantReactivated(minAmount: try reader.amount("min_amount", minimum: 0))
        case .riskyCounterparty:
            let rating = try reader.text("min_rating")
            guard let minRating = RiskRating(rawValue: rating), minRating != .low else {
                throw MonitoringRuleError(.badValue, at: mapping["min_rating"]?.mark, "min_rating is medium or high")
            }
            parameters = .riskyCounterparty(minRating: minRating, minAmount: try reader.amount("min_amount", minimum: 0))
        }
        try Self.onlyKeys(reader.read, in: mapping, of: "a \(kind.rawValue) rule's parameters")
        return parameters
    }

    static func onlyKeys(_ keys: Set<String>, in mapping: Node.Mapping, of what: String) throws(MonitoringRuleError) {
        for (key, _) in mapping {
            guard let name = key.scalar?.string, keys.contains(name) else {
                throw MonitoringRuleError(
                    .unknownKey,
                    at: key.mark,
                    "\(what) has no key \(key.scalar?.string ?? "(not text)"); it has \(keys.sorted().joined(separator: ", "))"
                )
            }
        }
    }

    static func required(_ key: String, in mapping: Node.Mapping, at node: Node) throws(MonitoringRuleError) -> Node {
        guard let value = mapping[key] else { throw MonitoringRuleError(.missingKey, at: node.mark, "\(key) is missing") }
        return value
    }

    static func text(_ key: String, in mapping: Node.Mapping, at node: Node) throws(MonitoringRuleError) -> String {
        let value = try Self.required(key, in: mapping, at: node)
        guard let text = value.scalar?.string, !text.isEmpty else {
            throw MonitoringRuleError(.wrongType, at: value.mark, "\(key) is text")
        }
        return text
    }

    /// "90s", "10m", "24h", "180d" in seconds; nil for anything else or 0.
    public static func seconds(_ text: String) -> Int64? {
        guard let unit = text.last, let factor = ["s": 1, "m": 60, "h": 3_600, "d": 86_400][unit],
            text.dropLast().allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int64(text.dropLast()), number > 0,
            number <= 1_000_000
        else { return nil }
        return number * Int64(factor)
    }

    /// "10000.00", "10000.5" or "10000" in minor units (hundredths); nil for anything else.
    public static func minorUnits(_ text: String) -> Int64? {
        guard text.range(of: #"^[0-9]{1,10}(\.[0-9]{1,2})?$"#, options: .regularExpression) != nil else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let cents = parts.count == 2 ? parts[1].padding(toLength: 2, withPad: "0", startingAt: 0) : "00"
        guard let whole = Int64(parts[0]), let fraction = Int64(cents) else { return nil }
        return whole * 100 + fraction
    }
}

/// Reads a rule's parameters, remembering which keys it read (the others are unknown).
struct ParameterReader {
    let mapping: Node.Mapping
    let node: Node
    var read: Set<String> = []

    mutating func value(_ key: String) throws(MonitoringRuleError) -> Node {
        self.read.insert(key)
        guard let value = self.mapping[key] else {
            throw MonitoringRuleError(.missingKey, at: self.node.mark, "parameter \(key) is missing")
        }
        return value
    }

    mutating func text(_ key: String) throws(MonitoringRuleError) -> String {
        let value = try self.value(key)
        guard let text = value.scalar?.string else { throw MonitoringRuleError(.wrongType, at: value.mark, "\(key) is text") }
        return text
    }

    mutating func count(_ key: String, _ range: ClosedRange<Int>) throws(MonitoringRuleError) -> Int {
        let value = try self.value(key)
        guard let text = value.scalar?.string, !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = Int(text), range.contains(number)
        else {
            throw MonitoringRuleError(.badValue, at: value.mark, "\(key) is a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    mutating func amount(_ key: String, minimum: Int64) throws(MonitoringRuleError) -> Int64 {
        let value = try self.value(key)
        guard let minor = value.scalar.flatMap({ MonitoringRules.minorUnits($0.string) }), minor >= minimum else {
            throw MonitoringRuleError(
                .badValue,
                at: value.mark,
                "\(key) is an amount in the bank's currency with at most two decimals (\"10000.00\")\(minimum > 0 ? ", above 0" : "")"
            )
        }
        return minor
    }

    mutating func optionalCount(_ key: String, _ range: ClosedRange<Int>) throws(MonitoringRuleError) -> Int? {
        self.mapping[key] == nil ? nil : try self.count(key, range)
    }

    mutating func optionalAmount(_ key: String) throws(MonitoringRuleError) -> Int64? {
        self.mapping[key] == nil ? nil : try self.amount(key, minimum: 1)
    }
}

/// What is wrong with a rule file, and where (line and column from 1; 0 when unknown).
public struct MonitoringRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// Not YAML.
        case syntax
        case wrongType
        case missingKey
        case unknownKey
        case badValue
        case duplicateID
    }

    public var code: Code
    public var line: Int
    public var column: Int
    public var detail: String

    init(_ code: Code, at mark: Mark?, _ detail: String) {
        self.code = code
        self.line = mark?.line ?? 0
        self.column = mark?.column ?? 0
        self.detail = detail
    }

    public var description: String {
        self.line > 0 ? "line \(self.line), column \(self.column): \(self.detail)" : self.detail
    }
}

public enum AlertSeverity: String, Sendable, Hashable, CaseIterable, Codable {
    case low
    case medium
    case high
}

/// One monitoring rule, checked.
public struct MonitoringRule: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case structuring
        case velocity
        case cashOutRing = "cash_out_ring"
        case passThrough = "pass_through"
        case dormantReactivated = "dormant_reactivated"
        case riskyCounterparty = "risky_counterparty"
    }

    public enum CashDirection: String, Sendable, Hashable {
        case deposit
        case withdrawal
    }

    /// Amounts in minor units.
    public enum Parameters: Sendable, Hashable {
        case structuring(direction: CashDirection, minCount: Int, threshold: Int64)
        case velocity(maxCount: Int?, maxAmount: Int64?)
        case cashOutRing(minCards: Int)
        case passThrough(minAmount: Int64, outPercent: Int)
        case dormantReactivated(minAmount: Int64)
        /// A transfer of at least `minAmount` with a customer whose screening is a hit, whose KYC was
        /// rejected, or whose risk rating is `minRating` or above (medium or high).
        case riskyCounterparty(minRating: RiskRating, minAmount: Int64)
    }

    public var id: String
    public var description: String
    public var parameters: Parameters
    public var windowSeconds: Int64
    public var severity: AlertSeverity
    public var enabled: Bool

    public var kind: Kind {
        switch self.parameters {
        case .structuring: .structuring
        case .velocity: .velocity
        case .cashOutRing: .cashOutRing
        case .passThrough: .passThrough
        case .dormantReactivated: .dormantReactivated
        case .riskyCounterparty: .riskyCounterparty
        }
    }

    /// Whether the rule refuses inside the posting (59) rather than alerting after it.
    public var isBlocking: Bool { self.kind == .velocity }
}

/// A checked rule file: its rules, and the canonical JSON the database stores (sorted keys, amounts in
/// minor units, windows in seconds) with its SHA-256, which tells one version from another.
public struct MonitoringRuleSet: Sendable, Hashable {
    public var rules: [MonitoringRule]

    public var json: Data {
        let rows = self.rules.map(RuleRow.init)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, numbers and booleans cannot fail.
        return (try? encoder.encode(rows)) ?? Data("[]".utf8)
    }

    public var digest: Data { Data(SHA256.hash(data: self.json)) }

    /// A rule as `bank.install_aml_rules` reads it.
    struct RuleRow: Encodable {
        var id: String
        var description: String
        var kind: String
        var parameters: [String: ParameterValue]
        var window_seconds: Int64
        var severity: String
        var enabled: Bool

        init(_ rule: MonitoringRule) {
            self.id = rule.id
            self.description = rule.description
            self.kind = rule.kind.rawValue
            self.window_seconds = rule.windowSeconds
            self.severity = rule.severity.rawValue
            self.enabled = rule.enabled
            switch rule.parameters {
            case .structuring(let direction, let minCount, let threshold):
                self.parameters = [
                    "direction": .text(direction.rawValue), "min_count": .number(Int64(minCount)),
                    "threshold": .number(threshold),
                ]
            case .velocity(let maxCount, let maxAmount):
                self.parameters = [:]
                if let maxCount { self.parameters["max_count"] = .number(Int64(maxCount)) }
                if let maxAmount { self.parameters["max_amount"] = .number(maxAmount) }
            case .cashOutRing(let minCards):
                self.parameters = ["min_cards": .number(Int64(minCards))]
            case .passThrough(let minAmount, let outPercent):
                self.parameters = ["min_amount": .number(minAmount), "out_percent": .number(Int64(outPercent))]
            case .dormantReactivated(let minAmount):
                self.parameters = ["min_amount": .number(minAmount)]
            case .riskyCounterparty(let minRating, let minAmount):
                self.parameters = ["min_rating": .text(minRating.rawValue), "min_amount": .number(minAmount)]
            }
        }
    }

    enum ParameterValue: Encodable {
        case text(String)
        case number(Int64)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .number(let number): try container.encode(number)
            }
        }
    }
}

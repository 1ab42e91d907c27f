import CashpointBank
import Foundation
import Testing

/// The rule file's reader (`MonitoringRules`): the shipped file, and each kind of mistake named with its
/// line and column, nothing loaded.
@Suite("transaction monitoring's rule files")
struct MonitoringRulesTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/aml-rules.yaml")

    static func rule(_ body: String) -> String {
        """
        rules:
          - id: r1
            description: a rule
        \(body)
        """
    }

    @Test("fixtures/aml-rules.yaml: every kind, with its parameters in minor units and seconds")
    func shippedFile() throws {
        let set = try MonitoringRules.parse(yaml: try String(contentsOf: Self.fixture, encoding: .utf8))
        #expect(set.rules.map(\.id) == [
            "structuring-deposits", "structuring-withdrawals", "velocity-card", "cash-out-ring", "pass-through",
            "dormant-reactivated", "risky-counterparty",
        ])
        #expect(Set(set.rules.map(\.kind)) == Set(MonitoringRule.Kind.allCases))
        #expect(set.rules[0].parameters == .structuring(direction: .deposit, minCount: 3, threshold: 1_000_000))
        #expect(set.rules[0].windowSeconds == 3 * 86_400)
        #expect(set.rules[2].parameters == .velocity(maxCount: 3, maxAmount: 150_000))
        #expect(set.rules[2].isBlocking && !set.rules[3].isBlocking)
        #expect(set.rules[4].parameters == .passThrough(minAmount: 100_000, outPercent: 90))
        #expect(set.rules[5].windowSeconds == 180 * 86_400)
        #expect(set.rules[6].parameters == .riskyCounterparty(minRating: .high, minAmount: 10_000))
        #expect(set.rules.filter(\.enabled).count == 7)
    }

    @Test("the canonical JSON: sorted keys, minor units, seconds; its digest changes with any value")
    func canonicalJSON() throws {
        let yaml = Self.rule(
            """
                kind: velocity
                parameters: {max_count: 3}
                window: 10m
                severity: medium
                enabled: true
            """
        )
        let set = try MonitoringRules.parse(yaml: yaml)
        #expect(
            String(decoding: set.json, as: UTF8.self)
                == #"[{"description":"a rule","enabled":true,"id":"r1","kind":"velocity","parameters":{"max_count":3},"severity":"medium","window_seconds":600}]"#
        )
        let other = try MonitoringRules.parse(yaml: yaml.replacingOccurrences(of: "max_count: 3", with: "max_count: 4"))
        #expect(set.digest.count == 32 && set.digest != other.digest)
        #expect(try MonitoringRules.parse(yaml: yaml).digest == set.digest)
    }

    @Test(
        "mistakes are named with where they are",
        arguments: [
            ("rules: [", MonitoringRuleError.Code.syntax, 1),
            ("- 1", .wrongType, 1),
            ("rule: []", .unknownKey, 1),
            ("rules: []", .badValue, 1),
            (rule("    kind: velocity\n    parameters: {}\n    window: 10m\n    severity: medium\n    enabled: true"), .missingKey, 5),
            (rule("    kind: velocity\n    parameters: {max_count: 0}\n    window: 10m\n    severity: medium\n    enabled: true"), .badValue, 5),
            (rule("    kind: teleport\n    parameters: {}\n    window: 10m\n    severity: medium\n    enabled: true"), .badValue, 4),
            (rule("    kind: velocity\n    parameters: {max_count: 3}\n    window: 10 minutes\n    severity: medium\n    enabled: true"), .badValue, 6),
            (rule("    kind: velocity\n    parameters: {max_count: 3}\n    window: 500d\n    severity: medium\n    enabled: true"), .badValue, 6),
            (rule("    kind: velocity\n    parameters: {max_count: 3}\n    window: 10m\n    severity: urgent\n    enabled: true"), .badValue, 7),
            (rule("    kind: velocity\n    parameters: {max_count: 3}\n    window: 10m\n    severity: medium\n    enabled: yes"), .wrongType, 8),
            (rule("    kind: velocity\n    parameters: {max_count: 3, min_cards: 2}\n    window: 10m\n    severity: medium\n    enabled: true"), .unknownKey, 5),
            (rule("    kind: structuring\n    parameters: {direction: deposit, min_count: 3, threshold: \"10000.001\"}\n    window: 3d\n    severity: high\n    enabled: true"), .badValue, 5),
            (rule("    kind: structuring\n    parameters: {direction: sideways, min_count: 3, threshold: 10}\n    window: 3d\n    severity: high\n    enabled: true"), .badValue, 5),
            (rule("    kind: pass_through\n    parameters: {min_amount: \"1000.00\", out_percent: 101}\n    window: 24h\n    severity: high\n    enabled: true"), .badValue, 5),
            (rule("    kind: velocity\n    parameters: {max_count: 3}\n    window: 10m\n    severity: medium\n    enabled: true\n    colour: red"), .unknownKey, 9),
            ("rules:\n  - id: Bad Id\n    description: x\n    kind: velocity\n    parameters: {max_count: 3}\n    window: 10m\n    severity: low\n    enabled: true", .badValue, 2),
        ]
    )
    func mistakes(yaml: String, code: MonitoringRuleError.Code, line: Int) {
        #expect {
            try MonitoringRules.parse(yaml: yaml)
        } throws: { error in
            guard let error = error as? MonitoringRuleError else { return false }
            #expect(error.code == code, "\(error)")
            // libyaml names a syntax error where it noticed it, at the end of the text here.
            let lineRight = code == .syntax ? error.line >= line : error.line == line
            #expect(lineRight, "\(error)")
            #expect(error.column >= 1, "\(error)")
            return error.code == code && lineRight
        }
    }

    @Test("one id twice is refused at the second")
    func duplicateID() {
        let one = "  - id: r1\n    description: a\n    kind: cash_out_ring\n    parameters: {min_cards: 5}\n    window: 15m\n    severity: high\n    enabled: true\n"
        #expect(throws: MonitoringRuleError.self) { try MonitoringRules.parse(yaml: "rules:\n" + one + one) }
        do {
            _ = try MonitoringRules.parse(yaml: "rules:\n" + one + one)
        } catch {
            #expect(error.code == .duplicateID && error.line == 9)
        }
    }

    @Test("amounts and windows", arguments: [
        ("10000.00", Int64(1_000_000)), ("10000", 1_000_000), ("0.5", 50), ("12.34", 1_234), ("1,000", nil), ("-1", nil),
        ("1.234", nil), ("", nil),
    ])
    func amounts(text: String, minor: Int64?) {
        #expect(MonitoringRules.minorUnits(text) == minor)
    }

    @Test("windows", arguments: [("90s", Int64(90)), ("10m", 600), ("24h", 86_400), ("180d", 15_552_000), ("0m", nil), ("m", nil), ("1w", nil), ("+5m", nil)])
    func windows(text: String, seconds: Int64?) {
        #expect(MonitoringRules.seconds(text) == seconds)
    }
}

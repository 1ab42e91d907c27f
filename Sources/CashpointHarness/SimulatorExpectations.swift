import ATM87
import Foundation

/// One expectation of a host script, checked against the record: passed, or what was wrong.
public struct HostExpectationResult: Sendable, Hashable {
    public var name: String
    public var location: String
    public var passed: Bool
    /// What was wrong, one line each (nothing secret: the record's lines show no PAN, PIN or MAC).
    public var problems: [String]

    public init(name: String, location: String, passed: Bool, problems: [String] = []) {
        self.name = name
        self.location = location
        self.passed = passed
        self.problems = problems
    }
}

/// The end-of-run check: each expectation's selection of the record, its count and what each selected
/// message holds. Pure: the expectations, the record and the variables in, the results out.
public enum HostExpectationCheck {
    public static func check(
        _ expectations: [HostExpectation],
        record: SimulatorRecord,
        variables: [String: String]
    ) -> [HostExpectationResult] {
        expectations.map { self.check($0, record: record, variables: variables, among: expectations) }
    }

    /// Whether every expectation holds (`--until passed`).
    public static func allPass(_ expectations: [HostExpectation], record: SimulatorRecord, variables: [String: String])
        -> Bool
    {
        !expectations.isEmpty && self.check(expectations, record: record, variables: variables).allSatisfy(\.passed)
    }

    /// One expectation; `among`: the script's, where its `after` is found.
    public static func check(
        _ expectation: HostExpectation,
        record: SimulatorRecord,
        variables: [String: String],
        among expectations: [HostExpectation] = []
    ) -> HostExpectationResult {
        var result = HostExpectationResult(name: expectation.name, location: expectation.location, passed: false)
        let positions: [Int]
        do {
            positions = try self.select(expectation, record: record, variables: variables)
            if let after = expectation.after {
                result.problems = try self.order(positions, after: after, among: expectations, record: record, variables: variables)
            }
        } catch {
            result.problems = [error.detail]
            return result
        }
        let selected = positions.map { record.entries[$0] }
        let count: Bool
        do {
            count = try self.holds(selected.count, expectation.count, variables: variables)
        } catch {
            result.problems = ["count: \(error.detail)"]
            return result
        }
        if !count {
            var problem = "expected \(self.text(expectation.count)) of \(self.describe(expectation, variables)), found \(selected.count)"
            if !selected.isEmpty { problem += ":" }
            result.problems.append(problem)
            result.problems += selected.map { "  " + $0.line }
        }
        for entry in selected {
            guard let message = entry.message else { continue }
            let differences = ScriptCheck.check(message, request: nil, expect: expectation.each, variables: variables)
            if !differences.isEmpty {
                result.problems.append(entry.line)
                result.problems += differences.map { "  " + $0.description }
            }
        }
        result.passed = result.problems.isEmpty
        return result
    }

    /// What is wrong with the order: each selected message at or before the first one `after` (an
    /// earlier expectation's name) selects, or that one selecting none.
    static func order(
        _ positions: [Int],
        after name: String,
        among expectations: [HostExpectation],
        record: SimulatorRecord,
        variables: [String: String]
    ) throws(ScriptError) -> [String] {
        guard let earlier = expectations.first(where: { $0.name == name }) else {
            throw ScriptError(.badExpectation, "after: no expectation is named \(name)")
        }
        guard let first = try self.select(earlier, record: record, variables: variables).first else {
            return ["expected after the first of \(self.describe(earlier, variables)) (\(name)), but there is none"]
        }
        let early = positions.filter { $0 <= first }
        guard !early.isEmpty else { return [] }
        return ["expected after \(record.entries[first].line.trimmingCharacters(in: .whitespaces)) (\(name)), but came before it:"]
            + early.map { "  " + record.entries[$0].line }
    }

    /// The positions in the record of the requests (or answers) the expectation is about.
    static func select(
        _ expectation: HostExpectation,
        record: SimulatorRecord,
        variables: [String: String]
    ) throws(ScriptError) -> [Int] {
        var original: String?
        if let text = expectation.reversal { original = try ScriptValues.substitute(text, variables: variables) }
        var terminal: String?
        if let text = expectation.terminal { terminal = try ScriptValues.substitute(text, variables: variables) }
        return record.entries.indices.filter { position in
            let entry = record.entries[position]
            guard entry.kind == (expectation.sent ? .sent : .received), let message = entry.message else { return false }
            if let terminal, entry.terminal != terminal { return false }
            let mti = message.mti.description
            if !expectation.mti.isEmpty, !expectation.mti.contains(where: { self.matches(mti, pattern: $0) }) {
                return false
            }
            if let original {
                guard message.mti == .reversalAdvice || message.mti == .reversalAdviceRepeat,
                    let field = message[90], field.utf8.count >= 10,
                    String(field.dropFirst(4).prefix(6)) == original
                else { return false }
            }
            return ScriptCheck.check(message, request: nil, expect: expectation.when, variables: variables).isEmpty
        }
    }

    /// `0420` against `042*`: `*` any digits.
    static func matches(_ text: String, pattern: String) -> Bool {
        guard pattern.contains("*") else { return text == pattern }
        let prefix = pattern.prefix { $0 != "*" }
        return text.hasPrefix(prefix)
    }

    /// Whether a count meets the expectation's comparisons.
    static func holds(_ count: Int, _ expectation: FieldExpectation, variables: [String: String]) throws(ScriptError)
        -> Bool
    {
        let value = Int64(count)
        let comparisons: [(String?, (Int64, Int64) -> Bool)] = [
            (expectation.equals, (==)), (expectation.eq, (==)), (expectation.ne, (!=)), (expectation.lt, (<)),
            (expectation.le, (<=)), (expectation.gt, (>)), (expectation.ge, (>=)),
        ]
        for case (let operand?, let holds) in comparisons {
            let text = try ScriptValues.substitute(operand, variables: variables)
            guard let bound = Int64(text) else { throw ScriptError(.badExpectation, "\(operand) is not a number") }
            if !holds(value, bound) { return false }
        }
        return true
    }

    /// `exactly 1`, `at least 1`, `at most 0`...
    static func text(_ count: FieldExpectation) -> String {
        var parts: [String] = []
        if let value = count.equals ?? count.eq { parts.append("exactly \(value)") }
        if let value = count.ne { parts.append("other than \(value)") }
        if let value = count.lt { parts.append("fewer than \(value)") }
        if let value = count.le { parts.append("at most \(value)") }
        if let value = count.gt { parts.append("more than \(value)") }
        if let value = count.ge { parts.append("at least \(value)") }
        return parts.joined(separator: " and ")
    }

    /// What the expectation selects, in words: `0420/0421 reversing STAN 123456 from ATM00001`.
    static func describe(_ expectation: HostExpectation, _ variables: [String: String]) -> String {
        let resolve = { (text: String) in (try? ScriptValues.substitute(text, variables: variables)) ?? text }
        var words: [String] = []
        if let original = expectation.reversal {
            words.append("reversal advices (0420/0421) of STAN \(resolve(original))")
        } else {
            let what = expectation.sent ? "answers sent" : "requests"
            words.append(expectation.mti.isEmpty ? what : what + " " + expectation.mti.joined(separator: "/"))
        }
        if let terminal = expectation.terminal { words.append("from \(resolve(terminal))") }
        if !expectation.when.isEmpty {
            let conditions = expectation.when.sorted(by: { ScriptCheck.order($0.key, $1.key) }).map { key, condition in
                return "\(key) " + (condition.equals.map { "= \(resolve($0))" } ?? condition.matches.map { "~ /\(resolve($0))/" } ?? "checked")
            }
            words.append("with " + conditions.joined(separator: ", "))
        }
        return words.joined(separator: " ")
    }
}

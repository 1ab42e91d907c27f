public import ATM87
import Foundation

/// `${...}` in a script's values: variables, captures and the step's own values. Pure.
public enum ScriptValues {
    /// Replaces every `${inner}` by `lookup(inner)`; `$${` is a literal `${`.
    public static func substitute(
        _ text: String,
        _ lookup: (String) throws(ScriptError) -> String
    ) throws(ScriptError) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.hasPrefix("${") {
                out += "${"
                rest = after.dropFirst(2)
            } else if after.hasPrefix("{") {
                // The matching brace: a function's argument may itself hold `${...}`.
                var depth = 0
                var found: Substring.Index?
                for index in after.indices {
                    if after[index] == "{" { depth += 1 }
                    if after[index] == "}" {
                        depth -= 1
                        if depth == 0 {
                            found = index
                            break
                        }
                    }
                }
                guard let close = found else {
                    throw ScriptError(.unknownVariable, "\(text): a ${ without its }")
                }
                let inner = after[after.index(after: after.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                guard !inner.isEmpty else { throw ScriptError(.unknownVariable, "\(text): an empty ${}") }
                out += try lookup(inner)
                rest = after[after.index(after: close)...]
            } else {
                out += "$"
                rest = after
            }
        }
        return out + rest
    }

    /// Substitutes from a table of variables; an unknown name is an error that lists the known ones.
    public static func substitute(_ text: String, variables: [String: String]) throws(ScriptError) -> String {
        try self.substitute(text) { inner throws(ScriptError) in try self.lookup(inner, variables) }
    }

    /// A variable's value, or a function's: `luhn(DIGITS)` is the digits with their Luhn check digit;
    /// `part(NAME, N)` the Nth space-separated word of the variable NAME.
    public static func lookup(_ inner: String, _ variables: [String: String]) throws(ScriptError) -> String {
        if let value = variables[inner] { return value }
        if let call = self.call(inner), call.name == "pinBlock" {
            // Its argument is a PIN: never repeated in a message.
            throw ScriptError(.unknownVariable, "${pinBlock(...)} can only be a value of a send step's fields")
        }
        if let call = self.call(inner), call.name == "luhn" {
            let digits = call.arguments.first.map { (try? self.substitute($0, variables: variables)) ?? $0 } ?? ""
            guard call.arguments.count == 1, !digits.isEmpty, digits.allSatisfy(\.isASCII),
                digits.allSatisfy(\.isNumber),
                let check = Luhn.checkDigit(for: digits)
            else {
                throw ScriptError(.unknownVariable, "${\(inner)}: luhn takes one argument, digits")
            }
            return digits + String(check)
        }
        if let call = self.call(inner), call.name == "part" {
            // The Nth word of a variable: one of the recovery codes a capture of 48.RC holds.
            guard call.arguments.count == 2, let text = variables[call.arguments[0]],
                let index = Int(call.arguments[1]), index >= 1
            else {
                throw ScriptError(
                    .unknownVariable,
                    "${\(inner)}: part takes a variable that is set and a word's number from 1"
                )
            }
            let words = text.split(separator: " ")
            guard index <= words.count else {
                throw ScriptError(.unknownVariable, "${\(inner)}: \(call.arguments[0]) has \(words.count) words")
            }
            return String(words[index - 1])
        }
        throw ScriptError(
            .unknownVariable,
            "${\(inner)} is not set (set: \(variables.keys.sorted().joined(separator: ", ")))"
        )
    }

    /// What each `${...}` of a text holds (`name`, `luhn(${bin}123)`), in order; throws when one is
    /// malformed.
    public static func references(_ text: String) throws(ScriptError) -> [String] {
        var found: [String] = []
        _ = try self.substitute(text) { inner throws(ScriptError) in
            found.append(inner)
            return ""
        }
        return found
    }

    /// A function call written `name(arg, arg)`: its name and arguments, or nil for a plain name.
    public static func call(_ inner: String) -> (name: String, arguments: [String])? {
        guard let open = inner.firstIndex(of: "("), inner.hasSuffix(")") else { return nil }
        let name = inner[..<open].trimmingCharacters(in: .whitespaces)
        let body = inner[inner.index(after: open)..<inner.index(before: inner.endIndex)]
        let arguments = body.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        return (name, arguments == [""] ? [] : arguments)
    }
}

/// One way an answer differed from what the step expected, already masked for printing.
public struct ScriptDifference: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The field (`39`, `48.BL`, `mti`) or `time`.
    public var key: String
    public var expected: String
    public var actual: String

    public init(key: String, expected: String, actual: String) {
        self.key = key
        self.expected = expected
        self.actual = actual
    }

    public var description: String {
        let what = self.key == "mti" || self.key == "time" ? self.key : "field \(self.key)"
        return "\(what): expected \(self.expected), got \(self.actual)"
    }
}

/// Checks an answer against a step's expectations. Pure: the answer, the request it answers, the
/// variables, and how long it took come in; the differences go out.
public enum ScriptCheck {
    /// The value of `key` in a message: `mti`, a field by number or name, `48.TAG` (a TLV element), or
    /// `48.TAG.N` (the N-th `|`-separated part of that element, from 1: `48.KE.1`, a case's number).
    public static func value(of key: String, in message: ATM87Message) throws(ScriptError) -> String? {
        if key == "mti" { return message.mti.description }
        if let dot = key.firstIndex(of: ".") {
            let field = try ScriptFieldName.number(String(key[..<dot]))
            guard field == 48 else {
                throw ScriptError(.unknownField, "\(key): only field 48 has elements (48.TAG)")
            }
            let path = key[key.index(after: dot)...].split(separator: ".", omittingEmptySubsequences: false)
            let element = message[48].flatMap { try? ATM87TLV(parsing: $0) }?[String(path[0])]
            guard path.count == 2 else { return path.count == 1 ? element : nil }
            guard let part = Int(path[1]), part >= 1 else {
                throw ScriptError(.unknownField, "\(key): a part of an element is 48.TAG.N, N from 1")
            }
            let parts = element?.split(separator: "|", omittingEmptySubsequences: false) ?? []
            return part <= parts.count ? String(parts[part - 1]) : nil
        }
        return message[try ScriptFieldName.number(key)]
    }

    /// A value as it may be printed: PANs masked, secrets by their length only.
    public static func shown(_ value: String?, of key: String) -> String {
        guard let value else { return "absent" }
        if key == "mti" { return value }
        if let dot = key.firstIndex(of: ".") {
            let tag = String(key[key.index(after: dot)...])
            return ATM87TLV.secretTags.contains(tag) ? "<redacted \(value.count) chars>" : quoted(value)
        }
        guard let number = try? ScriptFieldName.number(key), let spec = ATM87Spec.field(number) else {
            return "<redacted \(value.count) chars>"
        }
        switch spec.sensitivity {
        case .none: return quoted(value)
        case .pan: return quoted(ATM87PrettyPrinter.maskPAN(value))
        case .secret: return "<redacted \(value.count) chars>"
        }
    }

    static func quoted(_ text: String) -> String { "\"\(text)\"" }

    /// An amount in minor units: field 54's first amount, a `C`/`D` signed amount (`D` negative), or
    /// digits with an optional minus sign.
    public static func amount(_ text: String) -> Int64? {
        if text.utf8.count >= AdditionalAmount.width, text.utf8.count % AdditionalAmount.width == 0,
            let first = try? AdditionalAmount.decode(text).first
        {
            return first.amount
        }
        if let sign = text.first, sign == "C" || sign == "D", let digits = Int64(text.dropFirst()),
            !text.dropFirst().hasPrefix("-")
        {
            return sign == "D" ? -digits : digits
        }
        return Int64(text)
    }

    /// Every difference between `answer` and `expect`; an empty list means the answer is as expected.
    /// `within` and `elapsed` check the answer's time; `request` is what an echo is compared with.
    public static func check(
        _ answer: ATM87Message,
        request: ATM87Message?,
        expect: [String: FieldExpectation],
        variables: [String: String],
        elapsed: Duration? = nil,
        within: Duration? = nil
    ) -> [ScriptDifference] {
        var differences: [ScriptDifference] = []
        for (key, expectation) in expect.sorted(by: { Self.order($0.key, $1.key) }) {
            do {
                differences += try self.check(
                    key,
                    expectation,
                    answer: answer,
                    request: request,
                    variables: variables
                )
            } catch {
                differences.append(ScriptDifference(key: key, expected: "a usable expectation", actual: error.detail))
            }
        }
        if let within, let elapsed, elapsed > within {
            differences.append(
                ScriptDifference(
                    key: "time",
                    expected: "an answer within \(ScriptDuration.text(within))",
                    actual: "the answer after \(ScriptDuration.text(elapsed))"
                )
            )
        }
        return differences
    }

    /// The most telling first: field 39 (the response code), then `mti`, then fields in number order
    /// (`48.TAG`s after field 48).
    static func order(_ a: String, _ b: String) -> Bool {
        func rank(_ key: String) -> (Int, String) {
            if key == "mti" { return (-1, key) }
            let head = key.split(separator: ".").first.map(String.init) ?? key
            let number = (try? ScriptFieldName.number(head)) ?? 1000
            return (number == 39 && head == key ? -2 : number, key)
        }
        return rank(a) < rank(b)
    }

    static func check(
        _ key: String,
        _ expectation: FieldExpectation,
        answer: ATM87Message,
        request: ATM87Message?,
        variables: [String: String]
    ) throws(ScriptError) -> [ScriptDifference] {
        let actual = try self.value(of: key, in: answer)
        var echoed: String?? = nil
        if expectation.echo == true {
            guard let request else {
                throw ScriptError(.badExpectation, "\(key): an echo needs a request (this step sent none)")
            }
            echoed = .some(try self.value(of: key, in: request))
        }
        let responseCode = (try? ScriptFieldName.number(key)) == 39
        return try self.compare(
            key,
            actual: actual,
            expectation,
            variables: variables,
            echoed: echoed,
            show: { self.shown($0, of: key) },
            meaning: { value in responseCode ? value.flatMap { self.meaning(of: $0) } : nil }
        )
    }

    /// A response code's meaning as protocols/atm87.json gives it, in lower case (`exceeds withdrawal
    /// frequency limit`).
    public static func meaning(of code: String) -> String? {
        guard let text = ATM87Spec.responseCodes[code], let first = text.first else { return nil }
        return first.lowercased() + text.dropFirst()
    }

    /// Whether a step's `when` holds for a variable: nil when it does, else why not (the value itself is
    /// never said: it may be a captured one).
    public static func condition(
        _ name: String,
        _ expectation: FieldExpectation,
        variables: [String: String]
    ) throws(ScriptError) -> String? {
        let differences = try self.compare(
            name,
            actual: variables[name],
            expectation,
            variables: variables,
            echoed: nil,
            show: { value in
                guard let value else { return "absent" }
                let pan = value.count >= 13 && value.allSatisfy { $0.isASCII && $0.isNumber }
                return self.quoted(pan ? ATM87PrettyPrinter.maskPAN(value) : value)
            },
            meaning: { _ in nil }
        )
        guard let first = differences.first else { return nil }
        if variables[name] == nil, first.expected != "absent" { return "${\(name)} is not set" }
        return "${\(name)} is not \(first.expected)"
    }

    /// The checks of one expectation on a value. `show` prints a value as it may be printed;
    /// `meaning` adds what a value means (a response code's words).
    static func compare(
        _ key: String,
        actual: String?,
        _ expectation: FieldExpectation,
        variables: [String: String],
        echoed: String??,
        show: (String?) -> String,
        meaning: (String?) -> String?
    ) throws(ScriptError) -> [ScriptDifference] {
        var differences: [ScriptDifference] = []
        func differ(_ expected: String, comparedWith wanted: String?? = nil) {
            var got = show(actual)
            if let meaning = meaning(actual) { got += " (\(meaning))" }
            if case .some(let wanted) = wanted, let hidden = self.hiddenDifference(wanted, actual, show: show) {
                got += " \(hidden)"
            }
            differences.append(ScriptDifference(key: key, expected: expected, actual: got))
        }
        func resolve(_ text: String) throws(ScriptError) -> String {
            try ScriptValues.substitute(text, variables: variables)
        }
        func regex(_ pattern: String) throws(ScriptError) -> Regex<AnyRegexOutput> {
            do {
                return try Regex(try resolve(pattern))
            } catch let error as ScriptError {
                throw error
            } catch {
                throw ScriptError(.badExpectation, "\(key): /\(pattern)/ is not a regular expression: \(error)")
            }
        }
        if expectation.present == true, actual == nil { differ("present") }
        if expectation.absent == true, actual != nil { differ("absent") }
        if let equals = expectation.equals {
            let wanted = try resolve(equals)
            if actual != wanted { differ(show(wanted), comparedWith: .some(wanted)) }
        }
        if let notEquals = expectation.notEquals {
            let unwanted = try resolve(notEquals)
            if actual == unwanted { differ("anything but \(show(unwanted))") }
        }
        if let prefix = expectation.prefix {
            let wanted = try resolve(prefix)
            if !(actual?.hasPrefix(wanted) ?? false) { differ("a value starting with \(self.quoted(wanted))") }
        }
        if let pattern = expectation.matches {
            let compiled = try regex(pattern)
            let matched = actual.map { text in (try? compiled.wholeMatch(in: text)) != nil } ?? false
            if !matched { differ("a match for /\(pattern)/") }
        }
        if let pattern = expectation.notMatches {
            let compiled = try regex(pattern)
            let matched = actual.map { text in (try? compiled.wholeMatch(in: text)) != nil } ?? false
            if matched { differ("no match for /\(pattern)/") }
        }
        if case .some(let sent) = echoed, sent != actual {
            differ("the request's \(show(sent)) echoed", comparedWith: .some(sent))
        }
        let comparisons: [(String?, String, (Int64, Int64) -> Bool)] = [
            (expectation.eq, "=", (==)), (expectation.ne, "≠", (!=)), (expectation.lt, "<", (<)),
            (expectation.le, "≤", (<=)), (expectation.gt, ">", (>)), (expectation.ge, "≥", (>=)),
        ]
        for case (let operand?, let symbol, let holds) in comparisons {
            let text = try resolve(operand)
            guard let bound = self.amount(text) else {
                throw ScriptError(.badExpectation, "\(key): \(operand) is not an amount")
            }
            guard let value = actual.flatMap(self.amount), holds(value, bound) else {
                differ("an amount \(symbol) \(bound)")
                continue
            }
        }
        if let change = expectation.change {
            guard let before = variables[change.since] else {
                throw ScriptError(.unknownVariable, "\(key): change since ${\(change.since)}, which was never captured")
            }
            guard let start = self.amount(before), let by = self.amount(try resolve(change.by)),
                case (let wanted, false) = start.addingReportingOverflow(by)
            else {
                throw ScriptError(.badExpectation, "\(key): change since \(change.since) by \(change.by): not amounts")
            }
            let now = actual.flatMap(self.amount)
            if now != wanted {
                let seen = now.map { now in
                    let (change, overflow) = now.subtractingReportingOverflow(start)
                    return overflow ? "\(now)" : "\(now) (a change of \(change))"
                }
                differences.append(
                    ScriptDifference(
                        key: key,
                        expected: "\(wanted) (a change of \(by) since \(change.since))",
                        actual: seen ?? "no amount"
                    )
                )
            }
        }
        return differences
    }

    /// When masking prints two different values alike (`"476173******0119"` both), which positions
    /// differ, without a digit of them: `(the masked values differ at positions 8, 9 of 16)`.
    static func hiddenDifference(_ wanted: String?, _ actual: String?, show: (String?) -> String) -> String? {
        guard let wanted, let actual, wanted != actual, show(wanted) == show(actual) else { return nil }
        guard wanted.count == actual.count else {
            return "(the masked values differ: \(wanted.count) and \(actual.count) characters)"
        }
        let positions = zip(wanted, actual).enumerated().filter { $0.element.0 != $0.element.1 }.map { $0.offset + 1 }
        let list = positions.map(String.init).joined(separator: ", ")
        return "(the masked values differ at position\(positions.count == 1 ? "" : "s") \(list) of \(wanted.count))"
    }
}

/// Pairs answers with the requests waiting for them, so that an answer with another STAN is reported
/// as unmatched, and one to a request that already timed out as late, never as a timeout. Pure.
public struct AnswerMatcher: Sendable {
    public struct Waiting: Sendable, Hashable {
        public var step: Int
        public var stan: String?
        public var responseMTI: MTI?
    }

    public enum Verdict: Sendable, Hashable {
        /// The answer to the request being waited for.
        case answer
        /// An answer to an earlier step's request, which had timed out.
        case late(step: Int)
        /// An answer to no request this script sent (or not to the one waited for).
        case unmatched
    }

    public private(set) var waiting: Waiting?
    /// The STANs of requests that timed out, and their steps.
    public private(set) var timedOut: [String: Int] = [:]

    public init() {}

    /// The response type of a request type: 0200 → 0210, 0421 → 0430.
    public static func responseMTI(of request: MTI) -> MTI {
        MTI(rawValue: request.rawValue / 10 * 10 + 10)
    }

    /// A request was sent by `step`; its answer is awaited.
    public mutating func sent(step: Int, request: ATM87Message?) {
        self.waiting = Waiting(
            step: step,
            stan: request?[11],
            responseMTI: request.map { Self.responseMTI(of: $0.mti) }
        )
    }

    /// A message came in: whose answer is it?
    public mutating func received(_ message: ATM87Message) -> Verdict {
        if let waiting = self.waiting, waiting.stan == nil || waiting.stan == message[11] {
            self.waiting = nil
            return .answer
        }
        if let stan = message[11], let step = self.timedOut.removeValue(forKey: stan) {
            return .late(step: step)
        }
        return .unmatched
    }

    /// The awaited answer did not come in time.
    public mutating func timeout() {
        if let waiting = self.waiting, let stan = waiting.stan { self.timedOut[stan] = waiting.step }
        self.waiting = nil
    }

    /// Nothing is awaited any more (the step ended another way).
    public mutating func abandon() {
        self.waiting = nil
    }
}

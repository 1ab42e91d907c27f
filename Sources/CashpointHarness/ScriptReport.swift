import Foundation

/// What one step came to. Everything in it is already masked (PANs, secrets by length).
public struct StepResult: Sendable, Codable, Hashable {
    public enum Status: String, Sendable, Codable, Hashable {
        /// Done, and the answer (if any) was as expected.
        case passed
        /// Done, and the answer differed, or came late, or did not match, or did not come.
        case failed
        /// The step could not be done as written (a missing argument, an unknown variable, no connection).
        case error
        /// The step sent nothing and checked nothing (its `when` did not hold, no card session to end):
        /// never counted as passed.
        case skipped
    }

    /// 1-based, in the script after includes.
    public var index: Int
    public var name: String
    public var action: String
    public var status: Status
    public var seconds: Double
    /// What was wrong, one line each.
    public var problems: [String]
    /// What else happened (a late answer to an earlier step, say).
    public var notes: [String]
    /// The request and the answer through the masking printer.
    public var request: String?
    public var answer: String?
    /// Where the step is written: `file:line`.
    public var source: String?
    /// Why a skipped step was skipped.
    public var reason: String?
    /// The answer's response code (field 39), when an answer came and has one.
    public var code: String?
    /// Seconds from the request's send to its answer, when an answer came.
    public var answerSeconds: Double?

    public init(
        index: Int,
        name: String,
        action: String,
        status: Status,
        seconds: Double = 0,
        problems: [String] = [],
        notes: [String] = [],
        request: String? = nil,
        answer: String? = nil,
        source: String? = nil,
        reason: String? = nil
    ) {
        self.index = index
        self.name = name
        self.action = action
        self.status = status
        self.seconds = seconds
        self.problems = problems
        self.notes = notes
        self.request = request
        self.answer = answer
        self.source = source
        self.reason = reason
    }

    /// The first line of a failure: where the step is written, then its first problem
    /// (`wrong-value.yaml:13: field 39: expected "05", got "00"`).
    public var headline: String {
        let first = self.problems.first ?? (self.status == .skipped ? self.reason ?? "skipped" : "failed")
        return self.source.map { "\($0): \(first)" } ?? first
    }
}

/// One script's steps.
public struct ScriptResult: Sendable, Codable, Hashable {
    public var name: String
    public var file: String
    public var terminal: String
    public var steps: [StepResult]

    public init(name: String, file: String, terminal: String, steps: [StepResult] = []) {
        self.name = name
        self.file = file
        self.terminal = terminal
        self.steps = steps
    }

    public var passed: Int { self.steps.count(where: { $0.status == .passed }) }
    public var failed: Int { self.steps.count(where: { $0.status == .failed }) }
    public var errors: Int { self.steps.count(where: { $0.status == .error }) }
    public var skipped: Int { self.steps.count(where: { $0.status == .skipped }) }
    public var seconds: Double { self.steps.reduce(0) { $0 + $1.seconds } }
}

/// A whole run: the scripts, and the reports made of them (JUnit XML, JSON, the closing line). Pure.
public struct ScriptRunReport: Sendable, Codable, Hashable {
    public var scripts: [ScriptResult]

    public init(scripts: [ScriptResult]) { self.scripts = scripts }

    public var passed: Int { self.scripts.reduce(0) { $0 + $1.passed } }
    /// Steps that failed or could not be done.
    public var failed: Int { self.scripts.reduce(0) { $0 + $1.failed + $1.errors } }
    /// Steps that sent and checked nothing.
    public var skipped: Int { self.scripts.reduce(0) { $0 + $1.skipped } }

    /// The closing line: `N passed, N failed, N skipped`.
    public var summary: String { "\(self.passed) passed, \(self.failed) failed, \(self.skipped) skipped" }

    /// JUnit XML: a `testsuite` per script (per data row and repetition: `name [row 2]`, also the
    /// testcases' classname), a `testcase` per step; a failed step has a `failure`, a step that could
    /// not be done an `error`, each with the problems and both messages, and a skipped step `skipped`
    /// with the reason.
    public func junitXML() -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let total = self.scripts.reduce(0) { $0 + $1.steps.count }
        let failures = self.scripts.reduce(0) { $0 + $1.failed }
        let errors = self.scripts.reduce(0) { $0 + $1.errors }
        let time = self.scripts.reduce(0) { $0 + $1.seconds }
        xml += "<testsuites name=\"atm-harness\" tests=\"\(total)\" failures=\"\(failures)\" errors=\"\(errors)\""
        xml += " skipped=\"\(self.skipped)\" time=\(Self.attribute(Self.seconds(time)))>\n"
        for script in self.scripts {
            xml += "  <testsuite name=\(Self.attribute(script.name)) tests=\"\(script.steps.count)\""
            xml += " failures=\"\(script.failed)\" errors=\"\(script.errors)\" skipped=\"\(script.skipped)\""
            xml += " time=\(Self.attribute(Self.seconds(script.seconds))) file=\(Self.attribute(script.file))>\n"
            for step in script.steps {
                let name = String(format: "%03d ", step.index) + step.name
                xml += "    <testcase name=\(Self.attribute(name)) classname=\(Self.attribute(script.name))"
                xml += " time=\(Self.attribute(Self.seconds(step.seconds)))"
                let details = Self.details(step)
                switch step.status {
                case .passed where step.notes.isEmpty:
                    xml += "/>\n"
                    continue
                case .passed:
                    xml += ">\n"
                case .skipped:
                    xml += ">\n      <skipped message=\(Self.attribute(step.headline))/>\n"
                case .failed, .error:
                    let element = step.status == .failed ? "failure" : "error"
                    xml += ">\n      <\(element) message=\(Self.attribute(step.headline)) type=\"\(step.action)\">"
                    xml += Self.text(details) + "</\(element)>\n"
                }
                if !step.notes.isEmpty {
                    xml += "      <system-out>" + Self.text(step.notes.joined(separator: "\n")) + "</system-out>\n"
                }
                xml += "    </testcase>\n"
            }
            xml += "  </testsuite>\n"
        }
        xml += "</testsuites>\n"
        return xml
    }

    /// Where the step is written, the problems, then the request and the answer, as a person reads them.
    public static func details(_ step: StepResult) -> String {
        var lines = step.source.map { ["at \($0)"] } ?? []
        lines += step.problems
        if let request = step.request { lines.append("request:\n" + request) }
        if let answer = step.answer { lines.append("answer:\n" + answer) }
        return lines.joined(separator: "\n")
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    /// Text escaped for an XML attribute, in double quotes.
    public static func attribute(_ text: String) -> String {
        "\"" + self.escape(text, attribute: true) + "\""
    }

    /// Text escaped for XML character data.
    public static func text(_ text: String) -> String { self.escape(text, attribute: false) }

    /// `&`, `<`, `>`, quotes (and in attributes, line breaks and tabs) as references; characters XML 1.0
    /// does not allow (most control characters) as U+FFFD.
    static func escape(_ text: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += attribute ? "&quot;" : "\""
            case "'": out += attribute ? "&apos;" : "'"
            case "\n": out += attribute ? "&#10;" : "\n"
            case "\r": out += "&#13;"
            case "\t": out += attribute ? "&#9;" : "\t"
            default:
                let value = scalar.value
                let allowed = value >= 0x20 && !(0xD800...0xDFFF).contains(value) && value != 0xFFFE && value != 0xFFFF
                out.unicodeScalars.append(allowed ? scalar : "\u{FFFD}")
            }
        }
        return out
    }

    /// The machine report: this structure as JSON, with the totals.
    public func json() -> String {
        struct Document: Encodable {
            var passed: Int
            var failed: Int
            var skipped: Int
            var scripts: [ScriptResult]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data =
            (try? encoder.encode(Document(passed: self.passed, failed: self.failed, skipped: self.skipped, scripts: self.scripts))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

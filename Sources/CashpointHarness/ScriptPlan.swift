import Foundation

/// Where something is written in a script: its file, line and column (from 1; 0 when not known).
public struct ScriptSource: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, as compilers write it (editors and CI annotations read it).
    public var description: String { self.line > 0 ? "\(self.file):\(self.line):\(self.column)" : self.file }

    /// `file:line`.
    public var fileAndLine: String { self.line > 0 ? "\(self.file):\(self.line)" : self.file }
}

/// One problem found by the check of a script, where it is written.
public struct ScriptIssue: Sendable, Hashable, CustomStringConvertible {
    public var code: ScriptError.Code
    public var source: ScriptSource
    public var message: String

    public init(_ code: ScriptError.Code, _ source: ScriptSource, _ message: String) {
        self.code = code
        self.source = source
        self.message = message
    }

    /// `file:line:column: error: message`, as compilers write it (editors and CI read it).
    public var description: String { "\(self.source): error: \(self.message)" }
}

/// Every problem of a script and the files it includes: it is not run.
public struct ScriptIssues: Error, Sendable, Hashable, CustomStringConvertible {
    public var issues: [ScriptIssue]

    public init(_ issues: [ScriptIssue]) { self.issues = issues }

    public var description: String { self.issues.map(\.description).joined(separator: "\n") }

    /// One error for all of them: the first one's code, every one's line.
    public var scriptError: ScriptError { ScriptError(self.issues.first?.code ?? .unreadable, self.description) }
}

/// A script's `data`: a CSV file (its path relative to the script; the header row names the
/// variables) or a list of maps, one a row.
public enum ScriptData: Codable, Sendable, Hashable {
    case file(String)
    case rows([[String: ScalarText]])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let path = try? container.decode(String.self) {
            self = .file(path)
        } else {
            self = .rows(try container.decode([[String: ScalarText]].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .file(let path): try container.encode(path)
        case .rows(let rows): try container.encode(rows)
        }
    }
}

/// One row of a script's data: its values by variable name, and where it is written.
public struct ScriptRow: Sendable, Hashable {
    /// From 1, the first row under the header.
    public var number: Int
    public var values: [String: String]
    public var source: ScriptSource

    public init(number: Int, values: [String: String], source: ScriptSource) {
        self.number = number
        self.values = values
        self.source = source
    }
}

/// A script ready to run: checked as a whole, its includes in place, its data rows read.
public struct ScriptPlan: Sendable {
    public var script: Script
    public var file: String
    /// The data rows; none when the script has no `data`.
    public var rows: [ScriptRow]
    /// `repeat`, 1 when not given.
    public var repeatCount: Int

    public init(script: Script, file: String, rows: [ScriptRow] = [], repeatCount: Int = 1) {
        self.script = script
        self.file = file
        self.rows = rows
        self.repeatCount = repeatCount
    }

    /// One run of the steps: its label in the reports (`row 2`, `run 3`, `row 2, run 3`; none for a
    /// script that runs once) and the row's values.
    public struct Iteration: Sendable, Hashable {
        public var label: String?
        public var variables: [String: String]
    }

    /// The runs of the steps: each repetition goes through every row in order.
    public var iterations: [Iteration] {
        var all: [Iteration] = []
        for run in 1...max(self.repeatCount, 1) {
            let repeated = self.repeatCount > 1 ? "run \(run)" : nil
            if self.rows.isEmpty {
                all.append(Iteration(label: repeated, variables: [:]))
            }
            for row in self.rows {
                let label = ["row \(row.number)", repeated].compactMap { $0 }.joined(separator: ", ")
                all.append(Iteration(label: label, variables: row.values))
            }
        }
        return all
    }

    /// Reads and checks the script at `path` and the files it names (includes, a CSV file).
    public static func load(_ path: String) throws(ScriptIssues) -> ScriptPlan {
        var loader = ScriptLoader { file in try String(contentsOfFile: file, encoding: .utf8) }
        return try loader.plan(path)
    }

    /// Only the check: every problem of each file, in the order given (none: all can run).
    public static func check(_ paths: [String]) -> [ScriptIssue] {
        paths.flatMap { path -> [ScriptIssue] in
            do throws(ScriptIssues) {
                _ = try self.load(path)
                return []
            } catch {
                return error.issues
            }
        }
    }
}

/// CSV as RFC 4180 writes it: fields separated by commas, a field in double quotes may hold commas,
/// line breaks and `""` (a quote). Blank lines are skipped. Pure.
public enum ScriptCSV {
    public struct Record: Sendable, Hashable {
        /// The line the record starts on, from 1.
        public var line: Int
        public var fields: [String]
    }

    public struct Failure: Error, Sendable, Hashable {
        public var line: Int
        public var column: Int
        public var reason: String
    }

    public static func parse(_ text: String) throws(Failure) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var wasQuoted = false
        var line = 1
        var column = 0
        var recordLine = 1
        var afterQuote = false
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty && !wasQuoted) {
                records.append(Record(line: recordLine, fields: fields))
            }
            fields = []
            field = ""
            wasQuoted = false
            afterQuote = false
        }
        var characters = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))
        if characters.last != "\n" { characters.append("\n") }
        var index = 0
        while index < characters.count {
            let character = characters[index]
            column += 1
            if quoted {
                if character == "\"" {
                    if index + 1 < characters.count, characters[index + 1] == "\"" {
                        field.append("\"")
                        index += 1
                        column += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if character == "\n" {
                        line += 1
                        column = 0
                    }
                    field.append(character)
                }
                index += 1
                continue
            }
            switch character {
            case ",":
                fields.append(field)
                field = ""
                afterQuote = false
            case "\n":
                endRecord()
                line += 1
                column = 0
                recordLine = line
            case "\"" where field.isEmpty && !afterQuote:
                quoted = true
                wasQuoted = true
            default:
                guard !afterQuote else {
                    throw Failure(
                        line: line,
                        column: column,
                        reason: "text after a closing quote (write \"\" for a quote)"
                    )
                }
                guard character != "\"" else {
                    throw Failure(line: line, column: column, reason: "a quote inside a field that is not quoted")
                }
                field.append(character)
            }
            index += 1
        }
        if quoted { throw Failure(line: recordLine, column: 1, reason: "a quoted field is never closed") }
        return records
    }
}

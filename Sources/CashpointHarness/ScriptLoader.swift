import ATM87
import CashpointSecurity
import CashpointTerminal
import Foundation
import Yams

/// Reads a script and every file it names (includes, a CSV file of data) and checks it as a whole,
/// in step order, before anything is sent: unknown keys (at the top, in steps, in expectations),
/// unknown actions and the arguments an action does not take or lacks, unknown fields, variables used
/// before any variable, data column, `set` or `capture` sets them, regular expressions that do not
/// compile, durations, amounts and values that cannot be. Every problem is kept with its file, line
/// and column (YAML and JSON both go through Yams, whose nodes carry their marks). Files come in
/// through `read`: no other I/O.
struct ScriptLoader {
    let read: (String) throws -> String
    var issues: [ScriptIssue] = []
    /// Variables set so far, in step order.
    var defined: Set<String> = []
    /// Names of the steps so far (a reversal's `original`).
    var stepNames: Set<String> = []

    init(read: @escaping (String) throws -> String) {
        self.read = read
    }

    mutating func plan(_ path: String) throws(ScriptIssues) -> ScriptPlan {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let root = self.document(path, at: ScriptSource(file: path)) else { throw ScriptIssues(self.issues) }
        guard let map = root.mapping else {
            self.issue(.unreadable, root, path, "a script is a map: name, terminal, steps, ...")
            throw ScriptIssues(self.issues)
        }
        // A file whose name starts with `_` is only included: checked as an included file is.
        let includeOnly = URL(fileURLWithPath: path).lastPathComponent.hasPrefix("_")
        let entries = self.entries(
            map,
            path,
            allowed: includeOnly ? ScriptSchema.includedKeys : ScriptSchema.topKeys,
            what: includeOnly ? "an included file" : "a script"
        )
        var script = Script(name: "", terminal: "", steps: [])
        script.name = self.text(entries["name"], path, "name") ?? ""
        if script.name.isEmpty { script.name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }
        script.description = self.text(entries["description"], path, "description")
        script.terminal = self.text(entries["terminal"], path, "terminal") ?? ""
        if script.terminal.isEmpty, entries["terminal"] == nil, !includeOnly {
            self.issue(
                .badStep,
                root,
                path,
                "a script needs `terminal`: the terminal it plays (ATM00001, BRANCH01, ...)"
            )
        }
        if let node = entries["variables"] {
            var variables: [String: ScalarText] = [:]
            for (name, value, keyNode) in self.pairs(node, path, "variables") {
                guard let text = self.text(value, path, "variable \(name)") else { continue }
                self.define(name, keyNode, path)
                variables[name] = ScalarText(text)
            }
            script.variables = variables
        }
        var rows: [ScriptRow] = []
        if let node = entries["data"] { rows = self.rows(node, path) }
        var repeatCount = 1
        if let node = entries["repeat"] {
            if let count = node.scalar.flatMap({ Int($0.string) }), (1...100_000).contains(count) {
                repeatCount = count
            } else {
                self.issue(.badData, node, path, "repeat is a whole number from 1 to 100000")
            }
        }
        if let steps = entries["steps"] {
            script.steps = self.steps(steps, path, chain: [absolute])
        } else {
            self.issue(.badStep, root, path, "a script needs `steps`")
        }
        guard self.issues.isEmpty else { throw ScriptIssues(self.issues) }
        return ScriptPlan(script: script, file: path, rows: rows, repeatCount: repeatCount)
    }

    // MARK: Files

    /// A file's tree, or nil (and an issue at `at`) when it cannot be read or parsed.
    mutating func document(_ path: String, at: ScriptSource) -> Node? {
        let text: String
        do {
            text = try self.read(path)
        } catch {
            self.issues.append(ScriptIssue(.unreadable, at, "cannot read \(path): \(error.localizedDescription)"))
            return nil
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                self.issues.append(ScriptIssue(.unreadable, ScriptSource(file: path), "the file is empty"))
                return nil
            }
            return node
        } catch let error as YamlError {
            let (mark, problem) = Self.explain(error)
            self.issues.append(
                ScriptIssue(
                    .unreadable,
                    ScriptSource(file: path, line: mark?.line ?? 0, column: mark?.column ?? 0),
                    problem
                )
            )
        } catch {
            self.issues.append(ScriptIssue(.unreadable, ScriptSource(file: path), "\(error)"))
        }
        return nil
    }

    static func explain(_ error: YamlError) -> (Mark?, String) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return (mark, [context?.text, problem].compactMap { $0 }.joined(separator: ": ") + " (not YAML or JSON)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return (context.mark, "a key given twice: \(duplicates.joined(separator: ", "))")
        default:
            return (nil, "\(error)")
        }
    }

    /// An included file: its steps (checked in place, in step order).
    mutating func included(_ path: String, chain: [String], at: ScriptSource) -> [Script.Step] {
        guard let root = self.document(path, at: at) else { return [] }
        guard let map = root.mapping else {
            self.issue(.unreadable, root, path, "an included file is a map with `steps`")
            return []
        }
        let entries = self.entries(map, path, allowed: ScriptSchema.includedKeys, what: "an included file")
        _ = self.text(entries["description"], path, "description")
        guard let steps = entries["steps"] else {
            self.issue(.badStep, root, path, "an included file needs `steps`")
            return []
        }
        return self.steps(steps, path, chain: chain)
    }

    // MARK: Steps

    mutating func steps(_ node: Node, _ file: String, chain: [String]) -> [Script.Step] {
        guard let sequence = node.sequence, !sequence.isEmpty else {
            self.issue(.badStep, node, file, "steps is a list of steps, at least one")
            return []
        }
        var steps: [Script.Step] = []
        for node in sequence { steps += self.step(node, file, chain: chain) }
        return steps
    }

    mutating func step(_ node: Node, _ file: String, chain: [String]) -> [Script.Step] {
        guard let map = node.mapping else {
            self.issue(.badStep, node, file, "a step is a map: {action: ..., ...}")
            return []
        }
        let before = self.issues.count
        if let include = map["include"] {
            for (key, _) in map where key.string != "include" {
                self.issue(.unknownKey, key, file, "an include step has only `include`, not `\(key.string ?? "?")`")
            }
            guard let path = self.text(include, file, "include") else { return [] }
            let included = Self.sibling(path, of: file)
            let absolute = URL(fileURLWithPath: included).standardizedFileURL.path
            guard !chain.contains(absolute) else {
                self.issue(
                    .includeCycle,
                    include,
                    file,
                    "\(path) includes itself (through \(chain.joined(separator: " -> ")))"
                )
                return []
            }
            return self.included(included, chain: chain + [absolute], at: self.source(include, file))
        }
        guard let actionNode = map["action"], let action = actionNode.scalar?.string, !action.isEmpty else {
            self.issue(.badStep, node, file, "a step needs an action (or an include)")
            return []
        }
        guard let arguments = ScriptSchema.actions[action] else {
            let hint = ScriptSchema.suggestion(for: action, among: ScriptSchema.actionNames).map {
                " (did you mean \($0)?)"
            }
            self.issue(
                .unknownAction,
                actionNode,
                file,
                "unknown action \(action)\(hint ?? "") (the actions: \(ScriptSchema.actionNames.joined(separator: ", ")))"
            )
            return []
        }
        let allowed = ScriptSchema.stepKeys + arguments.required + arguments.optional
        let entries = self.entries(map, file, allowed: allowed, what: "\(Self.article(action)) \(action) step")
        for key in arguments.required where entries[key] == nil {
            self.issue(.badStep, node, file, "\(Self.article(action)) \(action) step needs `\(key)`")
        }
        for key in ScriptSchema.scalarKeys {
            if let value = entries[key] { _ = self.text(value, file, key) }
        }
        // `when` is decided before the step's `set`.
        if let when = entries["when"] {
            for (name, condition, keyNode) in self.pairs(when, file, "when") {
                if !self.defined.contains(name) {
                    self.issue(
                        .unsetVariable,
                        keyNode,
                        file,
                        "when: ${\(name)} is not set before this step (\(self.setSoFar))"
                    )
                }
                self.expectation(condition, file, when: true)
            }
        }
        if let set = entries["set"] {
            let pairs = self.pairs(set, file, "set")
            for (name, value, _) in pairs where self.text(value, file, "set: \(name)") != nil {
                self.references(value, file)
            }
            for (name, _, keyNode) in pairs { self.define(name, keyNode, file) }
        }
        if entries["code"] != nil, entries["totp"] != nil {
            self.issue(.badStep, node, file, "a step sends one code: code or totp, not both")
        }
        // The step's code is read before it becomes ${oneTimeCode} (a replay sends the last one).
        for key in ["code", "totp"] {
            if let value = entries[key] { self.references(value, file) }
        }
        if entries["code"] != nil || entries["totp"] != nil { self.defined.insert("oneTimeCode") }
        for key in ScriptSchema.scalarKeys where !["name", "code", "totp"].contains(key) {
            if let value = entries[key] { self.references(value, file) }
        }
        self.literals(entries, action: action, file)
        if let fields = entries["fields"] {
            for (name, value, keyNode) in self.pairs(fields, file, "fields") {
                self.field(name, keyNode, file, elements: false)
                self.references(value, file, pinBlock: action == "send")
            }
        }
        if let omit = entries["omit"] {
            for item in self.list(omit, file, "omit") {
                self.field(item.scalar?.string ?? "", item, file, elements: false)
            }
        }
        if let tlv = entries["tlv"] {
            for pair in self.list(tlv, file, "tlv") {
                guard let parts = pair.sequence, parts.count == 2, parts.allSatisfy({ $0.scalar != nil }) else {
                    self.issue(.badStep, pair, file, "a tlv entry is [TAG, value]")
                    continue
                }
                self.references(parts[1], file)
            }
        }
        if let expect = entries["expect"] {
            for (key, expectation, keyNode) in self.pairs(expect, file, "expect") {
                self.field(key, keyNode, file, elements: true)
                self.expectation(expectation, file, when: false)
            }
        }
        if let capture = entries["capture"] {
            let pairs = self.pairs(capture, file, "capture")
            for (_, value, _) in pairs {
                if let key = self.text(value, file, "capture") { self.field(key, value, file, elements: true) }
            }
            for (name, _, keyNode) in pairs { self.define(name, keyNode, file) }
        }
        if let name = entries["name"]?.scalar?.string { self.stepNames.insert(name) }
        guard self.issues.count == before else { return [] }
        do {
            var step = try YAMLDecoder().decode(Script.Step.self, from: Self.plainKeys(node))
            step.source = self.source(node, file)
            return [step]
        } catch {
            let (at, reason) = Self.locate(error, in: node)
            self.issue(.badStep, at, file, reason)
            return []
        }
    }

    /// Literal values (without `${...}`) that can be checked now.
    mutating func literals(_ entries: [String: Node], action: String, _ file: String) {
        func literal(_ key: String) -> (Node, String)? {
            guard let node = entries[key], let text = node.scalar?.string, !text.contains("${") else { return nil }
            return (node, text)
        }
        if let (node, kind) = literal("kind"), TransactionKind(rawValue: kind) == nil {
            let kinds = TransactionKind.allCases.map(\.rawValue).joined(separator: ", ")
            self.issue(.badStep, node, file, "kind \(kind) is not one of \(kinds)")
        }
        for key in ["duration", "within", "timeout"] {
            guard let (node, text) = literal(key) else { continue }
            do {
                _ = try ScriptDuration.parse(text)
            } catch {
                self.issue(.badDuration, node, file, "\(key): \(error.detail)")
            }
        }
        for key in ["amount", "dispensed"] {
            if let (node, text) = literal(key), Int(text) == nil {
                self.issue(.badStep, node, file, "\(key) is \(text), not a whole number (minor units)")
            }
        }
        if let (node, mti) = literal("mti"), mti.count != 4 || MTI(mti) == nil {
            self.issue(.badStep, node, file, "mti \(mti) is not 4 digits")
        }
        if let (node, hex) = literal("hex"), Hex.decode(hex.filter { !$0.isWhitespace }) == nil {
            self.issue(.badStep, node, file, "hex is not pairs of 0-9 A-F")
        }
        if let (node, mode) = literal("mac"), !["auto", "none", "bad", "true", "false"].contains(mode) {
            self.issue(.badStep, node, file, "mac is true, false, auto, none or bad; not \(mode)")
        }
        if let (node, original) = literal("original"), !self.stepNames.contains(original) {
            self.issue(.badStep, node, file, "original: no earlier step is named \(original)")
        }
    }

    /// An expectation (of `expect`, or a condition of `when`): its short form or its map of checks.
    mutating func expectation(_ node: Node, _ file: String, when: Bool) {
        if let scalar = node.scalar {
            if when, scalar.string == "*E" {
                self.issue(.badExpectation, node, file, "when compares variables: there is no request to echo")
            }
            if !["*", "-", "*E"].contains(scalar.string) { self.references(node, file) }
            return
        }
        guard let map = node.mapping else {
            self.issue(
                .badExpectation,
                node,
                file,
                "an expectation is a value (\"00\", \"*\", \"-\", \"*E\") or a map of checks"
            )
            return
        }
        guard !map.isEmpty else {
            self.issue(.badExpectation, node, file, "an expectation needs at least one check")
            return
        }
        let entries = self.entries(map, file, allowed: ScriptSchema.expectationKeys, what: "an expectation")
        for key in ["present", "absent", "echo"] {
            guard let value = entries[key] else { continue }
            if value.scalar == nil || value.bool == nil {
                self.issue(.badExpectation, value, file, "\(key) is true or false")
            }
            if when, key == "echo" {
                self.issue(.badExpectation, value, file, "when compares variables: there is no request to echo")
            }
        }
        for key in ["equals", "not-equals", "prefix"] {
            if let value = entries[key], self.text(value, file, key) != nil { self.references(value, file) }
        }
        for key in ["matches", "not-matches"] {
            guard let value = entries[key], let pattern = self.text(value, file, key) else { continue }
            self.references(value, file)
            guard !pattern.contains("${") else { continue }
            do {
                _ = try Regex(pattern)
            } catch {
                self.issue(.badExpectation, value, file, "\(key): /\(pattern)/ is not a regular expression: \(error)")
            }
        }
        for key in ["eq", "ne", "lt", "le", "gt", "ge"] {
            guard let value = entries[key], let operand = self.text(value, file, key) else { continue }
            self.references(value, file)
            if !operand.contains("${"), ScriptCheck.amount(operand) == nil {
                self.issue(.badExpectation, value, file, "\(key): \(operand) is not an amount")
            }
        }
        if let change = entries["change"] {
            guard let changeMap = change.mapping else {
                self.issue(.badExpectation, change, file, "change is {since: VARIABLE, by: AMOUNT}")
                return
            }
            let parts = self.entries(changeMap, file, allowed: ["since", "by"], what: "a change")
            if let since = parts["since"], let name = self.text(since, file, "since"), !self.defined.contains(name) {
                self.issue(
                    .unsetVariable,
                    since,
                    file,
                    "change since \(name): it is not set before this step (\(self.setSoFar))"
                )
            }
            if let by = parts["by"], let amount = self.text(by, file, "by") {
                self.references(by, file)
                if !amount.contains("${"), ScriptCheck.amount(amount) == nil {
                    self.issue(.badExpectation, by, file, "change by \(amount): not an amount")
                }
            }
            for key in ["since", "by"] where parts[key] == nil {
                self.issue(.badExpectation, change, file, "change needs `\(key)`")
            }
        }
    }

    /// A field as an expectation, a capture, `fields` or `omit` names it: a number or a name of
    /// protocols/atm87.json; with `elements`, also `mti`, `48.TAG` and `48.TAG.N`.
    mutating func field(_ key: String, _ node: Node, _ file: String, elements: Bool) {
        if elements, key == "mti" { return }
        do throws(ScriptError) {
            if elements, let dot = key.firstIndex(of: ".") {
                guard try ScriptFieldName.number(String(key[..<dot])) == 48 else {
                    throw ScriptError(.unknownField, "\(key): only field 48 has elements (48.TAG)")
                }
                let path = key[key.index(after: dot)...].split(separator: ".", omittingEmptySubsequences: false)
                guard !path[0].isEmpty, path.count <= 2, path.count == 1 || (Int(path[1]) ?? 0) >= 1 else {
                    throw ScriptError(.unknownField, "\(key): an element is 48.TAG, a part of one 48.TAG.N (N from 1)")
                }
                return
            }
            _ = try ScriptFieldName.number(key)
        } catch {
            self.issue(error.code, node, file, error.detail)
        }
    }

    // MARK: Variables

    var setSoFar: String {
        let names = self.defined.sorted()
        return names.isEmpty ? "none is set yet" : "set so far: \(names.joined(separator: ", "))"
    }

    mutating func define(_ name: String, _ node: Node, _ file: String) {
        if ScriptSchema.stepVariables.contains(name) {
            self.issue(
                .badStep,
                node,
                file,
                "\(name) is a step's own value (${\(name)}): give the variable another name"
            )
        }
        self.defined.insert(name)
    }

    /// Every `${...}` of a scalar: a variable set before, a step's own value, or a function.
    mutating func references(_ node: Node, _ file: String, pinBlock: Bool = false) {
        guard let text = node.scalar?.string, text.contains("$") else { return }
        self.references(text, node, file, pinBlock: pinBlock)
    }

    mutating func references(_ text: String, _ node: Node, _ file: String, pinBlock: Bool) {
        let inners: [String]
        do {
            inners = try ScriptValues.references(text)
        } catch {
            self.issue(error.code, node, file, error.detail)
            return
        }
        for inner in inners {
            guard let call = ScriptValues.call(inner) else {
                if !self.defined.contains(inner), !ScriptSchema.stepVariables.contains(inner) {
                    self.issue(.unsetVariable, node, file, "${\(inner)} is not set before this step (\(self.setSoFar))")
                }
                continue
            }
            switch call.name {
            case "luhn":
                if call.arguments.count != 1 {
                    self.issue(.unknownVariable, node, file, "${\(inner)}: luhn takes one argument")
                }
            case "part":
                if call.arguments.count != 2 || (Int(call.arguments[1]) ?? 0) < 1 {
                    self.issue(
                        .unknownVariable,
                        node,
                        file,
                        "${\(inner)}: part takes a variable and a word's number from 1"
                    )
                } else if !self.defined.contains(call.arguments[0]) {
                    self.issue(
                        .unsetVariable,
                        node,
                        file,
                        "${\(inner)}: \(call.arguments[0]) is not set before this step"
                    )
                }
                continue
            case "pinBlock":
                if !pinBlock {
                    self.issue(
                        .unknownVariable,
                        node,
                        file,
                        "${pinBlock(...)} can only be a value of a send step's fields"
                    )
                }
            default:
                self.issue(.unknownVariable, node, file, "${\(inner)}: no function \(call.name) (luhn, part, pinBlock)")
                continue
            }
            for argument in call.arguments { self.references(argument, node, file, pinBlock: false) }
        }
    }

    // MARK: Data

    /// The rows of `data`: a CSV file relative to the script, or a list of maps.
    mutating func rows(_ node: Node, _ file: String) -> [ScriptRow] {
        var rows: [ScriptRow] = []
        if let path = node.scalar?.string {
            let csvPath = Self.sibling(path, of: file)
            let text: String
            do {
                text = try self.read(csvPath)
            } catch {
                self.issue(.badData, node, file, "data: cannot read \(csvPath): \(error.localizedDescription)")
                return []
            }
            let records: [ScriptCSV.Record]
            do {
                records = try ScriptCSV.parse(text)
            } catch {
                let at = ScriptSource(file: csvPath, line: error.line, column: error.column)
                self.issues.append(ScriptIssue(.badData, at, error.reason))
                return []
            }
            guard let header = records.first else {
                self.issue(.badData, node, file, "data: \(path) is empty (a header row names the variables)")
                return []
            }
            let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
            self.defined.formUnion(names)
            for (column, name) in names.enumerated()
            where !Self.isVariableName(name) || names.firstIndex(of: name) != column {
                self.issues.append(
                    ScriptIssue(
                        .badData,
                        ScriptSource(file: csvPath, line: header.line, column: column + 1),
                        "column \(column + 1)'s name \"\(name)\" is not a variable name (letters, digits, _ and -), or is given twice"
                    )
                )
            }
            for record in records.dropFirst() {
                let source = ScriptSource(file: csvPath, line: record.line, column: 1)
                guard record.fields.count == names.count else {
                    self.issues.append(
                        ScriptIssue(
                            .badData,
                            source,
                            "\(record.fields.count) values, but the header names \(names.count)"
                        )
                    )
                    continue
                }
                rows.append(
                    ScriptRow(
                        number: rows.count + 1,
                        values: Dictionary(zip(names, record.fields)) { first, _ in first },
                        source: source
                    )
                )
            }
            for name in names where ScriptSchema.stepVariables.contains(name) {
                self.issues.append(
                    ScriptIssue(
                        .badData,
                        ScriptSource(file: csvPath, line: header.line),
                        "\(name) is a step's own value (${\(name)})"
                    )
                )
            }
        } else if let list = node.sequence {
            var columns: Set<String>?
            for item in list {
                var values: [String: String] = [:]
                for (name, value, keyNode) in self.pairs(item, file, "a data row") {
                    guard let text = self.text(value, file, name) else { continue }
                    if !Self.isVariableName(name) {
                        self.issue(.badData, keyNode, file, "\(name) is not a variable name")
                    }
                    if ScriptSchema.stepVariables.contains(name) {
                        self.issue(.badData, keyNode, file, "\(name) is a step's own value (${\(name)})")
                    }
                    values[name] = text
                    self.defined.insert(name)
                }
                if let columns, columns != Set(values.keys) {
                    self.issue(
                        .badData,
                        item,
                        file,
                        "this row's names (\(values.keys.sorted().joined(separator: ", "))) are not the first row's (\(columns.sorted().joined(separator: ", ")))"
                    )
                }
                columns = columns ?? Set(values.keys)
                rows.append(ScriptRow(number: rows.count + 1, values: values, source: self.source(item, file)))
            }
        } else {
            self.issue(.badData, node, file, "data is a CSV file's path or a list of maps")
            return []
        }
        if rows.isEmpty { self.issue(.badData, node, file, "data has no rows") }
        return rows
    }

    /// `path` relative to the folder of `file` (kept relative when `file` is, as it is printed).
    static func sibling(_ path: String, of file: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        let directory = NSString(string: file).deletingLastPathComponent
        return directory.isEmpty ? path : NSString(string: directory).appendingPathComponent(path)
    }

    /// "a" or "an", as the word is said.
    static func article(_ word: String) -> String {
        guard let first = word.lowercased().first else { return "a" }
        return "aeiou".contains(first) ? "an" : "a"
    }

    static func isVariableName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }
    }

    // MARK: Nodes

    func source(_ node: Node, _ file: String) -> ScriptSource {
        ScriptSource(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    mutating func issue(_ code: ScriptError.Code, _ node: Node, _ file: String, _ message: String) {
        self.issues.append(ScriptIssue(code, self.source(node, file), message))
    }

    /// A map's values by key; a key not `allowed` is an issue (with the nearest allowed key, or the
    /// action that takes it), and so is a key with no value.
    mutating func entries(_ map: Node.Mapping, _ file: String, allowed: [String], what: String) -> [String: Node] {
        var entries: [String: Node] = [:]
        for (keyNode, value) in map {
            guard let key = keyNode.scalar?.string else {
                self.issue(.unknownKey, keyNode, file, "\(what)'s keys are names")
                continue
            }
            guard allowed.contains(key) else {
                let takers = ScriptSchema.actionNames.filter { action in
                    let arguments = ScriptSchema.actions[action]
                    return (arguments?.required ?? []).contains(key) || (arguments?.optional ?? []).contains(key)
                }
                var message = "unknown key `\(key)`"
                if !takers.isEmpty, what.hasSuffix(" step") {
                    message = "`\(key)` is not a key of \(what) (only of \(takers.joined(separator: ", ")))"
                } else if let near = ScriptSchema.suggestion(for: key, among: allowed) {
                    message += " (did you mean `\(near)`?)"
                }
                self.issue(.unknownKey, keyNode, file, message + "; \(what) has \(allowed.joined(separator: ", "))")
                continue
            }
            if Self.isNull(value) {
                self.issue(.badStep, value, file, "`\(key)` has no value")
                continue
            }
            entries[key] = value
        }
        return entries
    }

    /// A map's (key, value, key node)s; anything else is an issue.
    mutating func pairs(_ node: Node, _ file: String, _ what: String) -> [(String, Node, Node)] {
        guard let map = node.mapping else {
            self.issue(.badStep, node, file, "\(what) is a map")
            return []
        }
        var pairs: [(String, Node, Node)] = []
        for (keyNode, value) in map {
            guard let key = keyNode.scalar?.string else {
                self.issue(.badStep, keyNode, file, "\(what)'s keys are names")
                continue
            }
            if Self.isNull(value) {
                self.issue(.badStep, value, file, "\(what): `\(key)` has no value")
                continue
            }
            pairs.append((key, value, keyNode))
        }
        return pairs
    }

    mutating func list(_ node: Node, _ file: String, _ what: String) -> [Node] {
        guard let sequence = node.sequence else {
            self.issue(.badStep, node, file, "\(what) is a list")
            return []
        }
        return Array(sequence)
    }

    /// A scalar's text; a map or a list is an issue.
    mutating func text(_ node: Node?, _ file: String, _ what: String) -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar else {
            self.issue(.badStep, node, file, "\(what) is a value, not a map or a list")
            return nil
        }
        return scalar.string
    }

    /// The node with every key of its maps as a plain scalar: a quoted key (`"39":`, as JSON writes every
    /// key) is then found by the decoder as `39:` is (Yams tells a quoted `"39"`, a string, from the
    /// number 39 it looks the key up as).
    static func plainKeys(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            let pairs = mapping.map { key, value -> (Node, Node) in
                let plain = key.scalar.map { Node.scalar(Node.Scalar($0.string, .implicit, .plain, $0.mark)) } ?? key
                return (plain, self.plainKeys(value))
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(self.plainKeys), sequence.tag, sequence.style, sequence.mark))
        default:
            return node
        }
    }

    /// YAML's null: a key with nothing after it, `~` or `null`, unquoted.
    static func isNull(_ node: Node) -> Bool {
        guard let scalar = node.scalar, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The node a decoding error's path leads to, and the reason.
    static func locate(_ error: any Error, in node: Node) -> (Node, String) {
        var path: [any CodingKey] = []
        var reason = "\(error)"
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            path = context.codingPath
            reason = "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            path = context.codingPath
            reason = context.debugDescription
        default:
            break
        }
        var current = node
        for key in path {
            if let index = key.intValue, let sequence = current.sequence, index < sequence.count {
                current = sequence[index]
            } else if let next = current.mapping?[key.stringValue] {
                current = next
            }
        }
        return (current, reason)
    }
}

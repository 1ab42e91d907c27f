public import ATM87
import CashpointSecurity
import CashpointTerminal
public import Crypto
import Foundation

/// Plays scripts against a switch: builds each step's request (ScriptTerminal), sends it, pairs the
/// answer with it (AnswerMatcher), checks it (ScriptCheck) and records the step (ScriptResult).
public struct ScriptRunner: Sendable {
    public var host: String
    public var port: Int
    /// The master key of a script's terminal.
    public var masterKey: @Sendable (String) throws -> SymmetricKey
    /// Progress, one line per step.
    public var say: @Sendable (String) -> Void
    /// Sees every answer with the step that drew it.
    public var inspect: @Sendable (Script.Step, ATM87Message) -> Void
    /// How long a step waits for its answer unless it says `timeout`.
    public var defaultTimeout: Duration = .seconds(10)
    /// The time steps of the one-time codes this run's `totp:` steps sent, per secret, shared by its
    /// scripts.
    public var codeSteps = OneTimeCodeSteps()

    public init(
        host: String,
        port: Int,
        masterKey: @escaping @Sendable (String) throws -> SymmetricKey,
        say: @escaping @Sendable (String) -> Void,
        inspect: @escaping @Sendable (Script.Step, ATM87Message) -> Void = { _, _ in }
    ) {
        self.host = host
        self.port = port
        self.masterKey = masterKey
        self.say = say
        self.inspect = inspect
    }

    /// Checks every script first (ScriptLoader: every problem of every file, with its line); if any
    /// fails the check, nothing is sent and each such script is reported as a `check` step in error.
    /// Otherwise runs every script in turn, once per data row and repetition.
    public func run(files: [String]) async -> ScriptRunReport {
        var plans: [ScriptPlan] = []
        var refused: [ScriptResult] = []
        for file in files {
            do {
                plans.append(try ScriptPlan.load(file))
            } catch {
                for issue in error.issues { self.say("\(issue)") }
                refused.append(
                    ScriptResult(
                        name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent,
                        file: file,
                        terminal: "",
                        steps: [
                            StepResult(
                                index: 0,
                                name: "check",
                                action: "check",
                                status: .error,
                                problems: error.issues.map(\.description)
                            )
                        ]
                    )
                )
            }
        }
        guard refused.isEmpty else {
            let count = refused.count == 1 ? "1 script fails" : "\(refused.count) scripts fail"
            self.say(
                "atm-harness run: \(count) the check (above), so nothing was sent: no script ran. "
                    + "Fix them (`atm-harness check FILE...` checks without a switch), then run again."
            )
            return ScriptRunReport(scripts: refused)
        }
        var results: [ScriptResult] = []
        for plan in plans {
            for iteration in plan.iterations {
                results.append(
                    await self.run(plan.script, file: plan.file, variables: iteration.variables, label: iteration.label)
                )
            }
        }
        return ScriptRunReport(scripts: results)
    }

    /// Runs one script to its end; a step that fails does not stop the ones after it. `variables` (a
    /// data row's) are added to the script's; `label` (`row 2`) is added to its name in the reports.
    /// `firstSTAN`: the STAN of its first step (default: a random one); each step after takes the next.
    public func run(
        _ script: Script,
        file: String = "",
        variables: [String: String] = [:],
        label: String? = nil,
        firstSTAN: Int? = nil
    ) async -> ScriptResult {
        let name = label.map { "\(script.name) [\($0)]" } ?? script.name
        var result = ScriptResult(name: name, file: file, terminal: script.terminal)
        self.say("script \(name): \(script.steps.count) steps, terminal \(script.terminal)")
        let key: SymmetricKey
        do {
            key = try self.masterKey(script.terminal)
        } catch {
            self.say("script \(name): no master key for terminal \(script.terminal): \(error)")
            result.steps.append(
                StepResult(index: 0, name: "master key", action: "load", status: .error, problems: ["\(error)"])
            )
            return result
        }
        var play = Play(
            runner: self,
            terminal: ScriptTerminal(terminal: script.terminal, masterKey: key, firstSTAN: firstSTAN ?? Int.random(in: 1...900_000)),
            variables: (script.variables ?? [:]).mapValues(\.text).merging(variables) { _, row in row }
        )
        for (offset, step) in script.steps.enumerated() {
            var outcome = await play.perform(step, index: offset + 1)
            outcome.source = step.source?.fileAndLine
            result.steps.append(outcome)
            self.report(outcome)
        }
        await play.link?.close()
        let failed = result.failed + result.errors
        self.say("script \(name): \(result.passed) passed, \(failed) failed, \(result.skipped) skipped")
        return result
    }

    /// A step's line (`ok`, `FAIL`, `ERR`, `skip`, its name, and where it is written when it did not
    /// pass), then its notes, and for a failure what differed and both messages.
    func report(_ outcome: StepResult) {
        let mark: String
        switch outcome.status {
        case .passed: mark = "ok  "
        case .failed: mark = "FAIL"
        case .error: mark = "ERR "
        case .skipped: mark = "skip"
        }
        let place = outcome.status == .passed ? "" : outcome.source.map { "  (\($0))" } ?? ""
        self.say(String(format: "%3d  ", outcome.index) + "\(mark) \(outcome.name)\(place)")
        if let reason = outcome.reason { self.say("       skipped: \(reason)") }
        for note in outcome.notes { self.say("       note: \(note)") }
        if outcome.status == .failed || outcome.status == .error {
            for problem in outcome.problems { self.say("       \(problem)") }
            if let request = outcome.request { self.say(Self.indent("request:\n" + request)) }
            if let answer = outcome.answer { self.say(Self.indent("answer:\n" + answer)) }
        }
    }

    static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "       " + $0 }.joined(separator: "\n")
    }
}

/// One script's run: its connection, its terminal's state, its variables and the answers so far.
struct Play {
    let runner: ScriptRunner
    var terminal: ScriptTerminal
    var variables: [String: String]
    var link: ScriptLink?
    var matcher = AnswerMatcher()
    /// The current step's STAN and times as variables.
    var stampVariables: [String: String] = [:]
    /// The one-time code the current step sends (`code:` or `totp:`), if any.
    var stepCode: String?
    /// Requests and answers by step name, for reversals.
    var requests: [String: ATM87Message] = [:]
    var answers: [String: ATM87Message] = [:]
    let clock = ContinuousClock()

    init(runner: ScriptRunner, terminal: ScriptTerminal, variables: [String: String]) {
        self.runner = runner
        self.terminal = terminal
        self.variables = variables
    }

    /// What a step needs that it does not have, or that cannot be done.
    struct StepError: Error {
        var detail: String
        init(_ detail: String) { self.detail = detail }
    }

    /// What a step sends: a message, or bytes (raw or framed), or nothing.
    enum Outgoing {
        case message(ATM87Message)
        case bytes([UInt8], decoded: ATM87Message?)
    }

    mutating func perform(_ step: Script.Step, index: Int) async -> StepResult {
        var outcome = StepResult(index: index, name: step.label, action: step.action, status: .passed)
        let started = self.clock.now
        do {
            if let reason = try self.unmet(step.when) {
                outcome.status = .skipped
                outcome.reason = reason
                return outcome
            }
            var stamp = self.terminal.stamp(now: Date())
            self.stampVariables = stamp.variables
            for (name, value) in (step.set ?? [:]).sorted(by: { $0.key < $1.key }) {
                self.variables[name] = try self.resolve(value.text)
            }
            if try await self.prepareCode(step, outcome: &outcome) {
                // It waited for a time step: the request carries the time it is sent at.
                stamp = self.terminal.stamp(now: Date())
                self.stampVariables = stamp.variables
            }
            try await self.perform(step, index: index, stamp: stamp, outcome: &outcome)
        } catch let error as ScriptError {
            outcome.status = .error
            outcome.problems.append(error.detail)
        } catch let error as StepError {
            outcome.status = .error
            outcome.problems.append(error.detail)
        } catch {
            outcome.status = .error
            outcome.problems.append("\(error)")
        }
        outcome.seconds = Self.seconds(started.duration(to: self.clock.now))
        return outcome
    }

    /// Why a step's `when` does not hold (the first condition that does not, by variable name), or nil
    /// when it holds (or there is none).
    func unmet(_ conditions: [String: FieldExpectation]?) throws(ScriptError) -> String? {
        for (name, expectation) in (conditions ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let reason = try ScriptCheck.condition(name, expectation, variables: self.variables) {
                return "when: \(reason)"
            }
        }
        return nil
    }

    /// The step's one-time code: `code:` as written, or `totp:`'s code of the time step this run has not
    /// used yet for that secret (waiting for it when it is not yet within the switch's window). It is
    /// `${oneTimeCode}` from then on (to send it again: a replay). True when it waited.
    mutating func prepareCode(_ step: Script.Step, outcome: inout StepResult) async throws -> Bool {
        self.stepCode = nil
        guard step.code != nil || step.totp != nil else { return false }
        guard ["login", "admin"].contains(step.action) else {
            throw StepError("code and totp go with a login or admin step, not \(step.action)")
        }
        var waited = false
        if let literal = step.code {
            self.stepCode = try self.resolve(literal)
        } else if let totp = step.totp {
            // The secret is never repeated in a message.
            guard let secret = Base32.decode(try self.resolve(totp)), !secret.isEmpty else {
                throw StepError("totp is not a base32 secret (RFC 4648: A-Z and 2-7)")
            }
            let plan = self.runner.codeSteps.take(secret, now: Int64(Date().timeIntervalSince1970))
            if plan.wait > 0 {
                outcome.notes.append(
                    "waited \(plan.wait) s for a time step this secret's code can use (each step's code is accepted once)"
                )
                try await Task.sleep(for: .seconds(plan.wait))
                waited = true
            }
            self.stepCode = OneTimeCodeSteps.code(secret, step: plan.step)
        }
        self.variables["oneTimeCode"] = self.stepCode
        return waited
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `${...}` from the step's own values (`stan`, `time`, ...), then the script's variables.
    func resolve(_ text: String) throws(ScriptError) -> String {
        try ScriptValues.substitute(text, variables: self.variables.merging(self.stampVariables) { _, own in own })
    }

    func resolve(_ text: String?, _ what: String, _ step: Script.Step) throws -> String {
        guard let text else { throw StepError("\(step.action) needs \(what)") }
        return try self.resolve(text)
    }

    func number(_ text: ScalarText?, _ what: String) throws -> Int? {
        guard let text else { return nil }
        let resolved = try self.resolve(text.text)
        guard let value = Int(resolved) else { throw StepError("\(what) is \(resolved), not a whole number") }
        return value
    }

    mutating func perform(
        _ step: Script.Step,
        index: Int,
        stamp: ScriptTerminal.Stamp,
        outcome: inout StepResult
    ) async throws {
        let timeout = try step.timeout.map(ScriptDuration.parse) ?? self.runner.defaultTimeout
        let within = try step.within.map(ScriptDuration.parse)
        let outgoing: Outgoing
        switch step.action {
        case "wait":
            let duration = try ScriptDuration.parse(try self.resolve(step.duration, "a duration", step))
            try await Task.sleep(for: duration)
            self.collectStray(into: &outcome)
            return
        case "disconnect":
            await self.link?.close()
            self.link = nil
            return
        case "reconnect":
            await self.link?.close()
            self.link = nil
            self.link = try await self.connect()
            return
        case "expectClosed", "expectNoAnswer":
            try await self.expectQuiet(step, within: within ?? timeout, outcome: &outcome)
            return
        case "endCardSession":
            guard let token = self.terminal.cardToken else {
                outcome.status = .skipped
                outcome.reason = "no card session is open: nothing sent"
                return
            }
            self.terminal.cardToken = nil
            let logout = try self.terminal.administrative("LOGOUT", [], fields: [:], token: token, stamp)
            outgoing = .message(try self.terminal.sign(logout, step.mac ?? .auto))
        case "raw", "frame":
            let hex = try self.resolve(step.hex, "hex", step).filter { !$0.isWhitespace }
            guard let bytes = Hex.decode(hex) else { throw StepError("\(hex) is not hex (pairs of 0-9 A-F)") }
            let framed =
                step.action == "frame" ? [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes : bytes
            outgoing = .bytes(
                framed,
                decoded: try? ATM87Message(decoding: step.action == "frame" ? bytes : Array(bytes.dropFirst(2)))
            )
        default:
            outgoing = .message(try self.terminal.sign(try self.build(step, stamp: stamp), step.mac ?? .auto))
        }
        let variables = self.variables.merging(self.stampVariables) { _, own in own }
        try await self.exchange(
            step,
            index: index,
            outgoing,
            timeout: timeout,
            within: within,
            variables: variables,
            outcome: &outcome
        )
    }

    /// The request of a message step, unsigned.
    mutating func build(_ step: Script.Step, stamp: ScriptTerminal.Stamp) throws -> ATM87Message {
        switch step.action {
        case "signOn": return try self.terminal.network("001", stamp)
        case "signOff": return try self.terminal.network("002", stamp)
        case "keyChange": return try self.terminal.network("161", stamp)
        case "echo": return try self.terminal.network("301", stamp)
        case "card":
            let kindName = try self.resolve(step.kind, "a kind", step)
            guard let kind = TransactionKind(rawValue: kindName) else {
                let kinds = TransactionKind.allCases.map(\.rawValue).joined(separator: ", ")
                throw StepError("kind \(kindName) is not one of \(kinds)")
            }
            return try self.terminal.card(
                kind,
                pan: try self.resolve(step.pan, "a pan", step),
                pin: try step.pin.map { try self.resolve($0) },
                newPIN: try step.newPIN.map { try self.resolve($0) },
                amount: try self.number(step.amount, "amount") ?? 0,
                from: try step.from.map { try self.resolve($0) },
                to: try step.to.map { try self.resolve($0) },
                stamp
            )
        case "reversal":
            let name = try self.resolve(step.original, "original (the name of an earlier card step)", step)
            guard let original = self.requests[name] else {
                throw StepError("original: no earlier step named \(name) sent a request")
            }
            return try self.terminal.reversal(
                of: original,
                dispensed: try self.number(step.dispensed, "dispensed"),
                stamp
            )
        case "login":
            return try self.terminal.login(
                user: try self.resolve(step.user, "a user", step),
                password: try self.resolve(step.password, "a password", step),
                code: self.stepCode,
                enrolmentCode: try step.enrolmentCode.map { try self.resolve($0) },
                stamp
            )
        case "admin":
            var elements: [(String, String)] = []
            for pair in step.tlv ?? [] {
                guard pair.count == 2 else { throw StepError("tlv entries are [TAG, value] pairs; got \(pair)") }
                elements.append((pair[0], try self.resolve(pair[1])))
            }
            if let reason = step.reason { elements.append((AdminTag.reason.rawValue, try self.resolve(reason))) }
            var fields: [Int: String] = [:]
            for (key, value) in step.fields ?? [:] {
                fields[try ScriptFieldName.number(key)] = try self.resolve(value.text)
            }
            let token: String?
            switch step.token ?? "staff" {
            case "staff": token = self.terminal.staffToken
            case "card": token = self.terminal.cardToken
            case "none": token = nil
            case let other: token = try self.resolve(other)
            }
            return try self.terminal.administrative(
                try self.resolve(step.op, "an op", step),
                elements,
                fields: fields,
                token: token,
                secrets: (self.stepCode.map { [(AdminTag.oneTimeCode, $0)] } ?? [])
                    + [(AdminTag.documentNumber, try step.document.map { try self.resolve($0) })].compactMap { tag, text in
                        text.map { (tag, $0) }
                    },
                stamp
            )
        case "send":
            return try self.message(step, stamp: stamp)
        default:
            throw StepError(
                "unknown action \(step.action) (docs/harness.md lists them: signOn, echo, keyChange, signOff, card, "
                    + "reversal, login, admin, endCardSession, send, raw, frame, wait, disconnect, reconnect, "
                    + "expectClosed, expectNoAnswer)"
            )
        }
    }

    /// A `send` step's message: its MTI, fields 7, 11 and 41 (12 and 13 for a 0200) from the step's
    /// stamp unless given or omitted, then its fields; `${pinBlock(PIN)}` is a PIN block for field 2's PAN.
    mutating func message(_ step: Script.Step, stamp: ScriptTerminal.Stamp) throws -> ATM87Message {
        let mtiText = try self.resolve(step.mti, "an mti", step)
        guard mtiText.count == 4, let mti = MTI(mtiText) else { throw StepError("mti \(mtiText) is not 4 digits") }
        var message = try self.terminal.header(mti, stamp)
        var given: [(Int, String)] = []
        for (key, value) in step.fields ?? [:] { given.append((try ScriptFieldName.number(key), value.text)) }
        // Field 2 first: a PIN block is made for its PAN.
        given.sort { ($0.0 == 2 ? -1 : $0.0) < ($1.0 == 2 ? -1 : $1.0) }
        let stampVariables = stamp.variables
        for (field, text) in given {
            let terminal = self.terminal
            let variables = self.variables
            let pan = message[2]
            let value = try ScriptValues.substitute(text) { inner throws(ScriptError) in
                if let call = ScriptValues.call(inner), call.name == "pinBlock" {
                    // The PIN is never repeated in an error.
                    guard let pin = call.arguments.first, let pan = call.arguments.dropFirst().first ?? pan else {
                        throw ScriptError(.badStep, "${pinBlock(...)} needs field 2 (or pinBlock(PIN, PAN))")
                    }
                    do {
                        return Hex.encode(
                            try terminal.pinBlock(pin: try ScriptValues.substitute(pin, variables: variables), pan: pan)
                        )
                    } catch let error as ScriptError {
                        throw error
                    } catch {
                        throw ScriptError(.badStep, "${pinBlock(...)}: \(error)")
                    }
                }
                return try ScriptValues.lookup(inner, variables.merging(stampVariables) { _, own in own })
            }
            try message.set(field, value)
        }
        for key in step.omit ?? [] { message.remove(try ScriptFieldName.number(key)) }
        return message
    }

    func connect() async throws -> ScriptLink {
        do {
            return try await ScriptLink.connect(host: self.runner.host, port: self.runner.port)
        } catch {
            throw StepError("cannot connect to the switch at \(self.runner.host):\(self.runner.port): \(error)")
        }
    }

    /// Sends, waits for the matching answer, checks it, captures from it.
    mutating func exchange(
        _ step: Script.Step,
        index: Int,
        _ outgoing: Outgoing,
        timeout: Duration,
        within: Duration?,
        variables: [String: String],
        outcome: inout StepResult
    ) async throws {
        if self.link == nil { self.link = try await self.connect() }
        guard let link = self.link else { return }
        // What arrived since the last step and is not a late answer pairs with nothing this step sends.
        var unmatched: [String] = []
        for event in link.drain() {
            switch event {
            case .message(let message):
                if case .late(let step) = self.matcher.received(message) {
                    outcome.notes.append(Self.late(step, message))
                } else {
                    unmatched.append(ATM87PrettyPrinter.oneLine(message))
                }
            case .malformed(let error):
                unmatched.append("a frame that does not decode: \(error)")
            case .closed:
                break
            }
        }
        let request: ATM87Message?
        let bytes: [UInt8]
        switch outgoing {
        case .message(let message):
            request = message
            bytes = message.framedBytes
            outcome.request = ATM87PrettyPrinter.format(message)
        case .bytes(let raw, let decoded):
            request = decoded
            bytes = raw
            outcome.request = decoded.map(ATM87PrettyPrinter.format) ?? "\(raw.count) raw bytes"
        }
        if let name = step.name, let request { self.requests[name] = request }
        let sent = self.clock.now
        do {
            try await link.send(bytes)
        } catch {
            outcome.status = .failed
            outcome.problems.append("the request could not be sent: the connection is closed (\(error))")
            self.link = nil
            return
        }
        // `send`, `raw` and `frame` wait for an answer only when they check or capture something: a
        // message that gets none (a response type) or bytes that close the connection are followed by
        // an `expectNoAnswer` or `expectClosed` step.
        if ["send", "raw", "frame"].contains(step.action), step.expect == nil, step.within == nil, step.capture == nil {
            if !unmatched.isEmpty {
                outcome.status = .failed
                outcome.problems += unmatched.map { "an answer no step waited for: \($0)" }
            }
            return
        }
        self.matcher.sent(step: index, request: request)
        let deadline = sent.advanced(by: timeout)
        while true {
            let left = self.clock.now.duration(to: deadline)
            guard left > .zero, let event = await link.next(within: left) else {
                self.matcher.timeout()
                outcome.status = .failed
                let stan = request?[11].map { " with STAN \($0)" } ?? ""
                if unmatched.isEmpty {
                    outcome.problems.append("timeout: no answer\(stan) within \(ScriptDuration.text(timeout))")
                } else {
                    outcome.problems.append(
                        "no matching answer\(stan) within \(ScriptDuration.text(timeout)); \(unmatched.count) answer(s) came that match no request of this step (wrong STAN):"
                    )
                    outcome.problems += unmatched.map { "  unmatched: \($0)" }
                }
                return
            }
            switch event {
            case .closed(let why):
                self.matcher.abandon()
                self.link = nil
                outcome.status = .failed
                outcome.problems.append("no answer: \(why)")
                outcome.problems += unmatched.map { "  unmatched: \($0)" }
                return
            case .malformed(let error):
                self.matcher.abandon()
                outcome.status = .failed
                outcome.problems.append("the answer does not decode: \(error)")
                return
            case .message(let answer):
                switch self.matcher.received(answer) {
                case .late(let step):
                    outcome.notes.append(Self.late(step, answer))
                    continue
                case .unmatched:
                    unmatched.append(ATM87PrettyPrinter.oneLine(answer))
                    continue
                case .answer:
                    let elapsed = sent.duration(to: self.clock.now)
                    self.conclude(
                        step,
                        request: request,
                        answer: answer,
                        elapsed: elapsed,
                        within: within,
                        variables: variables,
                        unmatched: unmatched,
                        outcome: &outcome
                    )
                    return
                }
            }
        }
    }

    /// The answer came: what it changes, whether it is as expected, what is captured from it.
    mutating func conclude(
        _ step: Script.Step,
        request: ATM87Message?,
        answer: ATM87Message,
        elapsed: Duration,
        within: Duration?,
        variables: [String: String],
        unmatched: [String],
        outcome: inout StepResult
    ) {
        outcome.answer = ATM87PrettyPrinter.format(answer)
        outcome.code = answer[39]
        outcome.answerSeconds = Self.seconds(elapsed)
        self.runner.inspect(step, answer)
        if let name = step.name { self.answers[name] = answer }
        if let problem = self.terminal.absorb(answer, to: request) {
            outcome.problems.append(problem)
        }
        if !unmatched.isEmpty {
            outcome.problems.append(
                "before the answer, \(unmatched.count) answer(s) came that match no request of this step:"
            )
            outcome.problems += unmatched.map { "  unmatched: \($0)" }
        }
        let differences = ScriptCheck.check(
            answer,
            request: request,
            expect: step.expect ?? [:],
            variables: variables,
            elapsed: elapsed,
            within: within
        )
        outcome.problems += differences.map(\.description)
        for (name, key) in (step.capture ?? [:]).sorted(by: { $0.key < $1.key }) {
            do {
                // A code block (48.SK, 48.RC, 48.EC) is captured deciphered: the secret, the recovery
                // codes, the enrolment code (never printed, as no captured value is).
                let element = key.hasPrefix("48.") ? AdminTag(rawValue: String(key.dropFirst(3))) : nil
                if let tag = element, tag.blockPurpose != nil {
                    guard let clear = try self.terminal.reveal(tag, in: answer) else {
                        outcome.problems.append("capture \(name): field \(key) is absent from the answer")
                        continue
                    }
                    self.variables[name] = clear
                    continue
                }
                guard let value = try ScriptCheck.value(of: key, in: answer) else {
                    outcome.problems.append("capture \(name): field \(key) is absent from the answer")
                    continue
                }
                self.variables[name] = value
            } catch {
                outcome.problems.append("capture \(name): \(error.detail)")
            }
        }
        if !outcome.problems.isEmpty { outcome.status = .failed }
    }

    /// `expectClosed`: the switch closes the connection within the time. `expectNoAnswer`: nothing
    /// comes within the time (and the connection stays open).
    mutating func expectQuiet(_ step: Script.Step, within: Duration, outcome: inout StepResult) async throws {
        guard let link = self.link else {
            if step.action == "expectNoAnswer" {
                outcome.status = .failed
                outcome.problems.append("there is no connection to listen on (add a reconnect step)")
            }
            return
        }
        let deadline = self.clock.now.advanced(by: within)
        while true {
            let left = self.clock.now.duration(to: deadline)
            let event = left > .zero ? await link.next(within: left) : nil
            let closing = step.action == "expectClosed"
            switch event {
            case nil:
                if closing {
                    outcome.status = .failed
                    outcome.problems.append("the connection is still open after \(ScriptDuration.text(within))")
                }
                return
            case .closed(let why)?:
                self.link = nil
                if !closing {
                    outcome.status = .failed
                    outcome.problems.append("expected no answer and an open connection; \(why)")
                }
                return
            case .message, .malformed:
                let what: String
                if case .message(let message)? = event {
                    what = ATM87PrettyPrinter.oneLine(message)
                    if !closing { outcome.answer = ATM87PrettyPrinter.format(message) }
                } else if case .malformed(let error)? = event {
                    what = "a frame that does not decode: \(error)"
                } else {
                    what = ""
                }
                if closing {
                    outcome.notes.append("before the close: \(what)")
                    continue
                }
                outcome.status = .failed
                outcome.problems.append("expected no answer within \(ScriptDuration.text(within)); one came: \(what)")
                return
            }
        }
    }

    static func late(_ step: Int, _ message: ATM87Message) -> String {
        "a late answer to step \(step) arrived: \(ATM87PrettyPrinter.oneLine(message))"
    }

    /// Answers that arrived while no step waited: late ones (notes), and unmatched ones (problems).
    mutating func collectStray(into outcome: inout StepResult) {
        for event in self.link?.drain() ?? [] {
            switch event {
            case .message(let message):
                if case .late(let step) = self.matcher.received(message) {
                    outcome.notes.append(Self.late(step, message))
                } else {
                    outcome.status = .failed
                    outcome.problems.append("an answer no step waited for: \(ATM87PrettyPrinter.oneLine(message))")
                }
            case .malformed(let error):
                outcome.status = .failed
                outcome.problems.append("a frame no step waited for, which does not decode: \(error)")
            case .closed:
                break
            }
        }
    }
}

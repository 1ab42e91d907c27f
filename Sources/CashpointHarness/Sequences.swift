public import ATM87
import CashpointSecurity
import CashpointTerminal
public import Crypto
import Foundation

/// A scripted sequence (`fixtures/sequences/*.json`): steps a terminal takes against a switch, each
/// with the answer fields it expects.
///
///     {"name": "...", "terminal": "ATM00001", "steps": [
///        {"action": "signOn", "expect": {"39": "00"}},
///        {"action": "card", "kind": "withdrawal", "pan": "...", "pin": "1234", "amount": 10000,
///         "from": "CP0000000001", "expect": {"39": "00", "54": "0001978C000000240000", "62": "*"}},
///        ...]}
///
/// Actions: signOn, echo, keyChange, signOff, card (kind: withdrawal, deposit, balance, transfer,
/// statement, pin-change; with `pin` it sends a PIN block, without one the card session's token),
/// reversal (of the step named by `original`, `dispensed` minor units), login (`user`, `password`),
/// admin (`op`, `tlv` as [[tag, value]], `fields` as {"102": "..."}; `token: "card"` sends the card
/// token instead of the staff token), endCardSession, reconnect (a new connection, same session keys).
///
/// `expect` maps a field number to its value; `*` means present, `-` absent; `48.TAG` checks one TLV
/// element of field 48.
public struct Sequence: Codable, Sendable {
    public var name: String
    public var description: String?
    public var terminal: String
    public var steps: [Step]

    public struct Step: Codable, Sendable {
        public var name: String?
        public var action: String
        public var kind: String?
        public var pan: String?
        public var pin: String?
        public var newPIN: String?
        public var amount: Int?
        public var from: String?
        public var to: String?
        public var original: String?
        public var dispensed: Int?
        public var user: String?
        public var password: String?
        public var op: String?
        public var tlv: [[String]]?
        public var fields: [String: String]?
        public var token: String?
        public var expect: [String: String]?
    }

    public static func load(_ path: String) throws -> Sequence {
        try JSONDecoder().decode(Sequence.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Plays sequences against a switch and says, step by step, what came back and whether it was expected.
public struct SequenceRunner: Sendable {
    public var host: String
    public var port: Int
    public var masterKey: SymmetricKey
    public var say: @Sendable (String) -> Void
    /// Sees every answer, with the step that drew it (a test checks each against the rules).
    public var inspect: @Sendable (Sequence.Step, ATM87Message) -> Void

    public init(
        host: String,
        port: Int,
        masterKey: SymmetricKey,
        say: @escaping @Sendable (String) -> Void,
        inspect: @escaping @Sendable (Sequence.Step, ATM87Message) -> Void = { _, _ in }
    ) {
        self.host = host
        self.port = port
        self.masterKey = masterKey
        self.say = say
        self.inspect = inspect
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Runs every step; returns the number of steps whose answer differed from `expect`.
    public func run(_ sequence: Sequence) async throws -> Int {
        var failures = 0
        var answers: [String: ATM87Message] = [:]
        var keys: SessionKeys?
        var tokens: (card: String?, staff: String?) = (nil, nil)
        var index = 0
        self.say("sequence \(sequence.name): \(sequence.steps.count) steps, terminal \(sequence.terminal)")
        while index < sequence.steps.count {
            // One connection until a reconnect step (or the end).
            let (next, failed) = try await SwitchLink.with(host: self.host, port: self.port) { link in
                let session = TerminalSession(link: link, terminal: sequence.terminal, masterKey: self.masterKey)
                if let keys { session.resume(keys: keys) }
                session.cardToken = tokens.card
                session.staffToken = tokens.staff
                var failed = 0
                var position = index
                while position < sequence.steps.count {
                    let step = sequence.steps[position]
                    position += 1
                    if step.action == "reconnect" {
                        self.say(String(format: "%3d  reconnect", position))
                        break
                    }
                    let answer = try await self.perform(step, session: session, answers: answers)
                    if let name = step.name, let answer { answers[name] = answer }
                    if let answer { self.inspect(step, answer) }
                    let problems = answer.map { Self.check($0, against: step.expect ?? [:]) } ?? []
                    let label = step.name ?? step.action
                    let shown = answer.map { ATM87PrettyPrinter.oneLine($0) } ?? "(no answer)"
                    self.say(String(format: "%3d  ", position) + "\(label): \(shown)")
                    for problem in problems { self.say("     MISMATCH \(problem)") }
                    if !problems.isEmpty { failed += 1 }
                }
                keys = session.keys
                tokens = (session.cardToken, session.staffToken)
                return (position, failed)
            }
            index = next
            failures += failed
        }
        self.say("sequence \(sequence.name): \(failures == 0 ? "OK" : "\(failures) steps differ")")
        return failures
    }

    func perform(
        _ step: Sequence.Step,
        session: TerminalSession,
        answers: [String: ATM87Message]
    ) async throws
        -> ATM87Message?
    {
        func need<T>(_ value: T?, _ what: String) throws -> T {
            guard let value else { throw Failure(description: "step \(step.name ?? step.action): needs \(what)") }
            return value
        }
        switch step.action {
        case "signOn": return try await session.signOn()
        case "echo": return try await session.echo()
        case "keyChange": return try await session.changeKeys()
        case "signOff": return try await session.signOff()
        case "card":
            let kindName = try need(step.kind, "kind")
            guard let kind = TransactionKind(rawValue: kindName) else {
                throw Failure(description: "unknown kind \(kindName)")
            }
            return try await session.cardRequest(
                kind,
                pan: try need(step.pan, "pan"),
                pin: step.pin,
                amount: step.amount ?? 0,
                from: step.from,
                to: step.to,
                newPIN: step.newPIN
            )
        case "reversal":
            let original = try need(
                answers[try need(step.original, "original")],
                "an earlier step named \(step.original ?? "")"
            )
            return try await session.reversal(of: original, dispensed: step.dispensed)
        case "login":
            return try await session.staffLogin(
                userName: try need(step.user, "user"),
                password: try need(step.password, "password")
            )
        case "admin":
            var fields: [Int: String] = [:]
            for (key, value) in step.fields ?? [:] {
                guard let number = Int(key) else { throw Failure(description: "field \(key) is not a number") }
                fields[number] = value
            }
            let elements = (step.tlv ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
            return try await session.administrative(
                try need(step.op, "op"),
                elements,
                fields: fields,
                token: step.token == "card" ? session.cardToken : nil
            )
        case "endCardSession":
            return try await session.endCardSession()
        default:
            throw Failure(description: "unknown action \(step.action)")
        }
    }

    /// What differs between an answer and the expected fields.
    public static func check(_ answer: ATM87Message, against expect: [String: String]) -> [String] {
        var problems: [String] = []
        for (key, wanted) in expect.sorted(by: { $0.key < $1.key }) {
            let actual: String?
            if key.hasPrefix("48.") {
                let tag = String(key.dropFirst(3))
                actual = answer[48].flatMap { try? ATM87TLV(parsing: $0) }?[tag]
            } else if key == "mti" {
                actual = "\(answer.mti)"
            } else if let field = Int(key) {
                actual = answer[field]
            } else {
                problems.append("\(key): not a field")
                continue
            }
            switch wanted {
            case "*": if actual == nil { problems.append("field \(key): expected present, absent") }
            case "-": if actual != nil { problems.append("field \(key): expected absent, present") }
            default:
                if actual != wanted {
                    let shown = Int(key).map { ATM87Spec.field($0)?.sensitivity == ATM87Sensitivity.none } ?? true
                    problems.append(
                        "field \(key): expected \(wanted), got \(shown ? (actual ?? "nothing") : "<redacted>")"
                    )
                }
            }
        }
        return problems
    }
}

public import ATM87
public import CashpointSecurity
import Crypto
import Foundation

/// What each terminal sent the simulated switch, what it answered, and what else happened, in order.
/// Times are milliseconds from the simulator's start.
public struct SimulatorRecord: Sendable {
    public struct Entry: Sendable {
        public enum Kind: String, Sendable, Hashable, Codable {
            /// A request (or any message) a terminal sent.
            case received
            /// An answer the simulator sent.
            case sent
            /// Something else: a rule's decision, a closed connection, a frame that did not decode.
            case note
        }

        public var at: Int64
        public var connection: Int
        public var terminal: String?
        public var kind: Kind
        public var message: ATM87Message?
        /// The rule that took the request (received), or that made the answer (sent).
        public var rule: String?
        public var note: String?

        public init(
            at: Int64,
            connection: Int,
            terminal: String? = nil,
            kind: Kind,
            message: ATM87Message? = nil,
            rule: String? = nil,
            note: String? = nil
        ) {
            self.at = at
            self.connection = connection
            self.terminal = terminal
            self.kind = kind
            self.message = message
            self.rule = rule
            self.note = note
        }

        /// One line, with no PAN, PIN block, token, key or MAC: `12.345 s  ATM00001 #2 in  0420 11=... 90=...`.
        public var line: String {
            let time = String(format: "%8.3f s", Double(self.at) / 1000)
            var text = "\(time)  \(self.terminal ?? "-") #\(self.connection) "
            switch self.kind {
            case .received: text += "in   "
            case .sent: text += "out  "
            case .note: text += "note "
            }
            if let message = self.message { text += SimulatorRecord.summary(message) }
            if let rule = self.rule { text += "  (rule \(rule))" }
            if let note = self.note { text += (self.message == nil ? "" : "  ") + note }
            return text
        }
    }

    public var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    /// The messages the terminals sent.
    public var requests: [Entry] { self.entries.filter { $0.kind == .received && $0.message != nil } }

    /// The fields a record line shows: none of them secret.
    static let shownFields = [3, 4, 11, 39, 70, 90, 95]

    public static func summary(_ message: ATM87Message) -> String {
        ([message.mti.description] + self.shownFields.compactMap { field in message[field].map { "\(field)=\($0)" } })
            .joined(separator: " ")
    }
}

/// The switch simulator's core: requests in, actions out, no I/O and no clock (times come with the
/// events; fresh session keys from `makeKeys`). It signs terminals on with their master keys, checks
/// every MAC, answers as a bank would (`SimulatedBank`) unless a rule of the host script says
/// otherwise, and keeps the record the expectations are checked against. The shell
/// (`SwitchSimulatorServer`) performs the actions and brings back what the world does as events.
public struct SwitchSimulator: Sendable {
    public enum Action: Sendable {
        /// Write this message on that connection.
        case send(ATM87Message, connection: Int)
        /// Close that connection.
        case close(connection: Int)
        /// Bring back `delivery(id)` after this long.
        case schedule(id: Int, after: Duration)
        /// A line for the person watching.
        case say(String)
        /// The simulator ends (a rule with `stop`).
        case stop
    }

    /// An answer waiting for its time (a rule's `delay`), already signed as it will go.
    struct Delivery: Sendable {
        var terminal: String
        var answers: [ATM87Message]
        var rule: String
    }

    public let script: HostScript
    public private(set) var bank: SimulatedBank
    public private(set) var record = SimulatorRecord()
    /// The script's variables, `--var`s and the rules' captures.
    public private(set) var variables: [String: String]
    let makeKeys: @Sendable () -> SessionKeys
    var sessions: [String: SessionKeys] = [:]
    /// Each terminal's newest connection, and each connection's terminal.
    var connectionOf: [String: Int] = [:]
    var terminalOn: [Int: String] = [:]
    /// How many requests each rule took.
    public private(set) var uses: [Int]
    /// Card session tokens: token → (terminal, PAN).
    var tokens: [String: [String]] = [:]
    /// Answers to reversal advices, by the advice's own key: a repeat gets the same.
    var adviceAnswers: [String: ATM87Message] = [:]
    var deliveries: [Int: Delivery] = [:]
    var nextDelivery = 0
    var serial = 0

    public init(
        script: HostScript,
        bank: SimulatedBank,
        variables: [String: String] = [:],
        makeKeys: @escaping @Sendable () -> SessionKeys = { SessionKeys.generate() }
    ) {
        self.script = script
        self.bank = bank
        self.variables = script.variables.merging(variables) { $1 }
        self.makeKeys = makeKeys
        self.uses = Array(repeating: 0, count: script.rules.count)
    }

    // MARK: Events

    /// A connection was closed (by the terminal, or by the simulator).
    public mutating func closed(connection: Int, at time: Int64) {
        let terminal = self.terminalOn.removeValue(forKey: connection)
        if let terminal, self.connectionOf[terminal] == connection { self.connectionOf[terminal] = nil }
        self.note(time, connection, terminal, "connection closed")
    }

    /// A delayed answer's time has come: it goes to its terminal's connection of now.
    public mutating func delivery(_ id: Int, at time: Int64) -> [Action] {
        guard let delivery = self.deliveries.removeValue(forKey: id) else { return [] }
        guard let connection = self.connectionOf[delivery.terminal] else {
            let text = "the delayed answer of rule \(delivery.rule) is not delivered: \(delivery.terminal) has no connection"
            self.note(time, -1, delivery.terminal, text)
            return [.say(text)]
        }
        return self.deliver(delivery.answers, connection: connection, terminal: delivery.terminal, rule: delivery.rule, at: time)
    }

    /// What came in on a connection: a message, or a frame that did not decode.
    public mutating func received(_ inbound: ATM87Inbound, connection: Int, at time: Int64) -> [Action] {
        switch inbound {
        case .malformed(let error):
            return self.garbage(connection: connection, "a frame that does not decode: \(error)", at: time)
        case .message(let request):
            return self.received(request, connection: connection, at: time)
        }
    }

    /// Bytes that are no message (a frame that does not decode, a length over the limit): recorded, and
    /// the connection closed, as the switch does.
    public mutating func garbage(connection: Int, _ reason: String, at time: Int64) -> [Action] {
        let text = "\(reason); the connection is closed"
        self.note(time, connection, self.terminalOn[connection], text)
        return [.say("#\(connection): \(text)"), .close(connection: connection)]
    }

    mutating func received(_ request: ATM87Message, connection: Int, at time: Int64) -> [Action] {
        let terminal = request.trimmed(41)
        let entry = self.record.entries.count
        self.record.entries.append(.init(at: time, connection: connection, terminal: terminal, kind: .received, message: request))
        var actions: [Action] = [.say(self.record.entries[entry].line)]
        guard !request.mti.isResponse else {
            self.note(time, connection, terminal, "a response type sent to the switch: no answer")
            return actions
        }
        if let violation = ATM87Rules.check(request).first {
            var answer = Self.answer(to: request, code: "30", echo: [7, 11, 41])
            try? answer.set(44, String(String(describing: violation).prefix(25)))
            return actions + self.deliver([answer], connection: connection, terminal: terminal ?? "-", rule: nil, at: time)
        }
        guard let terminal else { return actions }
        // The keys: a sign-on's under the master key, anything else's under the session's MAC key.
        let isSignOn = request.mti == .networkManagementRequest && request[70] == NetworkManagementCode.signOn.field
        if isSignOn {
            guard let master = self.bank.masterKeys[terminal] else {
                let answer = Self.answer(to: request, code: "58", echo: [7, 11, 41, 70])
                return actions + self.deliver([answer], connection: connection, terminal: terminal, rule: nil, at: time)
            }
            if MessageAuthentication.verify(request, key: SignOnKey.derive(from: master)) != nil {
                let answer = Self.answer(to: request, code: "63", echo: [7, 11, 41, 70])
                self.note(time, connection, terminal, "the sign-on's MAC does not verify under the master key")
                return actions + self.deliver([answer], connection: connection, terminal: terminal, rule: nil, at: time)
            }
        } else {
            guard let keys = self.sessions[terminal] else {
                let answer = Self.answer(to: request, code: "58", echo: [7, 11, 41])
                self.note(time, connection, terminal, "not signed on: answered 58")
                return actions + self.deliver([answer], connection: connection, terminal: terminal, rule: nil, at: time)
            }
            if let failure = MessageAuthentication.verify(request, key: keys.mac) {
                let answer = try? MessageAuthentication.sign(Self.answer(to: request, code: "63", echo: [7, 11, 41]), key: keys.mac)
                self.note(time, connection, terminal, "the request's MAC does not verify (\(failure.rawValue)): answered 63")
                return actions + self.deliver(answer.map { [$0] } ?? [], connection: connection, terminal: terminal, rule: nil, at: time)
            }
        }
        self.connectionOf[terminal] = connection
        self.terminalOn[connection] = terminal

        let rule = self.rule(for: request)
        var notes: [String] = []
        if case let (index, rule)? = rule {
            self.uses[index] += 1
            self.record.entries[entry].rule = rule.name
            for (name, field) in rule.capture {
                if let value = try? ScriptCheck.value(of: field, in: request) {
                    self.variables[name] = value
                } else {
                    notes.append("rule \(rule.name): \(field) to capture as ${\(name)} is absent")
                }
            }
        }
        actions += notes.map { .say($0) }
        if let rule = rule?.rule, rule.drop {
            self.note(time, connection, terminal, "rule \(rule.name): the connection is dropped, no answer")
            return actions + [.close(connection: connection)] + (rule.stop ? [.stop] : [])
        }
        let reply = self.answer(request, terminal: terminal, code: rule?.rule.code)
        var answer = reply.0
        let key = reply.1
        if let rule = rule?.rule {
            for (field, text) in rule.fields.sorted(by: { $0.key < $1.key }) {
                do {
                    try answer.set(field, try ScriptValues.substitute(text, variables: self.variables))
                } catch {
                    actions.append(.say("rule \(rule.name): field \(field) not set: \(error)"))
                }
            }
            if rule.wrongSTAN, let stan = answer[11].flatMap({ try? STAN(field: $0) }) {
                // Half the STAN range away: never the request's, nor one the terminal sent just before.
                try? answer.set(11, STAN.after(stan.value + STAN.range.upperBound / 2).field)
            }
        }
        var signed = answer
        if let key {
            let signing = rule?.rule.wrongMAC == true ? self.makeKeys().mac : key
            if let message = try? MessageAuthentication.sign(answer, key: signing) { signed = message }
        }
        guard let rule = rule?.rule else {
            return actions + self.deliver([signed], connection: connection, terminal: terminal, rule: nil, at: time)
        }
        let answers = rule.answer ? Array(repeating: signed, count: rule.twice ? 2 : 1) : []
        if !rule.answer { self.note(time, connection, terminal, "rule \(rule.name): no answer") }
        if let delay = rule.delay, !answers.isEmpty {
            self.nextDelivery += 1
            self.deliveries[self.nextDelivery] = Delivery(terminal: terminal, answers: answers, rule: rule.name)
            self.note(time, connection, terminal, "rule \(rule.name): the answer goes after \(ScriptDuration.text(delay))")
            actions.append(.schedule(id: self.nextDelivery, after: delay))
        } else {
            actions += self.deliver(answers, connection: connection, terminal: terminal, rule: rule.name, at: time)
        }
        return actions + (rule.stop ? [.stop] : [])
    }

    /// The first rule that still takes requests and whose conditions the request meets.
    func rule(for request: ATM87Message) -> (index: Int, rule: HostRule)? {
        for (index, rule) in self.script.rules.enumerated() {
            if let times = rule.times, self.uses[index] >= times { continue }
            let differences = ScriptCheck.check(request, request: nil, expect: rule.when, variables: self.variables)
            if differences.isEmpty { return (index, rule) }
        }
        return nil
    }

    mutating func deliver(_ answers: [ATM87Message], connection: Int, terminal: String, rule: String?, at time: Int64)
        -> [Action]
    {
        var actions: [Action] = []
        for answer in answers {
            self.record.entries.append(
                .init(at: time, connection: connection, terminal: terminal, kind: .sent, message: answer, rule: rule)
            )
            actions += [.say(self.record.entries[self.record.entries.count - 1].line), .send(answer, connection: connection)]
        }
        return actions
    }

    mutating func note(_ time: Int64, _ connection: Int, _ terminal: String?, _ text: String) {
        self.record.entries.append(.init(at: time, connection: connection, terminal: terminal, kind: .note, note: text))
    }

    // MARK: The bank's answers

    /// A response to `request` with its code and the echoed fields it has.
    static func answer(to request: ATM87Message, code: String, echo: [Int]) -> ATM87Message {
        var answer = ATM87Message(mti: MTI(rawValue: request.mti.rawValue / 10 * 10 + 10))
        for field in echo { if let value = request[field] { try? answer.set(field, value) } }
        try? answer.set(39, code)
        return answer
    }

    /// The answer a bank would give (or with `code`, that code and nothing posted), and the key it is
    /// signed under (nil: unsigned).
    mutating func answer(_ request: ATM87Message, terminal: String, code: String?) -> (ATM87Message, SymmetricKey?) {
        let keys = self.sessions[terminal]
        switch request.mti {
        case .networkManagementRequest:
            var answer = Self.answer(to: request, code: code ?? "00", echo: [7, 11, 41, 70])
            guard code == nil || code == "00" else { return (answer, keys?.mac) }
            switch NetworkManagementCode(rawValue: request[70] ?? "") {
            case .signOn, .keyChange:
                guard let master = self.bank.masterKeys[terminal] else { return (answer, keys?.mac) }
                let fresh = self.makeKeys()
                guard let material = try? KeyMaterial.encode(fresh, under: master) else {
                    try? answer.set(39, "96")
                    return (answer, keys?.mac)
                }
                try? answer.set(120, material)
                self.sessions[terminal] = fresh
                // A sign-on's answer is signed under the new keys, a key change's under the old.
                return (answer, request[70] == NetworkManagementCode.signOn.field ? fresh.mac : keys?.mac)
            case .signOff:
                self.sessions[terminal] = nil
                return (answer, keys?.mac)
            case .echo, nil:
                return (answer, keys?.mac)
            }
        case .financialRequest:
            return (self.financial(request, terminal: terminal, code: code), keys?.mac)
        case .reversalAdvice, .reversalAdviceRepeat:
            return (self.reversal(request, terminal: terminal, code: code), keys?.mac)
        case .administrativeRequest:
            var answer = Self.answer(to: request, code: code ?? "00", echo: [3, 4, 7, 11, 41, 49])
            let tlv = request[48].flatMap { try? ATM87TLV(parsing: $0) }
            if code == nil, tlv?["OP"] == "LOGOUT" {
                if let token = request[62] { self.tokens[token] = nil }
            } else if code == nil {
                try? answer.set(39, "12")
                try? answer.set(44, "not served by simulator")
            }
            return (answer, keys?.mac)
        default:
            var answer = Self.answer(to: request, code: code ?? "12", echo: [7, 11, 41])
            if code == nil { try? answer.set(44, "message type not served") }
            return (answer, keys?.mac)
        }
    }

    mutating func financial(_ request: ATM87Message, terminal: String, code: String?) -> ATM87Message {
        var answer = Self.answer(to: request, code: "00", echo: [2, 3, 4, 7, 11, 12, 13, 41, 49, 102, 103])
        self.serial += 1
        let key = "\(terminal)/\(request[11] ?? "")/\(request[7] ?? "")"
        let pan = request[2] ?? ""
        guard let card = self.bank.cards[pan] else { return self.refuse(answer, "14") }
        var pinChecked = false
        if let block = request.binary(52) {
            let pin = self.sessions[terminal].flatMap { try? PINBlock.decipher(block, pan: pan, key: $0.pin) }
            guard pin == card.pin else { return self.refuse(answer, "55") }
            pinChecked = true
        } else if let token = request[62] {
            guard self.tokens[token] == [terminal, pan] else { return self.refuse(answer, "63") }
        } else {
            return self.refuse(answer, "30")
        }
        let decision: (code: String, account: String?)
        if let code {
            decision = (code, request[102] ?? card.accounts.first)
        } else {
            decision = self.bank.decide(request, card: card, key: key)
        }
        try? answer.set(39, decision.code)
        try? answer.set(37, String(format: "%012d", self.serial))
        guard decision.code == "00" else { return answer }
        try? answer.set(38, String(format: "%06X", self.serial % 0x100_0000))
        if let account = decision.account { try? answer.set(54, self.bank.balanceField(account)) }
        if pinChecked {
            let token = "SIM-\(terminal)-\(self.serial)"
            self.tokens[token] = [terminal, pan]
            try? answer.set(48, CardAccounts(card.accounts).field)
            try? answer.set(62, token)
        }
        return answer
    }

    func refuse(_ answer: ATM87Message, _ code: String) -> ATM87Message {
        var answer = answer
        try? answer.set(39, code)
        return answer
    }

    mutating func reversal(_ request: ATM87Message, terminal: String, code: String?) -> ATM87Message {
        let adviceKey = "\(terminal)/\(request[11] ?? "")/\(request[7] ?? "")"
        if code == nil, let earlier = self.adviceAnswers[adviceKey] { return earlier }
        var answer = Self.answer(to: request, code: code ?? "00", echo: [2, 3, 4, 7, 11, 41, 49, 90, 95])
        self.serial += 1
        try? answer.set(37, String(format: "%012d", self.serial))
        guard code == nil else { return answer }
        let original = Array((request[90] ?? "").utf8)
        guard original.count == OriginalDataElements.width else { return self.refuse(answer, "30") }
        let stan = String(decoding: original[4..<10], as: UTF8.self)
        let time = String(decoding: original[10..<20], as: UTF8.self)
        let dispensed = (request[95]).flatMap { Int64($0.prefix(12)) } ?? 0
        try? answer.set(39, self.bank.reverse("\(terminal)/\(stan)/\(time)", dispensed: dispensed))
        self.adviceAnswers[adviceKey] = answer
        return answer
    }
}

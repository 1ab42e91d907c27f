import ATM87
import CashpointSecurity
import CashpointTerminal
import Crypto
import Foundation
import Synchronization

/// A switch in memory, for the ATM's shell: it speaks the real protocol (session keys delivered under
/// the terminal's master key, MACs both ways) and answers as the test says. No socket, no database.
final class FakeSwitch: ATMConnector, Sendable {
    /// How the switch treats a request.
    enum Plan: Sendable {
        /// Answered at once with this code (and, for a 00, the usual fields).
        case answer(String)
        /// Never answered (a switch that hangs).
        case silence
    }

    struct State {
        var keys: SessionKeys?
        var received: [ATM87Message] = []
        var reachable = true
        var connections: [FakeConnection] = []
        var cards: Plan = .answer("00")
        var echoes: Plan = .answer("00")
        var advices: Plan = .answer("00")
        var accounts = ["CP0000000001"]
        var balance: Int64 = 250_000
        var approvals = 0
        /// The branch desk's side (FakeSwitch+Staff.swift): empty, and every 0600 is answered 00.
        var desk = FakeDesk()
    }

    let masterKey: SymmetricKey
    let state = Mutex(State())

    init(masterKey: SymmetricKey) { self.masterKey = masterKey }

    var received: [ATM87Message] { self.state.withLock { $0.received } }
    var connectionCount: Int { self.state.withLock { $0.connections.count } }

    func set(_ change: @Sendable (inout State) -> Void) { self.state.withLock { change(&$0) } }

    func connect(host: String, port: Int, deliver: @escaping @Sendable (LinkEvent) -> Void) async throws -> any ATMConnection {
        let connection = FakeConnection(bank: self, deliver: deliver)
        let reachable = self.state.withLock { state in
            if state.reachable { state.connections.append(connection) }
            return state.reachable
        }
        guard reachable else { throw LinkError("connection refused", kind: .closed) }
        return connection
    }

    /// Drops every open connection, as a switch that stops does.
    func dropConnections() {
        let open = self.state.withLock { state in
            defer { state.connections = [] }
            return state.connections
        }
        for connection in open { connection.drop() }
    }

    func handle(_ request: ATM87Message, on connection: FakeConnection) {
        guard let answer = self.respond(to: request) else { return }
        connection.deliver(.received(.message(answer)))
    }

    /// The switch's answer to a request, MACed under the session key (nil: no answer).
    func respond(to request: ATM87Message) -> ATM87Message? {
        let answer: ATM87Message? = self.state.withLock { state in
            state.received.append(request)
            switch request.mti {
            case .networkManagementRequest:
                if request[70] == NetworkManagementCode.signOn.field {
                    let keys = SessionKeys.generate()
                    state.keys = keys
                    var answer = Self.answer(to: request, .networkManagementResponse, "00")
                    try! answer.set(120, KeyMaterial.encode(keys, under: self.masterKey))
                    return answer
                }
                if request[70] == NetworkManagementCode.echo.field, case .silence = state.echoes { return nil }
                return Self.answer(to: request, .networkManagementResponse, "00")
            case .financialRequest:
                guard case .answer(let code) = state.cards else { return nil }
                var answer = Self.answer(to: request, .financialResponse, code)
                guard code == "00" else { return answer }
                state.approvals += 1
                let amount = Int64(request[4] ?? "") ?? 0
                if request[3]?.hasPrefix("01") == true { state.balance -= amount }
                if request[3]?.hasPrefix("21") == true { state.balance += amount }
                try! answer.set(37, String(format: "%012d", 533_512_000_000 + state.approvals))
                try! answer.set(38, String(format: "A%05d", state.approvals))
                try! answer.set(54, AdditionalAmount(amount: state.balance, currency: "978").field)
                if request.contains(52) {
                    try! answer.set(48, CardAccounts(state.accounts).field)
                    try! answer.set(62, "card-token-\(state.approvals)")
                }
                return answer
            case .reversalAdvice, .reversalAdviceRepeat:
                guard case .answer(let code) = state.advices else { return nil }
                return Self.answer(to: request, .reversalResponse, code)
            case .administrativeRequest:
                guard !state.desk.staff.isEmpty, let keys = state.keys else {
                    return Self.answer(to: request, .administrativeResponse, "00")
                }
                return state.desk.answer(request, keys: keys, terminal: request.trimmed(41) ?? "")
            default:
                return Self.answer(to: request, MTI(rawValue: request.mti.rawValue + 10), "30")
            }
        }
        guard let answer else { return nil }
        let keys = self.state.withLock { $0.keys }
        return keys.map { try! MessageAuthentication.sign(answer, key: $0.mac) } ?? answer
    }

    static func answer(to request: ATM87Message, _ mti: MTI, _ code: String) -> ATM87Message {
        var answer = ATM87Message(mti: mti)
        for field in [2, 3, 4, 7, 11, 41, 49, 70] { if let value = request[field] { try! answer.set(field, value) } }
        try! answer.set(39, code)
        return answer
    }
}

/// One connection to the fake switch: what the ATM writes is handled at once; what the switch answers
/// goes to the ATM's events.
final class FakeConnection: ATMConnection, Sendable {
    let bank: FakeSwitch
    let deliver: @Sendable (LinkEvent) -> Void
    let closed = Atomic<Bool>(false)

    init(bank: FakeSwitch, deliver: @escaping @Sendable (LinkEvent) -> Void) {
        self.bank = bank
        self.deliver = deliver
    }

    func write(_ message: ATM87Message) {
        guard !self.closed.load(ordering: .relaxed) else { return }
        self.bank.handle(message, on: self)
    }

    func close() { self.drop() }

    func drop() {
        guard !self.closed.exchange(true, ordering: .relaxed) else { return }
        self.deliver(.closed)
    }
}

/// A link to the fake switch for a `TerminalSession` (the teller desk): each request answered at once.
final class FakeLink: SwitchExchange {
    let bank: FakeSwitch

    init(_ bank: FakeSwitch) { self.bank = bank }

    func exchange(_ message: ATM87Message, timeout: Duration) async throws -> ATM87Message {
        guard let answer = self.bank.respond(to: message) else {
            throw LinkError("no answer within \(timeout)", kind: .timeout)
        }
        return answer
    }

    func send(_ message: ATM87Message) async throws { _ = self.bank.respond(to: message) }
}

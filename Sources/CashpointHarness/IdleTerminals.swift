import ATM87
import CashpointBank
public import CashpointStore
public import CashpointTerminal
public import Crypto
import CashpointSecurity
import Foundation

/// Terminals that sign on and then only keep their link alive, an echo (0800, 301) every `echoEvery`,
/// as most of a bank's ATMs are between customers: what a switch holds for each while others work
/// (issue 23: 10,000 idle terminals beside 32 busy ones). Each signs on over its own connection, at
/// most `concurrency` at once; the work to measure runs once all have tried.
public struct IdleTerminals: Sendable {
    public struct Terminal: Sendable {
        public var id: String
        public var masterKey: SymmetricKey
    }

    /// What the idle terminals did.
    public struct Report: Sendable, Hashable {
        public var terminals = 0
        public var signedOn = 0
        /// Sign-ons refused or failed (connection, timeout).
        public var signOnFailures = 0
        public var echoes = 0
        /// Echoes not answered 00, and links lost after sign-on.
        public var echoFailures = 0

        public var line: String {
            "idle terminals: \(self.signedOn) of \(self.terminals) signed on (\(self.signOnFailures) failed), "
                + "\(self.echoes) echoes answered, \(self.echoFailures) failed or links lost"
        }

        public var json: [String: Int] {
            [
                "terminals": self.terminals, "signedOn": self.signedOn, "signOnFailures": self.signOnFailures,
                "echoes": self.echoes, "echoFailures": self.echoFailures,
            ]
        }
    }

    public var switches: [SwitchAddress]
    public var terminals: [Terminal]
    public var echoEvery: Duration
    public var concurrency: Int

    public init(switches: [SwitchAddress], terminals: [Terminal], echoEvery: Duration, concurrency: Int = 200) {
        precondition(!switches.isEmpty && concurrency >= 1)
        self.switches = switches
        self.terminals = terminals
        self.echoEvery = echoEvery
        self.concurrency = concurrency
    }

    /// `count` ATMs of a bank fixture with test master keys, after the first `skip` (the busy ones).
    public static func terminals(_ count: Int, from fixture: BankFixture, after skip: Int) throws -> [Terminal] {
        try SwitchLoad.keyedATMs(count, from: fixture, after: skip) { atms in
            "the bank fixture has \(atms) ATMs with test master keys: \(skip) busy and \(count) idle "
                + "need \(skip + count) (atm-harness load-bank --terminals \(skip) --idle-terminals \(count))"
        }.map { Terminal(id: $0.id, masterKey: $0.key) }
    }

    /// Signs every terminal on, runs `body` while they stay signed on and echo, then closes them.
    public func holding<T: Sendable>(_ body: () async throws -> T) async throws -> (T, Report) {
        let tally = IdleTally(expected: self.terminals.count, concurrency: self.concurrency)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, terminal) in self.terminals.enumerated() {
                group.addTask { await self.hold(terminal, address: self.switches[index % self.switches.count], tally: tally) }
            }
            await tally.allTried()
            let result: T
            do {
                result = try await body()
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
            try await group.waitForAll()
            return (result, await tally.report)
        }
    }

    /// One idle terminal: sign on, then an echo every `echoEvery` until cancelled.
    func hold(_ terminal: Terminal, address: SwitchAddress, tally: IdleTally) async {
        await tally.acquire()
        var tried = false
        do {
            try await SwitchLink.with(host: address.host, port: address.port) { link in
                let session = TerminalSession(link: link, terminal: terminal.id, masterKey: terminal.masterKey)
                let answer = try await session.signOn()
                tried = true
                await tally.tried(signedOn: answer[39] == ResponseCode.approved.rawValue)
                guard answer[39] == ResponseCode.approved.rawValue else { return }
                while true {
                    try await Task.sleep(for: self.echoEvery)
                    let echo = try await session.echo()
                    await tally.echoed(ok: echo[39] == ResponseCode.approved.rawValue)
                }
            }
        } catch {
            if !tried {
                await tally.tried(signedOn: false)
            } else if !Task.isCancelled {
                await tally.echoed(ok: false)
            }
        }
    }
}

/// The idle terminals' sign-ons in flight (at most `concurrency`) and what they did.
actor IdleTally {
    let expected: Int
    let concurrency: Int
    var inFlight = 0
    var queue: [CheckedContinuation<Void, Never>] = []
    var everyoneTried: [CheckedContinuation<Void, Never>] = []
    var report = IdleTerminals.Report()

    init(expected: Int, concurrency: Int) {
        self.expected = expected
        self.concurrency = concurrency
        self.report.terminals = expected
    }

    func acquire() async {
        if self.inFlight < self.concurrency {
            self.inFlight += 1
            return
        }
        await withCheckedContinuation { self.queue.append($0) }
    }

    func tried(signedOn: Bool) {
        if signedOn { self.report.signedOn += 1 } else { self.report.signOnFailures += 1 }
        if self.queue.isEmpty {
            self.inFlight -= 1
        } else {
            self.queue.removeFirst().resume()
        }
        if self.report.signedOn + self.report.signOnFailures == self.expected {
            for waiter in self.everyoneTried { waiter.resume() }
            self.everyoneTried = []
        }
    }

    func echoed(ok: Bool) {
        if ok { self.report.echoes += 1 } else { self.report.echoFailures += 1 }
    }

    func allTried() async {
        guard self.report.signedOn + self.report.signOnFailures < self.expected else { return }
        await withCheckedContinuation { self.everyoneTried.append($0) }
    }
}

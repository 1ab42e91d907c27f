import ATM87
import CashpointSecurity
import CashpointTerminal
public import Crypto
import Foundation

/// Load on a running switch over TCP: `connections` connections of one terminal (signed on once,
/// sharing its session keys), each opening a card session with a PIN (bcrypt once) and then sending
/// token transactions back to back: balance inquiries and transfers of 0.01 between the card's two
/// accounts, alternately, so balances do not drift and no daily limit is reached.
public struct SwitchLoad: Sendable {
    public var host: String
    public var port: Int
    public var terminal: String
    public var masterKey: SymmetricKey
    public var pan: String
    public var pin: String
    public var accounts: (String, String)

    public init(
        host: String,
        port: Int,
        terminal: String,
        masterKey: SymmetricKey,
        pan: String,
        pin: String,
        accounts: (String, String)
    ) {
        self.host = host
        self.port = port
        self.terminal = terminal
        self.masterKey = masterKey
        self.pan = pan
        self.pin = pin
        self.accounts = accounts
    }

    public struct Report: Sendable {
        public var requests: Int
        public var refused: [String: Int]
        public var seconds: Double
        /// Latencies in microseconds, sorted.
        public var latencies: [Int]

        public var perSecond: Double { Double(self.requests) / self.seconds }

        public func percentile(_ p: Double) -> Double {
            guard !self.latencies.isEmpty else { return 0 }
            let index = min(self.latencies.count - 1, Int((Double(self.latencies.count) * p).rounded(.up)) - 1)
            return Double(self.latencies[max(0, index)]) / 1000
        }
    }

    public func run(connections: Int, duration: Duration) async throws -> Report {
        // Sign on once; every connection goes on with the same session keys.
        let keys: SessionKeys = try await SwitchLink.with(host: self.host, port: self.port) { link in
            let session = TerminalSession(link: link, terminal: self.terminal, masterKey: self.masterKey)
            let answer = try await session.signOn()
            guard answer[39] == "00", let keys = session.keys else {
                throw LinkError("sign-on answered \(answer[39] ?? "nothing")")
            }
            return keys
        }
        let clock = ContinuousClock()
        let start = clock.now
        let parts = try await withThrowingTaskGroup(of: Report.self) { group in
            for index in 0..<connections {
                group.addTask {
                    try await self.connection(index: index, keys: keys, until: start.advanced(by: duration))
                }
            }
            var parts: [Report] = []
            for try await part in group { parts.append(part) }
            return parts
        }
        let seconds =
            Double((clock.now - start).components.seconds)
            + Double((clock.now - start).components.attoseconds) / 1e18
        var refused: [String: Int] = [:]
        for part in parts { refused.merge(part.refused, uniquingKeysWith: +) }
        return Report(
            requests: parts.map(\.requests).reduce(0, +),
            refused: refused,
            seconds: seconds,
            latencies: parts.flatMap(\.latencies).sorted()
        )
    }

    func connection(index: Int, keys: SessionKeys, until deadline: ContinuousClock.Instant) async throws -> Report {
        try await SwitchLink.with(host: self.host, port: self.port) { link in
            let session = TerminalSession(
                link: link,
                terminal: self.terminal,
                masterKey: self.masterKey,
                firstSTAN: 1 + index * 20_000
            )
            session.resume(keys: keys)
            let opened = try await session.cardRequest(.balance, pan: self.pan, pin: self.pin, from: self.accounts.0)
            guard opened[39] == "00" else {
                throw LinkError("the card session did not open: \(opened[39] ?? "nothing")")
            }
            let clock = ContinuousClock()
            var report = Report(requests: 0, refused: [:], seconds: 0, latencies: [])
            var step = 0
            while clock.now < deadline {
                let started = clock.now
                let answer: ATM87Message
                switch step % 4 {
                case 1:
                    answer = try await session.cardRequest(
                        .transfer,
                        pan: self.pan,
                        amount: 1,
                        from: self.accounts.0,
                        to: self.accounts.1
                    )
                case 3:
                    answer = try await session.cardRequest(
                        .transfer,
                        pan: self.pan,
                        amount: 1,
                        from: self.accounts.1,
                        to: self.accounts.0
                    )
                default:
                    answer = try await session.cardRequest(.balance, pan: self.pan, from: self.accounts.0)
                }
                let elapsed = clock.now - started
                report.latencies.append(
                    Int(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)
                )
                report.requests += 1
                if answer[39] != "00" { report.refused[answer[39] ?? "--", default: 0] += 1 }
                step += 1
            }
            return report
        }
    }
}

import ArgumentParser
import CashpointDatabase
import CashpointHarness
import CashpointStore
import Foundation
import Logging

struct Bank: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank",
        abstract: "The bank check: concurrent transfers, withdrawals and deposits, every one looked up in the ledger, under faults.",
        discussion: """
            After Jepsen's bank test, stricter: every read and the end state keep the total of all \
            accounts, no customer account goes below zero, every request answered 00 is in the ledger \
            exactly once, every refused one is not, and every one in doubt (no answer, 91, 96, connection \
            lost) is, once its reversal advice is acknowledged, either absent or posted once and reversed. \
            With --chaos, faults fire at moments drawn from --seed: kill -9 of the switch (--restart-switch), \
            PostgreSQL restarted (--restart-database), the terminals' connections cut, a delay and a \
            partition between the switch and PostgreSQL (a proxy on --proxy-port in front of \
            --proxy-upstream, which the switch must use as its database). Write the bank with \
            --write-fixture FILE and seed it with `atm-switch seed FILE`; scripts/bank-check does it all. \
            Exits 1 on a finding or a fault that did not fire, 2 if the check could not run.
            """
    )

    @OptionGroup var address: SwitchAddress

    @Option(help: "Superuser URL of the bank's database, read directly (default: $CASHPOINT_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Terminals, each over its own connection; two share each card.")
    var terminals: Int = 8

    @Option(help: "Seconds of requests (a chaos run goes on until every fault has fired).")
    var duration: Double = 30

    @Option(help: "The seed of the requests and of the fault schedule (default: a random one, printed).")
    var seed: UInt64?

    @Flag(help: "Inject faults: kill -9 of the switch, PostgreSQL restarted, connections cut, delay, partition.")
    var chaos = false

    @Option(help: "Where the database proxy listens (127.0.0.1); the switch's database URL names this port.")
    var proxyPort: Int?

    @Option(help: "The PostgreSQL the proxy forwards to, HOST:PORT.")
    var proxyUpstream: String?

    @Option(help: "Shell command run once the proxy listens, returning once the switch listens.")
    var startSwitch: String?

    @Option(help: "Shell command: kill -9 the switch and start it again, returning once it listens.")
    var restartSwitch: String?

    @Option(help: "Shell command: restart PostgreSQL (pg_ctl restart -m immediate), returning once it is up.")
    var restartDatabase: String?

    @Option(
        help: """
            After the run, with the switch still running: seconds its audit sealer may take to seal every \
            audit row written until then (default: not checked; the switch needs an audit key).
            """
    )
    var auditSealedWithin: Int?

    @Option(help: "Write the check's bank fixture (for --terminals) to this file and exit.")
    var writeFixture: String?

    func validate() throws {
        guard (1...500).contains(self.terminals) else { throw ValidationError("--terminals must be 1 to 500") }
        guard self.duration > 0 else { throw ValidationError("--duration must be above 0 seconds") }
        guard (self.auditSealedWithin ?? 0) >= 0 else { throw ValidationError("--audit-sealed-within must be 0 or more") }
        if self.proxyPort != nil || self.proxyUpstream != nil {
            guard let port = self.proxyPort, (1...65_535).contains(port), self.upstream != nil else {
                throw ValidationError("--proxy-port (1-65535) and --proxy-upstream HOST:PORT go together")
            }
        }
        if self.chaos {
            guard self.proxyPort != nil, self.restartSwitch != nil, self.restartDatabase != nil else {
                throw ValidationError("--chaos needs --proxy-port, --proxy-upstream, --restart-switch and --restart-database")
            }
        }
    }

    var upstream: (host: String, port: Int)? {
        guard let text = self.proxyUpstream, let colon = text.lastIndex(of: ":"),
            let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port), colon != text.startIndex
        else { return nil }
        return (String(text[..<colon]), port)
    }

    func run() async throws {
        if let path = self.writeFixture {
            try BankCheckBank.fixtureJSON(terminals: self.terminals).write(to: URL(fileURLWithPath: path))
            return
        }
        guard let text = self.databaseURL ?? ProcessInfo.processInfo.environment["CASHPOINT_DATABASE_URL"] else {
            throw ValidationError("no database: pass --database-url or set CASHPOINT_DATABASE_URL (scripts/pg env)")
        }
        let url: DatabaseURL
        let fixture: BankFixture
        do {
            url = try DatabaseURL(text)
            fixture = try BankFixture.load(self.address.fixture)
        } catch {
            throw ValidationError("\(error)")
        }
        var logger = Logger(label: "atm-harness.bank")
        logger.logLevel = .error
        let seed = self.seed ?? UInt64.random(in: 1...999_999_999)
        let report: BankCheckReport
        do {
            var check = BankCheck(
                switchHost: self.address.host,
                switchPort: self.address.port,
                terminals: try SwitchLoad.terminals(self.terminals, from: fixture),
                databaseURL: url,
                duration: .seconds(self.duration),
                seed: seed,
                chaos: self.chaos,
                databaseProxy: self.upstream.map { (port: self.proxyPort!, upstreamHost: $0.host, upstreamPort: $0.port) },
                commands: .init(
                    startSwitch: self.startSwitch,
                    restartSwitch: self.restartSwitch,
                    restartDatabase: self.restartDatabase
                )
            )
            check.auditSealedWithin = self.auditSealedWithin.map { .seconds($0) }
            report = try await check.run(logger: logger) { line in
                FileHandle.standardError.write(Data("bank: \(line)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("bank: \(error) (seed \(seed))\n".utf8))
            throw ExitCode(2)
        }
        say(report.text)
        if !report.passed { throw ExitCode(1) }
    }
}

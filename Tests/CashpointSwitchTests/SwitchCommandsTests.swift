import ArgumentParser
import CashpointBank
import CashpointDatabase
import CashpointStore
import CashpointSwitch
import Foundation
import Logging
import Testing

@Suite("atm-switch's options and what its commands decide, without a database")
struct SwitchCommandsTests {
    @Test("serve's defaults make the switch's configuration; no metrics with --no-metrics or port -1")
    func serveDefaults() throws {
        let options = try ServeOptions.parse([])
        let configuration = SwitchCommands.configuration(options)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8583)
        #expect(configuration.requestDeadline == .seconds(8))
        #expect(configuration.frameDeadline == .seconds(5))
        #expect(configuration.cardBIN == "476173")
        #expect(options.poolSize == 8)
        #expect(options.eventLoops == 1)
        #expect(SwitchCommands.metricsPort(options) == 9583)
        #expect(SwitchCommands.metricsPort(try ServeOptions.parse(["--no-metrics"])) == nil)
        #expect(SwitchCommands.metricsPort(try ServeOptions.parse(["--metrics-port=-1"])) == nil)
        #expect(SwitchCommands.metricsPort(try ServeOptions.parse(["--metrics-port", "0"])) == 0)
    }

    @Test(
        "serve refuses each value out of range, naming the option",
        arguments: [
            (["--port", "65536"], "--port must be 0 to 65535"),
            (["--metrics-port=-2"], "--metrics-port must be -1 to 65535"),
            (["--idle-timeout", "0"], "--idle-timeout must be above 0 seconds"),
            (["--max-connections", "0"], "--max-connections must be above 0"),
            (["--request-deadline", "61"], "--request-deadline must be 1 to 60 seconds"),
            (["--frame-deadline", "0"], "--frame-deadline must be 1 to 300 seconds"),
            (["--card-token-lifetime", "121"], "--card-token-lifetime must be 1 to 120 seconds"),
            (["--staff-token-lifetime", "86401"], "--staff-token-lifetime must be 1 to 86400 seconds"),
            (["--pool-size", "257"], "--pool-size must be 1 to 256"),
            (["--card-bin", "12345"], "--card-bin must be 6 or 8 digits"),
            (["--event-loops", "65"], "--event-loops must be 0 to 64"),
            (["--bcrypt-cost", "3"], "--bcrypt-cost must be 4 to 31"),
            (
                ["--log-level", "loud"],
                "unknown log level 'loud': trace, debug, info, notice, warning, error, critical"
            ),
        ]
    )
    func serveRefuses(arguments: [String], reason: String) {
        #expect(ServeOptions.message(for: Self.parseError(ServeOptions.self, arguments)) == reason)
    }

    /// The error parsing `arguments` gives (a validation error, as the executable reports it).
    static func parseError<T: ParsableArguments>(_ type: T.Type, _ arguments: [String]) -> any Error {
        do {
            _ = try T.parse(arguments)
            Issue.record("\(arguments) parsed")
            return CancellationError()
        } catch {
            return error
        }
    }

    @Test("the log level: warning unless given, info for serve")
    func logLevel() throws {
        #expect(SwitchCommands.logger(try DatabaseOptions.parse([])).logLevel == .warning)
        #expect(SwitchCommands.logger(try DatabaseOptions.parse([]), default: .info).logLevel == .info)
        #expect(SwitchCommands.logger(try DatabaseOptions.parse(["--log-level", "debug"])).logLevel == .debug)
    }

    @Test("the switch role's password: the file's first line, else the option, else $CASHPOINT_SWITCH_PASSWORD")
    func switchPassword() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)").path
        try Data("Secret1234567890\nsecond line\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = ["CASHPOINT_SWITCH_PASSWORD": "FromTheEnvironment1"]
        #expect(
            try SwitchCommands.switchPassword(file: path, option: "Flag", environment: environment)
                == "Secret1234567890"
        )
        #expect(try SwitchCommands.switchPassword(file: nil, option: "Flag", environment: environment) == "Flag")
        #expect(
            try SwitchCommands.switchPassword(file: nil, option: nil, environment: environment) == "FromTheEnvironment1"
        )
        #expect(try SwitchCommands.switchPassword(file: nil, option: nil, environment: [:]) == nil)
        let error = #expect(throws: ValidationError.self) {
            try SwitchCommands.switchPassword(file: path + ".missing", option: nil, environment: [:])
        }
        #expect(error?.message == "--switch-password-file \(path).missing: cannot be read, or its first line is empty")
    }

    @Test("a verification prints OK, or each finding and how many")
    func verdict() {
        let passed = SwitchCommands.verdict("ledger verify", [String]())
        #expect(passed.text == "ledger verify: OK")
        #expect(passed.passed)
        let findings = ["transaction 7: lines sum to 100", "CP0000000001: balance 5 but lines 6"]
        let failed = SwitchCommands.verdict("ledger verify", findings)
        #expect(!failed.passed)
        #expect(
            failed.text.split(separator: "\n").map(String.init) == [
                "ledger verify: \(findings[0])", "ledger verify: \(findings[1])", "ledger verify: FAILED (2 findings)",
            ]
        )
    }

    @Test("terminal add checks the id and the kind before anything connects")
    func newTerminal() throws {
        let terminal = try SwitchCommands.newTerminal(try NewTerminalOptions.parse(["ATM00009", "--location", "Quay"]))
        #expect(terminal.id == "ATM00009")
        #expect(terminal.kind == .atm)
        #expect(terminal.cashAccountNo == "CASHATM00009")
        let kind = Self.parseError(NewTerminalOptions.self, ["ATM00009", "--kind", "kiosk"])
        #expect(NewTerminalOptions.message(for: kind) == "--kind is atm or branch")
        let id = Self.parseError(NewTerminalOptions.self, ["atm-9"])
        #expect(NewTerminalOptions.message(for: id) == "a terminal id is 1-8 capital letters or digits, not 'atm-9'")
    }

    @Test("a store error with an SQLSTATE is reported as the database's failure; others are not")
    func databaseFailure() {
        let store = StoreError(kind: .notPermitted, detail: "permission denied for function post", sqlState: "42501")
        let failure = SwitchCommands.databaseFailure(store)
        #expect(failure?.message == "permission denied for function post")
        #expect(failure?.sqlState == "42501")
        #expect(SwitchCommands.databaseFailure(StoreError(kind: .notPermitted, detail: "no state")) == nil)
        #expect(SwitchCommands.databaseFailure(CancellationError()) == nil)
    }
}

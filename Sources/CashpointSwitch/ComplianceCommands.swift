public import ArgumentParser
import CashpointBank
import CashpointDatabase
import CashpointStore
import Foundation

// `atm-switch aml ...` and `atm-switch report ...` (docs/compliance.md): the command lines are declared
// here, beside what they run, so the executable only lists them (its 600-line cap).

/// `atm-switch aml rules load FILE`.
public struct AmlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "aml",
        abstract: "Transaction monitoring: its rules.",
        subcommands: [Rules.self]
    )

    public init() {}

    public struct Rules: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Transaction monitoring's rules.",
            subcommands: [Load.self]
        )

        public init() {}
    }

    public struct Load: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Load a rule file (fixtures/aml-rules.yaml) as a new version of the rules.",
            discussion: """
                The file is checked first (each problem named with its line and column; nothing is loaded). \
                With no rules in force it is put in force at once; a file equal to the rules in force changes \
                nothing; any other is held for a second person (four eyes, 'aml.rules'): --maker names the \
                compliance officer who asks, with --reason, and a checker approves it at the \
                desk. Every step is audited.
                """
        )
        @Argument(help: "The rule file (YAML).") var file: String
        @Option(help: "The member of staff (compliance or admin) asking for a new version of rules in force.")
        var maker: String?
        @Option(help: "Why the rules change (1-200 characters), for the checker.") var reason: String?
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(try await SwitchCommands.loadRules(file: file, maker: maker, reason: reason, database: database))
        }
    }
}

/// `atm-switch report ctr|sar`.
public struct ReportCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compliance reports, written as files: the daily cash transaction report, a SAR draft.",
        subcommands: [Ctr.self, Sar.self]
    )

    public init() {}

    public struct Ctr: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: """
                The daily cash transaction report (CSV): every customer whose cash in or out on the day (UTC) \
                reaches the reporting threshold.
                """
        )
        @Option(help: "The day, YYYY-MM-DD (UTC).") var date: String
        @Option(help: "The CSV file to write.") var out: String
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(try await SwitchCommands.cashReport(day: date, out: out, database: database))
        }
    }

    public struct Sar: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "A suspicious activity report draft (FinCEN SAR's fields) for a case, as text."
        )
        @Option(name: .customLong("case"), help: "The case's number.") var caseID: Int64
        @Option(help: "The text file to write.") var out: String
        @Option(help: "The reporting institution's name.") var institution = "Cashpoint demo bank"
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(
                try await SwitchCommands.suspiciousActivityDraft(
                    caseID: caseID,
                    out: out,
                    institution: institution,
                    database: database
                )
            )
        }
    }
}

extension SwitchCommands {
    /// `aml rules load`: the file checked by `MonitoringRules`, then loaded (`BankStore.loadMonitoringRules`).
    public static func loadRules(
        file: String,
        maker: String?,
        reason: String?,
        database: DatabaseOptions
    ) async throws -> String {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read \(file): \(error.localizedDescription)")
        }
        let rules: MonitoringRuleSet
        do {
            rules = try MonitoringRules.parse(yaml: text)
        } catch {
            throw ValidationError("\(file): \(error)")
        }
        if let reason, !(1...200).contains(reason.count) { throw ValidationError("--reason has 1 to 200 characters") }
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let source = URL(fileURLWithPath: file).lastPathComponent
        let outcome = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).loadMonitoringRules(
                rules,
                source: source,
                maker: maker,
                reason: reason ?? "new monitoring rules from \(source)",
                actor: .system("atm-switch aml rules load")
            )
        }
        let enabled = rules.rules.filter(\.enabled).count
        let summary = "\(rules.rules.count) rules (\(enabled) enabled) from \(source)"
        switch outcome.code {
        case .approved:
            return "aml rules: \(summary): version \(outcome.version.map(String.init) ?? "?") (\(outcome.detail ?? "in force"))"
        case .held:
            return "aml rules: \(summary): held for a second person as change \(outcome.changeID.map(String.init) ?? "?") "
                + "(a compliance officer other than \(maker ?? "the maker") approves it at the desk); "
                + "version \(outcome.version.map(String.init) ?? "?") stays in force until then"
        default:
            throw ValidationError("aml rules: not loaded (\(outcome.code.rawValue)): \(outcome.detail ?? outcome.code.meaning)")
        }
    }

    /// `report ctr`: the day's rows (`bank.cash_transaction_report`) as CSV (`ComplianceReports`).
    public static func cashReport(day: String, out: String, database: DatabaseOptions) async throws -> String {
        guard day.range(of: #"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"#, options: .regularExpression) != nil,
            (try? Date.ISO8601FormatStyle().year().month().day().parse(day)) != nil
        else { throw ValidationError("--date is a day, YYYY-MM-DD") }
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let rows = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).cashTransactionReport(
                actor: .system("atm-switch report ctr"),
                day: day
            )
        }
        try self.write(ComplianceReports.cashReportCSV(day: day, rows: rows), to: out)
        return "report ctr \(day): \(rows.count) customers at or above the threshold, written to \(out)"
    }

    /// `report sar`: a draft from the case's file (`bank.case_file`, audited as report.sar).
    public static func suspiciousActivityDraft(
        caseID: Int64,
        out: String,
        institution: String,
        database: DatabaseOptions
    ) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let file = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).caseFile(
                actor: .system("atm-switch report sar"),
                caseID: caseID,
                forReport: true
            )
        }
        guard let file else { throw ValidationError("no case \(caseID)") }
        try self.write(
            ComplianceReports.suspiciousActivityDraft(file, institution: institution, preparedAt: Date()),
            to: out
        )
        return "report sar: case \(caseID), \(file.alerts.count) alerts, \(file.transactions.count) transactions, "
            + "draft written to \(out)"
    }

    static func write(_ text: String, to path: String) throws(ValidationError) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ValidationError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

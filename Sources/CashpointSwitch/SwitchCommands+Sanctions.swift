public import ArgumentParser
import CashpointBank
import CashpointCompliance
import CashpointDatabase
public import CashpointStore
import Crypto
import Foundation

extension SwitchCommands {
    // MARK: sanctions load, sanctions screen

    /// Loads sanctions list files as a new version: OFAC's sdn.csv + alt.csv (+ add.csv), or one EU
    /// consolidated CSV, recognised by name and header. A malformed file loads nothing (its error names
    /// the file and line); the current version stays until the new one is in. Returns the counts.
    /// With `rescreen`, every customer is then re-screened against the new version (`rescreen(...)`:
    /// progress on standard error; a stopped re-screening resumes with `atm-switch sanctions rescreen`).
    public static func loadSanctions(files paths: [String], rescreen: Bool = true, database: DatabaseOptions)
        async throws -> String
    {
        guard !paths.isEmpty else {
            throw ValidationError("give the list's files: sdn.csv alt.csv [add.csv], or the EU CSV")
        }
        var files: [(name: String, bytes: [UInt8])] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            files.append((path, Array(data)))
        }
        let parsed: (source: SanctionSource, entries: [SanctionEntry])
        do {
            parsed = try SanctionsListFiles.parse(files)
        } catch {
            throw ValidationError("nothing loaded: \(error.description)")
        }
        let recorded = files.map { file in
            SanctionListFile(
                name: (file.name as NSString).lastPathComponent,
                sha256: SHA256.hash(data: file.bytes).map { String(format: "%02x", $0) }.joined(),
                bytes: file.bytes.count
            )
        }
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let version = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).loadSanctionList(
                actor: .system("atm-switch sanctions load"),
                source: parsed.source,
                files: recorded,
                entries: parsed.entries
            )
        }
        let summary = Self.loadSummary(
            source: parsed.source,
            version: version,
            entries: parsed.entries,
            files: recorded,
            rescreen: rescreen
        )
        guard rescreen else { return summary }
        print(summary)
        // The summary before the re-screening's progress (on standard error), also when standard output is a pipe.
        fflush(nil)
        return try await Self.rescreen(batch: 1000, threshold: nil, force: false, database: database)
    }

    static func loadSummary(
        source: SanctionSource,
        version: Int,
        entries: [SanctionEntry],
        files: [SanctionListFile],
        rescreen: Bool
    )
        -> String
    {
        func count(_ type: SanctionEntryType) -> Int { entries.filter { $0.type == type }.count }
        var lines = [
            "loaded \(source.rawValue) sanctions list as version \(version) (now current): \(entries.count) entries "
                + "(\(count(.individual)) individuals, \(count(.entity)) entities, \(count(.vessel)) vessels, "
                + "\(count(.aircraft)) aircraft), \(entries.reduce(0) { $0 + $1.aliases.count }) aliases"
        ]
        for file in files { lines.append("  \(file.name): \(file.bytes) bytes, sha256 \(file.sha256)") }
        lines.append(
            rescreen
                ? "new customers are screened against it from the next CREATE; every customer is re-screened now"
                : "new customers are screened against it from the next CREATE; re-screen every customer: "
                    + "atm-switch sanctions rescreen"
        )
        return lines.joined(separator: "\n")
    }

    /// Screens a name (with an optional date of birth, YYYY-MM-DD or YYYY, and nationalities) against the
    /// current version of every loaded list; one line per hit, best first.
    public static func screenSanctions(
        name: String,
        dateOfBirth: String?,
        nationalities: [String],
        organisation: Bool,
        threshold: Double,
        database: DatabaseOptions
    ) async throws -> String {
        guard (0.5...1.0).contains(threshold) else { throw ValidationError("--threshold must be 0.5 to 1.0") }
        var date: DateOfBirth?
        if let dateOfBirth {
            guard let parsed = DateOfBirth(dateOfBirth), parsed.toYear == nil, !parsed.circa else {
                throw ValidationError("--dob must be YYYY-MM-DD, YYYY-MM or YYYY")
            }
            date = parsed
        }
        for nationality in nationalities where Country.code(nationality) == nil {
            throw ValidationError("--nationality \(nationality): not an ISO 3166 country code or name")
        }
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let current = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).currentSanctionEntries()
        }
        guard !current.entries.isEmpty else {
            throw ValidationError("no sanctions list is loaded: atm-switch sanctions load FILE...")
        }
        let screener = Screener(entries: current.entries)
        let hits = screener.screen(
            person: ScreeningSubject(
                name: name,
                dateOfBirth: date,
                nationalities: nationalities,
                isOrganisation: organisation
            ),
            threshold: threshold
        )
        let versions = current.versions.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.key.rawValue) v\($0.value)" }.joined(separator: ", ")
        var lines = [
            "screened against \(versions) (\(current.entries.count) entries), threshold \(threshold): \(hits.count) hits"
        ]
        for hit in hits {
            lines.append(
                String(format: "%.3f", hit.score)
                    + " \(hit.entry.source.rawValue) \(hit.entry.uid) \(hit.entry.type.rawValue) "
                    + "'\(hit.entry.primaryName)' [\(hit.entry.program)]: \(hit.reason)"
            )
        }
        return lines.joined(separator: "\n")
    }
}

/// What a re-screening did: the versions it covered (empty: none was due), how many customers it
/// screened in this run, the hits among them, and whether it finished (false: stopped after the
/// batches asked for; the cursor is kept and the next run resumes after it).
public struct RescreenReport: Sendable, Hashable {
    public var versions: [Int]
    public var screened: Int
    public var hits: Int
    public var finished: Bool
    public var lastCustomer: Int64
}

extension SwitchCommands {
    // MARK: sanctions rescreen

    /// Re-screens every recorded customer against the current lists, for the list versions not yet
    /// re-screened (every current one when `force`). Pages through the identities by customer id
    /// (`batch` a page), screens each page at once, and records a result where it says something new:
    /// every hit (the customer is held pending, rated high, and a case is opened or noted), and a clear
    /// result for a customer whose stored result was not clear (a customer whose hit disappeared is
    /// cleared and rated again, and stays pending until a compliance officer decides). A customer
    /// clear before and after is left as is. After each page the cursor (its last customer id) is
    /// stored with the versions: a stopped run resumes after it. Audited `sanctions.rescreen` at the
    /// start and at the finish with the counts. `stopAfter`: stop after that many pages (tests).
    public static func rescreenCustomers(
        store: BankStore,
        screening: CustomerScreening,
        batch: Int,
        threshold: Double?,
        force: Bool,
        stopAfter: Int? = nil,
        progress: (String) -> Void
    ) async throws -> RescreenReport {
        let actor = ActorContext.system("screening")
        let start = try await store.rescreenBegin(actor: actor, force: force)
        var report = RescreenReport(
            versions: start.versions,
            screened: 0,
            hits: 0,
            finished: false,
            lastCustomer: start.resumeAfter
        )
        guard !start.versions.isEmpty else {
            report.finished = true
            return report
        }
        guard let (screener, configured) = try await screening.current() else {
            throw ValidationError("no sanctions list is loaded: atm-switch sanctions load FILE...")
        }
        let limit = threshold ?? configured
        let countries = try await store.countryRisks()
        var pages = 0
        var cursor: Int64? = start.resumeAfter > 0 ? start.resumeAfter : nil
        while true {
            if let stopAfter, pages >= stopAfter { return report }
            let page = try await store.screeningSubjects(actor: actor, customerID: nil, afterID: cursor, limit: batch)
            guard let last = page.last else { break }
            let found = screener.screen(
                people: page.map {
                    CustomerScreening.subject(
                        legalName: $0.legalName,
                        dateOfBirth: $0.dateOfBirth,
                        nationality: $0.nationality
                    )
                },
                threshold: limit
            )
            for (subject, hits) in zip(page, found) {
                let result = CustomerScreening.result(hits)
                if case .hit = result { report.hits += 1 }
                if result == .clear, subject.facts.screening == .clear { continue }
                _ = try await Bank.recordScreening(
                    subject,
                    result: result,
                    countries: countries,
                    records: store,
                    actor: actor
                )
            }
            try await store.rescreenAdvance(versions: start.versions, cursor: last.customerID)
            report.screened += page.count
            report.lastCustomer = last.customerID
            cursor = last.customerID
            pages += 1
            progress(
                "rescreened \(Self.grouped(report.screened)) of \(Self.grouped(start.customers)) customers, "
                    + "\(Self.grouped(report.hits)) hits"
            )
        }
        try await store.rescreenFinish(
            actor: actor,
            versions: start.versions,
            screened: report.screened,
            hits: report.hits
        )
        report.finished = true
        return report
    }

    /// `atm-switch sanctions rescreen`: the re-screening against the database the options name, its
    /// progress on standard error; answers the summary line.
    public static func rescreen(batch: Int, threshold: Double?, force: Bool, database: DatabaseOptions) async throws
        -> String
    {
        guard (1...1000).contains(batch) else { throw ValidationError("--batch must be 1 to 1000") }
        if let threshold, !(0.5...1.0).contains(threshold) {
            throw ValidationError("--threshold must be 0.5 to 1.0")
        }
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let report = try await url.withClient(logger: logger) { client in
            let store = BankStore(client: client, logger: logger)
            return try await Self.rescreenCustomers(
                store: store,
                screening: CustomerScreening(store: store, logger: logger),
                batch: batch,
                threshold: threshold,
                force: force
            ) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        guard !report.versions.isEmpty else {
            return "every current sanctions list version is re-screened (--force screens everyone again)"
        }
        return "re-screened \(Self.grouped(report.screened)) customers against versions "
            + "\(report.versions.map(String.init).joined(separator: ", ")): \(Self.grouped(report.hits)) hits"
    }

    /// 100003 as "100,003".
    static func grouped(_ number: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: number)) ?? String(number)
    }
}

/// `atm-switch sanctions load|screen|rescreen`: kept in the library, as the executables are near their line cap;
/// each subcommand parses its options and calls one `SwitchCommands` function.
public struct SanctionsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sanctions",
        abstract: "Load sanctions lists (OFAC SDN CSV, EU consolidated CSV) and screen names against them.",
        subcommands: [Load.self, Screen.self, Rescreen.self]
    )

    public init() {}

    public struct Load: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Load a list as a new version, all or nothing; the previous version stays until it is in.",
            discussion: """
                OFAC: sdn.csv and alt.csv (and add.csv) as OFAC publishes them; EU: the consolidated financial \
                sanctions CSV (recognised by its header). Prints the counts and each file's SHA-256, then \
                re-screens every customer against the new version (progress on stderr; resumable with \
                `atm-switch sanctions rescreen` if stopped).
                """
        )
        @Argument(help: "The list's files.") var files: [String]
        @Flag(help: "Load only; re-screen later with `atm-switch sanctions rescreen`.") var noRescreen = false
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(try await SwitchCommands.loadSanctions(files: files, rescreen: !noRescreen, database: database))
        }
    }

    public struct Screen: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Screen a name against the current lists: one line per hit with its score and reason."
        )
        @Option(help: "The name to screen.") var name: String
        @Option(help: "Date of birth: YYYY-MM-DD, YYYY-MM or YYYY.") var dob: String?
        @Option(help: "A nationality (ISO 3166 code or country name); repeat for more.") var nationality: [String] = []
        @Flag(help: "Screen an organisation (against entities, vessels, aircraft) instead of a person.")
        var organisation = false
        @Option(help: "The score from which a match is a hit.") var threshold = 0.88
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(
                try await SwitchCommands.screenSanctions(
                    name: name,
                    dateOfBirth: dob,
                    nationalities: nationality,
                    organisation: organisation,
                    threshold: threshold,
                    database: database
                )
            )
        }
    }

    public struct Rescreen: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Re-screen every customer against the current lists (the versions not yet re-screened).",
            discussion: """
                Resumable: the last customer done is kept with the versions, so a stopped run continues where \
                it stopped. A hit holds the customer (pending, high risk) and opens a case. Progress on stderr.
                """
        )
        @Option(help: "Customers screened per page (1-1000).") var batch = 1000
        @Option(help: "The score from which a match is a hit (default: bank.settings.screening_threshold).")
        var threshold: Double?
        @Flag(help: "Re-screen against every current version, even one already re-screened.") var force = false
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(
                try await SwitchCommands.rescreen(
                    batch: batch,
                    threshold: threshold,
                    force: force,
                    database: database
                )
            )
        }
    }
}

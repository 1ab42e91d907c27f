public import ArgumentParser
import CashpointBank
import CashpointCompliance
import CashpointDatabase
import CashpointStore
import Crypto
import Foundation

extension SwitchCommands {
    // MARK: sanctions load, sanctions screen

    /// Loads sanctions list files as a new version: OFAC's sdn.csv + alt.csv (+ add.csv), or one EU
    /// consolidated CSV, recognised by name and header. A malformed file loads nothing (its error names
    /// the file and line); the current version stays until the new one is in. Returns the counts.
    public static func loadSanctions(files paths: [String], database: DatabaseOptions) async throws -> String {
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
        return Self.loadSummary(source: parsed.source, version: version, entries: parsed.entries, files: recorded)
    }

    static func loadSummary(
        source: SanctionSource,
        version: Int,
        entries: [SanctionEntry],
        files: [SanctionListFile]
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

/// `atm-switch sanctions load|screen`: kept in the library, as the executables are near their line cap;
/// each subcommand parses its options and calls one `SwitchCommands` function.
public struct SanctionsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sanctions",
        abstract: "Load sanctions lists (OFAC SDN CSV, EU consolidated CSV) and screen names against them.",
        subcommands: [Load.self, Screen.self]
    )

    public init() {}

    public struct Load: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Load a list as a new version, all or nothing; the previous version stays until it is in.",
            discussion: """
                OFAC: sdn.csv and alt.csv (and add.csv) as OFAC publishes them; EU: the consolidated financial \
                sanctions CSV (recognised by its header). Prints the counts and each file's SHA-256.
                """
        )
        @Argument(help: "The list's files.") var files: [String]
        @OptionGroup var database: DatabaseOptions

        public init() {}

        public func run() async throws {
            print(try await SwitchCommands.loadSanctions(files: files, database: database))
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
}

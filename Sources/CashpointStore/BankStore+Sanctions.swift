public import CashpointBank
public import CashpointCompliance
import CashpointDatabase
import Foundation
import PostgresNIO

/// One file of a loaded sanctions list, as recorded with its version.
public struct SanctionListFile: Sendable, Hashable, Codable {
    public var name: String
    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
    public var bytes: Int

    public init(name: String, sha256: String, bytes: Int) {
        self.name = name
        self.sha256 = sha256
        self.bytes = bytes
    }
}

extension BankStore {
    /// Loads a parsed sanctions list as a new version of its source, all or nothing (one statement: the
    /// version, its entries, the switch of the current version and the audit row with the counts).
    /// Returns the new version number.
    public func loadSanctionList(
        actor: ActorContext,
        source: SanctionSource,
        files: [SanctionListFile],
        entries: [SanctionEntry]
    ) async throws -> Int {
        struct Row: Encodable {
            let uid: String
            let type: String
            let primary_name: String
            let aliases: [String]
            let dates_of_birth: [String]
            let nationalities: [String]
            let address_countries: [String]
            let program: String
        }
        let rows = entries.map { entry in
            Row(
                uid: entry.uid,
                type: entry.type.rawValue,
                primary_name: entry.primaryName,
                aliases: entry.aliases,
                dates_of_birth: entry.datesOfBirth.map(\.description),
                nationalities: entry.nationalities,
                address_countries: entry.addressCountries,
                program: entry.program
            )
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let entriesJSON = String(decoding: try encoder.encode(rows), as: UTF8.self)
        let filesJSON = String(decoding: try encoder.encode(files), as: UTF8.self)
        return try await self.scalar(
            """
            SELECT bank.load_sanction_list(\(actor.name), \(source.rawValue), \(filesJSON)::jsonb, \(entriesJSON)::jsonb)
            """
        )
    }

    /// The entries of every source's current version (empty before any list is loaded), and those
    /// versions.
    public func currentSanctionEntries() async throws -> (versions: [SanctionSource: Int], entries: [SanctionEntry]) {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT version, source, uid, type, primary_name, aliases, dates_of_birth, nationalities,
                    address_countries, program
                FROM bank.sanction_entries_current()
                """,
                logger: self.logger
            )
            var versions: [SanctionSource: Int] = [:]
            var entries: [SanctionEntry] = []
            for try await (version, source, uid, type, name, aliases, dates, nationalities, countries, program)
                in rows.decode(
                    (Int, String, String, String, String, [String], [String], [String], [String], String).self
                )
            {
                guard let source = SanctionSource(rawValue: source), let type = SanctionEntryType(rawValue: type) else {
                    throw StoreError(kind: .unavailable, detail: "sanctions entry \(uid) of an unknown source or type")
                }
                versions[source] = version
                entries.append(
                    SanctionEntry(
                        source: source,
                        uid: uid,
                        type: type,
                        primaryName: name,
                        aliases: aliases,
                        datesOfBirth: dates.compactMap(DateOfBirth.init),
                        nationalities: nationalities,
                        program: program,
                        addressCountries: countries
                    )
                )
            }
            return (versions, entries)
        }
    }
}

/// Where a re-screening of every customer starts (`bank.rescreen_begin`): the current list versions
/// to re-screen (empty: none), the last customer id already done (0: from the first) and how many
/// customers are recorded.
public struct RescreenStart: Sendable, Hashable {
    public var versions: [Int]
    public var resumeAfter: Int64
    public var customers: Int
}

extension BankStore {
    /// Each source's current list version (no entries: a cheap check before screening a new customer)
    /// and the hit threshold the bank's settings name.
    public func currentSanctionVersions() async throws -> (versions: [SanctionSource: Int], threshold: Double) {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT source, version, threshold FROM bank.sanction_versions_current()",
                logger: self.logger
            )
            var versions: [SanctionSource: Int] = [:]
            var threshold = 0.88
            for try await (source, version, limit) in rows.decode((String?, Int?, Double).self) {
                threshold = limit
                if let source, let version, let known = SanctionSource(rawValue: source) { versions[known] = version }
            }
            return (versions, threshold)
        }
    }

    /// Starts (or resumes) a re-screening: the versions not yet re-screened (every current one when
    /// `force`), audited `sanctions.rescreen` when there is one.
    public func rescreenBegin(actor: ActorContext, force: Bool) async throws -> RescreenStart {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT versions, resume_after, customers FROM bank.rescreen_begin(\(actor.name), \(force))",
                logger: self.logger
            )
            for try await (versions, after, customers) in rows.decode(([Int], Int64, Int).self) {
                return RescreenStart(versions: versions, resumeAfter: after, customers: customers)
            }
            throw StoreError(kind: .unavailable, detail: "bank.rescreen_begin answered no row")
        }
    }

    /// Records a re-screening's progress: every customer up to `cursor` is done.
    public func rescreenAdvance(versions: [Int], cursor: Int64) async throws {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT bank.rescreen_advance(\(versions), \(cursor))",
                logger: self.logger
            )
            for try await _ in rows {}
        }
    }

    /// Marks the versions re-screened, audited with the run's counts.
    public func rescreenFinish(actor: ActorContext, versions: [Int], screened: Int, hits: Int) async throws {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT bank.rescreen_finish(\(actor.name), \(versions), \(screened), \(hits))",
                logger: self.logger
            )
            for try await _ in rows {}
        }
    }
}

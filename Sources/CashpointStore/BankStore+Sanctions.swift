public import CashpointBank
public import CashpointCompliance
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

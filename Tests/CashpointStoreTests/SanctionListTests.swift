import CashpointBank
import CashpointCompliance
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// Sanctions lists as versions (issue 21, section 2): a load is all or nothing, the previous version
/// stays current until the new one is in, every load is audited with its counts.
@Suite("sanctions list versions", .serialized, .enabled(if: databaseTestsEnabled))
struct SanctionListTests {
    static func fixture(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("fixtures/sanctions/\(path)")))
    }

    static let files = [SanctionListFile(name: "sdn.csv", sha256: String(repeating: "ab", count: 32), bytes: 10)]
    static let actor = ActorContext.system("sanctions test")

    @Test func loadsSupersedesAndAudits() async throws {
        try await TestBank.with { bank, service in
            let store = service.store
            #expect(try await store.currentSanctionEntries().entries.isEmpty)
            let ofac = try OFACParser.parse(
                sdn: Self.fixture("ofac/sdn.csv"),
                alt: Self.fixture("ofac/alt.csv"),
                add: Self.fixture("ofac/add.csv")
            )
            let eu = try EUParser.parse(Self.fixture("eu/eu-consolidated.csv"))
            let first = try await store.loadSanctionList(
                actor: Self.actor,
                source: .ofac,
                files: Self.files,
                entries: ofac
            )
            let euVersion = try await store.loadSanctionList(
                actor: Self.actor,
                source: .eu,
                files: Self.files,
                entries: eu
            )
            var current = try await store.currentSanctionEntries()
            #expect(current.versions == [.ofac: first, .eu: euVersion])
            #expect(current.entries.count == ofac.count + eu.count)
            // What was stored comes back as it was parsed.
            #expect(Set(current.entries) == Set(ofac + eu))

            // A new OFAC version (one entry fewer) supersedes the first; the EU version stays.
            let second = try await store.loadSanctionList(
                actor: Self.actor,
                source: .ofac,
                files: Self.files,
                entries: Array(ofac.dropLast())
            )
            current = try await store.currentSanctionEntries()
            #expect(current.versions == [.ofac: second, .eu: euVersion])
            #expect(current.entries.count == ofac.count - 1 + eu.count)
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.sanction_lists WHERE status = 'superseded'") == 1
            )
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.sanction_lists WHERE rescreened_at IS NULL AND status = 'current'"
                ) == 2
            )
            // Audited with the counts.
            let audited = try await bank.count(
                """
                SELECT count(*)::int FROM bank.audit_logs WHERE action = 'sanctions.load'
                AND details->>'source' = 'ofac' AND (details->>'entries')::int = \(ofac.count - 1)
                AND (details->>'superseded')::bigint = \(first) AND (details->'counts'->>'vessel')::int = 2
                """
            )
            #expect(audited == 1)
        }
    }

    @Test func aFailedLoadLoadsNothingAndTheCurrentVersionStays() async throws {
        try await TestBank.with { bank, service in
            let store = service.store
            let ofac = try OFACParser.parse(sdn: Self.fixture("ofac/sdn.csv"), alt: Self.fixture("ofac/alt.csv"))
            let version = try await store.loadSanctionList(
                actor: Self.actor,
                source: .ofac,
                files: Self.files,
                entries: ofac
            )
            // The database refuses the last entry (a uid twice): nothing of the new version remains.
            await #expect(throws: StoreError.self) {
                try await store.loadSanctionList(
                    actor: Self.actor,
                    source: .ofac,
                    files: Self.files,
                    entries: ofac + [ofac[0]]
                )
            }
            await #expect(throws: StoreError.self) {
                try await store.loadSanctionList(actor: Self.actor, source: .ofac, files: Self.files, entries: [])
            }
            let current = try await store.currentSanctionEntries()
            #expect(current.versions == [.ofac: version])
            #expect(current.entries.count == ofac.count)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.sanction_lists") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.sanction_entries") == ofac.count)
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'sanctions.load'") == 1
            )
        }
    }
}

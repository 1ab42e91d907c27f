public import CashpointBank
import CashpointCompliance
public import CashpointStore
import Foundation
public import Logging

/// The switch's sanctions screening of customers, at CREATE and when re-screening: a `Screener` over
/// the current version of every loaded list, built from the database on first use and built again when
/// a version changes. Before each screening it reads the current versions and the threshold
/// (`bank.sanction_versions_current()`, one small row per source, no entries), so a list loaded by
/// another process is used from the next CREATE on, never a stale one silently. When the lists cannot
/// be read, or none is loaded, the answer is `.notScreened` with the reason: the customer is recorded
/// pending and not screened, and the switch says so.
public actor CustomerScreening {
    let store: BankStore
    let logger: Logger
    private var screener: Screener?
    private var versions: [SanctionSource: Int] = [:]

    public init(store: BankStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// What a screening found: the result to record, and, when not screened, why.
    public struct Outcome: Sendable, Hashable {
        public var result: ScreeningResult
        public var notScreenedBecause: String?
    }

    /// Screens one identity (legal name, date of birth YYYY-MM-DD, nationality) at the bank's threshold.
    public func screen(legalName: String, dateOfBirth: String, nationality: String) async -> Outcome {
        do {
            guard let (screener, threshold) = try await self.current() else {
                return Outcome(result: .notScreened, notScreenedBecause: "no sanctions list loaded")
            }
            let hits = screener.screen(
                person: Self.subject(legalName: legalName, dateOfBirth: dateOfBirth, nationality: nationality),
                threshold: threshold
            )
            return Outcome(result: Self.result(hits), notScreenedBecause: nil)
        } catch {
            self.logger.warning(
                "sanctions lists unreadable: customer not screened",
                metadata: [LogKey.error: "\(String(reflecting: type(of: error)))"]
            )
            return Outcome(result: .notScreened, notScreenedBecause: "sanctions lists unreadable")
        }
    }

    /// The screener over the current versions, built again when they changed, and the threshold the
    /// bank's settings name; nil when no list is loaded. Throws when the database cannot be read.
    func current() async throws -> (Screener, Double)? {
        let now = try await self.store.currentSanctionVersions()
        guard !now.versions.isEmpty else { return nil }
        if self.screener == nil || now.versions != self.versions {
            let loaded = try await self.store.currentSanctionEntries()
            self.screener = Screener(entries: loaded.entries)
            self.versions = loaded.versions
            self.logger.info(
                "sanctions screener built",
                metadata: [LogKey.sanctionVersions: "\(loaded.versions.map { "\($0.key.rawValue) v\($0.value)" }.sorted())"]
            )
        }
        return self.screener.map { ($0, now.threshold) }
    }

    /// A customer as the screener reads them: a person, the date of birth when it parses, the nationality.
    static func subject(legalName: String, dateOfBirth: String, nationality: String)
        -> CashpointCompliance.ScreeningSubject
    {
        CashpointCompliance.ScreeningSubject(
            name: legalName,
            dateOfBirth: DateOfBirth(dateOfBirth),
            nationalities: [nationality],
            isOrganisation: false
        )
    }

    /// The result to record: clear without a hit; else the best hit, as `<list> <entry uid> <score>:
    /// <reason>` (at most 200 characters, what the identity's screening detail holds).
    static func result(_ hits: [Hit]) -> ScreeningResult {
        guard let best = hits.first else { return .clear }
        let detail =
            "\(best.entry.source.rawValue) \(best.entry.uid) \(String(format: "%.3f", best.score)): \(best.reason)"
        return .hit(detail: String(detail.prefix(200)))
    }
}

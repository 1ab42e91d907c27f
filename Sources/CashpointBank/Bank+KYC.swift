import CashpointSecurity
import Foundation

// MARK: Know your customer

extension Bank {
    /// An account's daily withdrawal limit when CREATE names none (`bank.open_account`'s default).
    static let defaultDailyLimit: Int64 = 100_000

    /// Today's date (UTC) from the injected clock.
    func today() -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.dateComponents([.year, .month, .day], from: self.now())
    }

    /// The identity as the store records it: the document number as its keyed digest and last 4, and
    /// the rating the risk rules give it with the bank's country list.
    func storedIdentity(
        _ identity: CustomerIdentity,
        legalName: String,
        screening: ScreeningResult,
        largestDailyLimit: Int64?
    ) async throws -> StoredIdentity {
        let facts = KYCRisk.Facts(
            nationality: identity.nationality,
            documentCountry: identity.documentCountry,
            politicallyExposed: identity.politicallyExposed,
            screening: screening,
            largestDailyLimit: largestDailyLimit
        )
        return StoredIdentity(
            kept: KeptIdentity(
                legalName: legalName,
                dateOfBirth: identity.birthDate,
                nationality: identity.nationality,
                address: identity.address,
                documentType: identity.documentType,
                documentCountry: identity.documentCountry,
                documentLast4: identity.documentLast4,
                politicallyExposed: identity.politicallyExposed
            ),
            documentDigest: self.hasher.documentDigest(
                type: identity.documentType.rawValue,
                country: identity.documentCountry,
                number: identity.documentNumber
            ),
            screening: screening,
            rating: KYCRisk.rate(facts, countries: try await self.records.countryRisks())
        )
    }

    /// VERIFY: a compliance user verifies or rejects a customer, with a reason and a fresh second factor
    /// (1A `NF` `OT` otherwise). A verification gets a review date by the customer's rating
    /// (`KYCRisk.reviewMonths`). Verifying a customer rated high is refused by the database without an
    /// approved `kyc.verify` change, and `perform` holds it (09) for a second compliance user.
    func decideKYC(
        _ customerID: Int64,
        _ decision: KYCDecision,
        reason: String,
        actor: ActorContext,
        fourEyes: FourEyesRequest
    ) async throws -> BankAnswer {
        guard fourEyes.factorIsFresh else {
            return .needs(.code, .additionalAuthenticationRequired, reason: "step-up: one-time code")
        }
        guard FourEyesRequest.isValidReason(reason) else {
            return .needs(.reason, .formatError, reason: "reason (RS) needed")
        }
        guard let subject = try await self.screeningSubject(customerID, actor: actor) else {
            return BankAnswer(code: .invalidTransaction, reason: "no KYC record")
        }
        let (code, detail) = try await self.records.decideKYC(
            actor: actor,
            customerID: customerID,
            decision: decision,
            reason: reason,
            reviewMonths: KYCRisk.reviewMonths(subject.rating)
        )
        return BankAnswer(code: code, reason: detail)
    }

    /// The change a held KYC verification becomes: `kyc.verify` of the customer, with the reason and
    /// the review period.
    func kycChange(_ customerID: Int64, reason: String, actor: ActorContext) async throws -> ChangeRequest? {
        guard let subject = try await self.screeningSubject(customerID, actor: actor) else { return nil }
        return ChangeRequest(
            operation: "kyc.verify",
            target: String(customerID),
            payload: ["reason": reason, "review_months": String(KYCRisk.reviewMonths(subject.rating))]
        )
    }

    // MARK: For sanctions screening

    /// What screening reads of one customer (name, date of birth, nationality, and the facts the risk
    /// rules need); nil when no identity is recorded. `actor`: the screening job (`system`) or a
    /// compliance user.
    public func screeningSubject(_ customerID: Int64, actor: ActorContext = .system("kyc")) async throws
        -> ScreeningSubject?
    {
        try await self.records.screeningSubjects(actor: actor, customerID: customerID, afterID: nil, limit: 1).first
    }

    /// A page of recorded customers to screen, by id after `afterID` (nil: from the first), at most
    /// `limit` (1-1000): a re-screening job's loop, resumable from the last id it finished.
    public func screeningSubjects(after afterID: Int64?, limit: Int, actor: ActorContext = .system("kyc"))
        async throws -> [ScreeningSubject]
    {
        try await self.records.screeningSubjects(actor: actor, customerID: nil, afterID: afterID, limit: limit)
    }

    /// Feeds a sanctions screening result into a customer's KYC: the rating is computed again with it
    /// (a hit: high, with the hit's detail among the reasons) and stored with it; a hit puts a verified customer
    /// back to `pending` (no money out until a compliance user decides). Audited (`kyc.screened`).
    /// Answers the status after and the rating; nil when no identity is recorded for the customer.
    public func recordScreening(
        _ customerID: Int64,
        result: ScreeningResult,
        actor: ActorContext = .system("screening")
    ) async throws -> (status: KYCStatus, rating: KYCRisk.Rating)? {
        guard let subject = try await self.screeningSubject(customerID, actor: actor) else { return nil }
        return try await Self.recordScreening(
            subject,
            result: result,
            countries: try await self.records.countryRisks(),
            records: self.records,
            actor: actor
        )
    }

    /// `recordScreening` for a subject already read and the country list already at hand (a
    /// re-screening reads both once per page): the rating again with the result, stored with it.
    public static func recordScreening(
        _ subject: ScreeningSubject,
        result: ScreeningResult,
        countries: [CountryRisk],
        records: any BankRecords,
        actor: ActorContext
    ) async throws -> (status: KYCStatus, rating: KYCRisk.Rating)? {
        var facts = subject.facts
        facts.screening = result
        let rating = KYCRisk.rate(facts, countries: countries)
        guard
            let status = try await records.recordScreening(
                actor: actor,
                customerID: subject.customerID,
                screening: result,
                rating: rating
            )
        else { return nil }
        return (status, rating)
    }
}

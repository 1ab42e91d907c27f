public import CashpointBank
import CashpointDatabase
import Foundation
import NIOCore
import PostgresNIO

// Know your customer: one SQL function each (Migrations/functions).
extension BankStore {
    public func recordIdentity(actor: ActorContext, customerID: Int64, identity: StoredIdentity, reviewDue: String?)
        async throws -> KYCStatus
    {
        let status: String = try await self.scalar(
            """
            SELECT bank.record_identity(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(customerID),
                \(identity.kept.legalName), \(identity.kept.dateOfBirth)::date, \(identity.kept.nationality),
                \(identity.kept.address), \(identity.kept.documentType.rawValue), \(identity.kept.documentCountry),
                \(ByteBuffer(bytes: identity.documentDigest)), \(identity.kept.documentLast4),
                \(identity.kept.politicallyExposed), \(identity.screening.stored),
                \(identity.screening.detail), \(identity.rating.rating.rawValue), \(identity.rating.reasons)::text[],
                \(reviewDue)::date)
            """
        )
        return KYCStatus(rawValue: status) ?? .pending
    }

    public func customerKYC(actor: ActorContext, customerID: Int64) async throws -> KYCRecord? {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT user_name, legal_name, to_char(date_of_birth, 'YYYY-MM-DD'), nationality, address, document_type,
                    document_country, document_last4, politically_exposed, screening, screening_detail, status,
                    to_char(review_due, 'YYYY-MM-DD'), risk_rating, risk_reasons, decided_by, decided_at, decision_reason
                FROM bank.customer_kyc(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(customerID))
                """,
                logger: self.logger
            )
            for try await (user, name, born, nationality, address, type, country, last4, pep, screening, detail, status,
                due, rating, reasons, by, at, why) in rows.decode(
                    (String, String, String, String, String, String, String, String, Bool,
                        String, String?, String, String?, String, [String], String?, Date?, String?).self
                )
            {
                guard let documentType = DocumentType(rawValue: type) else {
                    throw StoreError(kind: .invalidValue, detail: "KYC record: document type \(type)")
                }
                return KYCRecord(
                    customerID: customerID, userName: user,
                    identity: KeptIdentity(
                        legalName: name, dateOfBirth: born, nationality: nationality, address: address,
                        documentType: documentType, documentCountry: country, documentLast4: last4, politicallyExposed: pep
                    ),
                    screening: ScreeningResult(stored: screening, detail: detail),
                    status: KYCStatus(rawValue: status) ?? .pending, reviewDue: due,
                    rating: RiskRating(rawValue: rating) ?? .high, reasons: reasons, decidedBy: by, decidedAt: at,
                    decisionReason: why
                )
            }
            return nil
        }
    }

    public func decideKYC(
        actor: ActorContext,
        customerID: Int64,
        decision: KYCDecision,
        reason: String,
        reviewMonths: Int
    ) async throws -> (ResponseCode, String?) {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.decide_kyc_committed(\(actor.role.rawValue), \(actor.userID), \(actor.name),
                    \(actor.ip), \(actor.device), \(customerID), \(decision.rawValue), \(reason), \(reviewMonths)::int)
                """,
                logger: self.logger
            )
            for try await (code, detail) in rows.decode((String, String?).self) {
                return (ResponseCode(rawValue: code), detail)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.decide_kyc_committed returned no row")
        }
    }

    public func recordScreening(
        actor: ActorContext,
        customerID: Int64,
        screening: ScreeningResult,
        rating: KYCRisk.Rating
    ) async throws -> KYCStatus? {
        let status: String? = try await self.scalar(
            """
            SELECT bank.record_screening(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(customerID),
                \(screening.stored), \(screening.detail), \(rating.rating.rawValue), \(rating.reasons)::text[])
            """
        )
        return status.flatMap(KYCStatus.init(rawValue:))
    }

    public func screeningSubjects(actor: ActorContext, customerID: Int64?, afterID: Int64?, limit: Int) async throws
        -> [ScreeningSubject]
    {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT user_id, legal_name, to_char(date_of_birth, 'YYYY-MM-DD'), nationality, document_country,
                    politically_exposed, screening, status, risk_rating, largest_daily_limit
                FROM bank.screening_subjects(\(actor.role.rawValue), \(customerID), \(afterID), \(limit)::int)
                """,
                logger: self.logger
            )
            var subjects: [ScreeningSubject] = []
            for try await (id, name, born, nationality, country, pep, screening, status, rating, limit) in rows.decode(
                (Int64, String, String, String, String, Bool, String, String, String, Int64?).self
            ) {
                subjects.append(
                    ScreeningSubject(
                        customerID: id, legalName: name, dateOfBirth: born,
                        status: KYCStatus(rawValue: status) ?? .pending, rating: RiskRating(rawValue: rating) ?? .high,
                        facts: KYCRisk.Facts(
                            nationality: nationality, documentCountry: country, politicallyExposed: pep,
                            screening: ScreeningResult(stored: screening, detail: nil), largestDailyLimit: limit
                        )
                    )
                )
            }
            return subjects
        }
    }

    public func countryRisks() async throws -> [CountryRisk] {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT country, risk, source FROM bank.country_risks()",
                logger: self.logger
            )
            var list: [CountryRisk] = []
            for try await (country, risk, source) in rows.decode((String, String, String).self) {
                guard let rating = RiskRating(rawValue: risk) else { continue }
                list.append(CountryRisk(country: country, risk: rating, source: source))
            }
            return list
        }
    }
}

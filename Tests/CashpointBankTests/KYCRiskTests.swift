import CashpointBank
import CashpointSecurity
import Foundation
import Testing

@Suite("KYC risk rules (pure)")
struct KYCRiskTests {
    static let countries = [
        CountryRisk(country: "IR", risk: .high, source: "FATF call for action"),
        CountryRisk(country: "KP", risk: .high, source: "FATF call for action"),
        CountryRisk(country: "SY", risk: .medium, source: "FATF increased monitoring"),
    ]

    static func facts(
        _ nationality: String = "GB",
        document: String? = nil,
        pep: Bool = false,
        screening: ScreeningResult = .notScreened,
        limit: Int64? = 100_000
    ) -> KYCRisk.Facts {
        KYCRisk.Facts(
            nationality: nationality,
            documentCountry: document ?? nationality,
            politicallyExposed: pep,
            screening: screening,
            largestDailyLimit: limit
        )
    }

    @Test("no factor: low, with the reason said")
    func low() {
        let rating = KYCRisk.rate(Self.facts(), countries: Self.countries)
        #expect(rating.rating == .low && rating.reasons == ["no risk factor"] && !rating.hold)
    }

    @Test(
        "each rule alone gives its rating and reason",
        arguments: [
            (KYCRiskTests.facts("IR"), RiskRating.high, "nationality IR: FATF call for action"),
            (KYCRiskTests.facts("SY"), .medium, "nationality SY: FATF increased monitoring"),
            (KYCRiskTests.facts("GB", document: "KP"), .high, "document issued in KP: FATF call for action"),
            (KYCRiskTests.facts(pep: true), .high, "politically exposed person"),
            (KYCRiskTests.facts(screening: .hit(detail: "SDN 1234 score 0.93")), .high, "sanctions screening hit: SDN 1234 score 0.93"),
            (KYCRiskTests.facts(limit: 500_001), .medium, "cash-intensive product: daily limit 5000.01"),
        ]
    )
    func rule(facts: KYCRisk.Facts, rating: RiskRating, reason: String) {
        let result = KYCRisk.rate(facts, countries: Self.countries)
        #expect(result.rating == rating)
        #expect(result.reasons == [reason])
    }

    @Test("the highest rating wins and every reason is kept; a limit at the threshold is not cash-intensive")
    func combined() {
        let result = KYCRisk.rate(Self.facts("SY", pep: true, limit: 600_000), countries: Self.countries)
        #expect(result.rating == .high)
        #expect(result.reasons.count == 3)
        #expect(KYCRisk.rate(Self.facts(limit: 500_000), countries: Self.countries).rating == .low)
        #expect(KYCRisk.rate(Self.facts(limit: nil), countries: Self.countries).rating == .low)
    }

    @Test("a screening hit holds the customer; clear and not screened do not")
    func hold() {
        #expect(KYCRisk.rate(Self.facts(screening: .hit(detail: "")), countries: []).hold)
        #expect(!KYCRisk.rate(Self.facts(screening: .clear), countries: []).hold)
        #expect(!KYCRisk.rate(Self.facts(pep: true), countries: []).hold)
    }

    @Test("review periods by rating: 36, 24 and 12 months; the parameters change them")
    func review() {
        #expect(KYCRisk.reviewMonths(.low) == 36)
        #expect(KYCRisk.reviewMonths(.medium) == 24)
        #expect(KYCRisk.reviewMonths(.high) == 12)
        let strict = KYCRisk.Parameters(cashIntensiveLimit: 10_000, reviewMonths: [.low: 12])
        #expect(KYCRisk.reviewMonths(.low, parameters: strict) == 12)
        #expect(KYCRisk.rate(Self.facts(), countries: [], parameters: strict).rating == .medium)
    }

    @Test("an identity is checked: dates, countries, address, document number")
    func identityProblems() {
        let today = DateComponents(year: 2026, month: 12, day: 7)
        var identity = CustomerIdentity(
            dateOfBirth: DateComponents(year: 1990, month: 2, day: 28),
            nationality: "GB",
            address: "1 High Street",
            documentType: .passport,
            documentCountry: "GB",
            documentNumber: "ab 123-456",
            politicallyExposed: false
        )
        #expect(identity.problem(today: today) == nil)
        #expect(identity.documentLast4 == "3456")
        #expect(identity.birthDate == "1990-02-28")
        identity.dateOfBirth = DateComponents(year: 2027, month: 1, day: 1)
        #expect(identity.problem(today: today) != nil)
        identity.dateOfBirth = DateComponents(year: 1990, month: 2, day: 28)
        identity.nationality = "gb"
        #expect(identity.problem(today: today) == "nationality: ISO 3166 alpha-2")
        identity.nationality = "GB"
        identity.documentNumber = "12#4567"
        #expect(identity.problem(today: today) != nil)
        #expect(CustomerIdentity.date(yyyymmdd: "19900229") == nil)
        #expect(CustomerIdentity.date(yyyymmdd: "20000229") != nil)
    }

    @Test("the document digest is keyed, canonical and bound to type and country")
    func documentDigest() {
        let hasher = CredentialHasher(pepper: SecretKey.generate(), cost: 4)
        let digest = hasher.documentDigest(type: "passport", country: "GB", number: "ab 123-456")
        #expect(digest.count == 32)
        #expect(digest == hasher.documentDigest(type: "passport", country: "GB", number: "AB123456"))
        #expect(digest != hasher.documentDigest(type: "id_card", country: "GB", number: "AB123456"))
        #expect(digest != hasher.documentDigest(type: "passport", country: "IE", number: "AB123456"))
        let other = CredentialHasher(pepper: SecretKey.generate(), cost: 4)
        #expect(digest != other.documentDigest(type: "passport", country: "GB", number: "AB123456"))
    }
}

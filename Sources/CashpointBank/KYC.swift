public import Foundation

// Know your customer: the identity a customer gives at CREATE, the KYC record the bank keeps, and the
// risk rules (a pure core: facts in, a rating and its reasons out; no I/O, no clock).

/// An identity document's type.
public enum DocumentType: String, Sendable, Hashable, CaseIterable, Codable {
    case passport
    case idCard = "id_card"
    case drivingLicence = "driving_licence"
}

/// A customer's KYC status. `expired` is computed by the database (verified, and the review date has
/// passed); `unrecorded` is a customer with no identity recorded (made before KYC).
public enum KYCStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending
    case verified
    case rejected
    case expired
    case unrecorded
}

/// The risk rating, ordered: low < medium < high.
public enum RiskRating: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case low
    case medium
    case high

    var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    public static func < (lhs: RiskRating, rhs: RiskRating) -> Bool { lhs.rank < rhs.rank }
}

/// A sanctions screening result, as the screening module reports it: not yet screened, clear, or a
/// hit (its detail: the list entry, the score, why; at most 200 characters are kept).
public enum ScreeningResult: Sendable, Hashable {
    case notScreened
    case clear
    case hit(detail: String)

    /// The database's word (`bank.customer_identities.screening`).
    public var stored: String {
        switch self {
        case .notScreened: "not_screened"
        case .clear: "clear"
        case .hit: "hit"
        }
    }

    public var detail: String? {
        if case .hit(let detail) = self { return String(detail.prefix(200)) }
        return nil
    }

    public init(stored: String, detail: String?) {
        switch stored {
        case "clear": self = .clear
        case "hit": self = .hit(detail: detail ?? "")
        default: self = .notScreened
        }
    }
}

/// The identity a customer gives at CREATE. The document number is here only on its way to its keyed
/// digest (`CredentialHasher.documentDigest`); it is never stored, logged or shown whole.
public struct CustomerIdentity: Sendable, Hashable {
    /// The legal full name is the customer's full name (CREATE's `CN`).
    public var dateOfBirth: DateComponents
    /// ISO 3166-1 alpha-2, upper case.
    public var nationality: String
    public var address: String
    public var documentType: DocumentType
    /// ISO 3166-1 alpha-2 of the issuing country.
    public var documentCountry: String
    public var documentNumber: String
    public var politicallyExposed: Bool

    public init(
        dateOfBirth: DateComponents,
        nationality: String,
        address: String,
        documentType: DocumentType,
        documentCountry: String,
        documentNumber: String,
        politicallyExposed: Bool
    ) {
        self.dateOfBirth = dateOfBirth
        self.nationality = nationality
        self.address = address
        self.documentType = documentType
        self.documentCountry = documentCountry
        self.documentNumber = documentNumber
        self.politicallyExposed = politicallyExposed
    }

    /// The date of birth as YYYY-MM-DD.
    public var birthDate: String {
        String(format: "%04d-%02d-%02d", self.dateOfBirth.year ?? 0, self.dateOfBirth.month ?? 0, self.dateOfBirth.day ?? 0)
    }

    /// The document number's last 4 characters in canonical form (what the desk shows as `****1234`).
    public var documentLast4: String { String(Self.canonical(self.documentNumber).suffix(4)) }

    /// Why this identity cannot be recorded, for field 44; nil when it can. Dates are checked against
    /// `today` (born in the past, after 1900).
    public func problem(today: DateComponents) -> String? {
        guard let year = self.dateOfBirth.year, let month = self.dateOfBirth.month, let day = self.dateOfBirth.day,
            Self.isCalendarDate(year: year, month: month, day: day), year > 1900,
            (year, month, day) < (today.year ?? 0, today.month ?? 0, today.day ?? 0)
        else { return "date of birth: a past date YYYYMMDD" }
        guard Self.isCountryCode(self.nationality) else { return "nationality: ISO 3166 alpha-2" }
        guard Self.isCountryCode(self.documentCountry) else { return "document country: ISO 3166 alpha-2" }
        guard (1...160).contains(self.address.count), Self.isPrintable(self.address) else { return "address: 1-160 characters" }
        let canonical = Self.canonical(self.documentNumber)
        guard (4...24).contains(canonical.count), canonical.count == self.documentNumber.filter({ $0 != " " && $0 != "-" }).count
        else { return "document number: 4-24 letters and digits" }
        return nil
    }

    /// YYYYMMDD, as the wire carries a date of birth; nil for anything else.
    public static func date(yyyymmdd text: String) -> DateComponents? {
        let digits = Array(text.utf8)
        guard digits.count == 8, digits.allSatisfy({ (0x30...0x39).contains($0) }),
            let year = Int(text.prefix(4)), let month = Int(text.dropFirst(4).prefix(2)), let day = Int(text.suffix(2)),
            isCalendarDate(year: year, month: month, day: day)
        else { return nil }
        return DateComponents(year: year, month: month, day: day)
    }

    static func isCalendarDate(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    public static func isCountryCode(_ text: String) -> Bool {
        text.utf8.count == 2 && text.utf8.allSatisfy { (0x41...0x5A).contains($0) }
    }

    static func isPrintable(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && $0 != "|" }
    }

    static func canonical(_ number: String) -> String {
        String(number.uppercased().unicodeScalars.filter { ("A"..."Z").contains($0) || ("0"..."9").contains($0) }.map(Character.init))
    }
}

/// One country on the bank's country risk list (`bank.country_risk`); a country not on it is low.
public struct CountryRisk: Sendable, Hashable {
    public var country: String
    public var risk: RiskRating
    /// Where the rating comes from ("FATF call for action").
    public var source: String

    public init(country: String, risk: RiskRating, source: String) {
        self.country = country
        self.risk = risk
        self.source = source
    }
}

/// An identity as the bank keeps and shows it: the document only as its type, country and last 4.
public struct KeptIdentity: Sendable, Hashable {
    public var legalName: String
    /// YYYY-MM-DD.
    public var dateOfBirth: String
    public var nationality: String
    public var address: String
    public var documentType: DocumentType
    public var documentCountry: String
    public var documentLast4: String
    public var politicallyExposed: Bool

    public init(
        legalName: String, dateOfBirth: String, nationality: String, address: String, documentType: DocumentType,
        documentCountry: String, documentLast4: String, politicallyExposed: Bool
    ) {
        self.legalName = legalName
        self.dateOfBirth = dateOfBirth
        self.nationality = nationality
        self.address = address
        self.documentType = documentType
        self.documentCountry = documentCountry
        self.documentLast4 = documentLast4
        self.politicallyExposed = politicallyExposed
    }

    /// The document as it may be shown: `passport GB ****1234`.
    public var maskedDocument: String {
        "\(self.documentType.rawValue) \(self.documentCountry) ****\(self.documentLast4)"
    }
}

/// A customer's KYC record, as a compliance user reads it (KYC).
public struct KYCRecord: Sendable, Hashable {
    public var customerID: Int64
    public var userName: String
    public var identity: KeptIdentity
    public var screening: ScreeningResult
    public var status: KYCStatus
    /// YYYY-MM-DD; nil unless verified.
    public var reviewDue: String?
    public var rating: RiskRating
    public var reasons: [String]
    public var decidedBy: String?
    public var decidedAt: Date?
    public var decisionReason: String?

    public init(
        customerID: Int64, userName: String, identity: KeptIdentity, screening: ScreeningResult, status: KYCStatus,
        reviewDue: String?, rating: RiskRating, reasons: [String], decidedBy: String?, decidedAt: Date?,
        decisionReason: String?
    ) {
        self.customerID = customerID
        self.userName = userName
        self.identity = identity
        self.screening = screening
        self.status = status
        self.reviewDue = reviewDue
        self.rating = rating
        self.reasons = reasons
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.decisionReason = decisionReason
    }

    /// The document as it may be shown: `passport GB ****1234`.
    public var maskedDocument: String { self.identity.maskedDocument }
}

/// What screening and the risk rules read of a recorded customer (`bank.screening_subjects`): the
/// name, date of birth and nationality to screen, and the facts the rating needs.
public struct ScreeningSubject: Sendable, Hashable {
    public var customerID: Int64
    public var legalName: String
    /// YYYY-MM-DD.
    public var dateOfBirth: String
    public var status: KYCStatus
    /// The rating stored with the record (what the rules gave when it was recorded or last screened).
    public var rating: RiskRating
    /// Nationality, document country, PEP flag, the current screening result and the largest daily
    /// withdrawal limit: what the risk rules read.
    public var facts: KYCRisk.Facts

    public init(
        customerID: Int64, legalName: String, dateOfBirth: String, status: KYCStatus, rating: RiskRating,
        facts: KYCRisk.Facts
    ) {
        self.customerID = customerID
        self.legalName = legalName
        self.dateOfBirth = dateOfBirth
        self.status = status
        self.rating = rating
        self.facts = facts
    }

    /// ISO 3166-1 alpha-2, what screening compares with a list entry's nationality.
    public var nationality: String { self.facts.nationality }
}

/// The KYC risk rules: a pure function of the facts and the country list. Each rule that applies gives
/// a rating and a reason; the customer's rating is the highest, and every reason is kept (low with the
/// reason "no risk factor" when none applies). The rules and their parameters (docs/compliance.md):
///
/// | rule | rating |
/// |---|---|
/// | nationality or document country on the country list | the list's rating (high or medium) |
/// | politically exposed person | high |
/// | sanctions screening hit | high (and the customer is held pending) |
/// | a product with a daily withdrawal limit above `cashIntensiveLimit` | medium |
public enum KYCRisk {
    public struct Facts: Sendable, Hashable {
        public var nationality: String
        public var documentCountry: String
        public var politicallyExposed: Bool
        public var screening: ScreeningResult
        /// The largest daily withdrawal limit of the customer's accounts, minor units.
        public var largestDailyLimit: Int64?

        public init(
            nationality: String,
            documentCountry: String,
            politicallyExposed: Bool,
            screening: ScreeningResult,
            largestDailyLimit: Int64?
        ) {
            self.nationality = nationality
            self.documentCountry = documentCountry
            self.politicallyExposed = politicallyExposed
            self.screening = screening
            self.largestDailyLimit = largestDailyLimit
        }
    }

    public struct Parameters: Sendable, Hashable {
        /// A daily withdrawal limit above this (minor units) makes the product cash-intensive: medium.
        public var cashIntensiveLimit: Int64
        /// Months until a verified customer's review, by rating.
        public var reviewMonths: [RiskRating: Int]

        public init(cashIntensiveLimit: Int64 = 500_000, reviewMonths: [RiskRating: Int] = [.low: 36, .medium: 24, .high: 12]) {
            self.cashIntensiveLimit = cashIntensiveLimit
            self.reviewMonths = reviewMonths
        }

        public static let standard = Parameters()
    }

    public struct Rating: Sendable, Hashable {
        public var rating: RiskRating
        /// Why, one short sentence per rule that applied (at most 12, each at most 100 characters).
        public var reasons: [String]
        /// Whether the customer must be held pending whatever their status (a screening hit).
        public var hold: Bool
    }

    public static func rate(
        _ facts: Facts,
        countries: [CountryRisk],
        parameters: Parameters = .standard
    ) -> Rating {
        var found: [(RiskRating, String)] = []
        let byCountry = Dictionary(countries.map { ($0.country, $0) }, uniquingKeysWith: { first, _ in first })
        if let listed = byCountry[facts.nationality] {
            found.append((listed.risk, "nationality \(facts.nationality): \(listed.source)"))
        }
        if facts.documentCountry != facts.nationality, let listed = byCountry[facts.documentCountry] {
            found.append((listed.risk, "document issued in \(facts.documentCountry): \(listed.source)"))
        }
        if facts.politicallyExposed { found.append((.high, "politically exposed person")) }
        if case .hit(let detail) = facts.screening {
            found.append((.high, "sanctions screening hit" + (detail.isEmpty ? "" : ": \(detail)")))
        }
        if let limit = facts.largestDailyLimit, limit > parameters.cashIntensiveLimit {
            found.append((.medium, "cash-intensive product: daily limit \(limit / 100).\(String(format: "%02lld", limit % 100))"))
        }
        guard let highest = found.map(\.0).max() else {
            return Rating(rating: .low, reasons: ["no risk factor"], hold: false)
        }
        let reasons = found.prefix(12).map { String($0.1.prefix(100)) }
        if case .hit = facts.screening { return Rating(rating: highest, reasons: reasons, hold: true) }
        return Rating(rating: highest, reasons: reasons, hold: false)
    }

    /// Months until a customer verified at `rating` is due for review (then `expired` until verified again).
    public static func reviewMonths(_ rating: RiskRating, parameters: Parameters = .standard) -> Int {
        parameters.reviewMonths[rating] ?? 12
    }
}

/// An identity as the store records it (`bank.record_identity`): what the bank keeps, the document's
/// keyed digest, the screening result and the rating the rules gave.
public struct StoredIdentity: Sendable, Hashable {
    public var kept: KeptIdentity
    public var documentDigest: [UInt8]
    public var screening: ScreeningResult
    public var rating: KYCRisk.Rating

    public init(kept: KeptIdentity, documentDigest: [UInt8], screening: ScreeningResult, rating: KYCRisk.Rating) {
        self.kept = kept
        self.documentDigest = documentDigest
        self.screening = screening
        self.rating = rating
    }
}

/// A KYC decision (VERIFY's `KS`).
public enum KYCDecision: String, Sendable, Hashable, CaseIterable {
    case verified
    case rejected
}

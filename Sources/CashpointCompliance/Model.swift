import Foundation

/// A date of birth as lists give it: a full date, a month and year, a year, a year range or a circa year.
public struct DateOfBirth: Hashable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int?
    public var day: Int?
    /// The last year of a range ("1968 to 1970"); nil for one year.
    public var toYear: Int?
    /// "circa 1970": the year is approximate (within `DateOfBirth.circaYears`).
    public var circa: Bool

    /// How far a "circa" year reaches either side.
    public static let circaYears = 2

    public init(year: Int, month: Int? = nil, day: Int? = nil, toYear: Int? = nil, circa: Bool = false) {
        self.year = year
        self.month = month
        self.day = day
        self.toYear = toYear
        self.circa = circa
    }

    /// "1970-01-12", "1970-01", "1970", "1968..1970", "~1970".
    public var description: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if let toYear { return "\(year)..\(toYear)" }
        if circa { return "~\(year)" }
        var text = "\(year)"
        if let month {
            text += "-\(two(month))"
            if let day { text += "-\(two(day))" }
        }
        return text
    }

    /// Parses what `description` writes, and ISO dates "YYYY-MM-DD".
    public init?(_ text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("~"), let year = Int(text.dropFirst()) {
            self.init(year: year, circa: true)
            return
        }
        if let range = text.range(of: "..") {
            guard let from = Int(text[..<range.lowerBound]), let to = Int(text[range.upperBound...]), from <= to else {
                return nil
            }
            self.init(year: from, toYear: to)
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), let year = Int(parts[0]), parts[0].count == 4 else { return nil }
        var month: Int?
        var day: Int?
        if parts.count >= 2 {
            guard let m = Int(parts[1]), (1...12).contains(m) else { return nil }
            month = m
        }
        if parts.count == 3 {
            guard let d = Int(parts[2]), (1...31).contains(d) else { return nil }
            day = d
        }
        self.init(year: year, month: month, day: day)
    }

    /// How a person's date of birth compares with this listed one: a range or circa year contains the
    /// person's year or not; a plain year must be the same, then month and day where both sides know them.
    public func compare(with person: DateOfBirth) -> DateComparison {
        if toYear != nil || circa {
            let low = circa ? year - Self.circaYears : year
            let high = circa ? year + Self.circaYears : (toYear ?? year)
            return person.year >= low && person.year <= high ? .sameYear : .differs
        }
        guard person.year == year else { return .differs }
        guard let month, let personMonth = person.month else { return .sameYear }
        guard month == personMonth else { return .differs }
        guard let day, let personDay = person.day else { return .sameYear }
        return day == personDay ? .same : .differs
    }
}

/// The outcome of comparing two dates of birth, best first.
public enum DateComparison: Int, Sendable, Comparable {
    case same = 0
    case sameYear = 1
    case differs = 2

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Which published list an entry comes from.
public enum SanctionSource: String, Hashable, Sendable, CaseIterable, Codable {
    case ofac
    case eu
}

/// What a list entry designates.
public enum SanctionEntryType: String, Hashable, Sendable, Codable {
    case individual
    case entity
    case vessel
    case aircraft
}

/// One designated person, entity, vessel or aircraft, with every name it is known by.
public struct SanctionEntry: Hashable, Sendable {
    public var source: SanctionSource
    /// The list's own identifier: OFAC's ent_num, the EU's Entity_LogicalId.
    public var uid: String
    public var type: SanctionEntryType
    /// The name as the list prints it first (OFAC "LASTNAME, First" is kept as printed).
    public var primaryName: String
    public var aliases: [String]
    public var datesOfBirth: [DateOfBirth]
    /// ISO 3166-1 alpha-2 codes of nationality or citizenship.
    public var nationalities: [String]
    /// The sanctions programme(s), as the list names them ("SDGT] [IRAN", "SYR").
    public var program: String
    /// ISO 3166-1 alpha-2 codes of the countries of the entry's listed addresses.
    public var addressCountries: [String]

    public init(
        source: SanctionSource,
        uid: String,
        type: SanctionEntryType,
        primaryName: String,
        aliases: [String] = [],
        datesOfBirth: [DateOfBirth] = [],
        nationalities: [String] = [],
        program: String = "",
        addressCountries: [String] = []
    ) {
        self.source = source
        self.uid = uid
        self.type = type
        self.primaryName = primaryName
        self.aliases = aliases
        self.datesOfBirth = datesOfBirth
        self.nationalities = nationalities
        self.program = program
        self.addressCountries = addressCountries
    }

    /// The primary name first, then the aliases.
    public var allNames: [String] { [primaryName] + aliases }
}

/// Who is screened: a customer (or a counterparty) as the bank knows them.
public struct ScreeningSubject: Hashable, Sendable {
    public var name: String
    public var dateOfBirth: DateOfBirth?
    /// ISO 3166-1 alpha-2 codes (or country names, normalised by `Country.code`).
    public var nationalities: [String]
    /// A person is screened against individuals; an organisation against entities, vessels and aircraft.
    public var isOrganisation: Bool

    public init(
        name: String,
        dateOfBirth: DateOfBirth? = nil,
        nationalities: [String] = [],
        isOrganisation: Bool = false
    ) {
        self.name = name
        self.dateOfBirth = dateOfBirth
        self.nationalities = nationalities
        self.isOrganisation = isOrganisation
    }
}

/// A list entry that matched a subject above the threshold.
public struct Hit: Hashable, Sendable {
    /// The final score: the name score adjusted by date of birth and nationality, in 0...1.
    public var score: Double
    /// The best name score alone.
    public var nameScore: Double
    public var entry: SanctionEntry
    /// The list name (primary or alias) that matched best.
    public var matchedName: String
    /// True when `matchedName` is an alias, not the primary name.
    public var matchedAlias: Bool
    public var dateOfBirth: DateComparison?
    public var nationality: NationalityComparison?
    /// For people: "name 'X' ~ alias 'Y' 0.93; DOB matches (1970-01-12); nationality matches (IR)".
    public var reason: String
}

/// How a person's nationalities compare with a listed entry's.
public enum NationalityComparison: String, Sendable {
    case same
    case differs
}

/// Country names and codes to ISO 3166-1 alpha-2.
public enum Country {
    /// "IR", "ir", "IRN", "Iran", "Iran, Islamic Republic of", "Korea, North" → the alpha-2 code; nil when unknown.
    public static func code(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 2 {
            let upper = trimmed.uppercased()
            return alpha2Codes.contains(upper) ? upper : nil
        }
        return countryNamesToAlpha2[key(trimmed)]
    }

    /// The lookup key of a country name: accents removed, lower case, other characters one space.
    static func key(_ text: String) -> String {
        var out = ""
        var pendingSpace = false
        for scalar in text.decomposedStringWithCompatibilityMapping.unicodeScalars {
            if scalar.properties.isDiacritic || scalar.properties.generalCategory == .nonspacingMark { continue }
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                if pendingSpace && !out.isEmpty { out.append(" ") }
                pendingSpace = false
                out.append(contentsOf: String(scalar).lowercased())
            } else {
                pendingSpace = true
            }
        }
        return out
    }
}

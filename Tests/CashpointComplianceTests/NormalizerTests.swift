import Testing

@testable import CashpointCompliance

@Suite("Name normalisation")
struct NormalizerTests {
    let normalizer = NameNormalizer()

    @Test(arguments: [
        ("AL-MASUDI, Mohammed Tariq", ["al", "masudi", "mohammed", "tariq"]),
        ("José Manuel Cárdenas", ["jose", "manuel", "cardenas"]),
        ("Gheorghe Ionuț Vărzaru", ["gheorghe", "ionut", "varzaru"]),
        ("Dr. Sheikh Haji Ali", ["ali"]),
        ("O'Brien", ["obrien"]),
        ("Ciarán Ó Bradaigh", ["ciaran", "o", "bradaigh"]),
        ("Straße Łukasz Øster Æbeltoft", ["strasse", "lukasz", "oster", "aebeltoft"]),
        ("  ", []),
        ("Smith Jr.", ["smith"]),
        ("ＦＵＬＬ ｗｉｄｔｈ", ["full", "width"]),
    ])
    func people(name: String, tokens: [String]) {
        #expect(normalizer.tokens(name) == tokens)
    }

    @Test func companySuffixesAreOptional() {
        #expect(
            normalizer.tokens("Golden Crescent Trading LLC", organisation: true) == ["golden", "crescent", "trading"]
        )
        #expect(
            NameNormalizer(dropCompanySuffixes: false).tokens("Golden Crescent Trading LLC", organisation: true)
                == ["golden", "crescent", "trading", "llc"]
        )
        // A person's name keeps tokens that happen to be company words.
        #expect(normalizer.tokens("Co Thi Lan") == ["co", "thi", "lan"])
    }

    @Test func countries() {
        #expect(Country.code("IR") == "IR")
        #expect(Country.code("ir") == "IR")
        #expect(Country.code("Iran") == "IR")
        #expect(Country.code("Iran, Islamic Republic of") == "IR")
        #expect(Country.code("Korea, North") == "KP")
        #expect(Country.code("Burma") == "MM")
        #expect(Country.code("Côte d'Ivoire") == "CI")
        #expect(Country.code("DEU") == "DE")
        #expect(Country.code("Atlantis") == nil)
        #expect(Country.code("ZZ") == nil)
    }

    @Test func datesCompare() {
        let listed = DateOfBirth(year: 1970, month: 1, day: 12)
        #expect(listed.compare(with: DateOfBirth(year: 1970, month: 1, day: 12)) == .same)
        #expect(listed.compare(with: DateOfBirth(year: 1970, month: 1, day: 13)) == .differs)
        #expect(listed.compare(with: DateOfBirth(year: 1971, month: 1, day: 12)) == .differs)
        #expect(listed.compare(with: DateOfBirth(year: 1970)) == .sameYear)
        #expect(DateOfBirth(year: 1970).compare(with: DateOfBirth(year: 1970, month: 5, day: 1)) == .sameYear)
        #expect(
            DateOfBirth(year: 1968, toYear: 1970).compare(with: DateOfBirth(year: 1969, month: 5, day: 1)) == .sameYear
        )
        #expect(DateOfBirth(year: 1968, toYear: 1970).compare(with: DateOfBirth(year: 1971)) == .differs)
        #expect(DateOfBirth(year: 1960, circa: true).compare(with: DateOfBirth(year: 1962)) == .sameYear)
        #expect(DateOfBirth(year: 1960, circa: true).compare(with: DateOfBirth(year: 1963)) == .differs)
        for text in ["1970-01-12", "1970-01", "1970", "1968..1970", "~1960"] {
            #expect(DateOfBirth(text)?.description == text)
        }
        #expect(DateOfBirth("1970-13-01") == nil)
        #expect(DateOfBirth("70") == nil)
    }
}

import ATM87
import Testing

@testable import CashpointCompliance

@Suite("Screening against the shipped test lists")
struct ScreenerTests {
    let screener: Screener

    init() throws {
        screener = Screener(entries: try fixtureEntries())
    }

    @Test func transliteratedAliasIsAHitWithItsReason() throws {
        let hits = screener.screen(
            person: ScreeningSubject(
                name: "Muhammad Tariq al-Masoudi",
                dateOfBirth: DateOfBirth(year: 1970, month: 1, day: 12),
                nationalities: ["IR"]
            )
        )
        let hit = try #require(hits.first)
        #expect(hit.entry.uid == "4501")
        #expect(hit.entry.source == .ofac)
        #expect(hit.matchedName == "MASOUDI, Muhammad Tariq al")
        #expect(hit.matchedAlias)
        #expect(hit.dateOfBirth == .same)
        #expect(hit.nationality == .same)
        #expect(hit.score == min(1, hit.nameScore + ScoreAdjustment.sameDateOfBirth + ScoreAdjustment.sameNationality))
        #expect(hit.reason.hasPrefix("name 'Muhammad Tariq al-Masoudi' ~ alias 'MASOUDI, Muhammad Tariq al' "))
        #expect(hit.reason.contains("DOB matches (1970-01-12)"))
        #expect(hit.reason.contains("nationality matches (IR)"))
    }

    @Test func euEntriesAreScreenedToo() throws {
        let hits = screener.screen(person: ScreeningSubject(name: "Anatoly Sergeevich Brovchenko"))
        #expect(hits.map(\.entry.uid) == ["90001"])
        #expect(hits[0].entry.source == .eu)
        // Non-Latin aliases are matched within their own script.
        let cyrillic = screener.screen(person: ScreeningSubject(name: "Бровченко Анатолий"))
        #expect(cyrillic.map(\.entry.uid) == ["90001"])
    }

    @Test func dateOfBirthRaisesAndLowers() throws {
        let name = "Mehrzad Saltanifer"
        let plain = try #require(screener.screen(person: ScreeningSubject(name: name), threshold: 0.5).first)
        let same = try #require(
            screener.screen(
                person: ScreeningSubject(name: name, dateOfBirth: DateOfBirth(year: 1979, month: 9, day: 9)),
                threshold: 0.5
            )
            .first
        )
        let sameYear = try #require(
            screener.screen(person: ScreeningSubject(name: name, dateOfBirth: DateOfBirth(year: 1978)), threshold: 0.5)
                .first
        )
        let other = try #require(
            screener.screen(
                person: ScreeningSubject(name: name, dateOfBirth: DateOfBirth(year: 1990, month: 9, day: 9)),
                threshold: 0.5
            )
            .first
        )
        #expect(plain.entry.uid == "4508")
        #expect(plain.score < 1 - ScoreAdjustment.sameDateOfBirth, "the name alone is not a perfect match")
        #expect(same.score > sameYear.score)
        #expect(sameYear.score > plain.score)
        #expect(plain.score > other.score)
        #expect(other.dateOfBirth == .differs)
        #expect(other.reason.contains("DOB differs (1990-09-09 vs 1979-09-09, 1978-09-09)"))
    }

    @Test func nationalityRaisesALittleAndLowers() throws {
        let name = "Fereshte Rahimzade"
        let plain = try #require(screener.screen(person: ScreeningSubject(name: name)).first)
        let same = try #require(screener.screen(person: ScreeningSubject(name: name, nationalities: ["Iran"])).first)
        let other = try #require(
            screener.screen(person: ScreeningSubject(name: name, nationalities: ["DE"]), threshold: 0.5).first
        )
        #expect(abs(same.score - min(1, plain.score + ScoreAdjustment.sameNationality)) < 1e-12)
        #expect(abs(other.score - (plain.score + ScoreAdjustment.differentNationality)) < 1e-12)
        #expect(other.reason.contains("nationality differs (DE vs IR)"))
    }

    @Test func exactNameWithAnotherDateIsStillAHit() throws {
        let hits = screener.screen(
            person: ScreeningSubject(name: "Dragan Zeltanovic", dateOfBirth: DateOfBirth(year: 1990, month: 1, day: 1))
        )
        #expect(hits.map(\.entry.uid) == ["4512"])
        #expect(hits[0].score == 0.9)
    }

    @Test func thresholdIsConfigurable() {
        let subject = ScreeningSubject(name: "Viktor Lukashenko")
        #expect(!screener.screen(person: subject, threshold: 0.80).isEmpty)
        #expect(screener.screen(person: subject, threshold: 0.99).isEmpty)
        #expect(Screener.defaultThreshold == 0.88)
    }

    @Test func peopleAreNotMatchedToCompaniesNorCompaniesToPeople() {
        #expect(screener.screen(person: ScreeningSubject(name: "Sea Phantom")).isEmpty)
        let company = screener.screen(
            person: ScreeningSubject(name: "Golden Crescent Trading Ltd", isOrganisation: true)
        )
        #expect(company.map(\.entry.uid) == ["4522"])
        let vessel = screener.screen(person: ScreeningSubject(name: "Phantom Star", isOrganisation: true))
        #expect(vessel.map(\.entry.uid) == ["4525"])
        #expect(screener.screen(person: ScreeningSubject(name: "Dragan Zeltanovic", isOrganisation: true)).isEmpty)
    }

    @Test func innocentNamesAreClear() {
        for name in ["Alice Archer", "Bob Baker", "Carol Cole", "Anna Schmidt", "", "!!!", "Mr"] {
            #expect(screener.screen(person: ScreeningSubject(name: name)).isEmpty, "\(name)")
        }
    }

    /// The index must find exactly what scoring every name of every entry finds: blocking loses no hit.
    @Test func indexFindsWhatAScanFinds() {
        var listRandom = SplitMix64(seed: 7)
        let entries = SyntheticList.entries(count: 1_000, using: &listRandom)
        let big = Screener(entries: entries)
        var customerRandom = SplitMix64(seed: 9)
        var subjects = SyntheticList.customers(count: 1_500, using: &customerRandom)
        // And listed names, varied, with dates and nationalities that raise the score.
        var random = SplitMix64(seed: 11)
        for entry in entries.prefix(500) {
            let name = SyntheticList.variant(of: entry.aliases.first ?? entry.primaryName, using: &random)
            subjects.append(
                ScreeningSubject(
                    name: name,
                    dateOfBirth: entry.datesOfBirth.first,
                    nationalities: entry.nationalities,
                    isOrganisation: entry.type != .individual
                )
            )
        }
        var compared = 0
        var withHits = 0
        for (n, subject) in subjects.enumerated() {
            // A low threshold too: more candidates near the edge of the blocking.
            let threshold = n % 2 == 0 ? 0.75 : Screener.defaultThreshold
            let indexed = big.screen(person: subject, threshold: threshold)
            let scanned = big.screenByScanning(person: subject, threshold: threshold)
            #expect(indexed == scanned, "\(subject.name) at \(threshold)")
            compared += 1
            if !scanned.isEmpty { withHits += 1 }
        }
        #expect(compared == 2_000)
        // The comparison means something only if many subjects have hits.
        print("index against scan: \(compared) subjects, \(withHits) with hits, all equal")
        #expect(withHits >= 400)
    }
}

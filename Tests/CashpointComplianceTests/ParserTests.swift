import Testing

@testable import CashpointCompliance

@Suite("OFAC SDN and EU consolidated list parsers")
struct ParserTests {
    @Test func ofacFixtureParses() throws {
        let entries = try OFACParser.parse(
            sdn: fixtureBytes("ofac/sdn.csv"),
            alt: fixtureBytes("ofac/alt.csv"),
            add: fixtureBytes("ofac/add.csv")
        )
        #expect(entries.count == 30)
        let masudi = try #require(entries.first { $0.uid == "4501" })
        #expect(masudi.type == .individual)
        #expect(masudi.primaryName == "AL-MASUDI, Mohammed Tariq")
        #expect(masudi.aliases == ["MASOUDI, Muhammad Tariq al", "ABU TARIQ"])
        #expect(masudi.datesOfBirth == [DateOfBirth(year: 1970, month: 1, day: 12)])
        #expect(masudi.nationalities == ["IR"])
        #expect(masudi.program == "IRAN] [SDGT")
        #expect(masudi.addressCountries == ["IR"])
        let kim = try #require(entries.first { $0.uid == "4507" })
        #expect(kim.nationalities == ["KP"])
        let vessel = try #require(entries.first { $0.uid == "4525" })
        #expect(vessel.type == .vessel)
        // "Nationality of Registration Panama" is a vessel's flag, not a nationality.
        #expect(try #require(entries.first { $0.uid == "4526" }).nationalities.isEmpty)
        #expect(try #require(entries.first { $0.uid == "4527" }).type == .aircraft)
        #expect(try #require(entries.first { $0.uid == "4521" }).type == .entity)
        #expect(try #require(entries.first { $0.uid == "4508" }).datesOfBirth.count == 2)
        #expect(try #require(entries.first { $0.uid == "4528" }).nationalities == ["KG", "RU"])
        #expect(try #require(entries.first { $0.uid == "4529" }).nationalities == ["PS"])
    }

    @Test(arguments: [
        ("12 Jan 1970", DateOfBirth(year: 1970, month: 1, day: 12)),
        ("Jun 1974", DateOfBirth(year: 1974, month: 6)),
        ("1972", DateOfBirth(year: 1972)),
        ("circa 1960", DateOfBirth(year: 1960, circa: true)),
        ("1975 to 1977", DateOfBirth(year: 1975, toYear: 1977)),
        ("01 Jan 1968 to 31 Dec 1970", DateOfBirth(year: 1968, toYear: 1970)),
    ])
    func ofacDates(text: String, expected: DateOfBirth) {
        #expect(OFACParser.parseDate(text) == expected)
    }

    @Test func ofacDatesThatAreNotDates() {
        #expect(OFACParser.parseDate("") == nil)
        #expect(OFACParser.parseDate("32 Jan 1970") == nil)
        #expect(OFACParser.parseDate("12 Foo 1970") == nil)
        #expect(OFACParser.parseDate("70") == nil)
    }

    @Test func ofacWrongFieldCountNamesFileAndLine() throws {
        let sdn = Array(
            "1,\"A, B\",\"individual\",\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n2,\"C\",-0- \r\n".utf8
        )
        #expect(throws: SanctionsListError(.wrongFieldCount, file: "sdn.csv", line: 2, "3 fields, expected 12")) {
            try OFACParser.parse(sdn: sdn, alt: Array(" ".utf8))
        }
    }

    @Test func ofacAliasOfUnknownEntryIsRefused() throws {
        let alt = Array("9999,1,\"aka\",\"NOBODY\",-0- \r\n".utf8)
        let error = try #require(throws: SanctionsListError.self) {
            try OFACParser.parse(sdn: fixtureBytes("ofac/sdn.csv"), alt: alt)
        }
        #expect(error.code == .unknownEntry)
        #expect(error.file == "alt.csv")
        #expect(error.line == 1)
    }

    @Test func ofacRefusals() throws {
        let row = ",\"individual\",\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"
        let cases: [(String, SanctionsListError.Code, Int)] = [
            ("x1,\"A\"" + row, .badIdentifier, 1),
            ("1,\"A\"" + row + "1,\"B\"" + row, .duplicateEntry, 2),
            ("1,-0- " + row, .missingName, 1),
            ("1,\"A\"" + row + "2,\"B,-0- \n", .unterminatedQuote, 2),
        ]
        for (text, code, line) in cases {
            let error = try #require(throws: SanctionsListError.self) {
                try OFACParser.parse(sdn: Array(text.utf8), alt: Array(" ".utf8))
            }
            #expect(error.code == code)
            #expect(error.line == line)
        }
        #expect(throws: SanctionsListError.self) { try OFACParser.parse(sdn: [], alt: []) }
    }

    @Test func euFixtureParses() throws {
        let entries = try EUParser.parse(fixtureBytes("eu/eu-consolidated.csv"))
        #expect(entries.count == 16)
        let brovchenko = try #require(entries.first { $0.uid == "90001" })
        #expect(brovchenko.type == .individual)
        #expect(brovchenko.primaryName == "Anatoliy Sergeyevich Brovchenko")
        #expect(brovchenko.aliases == ["Anatolii Serhiiovych Brovchenko", "Анатолий Сергеевич Бровченко"])
        #expect(brovchenko.datesOfBirth == [DateOfBirth(year: 1966, month: 5, day: 14)])
        #expect(brovchenko.nationalities == ["RU"])
        #expect(brovchenko.program == "RUS")
        #expect(try #require(entries.first { $0.uid == "90002" }).datesOfBirth == [DateOfBirth(year: 1970)])
        #expect(
            try #require(entries.first { $0.uid == "90005" }).datesOfBirth == [DateOfBirth(year: 1960, toYear: 1962)]
        )
        #expect(
            try #require(entries.first { $0.uid == "90007" }).datesOfBirth == [DateOfBirth(year: 1968, circa: true)]
        )
        #expect(try #require(entries.first { $0.uid == "90016" }).nationalities == ["CY", "RU"])
        let company = try #require(entries.first { $0.uid == "90011" })
        #expect(company.type == .entity)
        #expect(company.addressCountries == ["RU"])
    }

    @Test func euRefusals() throws {
        let header = "fileGenerationDate;Entity_LogicalId;Entity_SubjectType_ClassificationCode;NameAlias_WholeName\n"
        let cases: [(String, SanctionsListError.Code, Int)] = [
            ("fileGenerationDate;NameAlias_WholeName\n1;A\n", .missingColumn, 1),
            ("fileGenerationDate;Entity_LogicalId\n1;2\n", .missingColumn, 1),
            (header + "d;1;person;Anna Example\nd;2;person\n", .wrongFieldCount, 3),
            (header + "d;x;person;Anna Example\n", .badIdentifier, 2),
            (header + "d;1;person;Anna Example\nd;2;person;\n", .missingName, 3),
            (header + "d;1;person;\"Anna Example\n", .unterminatedQuote, 2),
        ]
        for (text, code, line) in cases {
            let error = try #require(throws: SanctionsListError.self) {
                try EUParser.parse(Array(text.utf8), file: "eu.csv")
            }
            #expect(error.code == code, "\(text)")
            #expect(error.line == line, "\(text)")
            #expect(error.description.hasPrefix("eu.csv:\(line): "))
        }
    }

    @Test func euQuotedFieldsAndTolerance() throws {
        let text =
            "\u{FEFF}fileGenerationDate;Entity_LogicalId;Entity_SubjectType;NameAlias_WholeName;Extra\r\n"
            + "d;7;P;\"Ann; \"\"the\"\" Example\";\r\nd;7;P;Ann Exampel;;\r\n\r\n"
        let entries = try EUParser.parse(Array(text.utf8))
        #expect(entries.count == 1)
        #expect(entries[0].primaryName == "Ann; \"the\" Example")
        #expect(entries[0].aliases == ["Ann Exampel"])
        #expect(entries[0].type == .individual)
    }

    @Test func filesAreRecognisedByNameAndHeader() throws {
        let ofac = try SanctionsListFiles.parse([
            ("lists/SDN.CSV", fixtureBytes("ofac/sdn.csv")), ("lists/alt.csv", fixtureBytes("ofac/alt.csv")),
        ])
        #expect(ofac.source == .ofac)
        #expect(ofac.entries.count == 30)
        let eu = try SanctionsListFiles.parse([("whatever.csv", fixtureBytes("eu/eu-consolidated.csv"))])
        #expect(eu.source == .eu)
        #expect(eu.entries.count == 16)
        for files in [
            [("sdn.csv", try fixtureBytes("ofac/sdn.csv"))],
            [("notes.txt", Array("hello".utf8))],
            [
                ("sdn.csv", try fixtureBytes("ofac/sdn.csv")), ("alt.csv", try fixtureBytes("ofac/alt.csv")),
                ("eu.csv", try fixtureBytes("eu/eu-consolidated.csv")),
            ],
        ] {
            let error = try #require(throws: SanctionsListError.self) { try SanctionsListFiles.parse(files) }
            #expect(error.code == .unknownFormat)
        }
    }

    @Test func windows1252TextIsRead() throws {
        // "CAFÉ" in Windows-1252: 0xC9 is not valid UTF-8 on its own.
        var sdn = Array("1,\"CAF".utf8)
        sdn.append(0xC9)
        sdn += Array("\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n".utf8)
        let entries = try OFACParser.parse(sdn: sdn, alt: Array(" ".utf8))
        #expect(entries[0].primaryName == "CAFÉ")
    }
}

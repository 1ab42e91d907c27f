import Foundation

/// The EU's Consolidated Financial Sanctions File in its CSV form ("csvFullSanctionsList_1_1", as the
/// European Commission's Financial Sanctions Files service publishes it; moov-io/watchman's
/// pkg/sources/csl_eu/csl.go lists all 118 columns):
///
/// - UTF-8 (with a byte order mark), `;`-separated, one header row;
/// - one row per fact about an entity: a name alias, an address, a birth date, an identification or a
///   citizenship, so an entity spans many rows, grouped by `Entity_LogicalId`;
/// - the columns read here: `Entity_LogicalId`, `Entity_SubjectType_ClassificationCode` ("person",
///   "enterprise"; or the single letter of `Entity_SubjectType`, P or E), `Entity_Regulation_Programme`,
///   `NameAlias_WholeName` (or First/Middle/LastName), `BirthDate_BirthDate` (YYYY-MM-DD) or
///   `BirthDate_Year`/`_Month`/`_Day`, `BirthDate_YearRangeFrom`/`_YearRangeTo`, `BirthDate_Circa`,
///   `Citizenship_CountryIso2Code`, `Address_CountryIso2Code`. Columns are found by their header name,
///   so their order may change.
///
/// Strict where it matters: a header without `Entity_LogicalId` or a name column, a row whose field count
/// is not the header's, a logical id that is not a number, an entity with no name: each is an error
/// naming the file and line, and nothing is returned.
public enum EUParser {
    /// Parses the file's contents. `file` is only used in errors.
    public static func parse(_ bytes: [UInt8], file: String = "eu.csv") throws(SanctionsListError) -> [SanctionEntry] {
        let rows = try DelimitedReader(file: file, delimiter: UInt8(ascii: ";")).rows(decodeListText(bytes, file: file))
        guard let header = rows.first else {
            throw SanctionsListError(.unreadable, file: file, line: 0, "no header row")
        }
        var column: [String: Int] = [:]
        for (i, name) in header.fields.enumerated() {
            column[name.trimmingCharacters(in: .whitespaces)] = i
        }
        guard let idColumn = column["Entity_LogicalId"] else {
            throw SanctionsListError(.missingColumn, file: file, line: header.line, "no Entity_LogicalId column")
        }
        guard column["NameAlias_WholeName"] != nil || column["NameAlias_LastName"] != nil else {
            throw SanctionsListError(.missingColumn, file: file, line: header.line, "no NameAlias_WholeName column")
        }
        var entries: [SanctionEntry] = []
        var byID: [Int: Int] = [:]
        var firstLine: [Int: Int] = [:]
        for (line, fields) in rows.dropFirst() {
            // Tolerated: trailing empty fields past the header's count.
            guard
                fields.count == header.fields.count
                    || (fields.count > header.fields.count && fields[header.fields.count...].allSatisfy(\.isEmpty))
            else {
                throw SanctionsListError(
                    .wrongFieldCount,
                    file: file,
                    line: line,
                    "\(fields.count) fields, the header has \(header.fields.count)"
                )
            }
            func value(_ name: String) -> String {
                guard let i = column[name] else { return "" }
                return fields[i].trimmingCharacters(in: .whitespaces)
            }
            guard let id = Int(fields[idColumn].trimmingCharacters(in: .whitespaces)) else {
                throw SanctionsListError(
                    .badIdentifier,
                    file: file,
                    line: line,
                    "Entity_LogicalId '\(fields[idColumn])' is not a number"
                )
            }
            let index: Int
            if let known = byID[id] {
                index = known
            } else {
                index = entries.count
                byID[id] = index
                firstLine[id] = line
                let kind = value("Entity_SubjectType_ClassificationCode").lowercased()
                let letter = value("Entity_SubjectType").uppercased()
                let type: SanctionEntryType =
                    kind == "person" || (kind.isEmpty && letter == "P") ? .individual : .entity
                entries.append(
                    SanctionEntry(
                        source: .eu,
                        uid: String(id),
                        type: type,
                        primaryName: "",
                        program: value("Entity_Regulation_Programme")
                    )
                )
            }
            var name = value("NameAlias_WholeName")
            if name.isEmpty {
                name = [value("NameAlias_FirstName"), value("NameAlias_MiddleName"), value("NameAlias_LastName")]
                    .filter { !$0.isEmpty }.joined(separator: " ")
            }
            if !name.isEmpty {
                if entries[index].primaryName.isEmpty {
                    entries[index].primaryName = name
                } else if entries[index].primaryName != name && !entries[index].aliases.contains(name) {
                    entries[index].aliases.append(name)
                }
            }
            if let date = birthDate(value), !entries[index].datesOfBirth.contains(date) {
                entries[index].datesOfBirth.append(date)
            }
            if let code = Country.code(value("Citizenship_CountryIso2Code")),
                !entries[index].nationalities.contains(code)
            {
                entries[index].nationalities.append(code)
            }
            if let code = Country.code(value("Address_CountryIso2Code")),
                !entries[index].addressCountries.contains(code)
            {
                entries[index].addressCountries.append(code)
            }
        }
        for (id, index) in byID where entries[index].primaryName.isEmpty {
            throw SanctionsListError(
                .missingName,
                file: file,
                line: firstLine[id] ?? 0,
                "entity \(id) has no name on any row"
            )
        }
        return entries
    }

    /// The birth date of a row, if it has one.
    static func birthDate(_ value: (String) -> String) -> DateOfBirth? {
        let circa = ["1", "true", "yes"].contains(value("BirthDate_Circa").lowercased())
        if let date = DateOfBirth(value("BirthDate_BirthDate")), date.day != nil {
            return circa ? DateOfBirth(year: date.year, circa: true) : date
        }
        if let from = Int(value("BirthDate_YearRangeFrom")), let to = Int(value("BirthDate_YearRangeTo")), from <= to {
            return DateOfBirth(year: from, toYear: to)
        }
        guard let year = Int(value("BirthDate_Year")), year > 0 else { return nil }
        if circa { return DateOfBirth(year: year, circa: true) }
        let month = Int(value("BirthDate_Month")).flatMap { (1...12).contains($0) ? $0 : nil }
        let day = month == nil ? nil : Int(value("BirthDate_Day")).flatMap { (1...31).contains($0) ? $0 : nil }
        return DateOfBirth(year: year, month: month, day: day)
    }
}

/// Which list a set of files is, from their names and first line.
public enum SanctionsListFiles {
    /// Parses files given by name and content: `sdn.csv` + `alt.csv` (+ `add.csv`) are OFAC's SDN list
    /// (matched by name, case-insensitively, any folder); a file whose header starts with
    /// `fileGenerationDate;` or has an `Entity_LogicalId` column is the EU list. One list per call.
    public static func parse(
        _ files: [(name: String, bytes: [UInt8])]
    ) throws(SanctionsListError) -> (
        source: SanctionSource, entries: [SanctionEntry]
    ) {
        func base(_ path: String) -> String { (path.split(separator: "/").last.map(String.init) ?? path).lowercased() }
        let sdn = files.first { base($0.name) == "sdn.csv" }
        let alt = files.first { base($0.name) == "alt.csv" }
        let add = files.first { base($0.name) == "add.csv" }
        let eu = files.filter { file in
            let head = String(decoding: file.bytes.prefix(4096), as: UTF8.self)
            let firstLine = head.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
            return firstLine.contains("Entity_LogicalId")
        }
        let names = files.map(\.name).joined(separator: ", ")
        if let sdn {
            guard let alt else {
                throw SanctionsListError(
                    .unknownFormat,
                    file: sdn.name,
                    line: 0,
                    "OFAC's sdn.csv needs its alt.csv beside it"
                )
            }
            guard eu.isEmpty, files.count == (add == nil ? 2 : 3) else {
                throw SanctionsListError(
                    .unknownFormat,
                    file: names,
                    line: 0,
                    "give one list at a time: sdn.csv, alt.csv and optionally add.csv"
                )
            }
            let entries = try OFACParser.parse(
                sdn: sdn.bytes,
                alt: alt.bytes,
                add: add?.bytes,
                names: (sdn.name, alt.name, add?.name ?? "add.csv")
            )
            return (.ofac, entries)
        }
        if eu.count == 1, files.count == 1 {
            return (.eu, try EUParser.parse(eu[0].bytes, file: eu[0].name))
        }
        throw SanctionsListError(
            .unknownFormat,
            file: names,
            line: 0,
            "expected OFAC's sdn.csv + alt.csv (+ add.csv) or one EU consolidated CSV (header with Entity_LogicalId)"
        )
    }
}

import Foundation

/// OFAC's Specially Designated Nationals list in its legacy CSV form, as OFAC publishes it (the SDN
/// "data specification" page of the Sanctions List Service describes the files; moov-io/watchman's
/// pkg/sources/ofac reads the same):
///
/// - `sdn.csv`, no header, 12 fields: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type,
///   Tonnage, GRT, Vess_flag, Vess_owner, Remarks. `-0-` (often followed by a space) means empty.
///   SDN_Type is "individual", "vessel", "aircraft" or empty for an entity. Dates of birth, nationality
///   and citizenship are only in Remarks: "DOB 12 Jan 1970; alt. DOB 1971; POB Tehran, Iran;
///   nationality Iran; citizen Iran; Passport ...". The file ends with a DOS end-of-file mark (0x1A).
/// - `alt.csv`, no header, 5 fields: ent_num, alt_num, alt_type (aka, fka, nka), alt_name, alt_remarks.
/// - `add.csv` (optional), no header, 6 fields: ent_num, add_num, address, city/state/postal code,
///   country, add_remarks.
///
/// Strict where it matters: a wrong field count, a non-numeric ent_num, a nameless entry, a duplicate
/// ent_num, an alias or address of an entry sdn.csv lacks, an unclosed quote: each is an error naming the
/// file and line, and nothing is returned.
public enum OFACParser {
    public static let sdnFields = 12
    public static let altFields = 5
    public static let addFields = 6

    /// Parses the files' contents; `add` may be nil. File names are only used in errors.
    public static func parse(
        sdn: [UInt8],
        alt: [UInt8],
        add: [UInt8]? = nil,
        names: (sdn: String, alt: String, add: String) = ("sdn.csv", "alt.csv", "add.csv")
    ) throws(SanctionsListError) -> [SanctionEntry] {
        var entries: [SanctionEntry] = []
        var byNumber: [Int: Int] = [:]
        let sdnRows = try DelimitedReader(file: names.sdn, delimiter: UInt8(ascii: ",")).rows(
            decodeListText(sdn, file: names.sdn)
        )
        for (line, raw) in sdnRows {
            let fields = try exactly(sdnFields, raw, file: names.sdn, line: line)
            let number = try entryNumber(fields[0], file: names.sdn, line: line)
            guard byNumber[number] == nil else {
                throw SanctionsListError(
                    .duplicateEntry,
                    file: names.sdn,
                    line: line,
                    "ent_num \(number) appears twice"
                )
            }
            let name = fields[1]
            guard !name.isEmpty else {
                throw SanctionsListError(.missingName, file: names.sdn, line: line, "ent_num \(number) has no SDN_Name")
            }
            let remarks = parseRemarks(fields[11])
            let type: SanctionEntryType =
                switch fields[2].lowercased() {
                case "individual": .individual
                case "vessel": .vessel
                case "aircraft": .aircraft
                default: .entity
                }
            byNumber[number] = entries.count
            entries.append(
                SanctionEntry(
                    source: .ofac,
                    uid: String(number),
                    type: type,
                    primaryName: name,
                    datesOfBirth: remarks.dates,
                    nationalities: remarks.nationalities,
                    program: fields[3]
                )
            )
        }
        for (line, fields, index) in try attached(alt, altFields, file: names.alt, to: byNumber, of: names.sdn) {
            guard !fields[3].isEmpty else {
                throw SanctionsListError(
                    .missingName,
                    file: names.alt,
                    line: line,
                    "alias \(fields[1]) has no alt_name"
                )
            }
            if !entries[index].aliases.contains(fields[3]) { entries[index].aliases.append(fields[3]) }
        }
        if let add {
            for (_, fields, index) in try attached(add, addFields, file: names.add, to: byNumber, of: names.sdn) {
                if let country = Country.code(fields[4]), !entries[index].addressCountries.contains(country) {
                    entries[index].addressCountries.append(country)
                }
            }
        }
        return entries
    }

    /// The rows of a file whose first field is an ent_num of sdn.csv (alt.csv, add.csv), with the index of
    /// that entry; an error for a row of an entry sdn.csv lacks.
    static func attached(
        _ bytes: [UInt8],
        _ count: Int,
        file: String,
        to byNumber: [Int: Int],
        of sdnName: String
    ) throws(SanctionsListError) -> [(line: Int, fields: [String], index: Int)] {
        var out: [(line: Int, fields: [String], index: Int)] = []
        for (line, raw) in try DelimitedReader(file: file, delimiter: UInt8(ascii: ",")).rows(
            decodeListText(bytes, file: file)
        ) {
            let fields = try exactly(count, raw, file: file, line: line)
            let number = try entryNumber(fields[0], file: file, line: line)
            guard let index = byNumber[number] else {
                throw SanctionsListError(
                    .unknownEntry,
                    file: file,
                    line: line,
                    "ent_num \(number) is not in \(sdnName)"
                )
            }
            out.append((line, fields, index))
        }
        return out
    }

    /// The fields trimmed, `-0-` made empty; an error unless there are exactly `count`.
    static func exactly(_ count: Int, _ raw: [String], file: String, line: Int) throws(SanctionsListError) -> [String] {
        guard raw.count == count else {
            throw SanctionsListError(.wrongFieldCount, file: file, line: line, "\(raw.count) fields, expected \(count)")
        }
        return raw.map { field in
            let trimmed = field.trimmingCharacters(in: .whitespaces)
            return trimmed == "-0-" ? "" : trimmed
        }
    }

    static func entryNumber(_ text: String, file: String, line: Int) throws(SanctionsListError) -> Int {
        guard let number = Int(text), number > 0 else {
            throw SanctionsListError(
                .badIdentifier,
                file: file,
                line: line,
                "ent_num '\(text)' is not a positive number"
            )
        }
        return number
    }

    /// Dates of birth and nationalities (nationality and citizenship both) from an SDN Remarks field.
    public static func parseRemarks(_ remarks: String) -> (dates: [DateOfBirth], nationalities: [String]) {
        var dates: [DateOfBirth] = []
        var nationalities: [String] = []
        for part in remarks.split(separator: ";") {
            var item = part.trimmingCharacters(in: .whitespaces)
            if item.hasSuffix(".") { item.removeLast() }
            if item.lowercased().hasPrefix("alt. ") { item = String(item.dropFirst(5)) }
            let lower = item.lowercased()
            if lower.hasPrefix("dob ") {
                if let date = parseDate(String(item.dropFirst(4))), !dates.contains(date) { dates.append(date) }
            } else if lower.hasPrefix("nationality ") && !lower.hasPrefix("nationality of registration") {
                if let code = Country.code(String(item.dropFirst(12))), !nationalities.contains(code) {
                    nationalities.append(code)
                }
            } else if lower.hasPrefix("citizen ") {
                if let code = Country.code(String(item.dropFirst(8))), !nationalities.contains(code) {
                    nationalities.append(code)
                }
            }
        }
        return (dates, nationalities)
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// "12 Jan 1970", "Jan 1970", "1970", "circa 1970", "1968 to 1970", "01 Jan 1968 to 31 Dec 1970".
    public static func parseDate(_ text: String) -> DateOfBirth? {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        if let range = lower.range(of: " to ") {
            guard let from = parseDate(String(lower[..<range.lowerBound])),
                let to = parseDate(String(lower[range.upperBound...])), from.year <= to.year
            else { return nil }
            return from.year == to.year ? DateOfBirth(year: from.year) : DateOfBirth(year: from.year, toYear: to.year)
        }
        if lower.hasPrefix("circa ") {
            guard let year = parseDate(String(lower.dropFirst(6)))?.year else { return nil }
            return DateOfBirth(year: year, circa: true)
        }
        let words = lower.split(separator: " ")
        guard let last = words.last, last.count == 4, let year = Int(last) else { return nil }
        switch words.count {
        case 1:
            return DateOfBirth(year: year)
        case 2:
            guard let month = months.firstIndex(of: String(words[0].prefix(3))) else { return nil }
            return DateOfBirth(year: year, month: month + 1)
        case 3:
            guard let day = Int(words[0]), (1...31).contains(day),
                let month = months.firstIndex(of: String(words[1].prefix(3)))
            else { return nil }
            return DateOfBirth(year: year, month: month + 1, day: day)
        default:
            return nil
        }
    }
}

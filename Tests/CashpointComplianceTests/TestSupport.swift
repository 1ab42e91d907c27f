import Foundation

@testable import CashpointCompliance

/// The repository root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func fixtureBytes(_ path: String) throws -> [UInt8] {
    Array(
        try Data(contentsOf: repositoryRoot.appendingPathComponent("fixtures/sanctions").appendingPathComponent(path))
    )
}

/// The shipped test lists: OFAC's three files and the EU file, parsed.
func fixtureEntries() throws -> [SanctionEntry] {
    let ofac = try OFACParser.parse(
        sdn: fixtureBytes("ofac/sdn.csv"),
        alt: fixtureBytes("ofac/alt.csv"),
        add: fixtureBytes("ofac/add.csv")
    )
    let eu = try EUParser.parse(fixtureBytes("eu/eu-consolidated.csv"))
    return ofac + eu
}

/// Rows of a small CSV file of the fixtures (comma-separated, header first), as dictionaries.
func fixtureTable(_ path: String) throws -> [[String: String]] {
    let text = String(decoding: try fixtureBytes(path), as: UTF8.self)
    let rows = try DelimitedReader(file: path, delimiter: UInt8(ascii: ",")).rows(text)
    guard let header = rows.first?.fields else { return [] }
    return rows.dropFirst().map { row in
        Dictionary(uniqueKeysWithValues: zip(header, row.fields))
    }
}

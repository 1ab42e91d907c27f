import Foundation
import Testing

@testable import CashpointCompliance

/// fixtures/sanctions/jaro-winkler-jellyfish.tsv holds 10,000 generated pairs with the scores jellyfish
/// (PyPI) gives them; `scripts/check-jaro-winkler --check` proves the file is still what jellyfish
/// computes. Here the Swift implementation must give the same scores to 1e-9.
@Suite("Jaro-Winkler equals jellyfish on 10,000 generated pairs")
struct JellyfishAgreementTests {
    @Test func everyPairScoresAsJellyfishDoes() throws {
        let text = String(decoding: try fixtureBytes("jaro-winkler-jellyfish.tsv"), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        #expect(lines.count == 10_000)
        var differences: [String] = []
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            try #require(fields.count == 4, "line \(number + 1): \(fields.count) fields")
            let winkler = try #require(Double(fields[2]))
            let jaro = try #require(Double(fields[3]))
            let ours = JaroWinkler.similarity(fields[0], fields[1])
            let oursJaro = JaroWinkler.jaroSimilarity(fields[0], fields[1])
            if abs(ours - winkler) > 1e-9 || abs(oursJaro - jaro) > 1e-9 {
                differences.append(
                    "line \(number + 1): '\(fields[0])' ~ '\(fields[1])': jellyfish \(winkler) / \(jaro), ours \(ours) / \(oursJaro)"
                )
            }
        }
        #expect(differences.isEmpty, "first differences:\n\(differences.prefix(10).joined(separator: "\n"))")
    }
}

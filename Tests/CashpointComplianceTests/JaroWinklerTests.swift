import Testing

@testable import CashpointCompliance

@Suite("Jaro-Winkler as jellyfish computes it")
struct JaroWinklerTests {
    /// Values from jellyfish's own test data (`testdata/jaro_winkler.csv`, `testdata/jaro_distance.csv`).
    @Test(arguments: [
        ("dixon", "dicksonx", 0.8133333333333332),
        ("martha", "marhta", 0.9611111111111111),
        ("dwayne", "duane", 0.84),
        ("", "", 0.0),
        ("a", "", 0.0),
        ("abc", "abc", 1.0),
        ("a", "b", 0.0),
    ])
    func knownWinklerValues(a: String, b: String, expected: Double) {
        #expect(abs(JaroWinkler.similarity(a, b) - expected) < 1e-12)
    }

    @Test func jaroWithoutBoost() {
        #expect(abs(JaroWinkler.jaroSimilarity("martha", "marhta") - 0.9444444444444445) < 1e-12)
        #expect(abs(JaroWinkler.jaroSimilarity("dixon", "dicksonx") - 0.7666666666666666) < 1e-12)
    }

    /// jellyfish compares grapheme clusters by their bytes: a precomposed "é" is not "e" + U+0301.
    @Test func clustersComparedByScalars() {
        let precomposed = "caf\u{E9}"
        let combining = "cafe\u{301}"
        #expect(JaroWinkler.similarity(precomposed, precomposed) == 1.0)
        #expect(JaroWinkler.similarity(precomposed, combining) < 1.0)
        #expect(JaroWinkler.similarity(combining, combining) == 1.0)
    }

    @Test func upperBoundBoundsEveryScore() {
        let words = ["a", "ab", "abc", "abcd", "mohammed", "muhammad", "alexander", "aleksandr", "x", "smith"]
        for a in words {
            for b in words {
                #expect(JaroWinkler.similarity(a, b) <= JaroWinkler.upperBound(length: a.count, b.count) + 1e-12)
            }
        }
    }
}

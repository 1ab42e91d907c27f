/// Invented list entries and customers for the benchmark and the index tests: names built from
/// syllables (so none is a real person's), with aliases that vary spelling and order, dates of birth and
/// nationalities. The caller gives the generator: a seeded one (ATM87's `SplitMix64`) gives the same
/// list on every machine.
public enum SyntheticList {
    /// `count` entries: about 85% individuals, the rest entities and vessels.
    public static func entries(count: Int, using random: inout some RandomNumberGenerator) -> [SanctionEntry] {
        let given = pool(3_000, syllables: 2...3, &random)
        let family = pool(9_000, syllables: 2...4, &random)
        let countries = ["IR", "SY", "KP", "RU", "BY", "CU", "VE", "MM", "IQ", "LY", "SD", "YE", "AF", "LB", "ZW"]
        var entries: [SanctionEntry] = []
        entries.reserveCapacity(count)
        for n in 0..<count {
            let roll = random.next() % 100
            if roll < 85 {
                let first = given[Int(random.next() % UInt64(given.count))]
                let middle = random.next() % 3 == 0 ? given[Int(random.next() % UInt64(given.count))] + " " : ""
                let last = family[Int(random.next() % UInt64(family.count))]
                var aliases: [String] = []
                for _ in 0..<Int(random.next() % 3) {
                    aliases.append(variant(of: "\(first) \(middle)\(last)", using: &random))
                }
                var dates: [DateOfBirth] = []
                if random.next() % 10 < 7 {
                    dates.append(
                        DateOfBirth(
                            year: 1940 + Int(random.next() % 60),
                            month: 1 + Int(random.next() % 12),
                            day: 1 + Int(random.next() % 28)
                        )
                    )
                }
                let nationalities =
                    random.next() % 10 < 6 ? [countries[Int(random.next() % UInt64(countries.count))]] : []
                entries.append(
                    SanctionEntry(
                        source: .ofac,
                        uid: String(100_000 + n),
                        type: .individual,
                        primaryName: "\(last.uppercased()), \(first) \(middle)".trimmingSpaces(),
                        aliases: aliases,
                        datesOfBirth: dates,
                        nationalities: nationalities,
                        program: "SYNTH"
                    )
                )
            } else {
                let words = (0..<(2 + Int(random.next() % 2))).map { _ in
                    family[Int(random.next() % UInt64(family.count))]
                }
                let suffix = ["Trading LLC", "Shipping Co", "Holding", "Industries", "Bank"][Int(random.next() % 5)]
                entries.append(
                    SanctionEntry(
                        source: .ofac,
                        uid: String(100_000 + n),
                        type: roll < 95 ? .entity : .vessel,
                        primaryName: (words + [suffix]).joined(separator: " ").uppercased(),
                        program: "SYNTH"
                    )
                )
            }
        }
        return entries
    }

    /// `count` customers with names from other syllable pools (some tokens shared with the list, as in
    /// life), each with a date of birth and a nationality.
    public static func customers(count: Int, using random: inout some RandomNumberGenerator) -> [ScreeningSubject] {
        let given = pool(2_000, syllables: 2...3, &random)
        let family = pool(6_000, syllables: 2...3, &random)
        let countries = ["DE", "FR", "GB", "IT", "ES", "NL", "PL", "IR", "TR", "US"]
        return (0..<count).map { _ in
            ScreeningSubject(
                name:
                    "\(given[Int(random.next() % UInt64(given.count))]) \(family[Int(random.next() % UInt64(family.count))])",
                dateOfBirth: DateOfBirth(
                    year: 1940 + Int(random.next() % 65),
                    month: 1 + Int(random.next() % 12),
                    day: 1 + Int(random.next() % 28)
                ),
                nationalities: [countries[Int(random.next() % UInt64(countries.count))]]
            )
        }
    }

    static let onsets = [
        "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "kh", "ch", "y", "j", "gh",
        "br", "dr", "tr", "",
    ]
    static let vowels = ["a", "e", "i", "o", "u", "a", "i", "ai", "ou", "ei", "ia"]
    static let codas = ["", "", "", "n", "r", "m", "l", "s", "d", "v", "k", "t"]

    static func pool(_ size: Int, syllables: ClosedRange<Int>, _ random: inout some RandomNumberGenerator) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        while out.count < size {
            let n = syllables.lowerBound + Int(random.next() % UInt64(syllables.count))
            var word = ""
            for _ in 0..<n {
                word += onsets[Int(random.next() % UInt64(onsets.count))]
                word += vowels[Int(random.next() % UInt64(vowels.count))]
                word += codas[Int(random.next() % UInt64(codas.count))]
            }
            guard word.count >= 3, seen.insert(word).inserted else { continue }
            out.append(word.prefix(1).uppercased() + word.dropFirst())
        }
        return out
    }

    /// A spelling or order variant of a name, as aliases are.
    public static func variant(of name: String, using random: inout some RandomNumberGenerator) -> String {
        var words = name.split(separator: " ").map(String.init)
        switch random.next() % 4 {
        case 0:
            words.reverse()
        case 1:
            let w = Int(random.next() % UInt64(words.count))
            var letters = Array(words[w])
            if letters.count > 3 {
                let i = 1 + Int(random.next() % UInt64(letters.count - 2))
                letters.swapAt(i, i + 1)
            }
            words[w] = String(letters)
        case 2:
            let w = Int(random.next() % UInt64(words.count))
            words[w] = words[w].replacingVowel(&random)
        default:
            let w = Int(random.next() % UInt64(words.count))
            words[w] += words[w].hasSuffix("a") ? "h" : "e"
        }
        return words.joined(separator: " ")
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }

    fileprivate func replacingVowel(_ random: inout some RandomNumberGenerator) -> String {
        let vowels: [Character] = ["a", "e", "i", "o", "u"]
        var letters = Array(self)
        let positions = letters.indices.filter { $0 > 0 && vowels.contains(letters[$0]) }
        guard !positions.isEmpty else { return self }
        let i = positions[Int(random.next() % UInt64(positions.count))]
        letters[i] = vowels[(vowels.firstIndex(of: letters[i])! + 1 + Int(random.next() % 4)) % 5]
        return String(letters)
    }
}

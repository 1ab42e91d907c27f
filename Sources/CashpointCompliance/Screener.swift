import Foundation

/// How date of birth and nationality move a name score (added, the result kept in 0...1).
///
/// - Date of birth, when both the subject and the entry have one (the best of the entry's dates counts):
///   the same full date `+0.05`; the same year (or a year inside the entry's range or circa year)
///   `+0.02`; a different year, or the same year with a different month or day, `-0.10`.
///   An exact name (1.0) with another date of birth still stays a hit at the default threshold: a
///   person is never cleared by a date alone.
/// - Nationality, when both sides have one: one in common `+0.02`; none in common `-0.05`.
/// - Missing data on either side changes nothing.
public enum ScoreAdjustment {
    public static let sameDateOfBirth = 0.05
    public static let sameYearOfBirth = 0.02
    public static let differentDateOfBirth = -0.10
    public static let sameNationality = 0.02
    public static let differentNationality = -0.05

    /// The most a subject's date of birth and nationality can add.
    static func maximumRaise(for subject: ScreeningSubject) -> Double {
        (subject.dateOfBirth == nil ? 0 : sameDateOfBirth) + (subject.nationalities.isEmpty ? 0 : sameNationality)
    }

    static func adjustment(_ date: DateComparison?, _ nationality: NationalityComparison?) -> Double {
        var total = 0.0
        switch date {
        case .same: total += sameDateOfBirth
        case .sameYear: total += sameYearOfBirth
        case .differs: total += differentDateOfBirth
        case nil: break
        }
        switch nationality {
        case .same: total += sameNationality
        case .differs: total += differentNationality
        case nil: break
        }
        return total
    }
}

/// Screens people and organisations against sanctions list entries.
///
/// The entries' names are indexed by token: every distinct token (and every pair of adjacent tokens
/// joined) is kept once, grouped by its first character and its length, with the names
/// that contain it. Screening a subject looks up each of its tokens in the buckets of its own class
/// and of the lengths that could still score high enough, skips a token at once when a bound from
/// lengths, shared letters and common prefix shows it cannot reach the token threshold, scores the rest,
/// and scores in full only the names holding a token that passed. The token threshold is the hit
/// threshold less the most date of birth and nationality could add; since a name score is never above
/// its best token pair's score, nothing that a scan of every entry would find is missed
/// (`screenByScanning` is that scan, and the tests compare the two).
public struct Screener: Sendable {
    public static let defaultThreshold = 0.88

    public let entries: [SanctionEntry]
    public let normalizer: NameNormalizer

    struct IndexedName: Sendable {
        let entry: Int32
        let isAlias: Bool
        let name: PreparedName
    }

    let names: [IndexedName]
    /// Distinct tokens, flat: token t is `units[start[t] ..< start[t] + length[t]]`.
    let units: [UInt32]
    let start: [Int32]
    let length: [Int32]
    /// Per token, how many of each letter it has (see `counts(_:)`).
    let counts: [LetterCounts]
    /// Token → the names (indices into `names`) containing it.
    let postings: [[Int32]]
    /// Tokens of one first character and one length, with their letter counts side by side.
    struct Bucket: Sendable {
        var ids: [Int32] = []
        var counts: [LetterCounts] = []
    }

    /// Per group (`Group`), (first unit, length) → tokens. A token is in the group of each way it occurs:
    /// as a token of a name (`plain`), or as two adjacent tokens joined (`joined`), by the name's token
    /// count (1, 2, 3, 4 or more). The scorer joins the tokens of the longer name of a pair only, so a
    /// subject's joined token is looked up among plain tokens of names with fewer tokens than the
    /// subject's, and a subject's token among joined tokens of names with more.
    let groups: [[UInt64: Bucket]]

    /// Which bucket map a token occurrence is in: plain 0-3, joined 4-7, by the name's token count.
    enum Group {
        static let count = 8

        static func of(joined: Bool, nameTokens: Int) -> Int {
            (joined ? 4 : 0) + min(nameTokens, 4) - 1
        }

        /// The groups to search for a subject's token, when the subject's name has `subjectTokens` tokens.
        static func searched(joined: Bool, subjectTokens k: Int) -> [Int] {
            if joined {
                // Plain tokens of names with fewer tokens (the group "4 or more" when k > 4).
                return (1...4).filter { $0 < k }.map { of(joined: false, nameTokens: $0) }
            }
            // Every plain token; joined tokens of names with more tokens (always "4 or more": it may).
            return (1...4).map { of(joined: false, nameTokens: $0) }
                + (1...4).filter { $0 > k || $0 == 4 }.map { of(joined: true, nameTokens: $0) }
        }
    }
    /// Sound class → the first units of the index's tokens in that class.
    let firstUnits: [UInt32: [UInt32]]
    let maxLength: Int

    public init(entries: [SanctionEntry], normalizer: NameNormalizer = NameNormalizer()) {
        self.entries = entries
        self.normalizer = normalizer
        var names: [IndexedName] = []
        var tokenIDs: [[UInt32]: Int32] = [:]
        var units: [UInt32] = []
        var start: [Int32] = []
        var length: [Int32] = []
        var counts: [LetterCounts] = []
        var postings: [[Int32]] = []
        var groups = [[UInt64: Bucket]](repeating: [:], count: Group.count)
        // Per token, a bit per group it is already in.
        var inGroups: [UInt8] = []
        var firstUnits: [UInt32: Set<UInt32>] = [:]
        var maxLength = 0
        for (e, entry) in entries.enumerated() {
            let organisation = entry.type != .individual
            var seen = Set<[UInt32]>()
            for (n, text) in entry.allNames.enumerated() {
                let prepared = PreparedName(text, normalizer: normalizer, organisation: organisation)
                guard !prepared.isEmpty else { continue }
                let nameID = Int32(names.count)
                names.append(IndexedName(entry: Int32(e), isAlias: n > 0, name: prepared))
                seen.removeAll(keepingCapacity: true)
                let variants = prepared.tokens.map { ($0, false) } + prepared.joined.map { ($0, true) }
                for (token, isJoinedToken) in variants {
                    let id: Int32
                    if let known = tokenIDs[token] {
                        id = known
                    } else {
                        id = Int32(start.count)
                        tokenIDs[token] = id
                        start.append(Int32(units.count))
                        length.append(Int32(token.count))
                        units.append(contentsOf: token)
                        counts.append(Self.counts(token))
                        postings.append([])
                        inGroups.append(0)
                        firstUnits[NameScorer.soundClass(token[0]), default: []].insert(token[0])
                        maxLength = max(maxLength, token.count)
                    }
                    if seen.insert(token).inserted { postings[Int(id)].append(nameID) }
                    let key = Self.bucket(token[0], token.count)
                    let group = Group.of(joined: isJoinedToken, nameTokens: prepared.tokens.count)
                    if inGroups[Int(id)] & (1 << group) == 0 {
                        inGroups[Int(id)] |= 1 << group
                        groups[group][key, default: Bucket()].ids.append(id)
                        groups[group][key, default: Bucket()].counts.append(counts[Int(id)])
                    }
                }
            }
        }
        self.names = names
        self.units = units
        self.start = start
        self.length = length
        self.counts = counts
        self.postings = postings
        self.groups = groups
        self.firstUnits = firstUnits.mapValues { $0.sorted() }
        self.maxLength = maxLength
    }

    /// How many distinct tokens (and joined pairs) the index holds.
    public var tokenCount: Int { start.count }

    static func bucket(_ first: UInt32, _ length: Int) -> UInt64 {
        UInt64(first) << 32 | UInt64(length)
    }

    static func counts(_ token: [UInt32]) -> LetterCounts { LetterCounts(token) }

    /// Screens a subject: every entry whose score reaches `threshold`, highest score first.
    public func screen(person subject: ScreeningSubject, threshold: Double = Screener.defaultThreshold) -> [Hit] {
        var cache = TokenCache(limit: 0)
        return screen(subject, threshold: threshold, cache: &cache)
    }

    /// Screens many subjects (a re-screening after a list update), in order: the same answers as
    /// `screen(person:threshold:)` one by one, faster because the index lookup of each distinct token is
    /// remembered across subjects (customers share given names and surnames).
    public func screen(people subjects: [ScreeningSubject], threshold: Double = Screener.defaultThreshold) -> [[Hit]] {
        var cache = TokenCache(limit: 500_000)
        return subjects.map { screen($0, threshold: threshold, cache: &cache) }
    }

    /// Remembered token lookups: (token, token threshold) → the index's tokens that reach it.
    struct TokenCache {
        struct Key: Hashable {
            let token: [UInt32]
            let joined: Bool
            let subjectTokens: Int
            let threshold: UInt64
        }

        var found: [Key: [Int32]] = [:]
        let limit: Int

        init(limit: Int) { self.limit = limit }
    }

    func screen(_ subject: ScreeningSubject, threshold: Double, cache: inout TokenCache) -> [Hit] {
        let prepared = PreparedName(subject.name, normalizer: normalizer, organisation: subject.isOrganisation)
        guard !prepared.isEmpty else { return [] }
        let tokenThreshold = threshold - ScoreAdjustment.maximumRaise(for: subject)
        var candidates = Set<Int32>()
        let variants = prepared.tokens.map { ($0, false) } + prepared.joined.map { ($0, true) }
        for (token, isJoinedToken) in variants {
            let groups = Group.searched(joined: isJoinedToken, subjectTokens: prepared.tokens.count)
            func lookUp() -> [Int32] { matchingTokens(token, in: groups, atLeast: tokenThreshold) }
            let ids: [Int32]
            if cache.limit > 0 {
                let key = TokenCache.Key(
                    token: token,
                    joined: isJoinedToken,
                    subjectTokens: min(prepared.tokens.count, 5),
                    threshold: tokenThreshold.bitPattern
                )
                if let known = cache.found[key] {
                    ids = known
                } else {
                    ids = lookUp()
                    if cache.found.count >= cache.limit { cache.found.removeAll(keepingCapacity: true) }
                    cache.found[key] = ids
                }
            } else {
                ids = lookUp()
            }
            for id in ids { candidates.formUnion(postings[Int(id)]) }
        }
        return hits(subject, prepared, candidates: candidates.sorted(), threshold: threshold)
    }

    /// The same answer as `screen`, by scoring every name of every entry: the reference the index is
    /// tested against, and the cost it saves.
    public func screenByScanning(
        person subject: ScreeningSubject,
        threshold: Double = Screener.defaultThreshold
    ) -> [Hit] {
        let prepared = PreparedName(subject.name, normalizer: normalizer, organisation: subject.isOrganisation)
        guard !prepared.isEmpty else { return [] }
        return hits(subject, prepared, candidates: Array(0..<Int32(names.count)), threshold: threshold)
    }

    /// The tokens of the index, in the bucket groups given, whose pair score with `query` reaches
    /// `threshold`.
    ///
    /// Only buckets whose first character is in the query's sound class, and whose length could still
    /// reach the threshold, are looked at. In each, the fewest common characters a token needs is worked
    /// out once (`commonNeeded`), and a token is passed over when the lane-wise minimum of the letter counts
    /// says it has fewer: a few instructions per token. The few left are bounded again with their actual
    /// prefix (`pairBound`) and then scored.
    func matchingTokens(_ query: [UInt32], in searched: [Int], atLeast threshold: Double) -> [Int32] {
        guard let first = query.first, let members = firstUnits[NameScorer.soundClass(first)] else { return [] }
        var found: [Int32] = []
        let queryCounts = Self.counts(query)
        let queryLength = query.count
        query.withUnsafeBufferPointer { q in
            units.withUnsafeBufferPointer { all in
                start.withUnsafeBufferPointer { start in
                    func token(_ id: Int32, _ length: Int) -> UnsafeBufferPointer<UInt32> {
                        UnsafeBufferPointer(rebasing: all[Int(start[Int(id)])..<Int(start[Int(id)]) + length])
                    }
                    for member in members {
                        for group in searched {
                            for candidateLength in 1...max(1, maxLength) {
                                guard let bucket = groups[group][Self.bucket(member, candidateLength)] else { continue }
                                if queryLength == 1 || candidateLength == 1 {
                                    // Initials: scored outright (they only match their own letter).
                                    guard member == first else { continue }
                                    for id in bucket.ids
                                    where NameScorer.pairScore(q, token(id, candidateLength)) >= threshold {
                                        found.append(id)
                                    }
                                    continue
                                }
                                guard
                                    let needed = Self.commonNeeded(
                                        queryLength,
                                        candidateLength,
                                        sameFirst: member == first,
                                        threshold: threshold
                                    )
                                else { continue }
                                bucket.counts.withUnsafeBufferPointer { counts in
                                    for k in 0..<counts.count {
                                        if queryCounts.common(with: counts[k]) < needed { continue }
                                        let t = token(bucket.ids[k], candidateLength)
                                        if Self.pairBound(q, queryCounts, t, counts[k]) < threshold { continue }
                                        if NameScorer.pairScore(q, t) >= threshold { found.append(bucket.ids[k]) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return found
    }

    /// The fewest characters two tokens of these lengths (two or more each) must have in common for their
    /// pair score to reach `threshold`, taking the most favourable prefix (the full `maxPrefix` when the
    /// first characters are equal, none otherwise) and no transposition; nil when even all in common
    /// would not do.
    static func commonNeeded(_ a: Int, _ b: Int, sameFirst: Bool, threshold: Double) -> Int? {
        let factor = NameScorer.lengthFactor(a, b) * (sameFirst ? 1 : NameScorer.differentLetterPenalty)
        let prefix = sameFirst ? Double(min(min(a, b), JaroWinkler.maxPrefix)) : 0
        for m in 1...min(a, b) {
            var jaro = (Double(m) / Double(a) + Double(m) / Double(b) + 1.0) / 3.0
            if jaro > JaroWinkler.boostThreshold { jaro += prefix * JaroWinkler.prefixScale * (1.0 - jaro) }
            if jaro * factor >= threshold { return m }
        }
        return nil
    }

    /// An upper bound of `NameScorer.pairScore(a, b)` for tokens of two or more units: matches cannot
    /// exceed the characters the two have in common (as multisets); no transposition; the actual common
    /// prefix; the exact length and first-letter factors.
    static func pairBound(
        _ a: UnsafeBufferPointer<UInt32>,
        _ countsA: LetterCounts,
        _ b: UnsafeBufferPointer<UInt32>,
        _ countsB: LetterCounts
    ) -> Double {
        let shorter = min(a.count, b.count)
        let m = Double(min(countsA.common(with: countsB), shorter))
        if m == 0 { return 0 }
        var jaro = (m / Double(a.count) + m / Double(b.count) + 1.0) / 3.0
        if jaro > JaroWinkler.boostThreshold {
            let limit = min(shorter, JaroWinkler.maxPrefix)
            var prefix = 0
            while prefix < limit && a[prefix] == b[prefix] { prefix += 1 }
            jaro += Double(prefix) * JaroWinkler.prefixScale * (1.0 - jaro)
        }
        var bound = jaro * NameScorer.lengthFactor(a.count, b.count)
        if a[0] != b[0] { bound *= NameScorer.differentLetterPenalty }
        return bound
    }

    func hits(_ subject: ScreeningSubject, _ prepared: PreparedName, candidates: [Int32], threshold: Double) -> [Hit] {
        // The best-scoring name of each entry.
        var best: [Int32: (score: Double, name: Int32)] = [:]
        for nameID in candidates {
            let indexed = names[Int(nameID)]
            let isIndividual = entries[Int(indexed.entry)].type == .individual
            guard isIndividual != subject.isOrganisation else { continue }
            let score = NameScorer.score(prepared, indexed.name)
            if let known = best[indexed.entry], known.score >= score { continue }
            best[indexed.entry] = (score, nameID)
        }
        let subjectNationalities = Set(subject.nationalities.compactMap(Country.code))
        var hits: [Hit] = []
        for (entryIndex, match) in best {
            let entry = entries[Int(entryIndex)]
            var date: DateComparison?
            if let dob = subject.dateOfBirth, !entry.datesOfBirth.isEmpty {
                date = entry.datesOfBirth.map { $0.compare(with: dob) }.min()
            }
            var nationality: NationalityComparison?
            if !subjectNationalities.isEmpty && !entry.nationalities.isEmpty {
                nationality = subjectNationalities.isDisjoint(with: entry.nationalities) ? .differs : .same
            }
            let score = min(1.0, max(0.0, match.score + ScoreAdjustment.adjustment(date, nationality)))
            guard score >= threshold else { continue }
            let indexed = names[Int(match.name)]
            hits.append(
                Hit(
                    score: score,
                    nameScore: match.score,
                    entry: entry,
                    matchedName: indexed.name.text,
                    matchedAlias: indexed.isAlias,
                    dateOfBirth: date,
                    nationality: nationality,
                    reason: Self.reason(subject, indexed, match.score, date, nationality, entry, subjectNationalities)
                )
            )
        }
        return hits.sorted { ($0.score, $1.entry.uid) > ($1.score, $0.entry.uid) }
    }

    static func reason(
        _ subject: ScreeningSubject,
        _ indexed: IndexedName,
        _ nameScore: Double,
        _ date: DateComparison?,
        _ nationality: NationalityComparison?,
        _ entry: SanctionEntry,
        _ subjectNationalities: Set<String>
    ) -> String {
        var parts = [
            "name '\(subject.name)' ~ \(indexed.isAlias ? "alias" : "name") '\(indexed.name.text)' "
                + String(format: "%.2f", nameScore)
        ]
        let listed = entry.datesOfBirth.map(\.description).joined(separator: ", ")
        switch date {
        case .same: parts.append("DOB matches (\(listed))")
        case .sameYear: parts.append("DOB year matches (\(listed))")
        case .differs: parts.append("DOB differs (\(subject.dateOfBirth.map(\.description) ?? "") vs \(listed))")
        case nil: break
        }
        let theirs = entry.nationalities.joined(separator: ", ")
        switch nationality {
        case .same: parts.append("nationality matches (\(theirs))")
        case .differs:
            parts.append("nationality differs (\(subjectNationalities.sorted().joined(separator: ", ")) vs \(theirs))")
        case nil: break
        }
        return parts.joined(separator: "; ")
    }
}

/// How many times each letter a-z occurs in a token (bytes 0-25), everything else counted in 6 shared
/// bytes (equal units land in equal bytes), in four words, each count capped at 127. The byte-wise minimum
/// of two tokens' counts, summed, bounds how many characters they have in common.
struct LetterCounts: Sendable, Hashable {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// The token's length, when it is under 255 (the sum of the minimums is exact only then).
    var small: Bool = true

    init(_ token: [UInt32]) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for unit in token {
            let lane = (0x61...0x7A).contains(unit) ? Int(unit - 0x61) : 26 + Int(unit % 6)
            if bytes[lane] < 127 { bytes[lane] += 1 }
        }
        func word(_ k: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[k * 8 + $1]) << UInt64($1 * 8) }
        }
        words = (word(0), word(1), word(2), word(3))
        small = token.count < 255
    }

    static func == (a: Self, b: Self) -> Bool {
        a.words == b.words && a.small == b.small
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// The sum of the byte-wise minimums (an upper bound of the characters in common); `Int.max` when
    /// either token is too long for the sum to be exact.
    @inline(__always)
    func common(with other: Self) -> Int {
        guard small && other.small else { return Int.max }
        return Self.minSum(words.0, other.words.0) + Self.minSum(words.1, other.words.1)
            + Self.minSum(words.2, other.words.2) + Self.minSum(words.3, other.words.3)
    }

    /// Sum over the eight bytes of min(a, b), for bytes under 128 (SWAR: a byte's high bit after
    /// (a | 0x80) - b says a >= b, with no borrow between bytes).
    @inline(__always)
    static func minSum(_ a: UInt64, _ b: UInt64) -> Int {
        let high: UInt64 = 0x8080_8080_8080_8080
        let aAtLeastB = (((a | high) &- b) & high) >> 7
        let mask = aAtLeastB &* 0xFF
        let minimum = (b & mask) | (a & ~mask)
        return Int((minimum &* 0x0101_0101_0101_0101) >> 56)
    }
}

/// A name ready to be scored: its tokens as units (one per Unicode scalar: after normalisation, with the
/// combining marks gone, that is one per character), and each pair of adjacent tokens joined.
public struct PreparedName: Sendable, Hashable {
    public let text: String
    let tokens: [[UInt32]]
    let joined: [[UInt32]]

    /// Tokens past this many are ignored (no real name has as many; it bounds the work a hostile input can cause).
    public static let maxTokens = 24

    public init(_ text: String, normalizer: NameNormalizer = NameNormalizer(), organisation: Bool = false) {
        self.text = text
        let tokens = normalizer.tokens(text, organisation: organisation).prefix(Self.maxTokens).map {
            $0.unicodeScalars.map(\.value)
        }
        self.tokens = tokens
        self.joined = tokens.count < 2 ? [] : (0..<(tokens.count - 1)).map { tokens[$0] + tokens[$0 + 1] }
    }

    /// The normalised tokens.
    public var tokenStrings: [String] {
        tokens.map { units in String(String.UnicodeScalarView(units.compactMap(Unicode.Scalar.init))) }
    }

    var isEmpty: Bool { tokens.isEmpty }
}

/// Scores two names, in the way moov-io/watchman's `BestPairsJaroWinkler` does
/// (internal/stringscore/jaro_winkler.go), with the changes noted:
///
/// 1. Token pairs: every token of the shorter name (fewer tokens; the subject's on a tie) against every
///    token of the other, scored by `pairScore`: Jaro-Winkler, times 1 - (1 - ratio) * 0.3 when the
///    shorter token is under 0.9 of the longer one's length, times 0.9 when the first letters differ.
///    Pairs whose first letters are in different sound classes are not compared (watchman's
///    first-character Soundex filter; the classes here also join v/w and the vowels with h and y, for
///    transliterations such as Wladimir / Vladimir and Usama / Osama). A one-letter token (an initial)
///    scores `initialScore` against a token starting with that letter.
/// 2. Best pairs: taken greedily, highest first, each token used once; averaged weighted by the two
///    tokens' lengths over the whole shorter name plus the matched part of the other, so an unmatched
///    token of the shorter name counts as 0.
/// 3. The other name's unmatched tokens scale the result by 1 - unmatchedFraction * 0.15 ("John Doe"
///    matches "John Doe" better than "John Bartholomew Doe"); by 0.5 instead of 0.15 when the shorter
///    name is a single token, so a lone surname does not match everyone who bears it (a change from
///    watchman).
/// 4. Split and joined names: when the token counts differ, each pair of adjacent tokens of the longer
///    name is also tried joined ("Abdul Rahman" ~ "Abdulrahman", "Al Hassan" ~ "Alhassan"), the best
///    score kept (a change from watchman).
///
/// Every name score is at most the best single pair score involved (a weighted average scaled down),
/// which is what lets `Screener` look at candidates only and still find everything a scan would.
public enum NameScorer {
    public static let initialScore = 0.85
    public static let lengthCutoff = 0.9
    public static let lengthPenaltyWeight = 0.3
    public static let differentLetterPenalty = 0.9
    public static let unmatchedWeight = 0.15
    public static let singleTokenUnmatchedWeight = 0.5

    /// The score of a subject's name against a listed name, in 0...1.
    public static func score(_ subject: PreparedName, _ listed: PreparedName) -> Double {
        if subject.tokens.isEmpty || listed.tokens.isEmpty { return 0 }
        var best = bestPairs(subject.tokens, listed.tokens)
        if best >= 1 { return best }
        if subject.tokens.count > listed.tokens.count {
            for i in subject.joined.indices {
                best = max(best, bestPairs(replacing(subject.tokens, at: i, with: subject.joined[i]), listed.tokens))
            }
        } else if listed.tokens.count > subject.tokens.count {
            for i in listed.joined.indices {
                best = max(best, bestPairs(subject.tokens, replacing(listed.tokens, at: i, with: listed.joined[i])))
            }
        }
        return best
    }

    static func replacing(_ tokens: [[UInt32]], at i: Int, with joined: [UInt32]) -> [[UInt32]] {
        var out = tokens
        out.replaceSubrange(i...(i + 1), with: [joined])
        return out
    }

    /// The sound class of a token's first unit: tokens in different classes are never compared.
    @inlinable
    static func soundClass(_ unit: UInt32) -> UInt32 {
        switch unit {
        case 0x61, 0x65, 0x69, 0x6F, 0x75, 0x79, 0x68: return 0  // a e i o u y h
        case 0x62, 0x70, 0x66, 0x76, 0x77: return 1  // b p f v w
        case 0x63, 0x6B, 0x71, 0x73, 0x7A, 0x78, 0x67, 0x6A: return 2  // c k q s z x g j
        case 0x64, 0x74: return 3  // d t
        case 0x6C: return 4  // l
        case 0x6D, 0x6E: return 5  // m n
        case 0x72: return 6  // r
        default: return 16 + unit
        }
    }

    /// The score of one token pair (see the type's description); 0 for tokens never compared.
    @inlinable
    static func pairScore(_ a: UnsafeBufferPointer<UInt32>, _ b: UnsafeBufferPointer<UInt32>) -> Double {
        guard let fa = a.first, let fb = b.first, soundClass(fa) == soundClass(fb) else { return 0 }
        if a.count == 1 || b.count == 1 {
            if a.count == b.count { return fa == fb ? 1 : 0 }
            return fa == fb ? initialScore : 0
        }
        if a.count == b.count && a.elementsEqual(b) { return 1 }
        var score = JaroWinkler.similarity(a, b)
        score *= lengthFactor(a.count, b.count)
        if fa != fb { score *= differentLetterPenalty }
        return score
    }

    @inlinable
    static func lengthFactor(_ a: Int, _ b: Int) -> Double {
        let ratio = Double(min(a, b)) / Double(max(a, b))
        return ratio < lengthCutoff ? 1.0 - (1.0 - ratio) * lengthPenaltyWeight : 1.0
    }

    /// watchman's BestPairsJaroWinkler over two token lists (see the type's description).
    static func bestPairs(_ first: [[UInt32]], _ second: [[UInt32]]) -> Double {
        let (search, indexed) = first.count <= second.count ? (first, second) : (second, first)
        let pairCount = search.count * indexed.count
        return withUnsafeTemporaryAllocation(of: (Double, Int32, Int32).self, capacity: pairCount) { pairs in
            var n = 0
            for (s, searchToken) in search.enumerated() {
                for (i, indexToken) in indexed.enumerated() {
                    let score = searchToken.withUnsafeBufferPointer { sa in
                        indexToken.withUnsafeBufferPointer { ib in pairScore(sa, ib) }
                    }
                    guard score > 0 else { continue }
                    // Insertion by score, highest first; ties keep the order of discovery.
                    var k = n
                    while k > 0 && pairs[k - 1].0 < score {
                        pairs[k] = pairs[k - 1]
                        k -= 1
                    }
                    pairs[k] = (score, Int32(s), Int32(i))
                    n += 1
                }
            }
            var searchLength = 0
            for token in search { searchLength += token.count }
            var indexLength = 0
            for token in indexed { indexLength += token.count }
            var usedSearch: UInt64 = 0
            var usedIndex: UInt64 = 0
            var total = 0.0
            var matchedIndexLength = 0
            for p in 0..<n {
                let (score, s, i) = pairs[p]
                guard s < 64, i < 64 else { continue }
                let sBit: UInt64 = 1 << UInt64(s)
                let iBit: UInt64 = 1 << UInt64(i)
                if usedSearch & sBit != 0 || usedIndex & iBit != 0 { continue }
                usedSearch |= sBit
                usedIndex |= iBit
                let indexTokenLength = indexed[Int(i)].count
                total += score * Double(search[Int(s)].count + indexTokenLength)
                matchedIndexLength += indexTokenLength
            }
            guard searchLength + matchedIndexLength > 0, indexLength > 0 else { return 0 }
            let average = total / Double(searchLength + matchedIndexLength)
            let matchedFraction = Double(matchedIndexLength) / Double(indexLength)
            let weight = search.count == 1 && indexed.count > 1 ? singleTokenUnmatchedWeight : unmatchedWeight
            return average * (1.0 - (1.0 - matchedFraction) * weight)
        }
    }
}

import Foundation

/// Turns a name as written into the tokens that are compared.
///
/// - case folded, accents removed (compatibility decomposition, combining marks dropped), letters with
///   no decomposition spelled out (ß → ss, æ → ae, ø → o, ł → l, đ → d, þ → th, ı → i);
/// - apostrophes join ("O'Brien" → obrien); every other punctuation or space separates
///   ("Al-Hassan" → al hassan; the scorer also tries adjacent tokens joined, so "Alhassan" still matches);
/// - honorifics and titles dropped (mr, mrs, dr, prof, sir, sheikh, haji, general, ...), as are
///   generational suffixes (jr, sr, ii, iii);
/// - for organisations, legal-form suffixes (ltd, llc, gmbh, jsc, ...) are dropped when
///   `dropCompanySuffixes` is set, and the connecting words "the", "and", "of".
///
/// Word order is not kept as meaning: the scorer compares tokens as sets.
public struct NameNormalizer: Sendable {
    public var dropCompanySuffixes: Bool

    public init(dropCompanySuffixes: Bool = true) {
        self.dropCompanySuffixes = dropCompanySuffixes
    }

    /// Titles and honorifics that are not part of a name.
    public static let honorifics: Set<String> = [
        "mr", "mrs", "ms", "miss", "mx", "dr", "doctor", "prof", "professor", "sir", "dame", "lord", "lady",
        "sheikh", "sheik", "shaikh", "shaykh", "haji", "hajji", "hadji", "hajj", "alhaji", "alhaj", "mullah",
        "mulla", "maulana", "imam", "ayatollah", "sayyid", "sayed", "syed", "gen", "general", "col", "colonel",
        "maj", "major", "capt", "captain", "lt", "lieutenant", "sgt", "sergeant", "adm", "admiral", "cmdr",
        "rev", "reverend", "hon", "honourable", "honorable", "mme", "mlle", "herr", "frau", "sra", "srta",
        "jr", "jnr", "sr", "snr", "ii", "iii", "engr", "eng", "ing", "dipl", "hrh", "his", "her", "excellency",
    ]

    /// Legal-form suffixes of organisations.
    public static let companySuffixes: Set<String> = [
        "ltd", "limited", "llc", "inc", "incorporated", "co", "corp", "corporation", "company", "gmbh", "ag",
        "sa", "sarl", "srl", "spa", "plc", "bv", "nv", "oy", "ab", "jsc", "ojsc", "pjsc", "cjsc", "ooo", "zao",
        "oao", "pao", "ao", "llp", "lp", "pte", "pty", "bhd", "sdn", "fze", "fzco", "fzc", "fzllc", "kg", "se",
        "sas", "establishment", "est", "group", "holding", "holdings", "the", "and", "of",
    ]

    /// The tokens of a name, in the order written.
    public func tokens(_ name: String, organisation: Bool = false) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            guard !current.isEmpty else { return }
            tokens.append(String(current))
            current = String.UnicodeScalarView()
        }
        for scalar in name.decomposedStringWithCompatibilityMapping.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark, .format:
                continue
            default:
                break
            }
            if scalar == "'" || scalar == "\u{2019}" || scalar == "\u{2018}" || scalar == "`" || scalar == "\u{02BC}"
                || scalar == "\u{02BF}" || scalar == "\u{02BE}"
            {
                continue
            }
            if let spelled = Self.spelledOut[scalar] {
                current.append(contentsOf: spelled.unicodeScalars)
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                for lower in scalar.properties.lowercaseMapping.unicodeScalars {
                    current.append(lower)
                }
            } else {
                flush()
            }
        }
        flush()
        return tokens.filter { token in
            !Self.honorifics.contains(token)
                && !(organisation && dropCompanySuffixes && Self.companySuffixes.contains(token))
        }
    }

    /// Letters with no canonical decomposition, spelled in Latin letters.
    static let spelledOut: [Unicode.Scalar: String] = [
        "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
        "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "ħ": "h", "Ħ": "h", "ŧ": "t",
        "Ŧ": "t", "ŋ": "ng", "Ŋ": "ng", "ĸ": "k",
    ]
}

/// Splits a SQL script into its statements, so each can be sent with the extended protocol (which
/// takes one statement at a time). Understands what can hide a semicolon: single-quoted strings
/// (with '' escapes), double-quoted identifiers, dollar-quoted bodies ($$ … $$, $tag$ … $tag$),
/// line comments and nested block comments.
public enum SQLScript {
    public struct SplitError: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { self.reason }
    }

    public static func statements(_ script: String) throws(SplitError) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0
        var hasCode = false

        func flush() {
            let text = String(current).trimmingWhitespace()
            if hasCode && !text.isEmpty { statements.append(text) }
            current = String.UnicodeScalarView()
            hasCode = false
        }

        while index < chars.count {
            let c = chars[index]
            let next: Unicode.Scalar? = index + 1 < chars.count ? chars[index + 1] : nil
            switch c {
            case "-" where next == "-":
                while index < chars.count && chars[index] != "\n" {
                    current.append(chars[index])
                    index += 1
                }
                continue
            case "/" where next == "*":
                var depth = 0
                repeat {
                    if index + 1 < chars.count && chars[index] == "/" && chars[index + 1] == "*" {
                        depth += 1
                        current.append(chars[index])
                        current.append(chars[index + 1])
                        index += 2
                    } else if index + 1 < chars.count && chars[index] == "*" && chars[index + 1] == "/" {
                        depth -= 1
                        current.append(chars[index])
                        current.append(chars[index + 1])
                        index += 2
                    } else if index < chars.count {
                        current.append(chars[index])
                        index += 1
                    } else {
                        throw SplitError(reason: "a block comment is not closed")
                    }
                } while depth > 0
                continue
            case "'", "\"":
                hasCode = true
                current.append(c)
                index += 1
                while true {
                    guard index < chars.count else {
                        throw SplitError(reason: "a \(c == "'" ? "string" : "quoted identifier") is not closed")
                    }
                    current.append(chars[index])
                    if chars[index] == c {
                        if index + 1 < chars.count && chars[index + 1] == c {
                            current.append(chars[index + 1])
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    index += 1
                }
                continue
            case "$":
                // A dollar quote is $tag$ where tag is empty or an identifier; $1 is a parameter.
                var end = index + 1
                while end < chars.count
                    && (chars[end].properties.isAlphabetic || chars[end] == "_"
                        || (end > index + 1 && chars[end].properties.numericType != nil))
                {
                    end += 1
                }
                if end < chars.count && chars[end] == "$" {
                    let tag = Array(chars[index...end])
                    hasCode = true
                    current.append(contentsOf: tag)
                    index = end + 1
                    while true {
                        guard index < chars.count else {
                            throw SplitError(
                                reason: "a dollar-quoted body \(String(String.UnicodeScalarView(tag))) is not closed"
                            )
                        }
                        if chars[index] == "$" && index + tag.count <= chars.count
                            && Array(chars[index..<(index + tag.count)]) == tag
                        {
                            current.append(contentsOf: tag)
                            index += tag.count
                            break
                        }
                        current.append(chars[index])
                        index += 1
                    }
                    continue
                }
                hasCode = true
                current.append(c)
                index += 1
            case ";":
                flush()
                index += 1
            default:
                if !c.properties.isWhitespace { hasCode = true }
                current.append(c)
                index += 1
            }
        }
        flush()
        return statements
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

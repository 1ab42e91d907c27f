/// The TLV payload of field 48 in administrative messages (0600/0610): a sequence of elements, each a
/// 2-character tag (uppercase letters and digits), a 3-digit length and that many characters of value
/// (printable ASCII). A tag may repeat (list entries); order is kept.
///
///     OP006CREATECN012Ada Lovelace  ->  [(OP, CREATE), (CN, Ada Lovelace)]
public struct ATM87TLV: Sendable, Hashable, CustomStringConvertible {
    public struct Element: Sendable, Hashable {
        public var tag: String
        public var value: String

        public init(_ tag: String, _ value: String) {
            self.tag = tag
            self.value = value
        }
    }

    public var elements: [Element]

    /// Tags whose values are secrets (an enciphered password, a PIN block, the code blocks of the staff
    /// second factor: one-time and enrolment codes, a new secret, recovery codes): shown only by length.
    public static let secretTags: Set<String> = [
        AdminTag.password.rawValue, AdminTag.pinBlock.rawValue, AdminTag.oneTimeCode.rawValue,
        AdminTag.enrolmentCode.rawValue, AdminTag.secret.rawValue, AdminTag.recoveryCodes.rawValue,
        // Know your customer: the document number's block, and the personal data a log need not hold.
        AdminTag.documentNumber.rawValue, AdminTag.birthDate.rawValue, AdminTag.address.rawValue,
    ]

    public init(_ elements: [Element] = []) {
        self.elements = elements
    }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var offset: Int
        public var detail: String
        public var description: String { "field 48 TLV at offset \(self.offset): \(self.detail)" }
    }

    public init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        var elements: [Element] = []
        var index = 0
        while index < bytes.count {
            guard index + 5 <= bytes.count else {
                throw ParseError(offset: index, detail: "an element needs a 2-character tag and a 3-digit length")
            }
            let tag = bytes[index..<index + 2]
            guard tag.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }) else {
                throw ParseError(offset: index, detail: "a tag is 2 uppercase letters or digits")
            }
            let digits = bytes[index + 2..<index + 5]
            guard digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw ParseError(offset: index + 2, detail: "a length is 3 digits")
            }
            let length = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard index + 5 + length <= bytes.count else {
                throw ParseError(offset: index + 2, detail: "length \(length) runs past the end")
            }
            elements.append(
                Element(
                    String(decoding: tag, as: UTF8.self),
                    String(decoding: bytes[index + 5..<index + 5 + length], as: UTF8.self)
                )
            )
            index += 5 + length
        }
        self.elements = elements
    }

    /// The first value of a tag.
    public subscript(tag: String) -> String? {
        self.elements.first { $0.tag == tag }?.value
    }

    /// Every value of a tag, in order.
    public func all(_ tag: String) -> [String] {
        self.elements.filter { $0.tag == tag }.map(\.value)
    }

    public mutating func append(_ tag: String, _ value: String) {
        self.elements.append(Element(tag, value))
    }

    /// The wire form. Values longer than 999 characters cannot be encoded; field 48 itself holds 999.
    public var encoded: String {
        var out = ""
        for element in self.elements {
            let count = element.value.utf8.count
            out += element.tag
            out += String(repeating: "0", count: max(0, 3 - String(count).count)) + String(count)
            out += element.value
        }
        return out
    }

    /// The encoded length of one more element with this value.
    public static func cost(of value: String) -> Int { 5 + value.utf8.count }

    /// Masked for logs: secret tags by length only.
    public var description: String {
        self.elements.map { element in
            Self.secretTags.contains(element.tag)
                ? "\(element.tag)=<redacted \(element.value.utf8.count) chars>" : "\(element.tag)=\(element.value)"
        }.joined(separator: " ")
    }
}

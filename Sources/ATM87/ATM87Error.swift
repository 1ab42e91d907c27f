/// Why a message could not be decoded or a field could not be set.
///
/// Compared by `code` in tests, like postgres-nio's `PSQLError`; the other properties say where.
public struct ATM87Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case truncated
            case invalidMTI
            case invalidBitmap
            case invalidLengthDigits
            case lengthOutOfRange
            case invalidCharacter
            case fieldNotInSpec
            case leftoverBytes
            case messageTooLong
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The message ended inside the MTI, a bitmap, a length or a field ("short field").
        public static let truncated = Code(.truncated)
        /// The MTI is not four ASCII digits.
        public static let invalidMTI = Code(.invalidMTI)
        /// A bitmap is not 16 uppercase hexadecimal characters, or a secondary bitmap is empty.
        public static let invalidBitmap = Code(.invalidBitmap)
        /// A variable field's length prefix is not ASCII digits.
        public static let invalidLengthDigits = Code(.invalidLengthDigits)
        /// A length (declared or given) is above the field's maximum, or a fixed field's value is longer.
        public static let lengthOutOfRange = Code(.lengthOutOfRange)
        /// A character is not allowed by the field's format.
        public static let invalidCharacter = Code(.invalidCharacter)
        /// The bitmap names a field the dialect does not define (or field 1 is set as a field).
        public static let fieldNotInSpec = Code(.fieldNotInSpec)
        /// Bytes remain after the last field the bitmap names.
        public static let leftoverBytes = Code(.leftoverBytes)
        /// The message is longer than the 8,192 bytes a frame may carry.
        public static let messageTooLong = Code(.messageTooLong)

        public var description: String { self.base.rawValue }
    }

    public var code: Code
    /// The field concerned; `nil` for the MTI, the bitmaps and the message as a whole.
    public var field: Int?
    /// The byte offset in the message (after the length prefix) where the problem was found.
    public var offset: Int?
    /// A human-readable detail: what was expected and what was found. Never a field's value.
    public var detail: String
    /// The message type, when it could be read before the error.
    public var mti: MTI?
    /// The systems trace audit number (field 11), when it could be read before the error.
    public var stan: String?

    public init(
        code: Code,
        field: Int? = nil,
        offset: Int? = nil,
        detail: String,
        mti: MTI? = nil,
        stan: String? = nil
    ) {
        self.code = code
        self.field = field
        self.offset = offset
        self.detail = detail
        self.mti = mti
        self.stan = stan
    }

    public var description: String {
        var text = "ATM-87 \(self.code)"
        if let field = self.field { text += " in field \(field)" }
        if let offset = self.offset { text += " at byte \(offset)" }
        text += ": \(self.detail)"
        return text
    }
}

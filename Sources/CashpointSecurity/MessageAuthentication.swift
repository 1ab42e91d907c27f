public import ATM87
public import Crypto

/// The MAC of a whole ATM-87 message (field 64, or field 128 when the message has a secondary bitmap or
/// its type does not carry field 64, as a 0510).
///
/// The MAC field is set first (so its bitmap bit is set), the message is encoded (without the 2-byte
/// length prefix), and the MAC is AES-CMAC under the session MAC key, truncated to 8 bytes, over every
/// byte of the encoding except the MAC field's own 16 hex characters, which are always the last ones.
public enum MessageAuthentication {
    /// The field that carries this message's MAC: 128 when the message has a secondary bitmap without
    /// it, or when the message type allows 128 but not 64 (0510); otherwise 64.
    public static func macField(of message: ATM87Message) -> Int {
        // A secondary bitmap without field 128: some field 65-127 is present (checked on the bitmap, not
        // on a copy of the message with the MAC fields removed).
        if message.hasSecondaryBitmap, (65...127).contains(where: message.contains) { return 128 }
        if let rule = ATM87Spec.message(message.mti), !rule.allowedFields.contains(64),
            rule.allowedFields.contains(128)
        {
            return 128
        }
        return 64
    }

    /// The message with its MAC set.
    public static func sign(_ message: ATM87Message, key: SymmetricKey) throws -> ATM87Message {
        var signed = message
        signed.remove(64)
        signed.remove(128)
        let field = self.macField(of: signed)
        try signed.set(field, bytes: [UInt8](repeating: 0, count: MessageMAC.length))
        let bytes = signed.encodedBytes
        let mac = try MessageMAC.compute(over: bytes.dropLast(2 * MessageMAC.length), key: key)
        try signed.set(field, bytes: mac)
        return signed
    }

    public enum Failure: String, Sendable, Hashable {
        case missing = "no MAC"
        case misplaced = "the MAC is in the wrong field (64 with a secondary bitmap, 128 without, or both)"
        case wrong = "the MAC does not verify under the session MAC key"
    }

    /// Checks a message's MAC; nil when it verifies.
    public static func verify(_ message: ATM87Message, key: SymmetricKey) -> Failure? {
        let has64 = message.contains(64)
        let has128 = message.contains(128)
        guard has64 || has128 else { return .missing }
        let expected = self.macField(of: message)
        guard !(has64 && has128), message.contains(expected), let mac = message.binary(expected) else {
            return .misplaced
        }
        let bytes = message.encodedBytes
        return MessageMAC.verify(mac, over: bytes.dropLast(2 * MessageMAC.length), key: key) ? nil : .wrong
    }
}

import ATM87
import NIOCore
import Testing

@Suite("ATM-87 codec")
struct CodecTests {
    @Test("every documented example survives encode and decode unchanged, byte for byte")
    func examplesRoundTrip() throws {
        let examples = try exampleMessages()
        #expect(examples.count >= 13)
        for (id, message) in examples {
            let encoded = message.encoded()
            #expect(encoded.readableBytes == message.encodedLength, "\(id)")
            let decoded = try ATM87Message(decoding: encoded)
            #expect(decoded == message, "\(id)")
            #expect(Array(decoded.encoded().readableBytesView) == Array(encoded.readableBytesView), "\(id)")
        }
    }

    @Test("every message type of the spec is covered by an example", arguments: ATM87Spec.messages.map(\.mti))
    func everyMessageType(mti: MTI) throws {
        let examples = try exampleMessages()
        #expect(examples.contains { $0.message.mti == mti }, "no example for \(mti)")
    }

    @Test("the wire layout of a small message is exactly ISO 8583:1987 ASCII")
    func exactLayout() throws {
        var message = ATM87Message(mti: .networkManagementRequest)
        try message.set(7, "1125093015")
        try message.set(11, number: 1)
        try message.set(41, "ATM1")
        try message.set(70, "001")
        let text = String(decoding: message.encoded().readableBytesView, as: UTF8.self)
        // Bit 1 (secondary bitmap), 7, 11 -> 0x82200000; 41 -> byte 6 = 0x80; secondary: 70 -> 0x04.
        #expect(text == "0800" + "8220000000800000" + "0400000000000000" + "1125093015" + "000001" + "ATM1    " + "001")
    }

    @Test("variable fields carry their length digits")
    func variableFields() throws {
        var message = ATM87Message(mti: .financialRequest)
        try message.set(2, "4761739001010119")
        try message.set(48, "AB")
        let text = String(decoding: message.encoded().readableBytesView, as: UTF8.self)
        #expect(text.hasSuffix("164761739001010119" + "002AB"))
        let decoded = try ATM87Message(decoding: message.encoded())
        #expect(decoded[2] == "4761739001010119")
        #expect(decoded[48] == "AB")
    }

    @Test("fixed fields are padded: numbers with zeros on the left, text with spaces on the right")
    func padding() throws {
        var message = ATM87Message(mti: .financialRequest)
        try message.set(4, "100")
        try message.set(41, "T1")
        try message.set(97, "C5")
        #expect(message[4] == "000000000100")
        #expect(message[41] == "T1      ")
        #expect(message.trimmed(41) == "T1")
        #expect(message[97] == "C0000000000000005")
        #expect(message.integer(4) == 100)
    }

    @Test("binary fields take bytes or hex and travel as uppercase hex")
    func binaryFields() throws {
        var message = ATM87Message(mti: .financialRequest)
        try message.set(64, bytes: [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03])
        #expect(message[64] == "DEADBEEF00010203")
        #expect(message.binary(64) == [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02, 0x03])
        try message.set(64, "abcdef0123456789")
        #expect(message[64] == "ABCDEF0123456789")
    }

    @Test("setting a field again replaces it; removing it drops it from the bitmap")
    func replaceAndRemove() throws {
        var message = ATM87Message(mti: .financialRequest)
        try message.set(11, "000001")
        try message.set(11, "000002")
        try message.set(102, "ACC")
        #expect(message[11] == "000002")
        #expect(message.fieldNumbers == [11, 102])
        #expect(message.hasSecondaryBitmap)
        message.remove(102)
        #expect(!message.hasSecondaryBitmap)
        let decoded = try ATM87Message(decoding: message.encoded())
        #expect(decoded.fieldNumbers == [11])
        #expect(decoded[11] == "000002")
    }

    @Test(
        "a value the field's format forbids is refused and changes nothing",
        arguments: [
            (2, "47617390010101190000", ATM87Error.Code.lengthOutOfRange),
            (2, "4761-7390", .invalidCharacter),
            (3, "01000A", .invalidCharacter),
            (4, "1234567890123", .lengthOutOfRange),
            (35, "4761739001010119=2512X", .invalidCharacter),
            (39, "0!", .invalidCharacter),
            (41, "TERM\u{7F}", .invalidCharacter),
            (52, "XYZ", .lengthOutOfRange),
            (52, "ZZ6C29F05BE1D47C8892AB10FE4C6D21", .invalidCharacter),
            (52, "3A6C", .lengthOutOfRange),
            (97, "X0000000000000005", .invalidCharacter),
            (1, "0", .fieldNotInSpec),
            (5, "0", .fieldNotInSpec),
            (129, "0", .fieldNotInSpec),
        ] as [(Int, String, ATM87Error.Code)]
    )
    func refusedValues(field: Int, value: String, code: ATM87Error.Code) throws {
        var message = ATM87Message(mti: .financialRequest)
        try message.set(11, "000001")
        let before = message
        let error = #expect(throws: ATM87Error.self) { try message.set(field, value) }
        #expect(error?.code == code)
        #expect(error?.field == field)
        #expect(message == before)
    }

    @Test("MTI text form")
    func mti() {
        #expect(MTI("0200") == .financialRequest)
        #expect(MTI("200") == nil)
        #expect(MTI("02A0") == nil)
        #expect(MTI.financialResponse.description == "0210")
        #expect(MTI.financialResponse.isResponse)
        #expect(!MTI.reversalAdviceRepeat.isResponse)
        #expect(MTI.reversalAdvice.messageClass == 4)
    }

    @Test("makeResponse echoes exactly the fields the response type echoes")
    func makeResponse() throws {
        let request = try typicalWithdrawal()
        var response = try request.makeResponse()
        #expect(response.mti == .financialResponse)
        try response.set(39, "00")
        try response.set(128, "0000000000000000")
        #expect(ATM87Rules.check(response: response, to: request).isEmpty)
        #expect(response[52] == nil)
    }
}

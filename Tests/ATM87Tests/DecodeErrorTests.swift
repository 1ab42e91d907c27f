import ATM87
import Testing

/// Every way a message can be broken, with the error code, field and byte offset it must give.
@Suite("ATM-87 decode errors")
struct DecodeErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var input: String
        var code: ATM87Error.Code
        var field: Int?
        var offset: Int?
        var testDescription: String { self.name }
    }

    // 0800 with fields 7, 11, 41 and 70 (secondary bitmap): the valid base the cases break.
    static let valid = "0800" + "8220000000800000" + "0400000000000000" + "1125093015" + "000001" + "ATM1    " + "001"

    static let cases: [Case] = [
        Case(name: "empty", input: "", code: .truncated, field: nil, offset: 0),
        Case(name: "short MTI", input: "080", code: .truncated, field: nil, offset: 3),
        Case(name: "MTI not digits", input: "08A0" + "0000000000000000", code: .invalidMTI, field: nil, offset: 2),
        Case(name: "short bitmap", input: "0800" + "82200000", code: .truncated, field: nil, offset: 4),
        Case(
            name: "lowercase bitmap",
            input: "0800" + "822000000080000a",
            code: .invalidBitmap,
            field: nil,
            offset: 19
        ),
        Case(name: "non-hex bitmap", input: "0800" + "82G0000000800000", code: .invalidBitmap, field: nil, offset: 6),
        Case(
            name: "missing secondary bitmap",
            input: "0800" + "8220000000800000" + "04",
            code: .truncated,
            field: nil,
            offset: 20
        ),
        Case(
            name: "empty secondary bitmap",
            input: "0800" + "8220000000800000" + "0000000000000000",
            code: .invalidBitmap,
            field: nil,
            offset: 20
        ),
        Case(
            name: "short fixed field",
            input: "0800" + "0200000000000000" + "11250930",
            code: .truncated,
            field: 7,
            offset: 20
        ),
        Case(
            name: "letter in numeric field",
            input: "0800" + "0200000000000000" + "11250930X5",
            code: .invalidCharacter,
            field: 7,
            offset: 28
        ),
        Case(
            name: "field not in spec (5)",
            input: "0800" + "0800000000000000" + "000000000000",
            code: .fieldNotInSpec,
            field: 5,
            offset: 20
        ),
        Case(
            name: "field not in spec (1 without secondary is fine, 66 is not)",
            input: "0800" + "8000000000000000" + "4000000000000000",
            code: .fieldNotInSpec,
            field: 66,
            offset: 36
        ),
        Case(name: "leftover bytes", input: valid + "XYZ", code: .leftoverBytes, field: nil, offset: valid.utf8.count),
        Case(
            name: "bad LLVAR length digit",
            input: "0200" + "4000000000000000" + "1A4761739001010119",
            code: .invalidLengthDigits,
            field: 2,
            offset: 21
        ),
        Case(
            name: "LLVAR length above maximum",
            input: "0200" + "4000000000000000" + "20" + "47617390010101190000",
            code: .lengthOutOfRange,
            field: 2,
            offset: 20
        ),
        Case(
            name: "LLVAR cut short",
            input: "0200" + "4000000000000000" + "16" + "4761739",
            code: .truncated,
            field: 2,
            offset: 22
        ),
        Case(
            name: "LLVAR length digits cut short",
            input: "0200" + "4000000000000000" + "1",
            code: .truncated,
            field: 2,
            offset: 20
        ),
        Case(
            name: "LLLVAR length above maximum",
            input: "0200" + "0000000000010000" + "999",
            code: .truncated,
            field: 48,
            offset: 23
        ),
        Case(
            name: "LLLVAR 54 above its 120",
            input: "0200" + "0000000000000400" + "121" + String(repeating: "0", count: 121),
            code: .lengthOutOfRange,
            field: 54,
            offset: 20
        ),
        Case(
            name: "control character in ans field",
            input: "0800" + "0000000000800000" + "ATM\u{01}    ",
            code: .invalidCharacter,
            field: 41,
            offset: 23
        ),
        Case(
            name: "lowercase hex in binary field",
            input: "0200" + "0000000000000001" + "deadbeef00000000",
            code: .invalidCharacter,
            field: 64,
            offset: 20
        ),
        Case(
            name: "bad track 2 separator",
            input: "0200" + "0000000020000000" + "06" + "1234X6",
            code: .invalidCharacter,
            field: 35,
            offset: 26
        ),
        Case(
            name: "xn without sign",
            input: "0500" + "8000000000000000" + "0000000080000000" + "00000000000021000",
            code: .invalidCharacter,
            field: 97,
            offset: 36
        ),
        Case(
            name: "non-ASCII byte",
            input: "0800" + "0000000000800000" + "ATM\u{E9}   ",
            code: .invalidCharacter,
            field: 41,
            offset: 23
        ),
    ]

    @Test("each broken input gives a typed error naming field and offset", arguments: cases)
    func brokenInput(_ testCase: Case) {
        let error = #expect(throws: ATM87Error.self) { try decode(testCase.input) }
        #expect(error?.code == testCase.code, "\(error?.description ?? "no error")")
        #expect(error?.field == testCase.field, "\(error?.description ?? "no error")")
        #expect(error?.offset == testCase.offset, "\(error?.description ?? "no error")")
        #expect(error?.detail.isEmpty == false)
    }

    @Test("the valid base decodes")
    func validBase() throws {
        let message = try decode(Self.valid)
        #expect(message.mti == .networkManagementRequest)
        #expect(message[70] == "001")
    }

    @Test("an error after field 11 carries the MTI and STAN, so the switch can answer 30")
    func errorCarriesMTIAndSTAN() {
        let error = #expect(throws: ATM87Error.self) { try decode(Self.valid + "X") }
        #expect(error?.mti == .networkManagementRequest)
        #expect(error?.stan == "000001")
    }

    @Test("a message over 8,192 bytes is refused")
    func tooLong() {
        let input = [UInt8](repeating: 0x30, count: 8193)
        let error = #expect(throws: ATM87Error.self) { try ATM87Message(decoding: input) }
        #expect(error?.code == .messageTooLong)
    }

    @Test("an error's description says where and what")
    func description() {
        let error = #expect(throws: ATM87Error.self) { try decode("0800" + "0200000000000000" + "11250930X5") }
        #expect(
            error?.description
                == "ATM-87 invalidCharacter in field 7 at byte 28: byte 0x58 is not allowed by format n (digits)"
        )
    }
}

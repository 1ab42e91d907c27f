import ATM87
import Testing

@Suite("Field 48 TLV")
struct TLVTests {
    @Test("parse and encode round trip, order and repeated tags kept")
    func roundTrip() throws {
        let text = "OP006CREATECN012Ada LovelaceUS003a|bUS000"
        let tlv = try ATM87TLV(parsing: text)
        #expect(tlv.elements.map(\.tag) == ["OP", "CN", "US", "US"])
        #expect(tlv["CN"] == "Ada Lovelace")
        #expect(tlv.all("US") == ["a|b", ""])
        #expect(tlv.encoded == text)
        #expect(try ATM87TLV(parsing: "").elements.isEmpty)
    }

    @Test(
        "malformed payloads are refused with the offset",
        arguments: [
            ("OP", 0),  // too short for tag and length
            ("op003abc", 0),  // lowercase tag
            ("OP0x3abc", 2),  // length not digits
            ("OP010abc", 2),  // runs past the end
            ("OP003abcX", 8),  // trailing bytes
        ]
    )
    func malformed(text: String, offset: Int) {
        #expect(throws: ATM87TLV.ParseError.self) { try ATM87TLV(parsing: text) }
        do {
            _ = try ATM87TLV(parsing: text)
        } catch {
            #expect(error.offset == offset)
        }
    }

    @Test("the masking printer shows a password block and a PIN block by length only")
    func masking() throws {
        var message = ATM87Message(mti: .administrativeRequest)
        try message.set(48, ATM87TLV([.init("OP", "LOGIN"), .init("UN", "tina"), .init("PW", "A1B2C3D4")]).encoded)
        let shown = ATM87PrettyPrinter.oneLine(message)
        #expect(shown.contains("UN=tina"))
        #expect(shown.contains("PW=<redacted 8 chars>"))
        #expect(!shown.contains("A1B2C3D4"))
        try message.set(48, "garbage")
        #expect(ATM87PrettyPrinter.oneLine(message).contains("<unparsed TLV, 7 chars>"))
    }
}

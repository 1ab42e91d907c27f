import ATM87
import Testing

@Suite("ATM-87 per-MTI rules")
struct RulesTests {
    @Test("every documented example obeys its rules")
    func examplesAreValid() throws {
        for (id, message) in try exampleMessages() {
            #expect(ATM87Rules.check(message).isEmpty, "\(id): \(ATM87Rules.check(message))")
        }
    }

    @Test("every documented response obeys the echo rules against its request")
    func responsesEcho() throws {
        let examples = Dictionary(uniqueKeysWithValues: try exampleMessages().map { ($0.id, $0.message) })
        let pairs = [
            ("0800-sign-on", "0810-sign-on"), ("0200-withdrawal", "0210-withdrawal"),
            ("0200-balance", "0210-balance"), ("0420-reversal", "0430-reversal"),
            ("0600-create-account", "0610-create-account"),
            ("0500-reconciliation", "0510-reconciliation"),
        ]
        for (request, response) in pairs {
            let violations = ATM87Rules.check(
                response: try #require(examples[response]),
                to: try #require(examples[request])
            )
            #expect(violations.isEmpty, "\(response): \(violations)")
        }
    }

    @Test("a missing mandatory field is named")
    func mandatoryMissing() throws {
        var message = try typicalWithdrawal()
        message.remove(41)
        let violations = ATM87Rules.check(message)
        #expect(violations.map(\.kind) == [.mandatoryFieldMissing])
        #expect(violations.first?.fields == [41])
    }

    @Test("a field the type does not carry is named")
    func notAllowed() throws {
        var message = try typicalWithdrawal()
        try message.set(39, "00")
        #expect(ATM87Rules.check(message).map(\.kind) == [.fieldNotAllowed])
    }

    @Test("a 0200 needs a PAN or track 2")
    func oneOf() throws {
        var message = try typicalWithdrawal()
        message.remove(2)
        #expect(ATM87Rules.check(message).map(\.kind) == [.oneOfMissing])
        try message.set(35, "4761739001010119=25121011000012300000")
        #expect(ATM87Rules.check(message).isEmpty)
    }

    @Test("processing codes and network codes are checked")
    func values() throws {
        var message = try typicalWithdrawal()
        try message.set(3, "990000")
        #expect(ATM87Rules.check(message).map(\.kind) == [.valueNotAllowed])
        var signOn = ATM87Message(mti: .networkManagementRequest)
        try signOn.set(7, "1125093015")
        try signOn.set(11, "000001")
        try signOn.set(41, "ATM00001")
        try signOn.set(70, "999")
        #expect(ATM87Rules.check(signOn).map(\.kind) == [.valueNotAllowed])
    }

    @Test("the MAC goes in 128 when a secondary bitmap is present, and never twice")
    func macPlacement() throws {
        var message = try typicalWithdrawal()
        try message.set(64, "0000000000000000")
        // 102 forces a secondary bitmap, and 128 is there too.
        #expect(ATM87Rules.check(message).map(\.kind) == [.macInWrongField])
        message.remove(128)
        #expect(ATM87Rules.check(message).map(\.kind) == [.macInWrongField])
        message.remove(102)
        #expect(ATM87Rules.check(message).isEmpty)
    }

    @Test("an unknown MTI is named")
    func unknownMTI() {
        #expect(ATM87Rules.check(ATM87Message(mti: MTI(rawValue: 9999))).map(\.kind) == [.unknownMessageType])
    }

    @Test("a response of the wrong type, or one that changes an echoed field, is named")
    func responseChecks() throws {
        let request = try typicalWithdrawal()
        var response = try request.makeResponse()
        try response.set(39, "00")
        #expect(ATM87Rules.check(response: response, to: request).isEmpty)
        var changed = response
        try changed.set(4, "000000020000")
        #expect(ATM87Rules.check(response: changed, to: request).map(\.kind) == [.echoMismatch])
        var missing = response
        missing.remove(11)
        #expect(ATM87Rules.check(response: missing, to: request).map(\.kind).contains(.echoMismatch))
        var wrongType = response
        wrongType.mti = .reversalResponse
        #expect(ATM87Rules.check(response: wrongType, to: request).map(\.kind).contains(.unexpectedResponseType))
    }
}

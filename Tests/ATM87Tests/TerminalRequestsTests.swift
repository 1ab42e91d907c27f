import ATM87
import Testing

/// The one builder of a terminal's card requests (0200, 0420, 0421), checked against the documented
/// examples byte for byte: the terminal, the harness and the CLI all build through it.
@Suite("terminal requests: the one builder")
struct TerminalRequestsTests {
    static let time = TransmissionTime(month: 11, day: 25, hour: 9, minute: 31, second: 12)
    static let header = RequestHeader(terminal: "ATM00001", stan: STAN(2)!, time: Self.time)

    static func example(_ id: String) throws -> ATM87Message {
        try #require(try exampleMessages().first { $0.id == id }?.message, "no example \(id)")
    }

    /// A built message with the example's MAC: the builder makes everything but the MAC.
    static func withMAC(of example: ATM87Message, _ message: ATM87Message) throws -> ATM87Message {
        var message = message
        for field in [64, 128] { if let mac = example[field] { try message.set(field, mac) } }
        return message
    }

    @Test("the documented withdrawal (0200 with a PIN block) is what the builder makes, byte for byte")
    func withdrawalExample() throws {
        let example = try Self.example("0200-withdrawal")
        let built = try FinancialRequest(
            header: Self.header,
            pan: "4761739001010119",
            processingCode: ProcessingCode(.withdrawal),
            amount: 10_000,
            currency: "978",
            from: "CP0000000001",
            credential: .pinBlock(try #require(example.binary(52)))
        ).message()
        #expect(try Self.withMAC(of: example, built).encodedBytes == example.encodedBytes)
    }

    @Test("the documented balance inquiry (0200 with the card session's token) is what the builder makes")
    func balanceExample() throws {
        let example = try Self.example("0200-balance")
        let built = try FinancialRequest(
            header: RequestHeader(
                terminal: "ATM00001",
                stan: STAN(3)!,
                time: TransmissionTime(month: 11, day: 25, hour: 9, minute: 31, second: 40)
            ),
            pan: "4761739001010119",
            processingCode: ProcessingCode(.balanceInquiry),
            currency: "978",
            credential: .token(try #require(example[62]))
        ).message()
        #expect(try Self.withMAC(of: example, built).encodedBytes == example.encodedBytes)
    }

    @Test("the documented 0420 and its 0421 repeat are what the builder makes from the withdrawal")
    func reversalExamples() throws {
        let withdrawal = try Self.example("0200-withdrawal")
        let header = RequestHeader(
            terminal: "ATM00001",
            stan: STAN(4)!,
            time: TransmissionTime(month: 11, day: 25, hour: 9, minute: 32, second: 5)
        )
        var advice = try ReversalAdvice(
            reversing: withdrawal,
            header: header,
            replacement: ReplacementAmounts(actual: 6_000)
        )
        let first = try Self.example("0420-reversal")
        #expect(try Self.withMAC(of: first, advice.message()).encodedBytes == first.encodedBytes)
        advice.isRepeat = true
        let repeated = try Self.example("0421-reversal-repeat")
        #expect(try Self.withMAC(of: repeated, advice.message()).encodedBytes == repeated.encodedBytes)
        // A repeat carries the first advice's header, read back from it.
        #expect(try RequestHeader(of: first) == header)
    }

    @Test("the typed advice and the one made from the original request are the same advice")
    func typedAndCopied() throws {
        let withdrawal = try Self.example("0200-withdrawal")
        let typed = ReversalAdvice(
            header: Self.header,
            pan: "4761739001010119",
            processingCode: ProcessingCode(.withdrawal),
            amount: 10_000,
            currency: "978",
            original: OriginalDataElements(mti: .financialRequest, stan: "000002", transmissionTime: "1125093112"),
            replacement: nil
        )
        let copied = try ReversalAdvice(reversing: withdrawal, header: Self.header, replacement: nil)
        #expect(typed == copied)
        #expect(try typed.message().encodedBytes == copied.message().encodedBytes)
        #expect(try !typed.message().contains(95))
    }

    @Test(
        "every processing code builds a 0200 and a 0420 that obey the rules",
        arguments: ProcessingCode.TransactionType.allCases
    )
    func obeysRules(type: ProcessingCode.TransactionType) throws {
        let request = try FinancialRequest(
            header: Self.header,
            pan: "4761739001010119",
            processingCode: ProcessingCode(type),
            amount: type.movesMoney ? 10_000 : 0,
            currency: "978",
            to: type == .transfer ? "CP0000000002" : nil,
            credential: .token("token")
        ).message()
        #expect(ATM87Rules.check(request).isEmpty, "\(ATM87Rules.check(request))")
        guard type.movesMoney else { return }
        let advice = try ReversalAdvice(reversing: request, header: Self.header, replacement: nil).message()
        let reversible = ATM87Spec.message(.reversalAdvice)?.allowedPrefixes[3] ?? []
        if reversible.contains(type.rawValue) {
            #expect(ATM87Rules.check(advice).isEmpty, "\(ATM87Rules.check(advice))")
        }
    }

    @Test("a request without a processing code or amount cannot be reversed: the error names what is missing")
    func reversingNothing() throws {
        let echo = try ATM87Message(mti: .networkManagementRequest, fields: [7: "1125093112", 11: "000002", 70: "301"])
        #expect {
            try ReversalAdvice(reversing: echo, header: Self.header, replacement: nil)
        } throws: { ($0 as? FieldFormatError)?.code == .missingField }
    }

    @Test("STAN: 1 to 999999 as six digits, from 999999 back to 1")
    func stan() throws {
        #expect(STAN.after(0).field == "000001")
        #expect(STAN.after(41).field == "000042")
        #expect(STAN.after(999_998).value == 999_999)
        #expect(STAN.after(999_999).value == 1)
        #expect(STAN(0) == nil)
        #expect(STAN(1_000_000) == nil)
        #expect(try STAN(field: "000042") == STAN(42))
        for bad in ["000000", "12345", "1234567", "12a456"] {
            #expect(throws: FieldFormatError.self) { try STAN(field: bad) }
        }
    }

    @Test(
        "UTC calendar time from Unix seconds",
        arguments: [
            (0, "0101000000"), (1_764_063_072, "1125093112"), (951_782_400, "0229000000"),
            (1_767_225_599, "1231235959"),
        ]
    )
    func transmissionTime(seconds: Int, expected: String) throws {
        let time = TransmissionTime(unixSeconds: seconds)
        #expect(time.transmission == expected)
        #expect(try TransmissionTime(transmission: expected) == time)
    }

    @Test("field 7 is ten digits")
    func transmissionTimeRefused() {
        for bad in ["112509311", "11250931122", "11250931x2"] {
            #expect(throws: FieldFormatError.self) { try TransmissionTime(transmission: bad) }
        }
    }

    @Test("a 0200's header carries fields 12 and 13; other requests' do not")
    func header() throws {
        let request = try Self.header.message(.financialRequest)
        #expect(request.fieldNumbers == [7, 11, 12, 13, 41])
        #expect(request[12] == "093112")
        #expect(request[13] == "1125")
        #expect(try Self.header.message(.reversalAdvice).fieldNumbers == [7, 11, 41])
    }
}

import ATM87
import Foundation
import Testing

/// The protocol's vocabulary (Sources/ATM87/Vocabulary.swift): each structured field's wire form as
/// docs/protocol.md shows it, round trips, and every way a field can be refused, by error code.
@Suite("ATM-87 vocabulary")
struct VocabularyTests {
    /// The error a throwing read gives, for its code to be compared.
    func formatError(_ body: () throws -> Void) throws -> FieldFormatError {
        try #require(throws: FieldFormatError.self) { try body() }
    }

    // MARK: Signed amounts

    @Test("a signed amount is C (zero or more) or D, then 12 digits")
    func signedAmountEncodes() {
        #expect(SignedAmount.encode(0) == "C000000000000")
        #expect(SignedAmount.encode(240_000) == "C000000240000")
        #expect(SignedAmount.encode(-5_000) == "D000000005000")
        #expect(SignedAmount.encode(999_999_999_999) == "C999999999999")
        // Beyond 12 digits the amount is written as the largest 12 digits hold.
        #expect(SignedAmount.encode(Int64.max) == "C999999999999")
        #expect(SignedAmount.encode(Int64.min) == "D999999999999")
    }

    @Test(
        "signed amounts round trip",
        arguments: [Int64(0), 1, -1, 240_000, -5_000, 999_999_999_999, -999_999_999_999]
    )
    func signedAmountRoundTrip(_ value: Int64) throws {
        #expect(try SignedAmount.decode(Substring(SignedAmount.encode(value)), field: 54) == value)
    }

    @Test(
        "a malformed signed amount is refused with its fault and the field it came from",
        arguments: [
            ("C00000024000", FieldFormatError.Code.width),  // 11 digits
            ("C0000002400000", .width),  // 13 digits
            ("", .width),
            ("X000000240000", .sign),
            ("c000000240000", .sign),
            ("-000000240000", .sign),
            ("0000000240000", .sign),  // 13 digits, no sign
            ("C00000024000A", .notDigits),
            ("C+00000240000", .notDigits),
            ("C 00000240000", .notDigits),
            ("C00000024000é", .width),  // é is two bytes: 14 bytes
        ]
    )
    func signedAmountRefused(_ text: String, _ code: FieldFormatError.Code) throws {
        let error = try self.formatError { _ = try SignedAmount.decode(Substring(text), field: 63) }
        #expect(error.code == code)
        #expect(error.field == 63)
    }

    // MARK: Field 3

    @Test("field 3 is the transaction type, then the from- and to-account types")
    func processingCodeEncodes() {
        #expect(ProcessingCode(.withdrawal).field == "010000")
        #expect(ProcessingCode(.balanceInquiry).field == "310000")
        #expect(ProcessingCode(.transfer, from: .cheque, to: .savings).field == "402010")
        #expect(ProcessingCode(.pinChange).description == "920000")
    }

    @Test("every processing code round trips")
    func processingCodeRoundTrip() throws {
        for transaction in ProcessingCode.TransactionType.allCases {
            for from in ProcessingCode.AccountType.allCases {
                for to in ProcessingCode.AccountType.allCases {
                    let code = ProcessingCode(transaction, from: from, to: to)
                    #expect(try ProcessingCode(field: code.field) == code)
                }
            }
        }
    }

    @Test("the transaction types are the ones atm87.json allows, and those moving money are the reversible ones")
    func transactionTypesMatchTheSpecification() throws {
        let request = try #require(ATM87Spec.message(.financialRequest))
        let reversal = try #require(ATM87Spec.message(.reversalAdvice))
        let all = ProcessingCode.TransactionType.allCases
        #expect(Set(all.map(\.rawValue)) == Set(try #require(request.allowedPrefixes[3])))
        #expect(Set(all.filter(\.movesMoney).map(\.rawValue)) == Set(try #require(reversal.allowedPrefixes[3])))
    }

    @Test(
        "a field 3 that is not six digits is malformed (30)",
        arguments: ["", "01000", "0100000", "01000A", " 10000", "01 000", "０１００００", "01000é"]
    )
    func processingCodeMalformed(_ text: String) {
        #expect(throws: ProcessingCodeError.malformed) { try ProcessingCode(field: text) }
    }

    @Test(
        "a transaction type the dialect does not define is named (12)",
        arguments: [("020000", "02"), ("000000", "00"), ("990000", "99"), ("300000", "30"), ("391000", "39")]
    )
    func processingCodeUnknownTransaction(_ text: String, _ type: String) {
        #expect(throws: ProcessingCodeError.unknownTransaction(type)) { try ProcessingCode(field: text) }
    }

    @Test("an account type the dialect does not define is refused (12)", arguments: ["015000", "010001", "319900"])
    func processingCodeUnknownAccountType(_ text: String) {
        #expect(throws: ProcessingCodeError.unknownAccountType) { try ProcessingCode(field: text) }
    }

    @Test("withdrawal, deposit and transfer move money; balance, statement and PIN change do not")
    func movesMoney() {
        #expect(
            ProcessingCode.TransactionType.allCases.filter(\.movesMoney) == [.withdrawal, .deposit, .transfer]
        )
    }

    // MARK: Field 54

    @Test("field 54 as the docs show it: 0001978C000000240000")
    func additionalAmountEncodes() throws {
        let balance = AdditionalAmount(.ledgerBalance, amount: 240_000, currency: "978")
        #expect(balance.field == "0001978C000000240000")
        #expect(AdditionalAmount.encode([balance]) == "0001978C000000240000")
        #expect(try AdditionalAmount.decode("0001978C000000240000") == [balance])
        #expect(
            AdditionalAmount(.availableBalance, amount: -1, currency: "826", accountType: .cheque).field
                == "2002826D000000000001"
        )
    }

    @Test("up to six amounts round trip in order")
    func additionalAmountsRoundTrip() throws {
        let amounts = [
            AdditionalAmount(.ledgerBalance, amount: 240_000, currency: "978"),
            AdditionalAmount(.availableBalance, amount: -12_345, currency: "978", accountType: .savings),
            AdditionalAmount(.ledgerBalance, amount: 0, currency: "840", accountType: .credit),
            AdditionalAmount(.availableBalance, amount: 999_999_999_999, currency: "826", accountType: .cheque),
            AdditionalAmount(.ledgerBalance, amount: 1, currency: "978"),
            AdditionalAmount(.ledgerBalance, amount: 2, currency: "978"),
        ]
        let field = AdditionalAmount.encode(amounts)
        #expect(field.utf8.count == 6 * AdditionalAmount.width)
        #expect(try AdditionalAmount.decode(field) == amounts)
    }

    @Test(
        "a malformed field 54 is refused with its fault",
        arguments: [
            ("", FieldFormatError.Code.width),
            ("0001978C00000024000", .width),  // 19 characters
            ("0001978C0000002400000", .width),  // 21
            (String(repeating: "0001978C000000240000", count: 7), .width),  // seven amounts
            ("9901978C000000240000", .unknownCode),  // account type 99
            ("0003978C000000240000", .unknownCode),  // amount type 03
            ("000197AC000000240000", .notDigits),  // currency
            ("0001 78C000000240000", .notDigits),
            ("0001978X000000240000", .sign),
            ("0001978 000000240000", .sign),
            ("0001978C00000024000A", .notDigits),
            ("0001978Cé0000024000", .notDigits),  // 20 bytes, 19 characters: read by bytes
            ("0001978C0000002400000001978X000000240000", .sign),  // the second amount
        ]
    )
    func additionalAmountRefused(_ text: String, _ code: FieldFormatError.Code) throws {
        let error = try self.formatError { _ = try AdditionalAmount.decode(text) }
        #expect(error.code == code)
        #expect(error.field == 54)
    }

    // MARK: Field 63

    @Test("a field 63 line as the docs show it: 261125|withdrawal|D000000005000|C000000240000")
    func statementLineEncodes() throws {
        let line = MiniStatementLine(date: "261125", kind: "withdrawal", amount: -5_000, balanceAfter: 240_000)
        #expect(line.field == "261125|withdrawal|D000000005000|C000000240000")
        // 2026-11-25 12:00:00 UTC.
        #expect(
            MiniStatementLine(unixSeconds: 1_795_608_000, kind: "withdrawal", amount: -5_000, balanceAfter: 240_000)
                == line
        )
        // The UTC day: one second before midnight is still the 24th.
        #expect(MiniStatementLine(unixSeconds: 1_795_564_799, kind: "k", amount: 0, balanceAfter: 0).date == "261124")
        #expect(line.printedDate == "25/11/26")
        #expect(try MiniStatementLine.decode(line.field) == [line])
    }

    @Test("a statement is its lines, newest first, separated by ';', and round trips")
    func statementRoundTrip() throws {
        let lines = [
            MiniStatementLine(date: "261125", kind: "withdrawal", amount: -5_000, balanceAfter: 240_000),
            MiniStatementLine(date: "261124", kind: "deposit", amount: 45_000, balanceAfter: 245_000),
            MiniStatementLine(date: "261001", kind: "transfer out", amount: -250_000, balanceAfter: -200_000),
        ]
        let field = MiniStatementLine.encode(lines)
        #expect(
            field
                == "261125|withdrawal|D000000005000|C000000240000;261124|deposit|C000000045000|C000000245000;"
                + "261001|transfer out|D000000250000|D000000200000"
        )
        #expect(try MiniStatementLine.decode(field) == lines)
        #expect(MiniStatementLine.encode([]) == "")
        #expect(try MiniStatementLine.decode("") == [])
    }

    @Test(
        "a malformed field 63 is refused with its fault",
        arguments: [
            ("261125|withdrawal|D000000005000", FieldFormatError.Code.layout),  // three parts
            ("261125|withdrawal|D000000005000|C000000240000|x", .layout),  // five
            ("261125||D000000005000|C000000240000", .layout),  // no kind
            ("261125|withdrawal|D000000005000|C000000240000;", .layout),  // an empty line after ';'
            (";", .layout),
            ("26112|withdrawal|D000000005000|C000000240000", .width),
            ("2611250|withdrawal|D000000005000|C000000240000", .width),
            ("26112A|withdrawal|D000000005000|C000000240000", .notDigits),
            ("261125|withdrawal|X000000005000|C000000240000", .sign),
            ("261125|withdrawal|D000000005000|+000000240000", .sign),
            ("261125|withdrawal|D00000005000|C000000240000", .width),
            ("261125|withdrawal|D000000005000|C00000024000O", .notDigits),
        ]
    )
    func statementRefused(_ text: String, _ code: FieldFormatError.Code) throws {
        let error = try self.formatError { _ = try MiniStatementLine.decode(text) }
        #expect(error.code == code)
        #expect(error.field == 63)
    }

    @Test("a date that is not YYMMDD is printed as it is, never a crash")
    func printedDateOfAnOddDate() {
        #expect(MiniStatementLine(date: "2611", kind: "k", amount: 0, balanceAfter: 0).printedDate == "2611")
        #expect(MiniStatementLine(date: "", kind: "k", amount: 0, balanceAfter: 0).printedDate == "")
    }

    // MARK: Field 90

    @Test("field 90 as the docs show it: 0200, the STAN, the transmission time, 22 zeros")
    func originalDataEncodes() throws {
        let expected = "0200" + "000002" + "1125093112" + String(repeating: "0", count: 22)
        let original = OriginalDataElements(mti: .financialRequest, stan: "000002", transmissionTime: "1125093112")
        #expect(original.field == expected)
        #expect(original.field.utf8.count == OriginalDataElements.width)
        #expect(try OriginalDataElements(of: typicalWithdrawal()) == original)
        let read = try OriginalDataElements(field: expected)
        #expect(read == original)
        #expect(read.mti == .financialRequest)
        #expect(read.stan == "000002")
        #expect(read.transmissionTime == "1125093112")
    }

    @Test("field 90 keeps the acquirer and forwarding institution it was given")
    func originalDataInstitutions() throws {
        let original = OriginalDataElements(
            mti: .financialRequest,
            stan: "123456",
            transmissionTime: "0101000000",
            acquirer: "00000012345",
            forwarder: "98765432100"
        )
        #expect(original.field == "0200123456010100000000000012345" + "98765432100")
        #expect(try OriginalDataElements(field: original.field) == original)
    }

    @Test("the original data of a message without a STAN or transmission time cannot be made")
    func originalDataOfAnIncompleteMessage() throws {
        var withoutSTAN = try typicalWithdrawal()
        withoutSTAN.remove(11)
        #expect(try self.formatError { _ = try OriginalDataElements(of: withoutSTAN) }.code == .missingField)
        var withoutTime = try typicalWithdrawal()
        withoutTime.remove(7)
        #expect(try self.formatError { _ = try OriginalDataElements(of: withoutTime) }.code == .missingField)
    }

    @Test(
        "a malformed field 90 is refused with its fault",
        arguments: [
            ("", FieldFormatError.Code.width),
            ("02000000021125093112000000000000000000000", .width),  // 41
            ("0200000002112509311200000000000000000000000", .width),  // 43
            ("02000000021A250931120000000000000000000000", .notDigits),
            ("02000000021125093112000000000000000000000 ", .notDigits),
        ]
    )
    func originalDataRefused(_ text: String, _ code: FieldFormatError.Code) throws {
        let error = try self.formatError { _ = try OriginalDataElements(field: text) }
        #expect(error.code == code)
        #expect(error.field == 90)
    }

    // MARK: Field 95

    @Test("field 95 as the docs show it: the actual amount in 12 digits, then 30 zero digits")
    func replacementAmountsEncode() throws {
        let amounts = ReplacementAmounts(actual: 6_000)
        #expect(amounts.field == "000000006000" + String(repeating: "0", count: 30))
        #expect(amounts.field.utf8.count == ReplacementAmounts.width)
        #expect(try ReplacementAmounts(field: amounts.field) == amounts)
        #expect(ReplacementAmounts(actual: 0).field == String(repeating: "0", count: 42))
        let settled = ReplacementAmounts(actual: 6_000, settlement: 5_500)
        #expect(settled.field == "000000006000000000005500" + String(repeating: "0", count: 18))
        #expect(try ReplacementAmounts(field: settled.field) == settled)
    }

    @Test("an amount outside what 12 digits hold is written as the nearer bound")
    func replacementAmountsClamp() {
        #expect(ReplacementAmounts(actual: -1).field == String(repeating: "0", count: 42))
        #expect(ReplacementAmounts(actual: 1_000_000_000_000).field.hasPrefix("999999999999000000000000"))
        #expect(ReplacementAmounts(actual: Int64.max).field.utf8.count == ReplacementAmounts.width)
    }

    @Test(
        "fees from another acquirer may be signed",
        arguments: ["C00000000C00000000", "D00000150C00000000", "000000000D00000025"]
    )
    func replacementAmountsSignedFees(_ fees: String) throws {
        let read = try ReplacementAmounts(field: "000000006000" + "000000000000" + fees)
        #expect(read == ReplacementAmounts(actual: 6_000))
    }

    @Test(
        "a malformed field 95 is refused with its fault",
        arguments: [
            ("", FieldFormatError.Code.width),
            ("00000000000000000000000000000000000000000", .width),  // 41 characters
            ("0000000000000000000000000000000000000000000", .width),  // 43
            ("-00000006000000000000000000000000000000000", .notDigits),  // a minus sign
            ("+00000006000000000000000000000000000000000", .notDigits),  // a plus sign
            ("00000000600A000000000000000000000000000000", .notDigits),
            ("00000000600000000000000 000000000000000000", .notDigits),  // the settlement amount
            ("000000006000000000000000X00000000C00000000", .sign),  // the first fee's sign
            ("000000006000000000000000C00000000 00000000", .sign),  // the second fee's sign
            ("000000006000000000000000C0000000XC00000000", .notDigits),
            ("000000006000000000000000C00000000DD0000000", .notDigits),
        ] as [(String, FieldFormatError.Code)]
    )
    func replacementAmountsRefused(_ text: String, _ code: FieldFormatError.Code) throws {
        let error = try self.formatError { _ = try ReplacementAmounts(field: text) }
        #expect(error.code == code)
        #expect(error.field == 95)
    }

    // MARK: Field 48

    @Test("an administrative request's field 48: the operation first, then its elements")
    func adminRequestEncodes() throws {
        let tlv = ATM87TLV(.login, [(.userName, "tina"), (.password, "A1B2")])
        #expect(tlv.encoded == "OP005LOGINUN004tinaPW004A1B2")
        let read = try ATM87TLV(parsing: tlv.encoded)
        #expect(read.operation == .login)
        #expect(read[.userName] == "tina")
        #expect(read[.password] == "A1B2")
        #expect(read[.role] == nil)
        #expect(
            ATM87TLV(.createCustomer, [(.userName, "ada"), (.customerName, "Ada Lovelace")]).encoded
                == "OP006CREATEUN003adaCN012Ada Lovelace"
        )
        var answer = ATM87TLV()
        answer.append(.customerID, "1")
        answer.append(.accountID, "10")
        #expect(answer.encoded == "CU0011AI00210")
    }

    @Test("every operation reads back from its field 48", arguments: AdminOperation.allCases)
    func adminOperationRoundTrip(_ operation: AdminOperation) throws {
        #expect(try ATM87TLV(parsing: ATM87TLV(operation).encoded).operation == operation)
    }

    @Test("a field 48 with no OP, or one naming no known operation, has no operation")
    func unknownOperation() throws {
        #expect(try ATM87TLV(parsing: "UN004tina").operation == nil)
        #expect(try ATM87TLV(parsing: "OP005login").operation == nil)
        #expect(try ATM87TLV(parsing: "OP007EXPLODE").operation == nil)
        #expect(try ATM87TLV(parsing: "").operation == nil)
    }

    @Test("tags are two capital letters or digits; the secret ones are the password, the PIN block, the code blocks and the identity's personal data")
    func adminTags() {
        for tag in AdminTag.allCases {
            #expect(tag.rawValue.utf8.count == 2 && tag.rawValue.utf8.allSatisfy { (0x41...0x5A).contains($0) })
        }
        #expect(!AdminTag.allCases.map(\.rawValue).contains(CardAccounts.tag))
        #expect(
            ATM87TLV.secretTags
                == Set(
                    [
                        AdminTag.password, .pinBlock, .oneTimeCode, .enrolmentCode, .secret, .recoveryCodes, .documentNumber,
                        .birthDate, .address,
                    ].map(\.rawValue)
                )
        )
    }

    /// The rows of docs/protocol.md's administrative table, and its prose up to the next heading.
    func administrativeSection() throws -> String {
        let page = try String(contentsOfFile: repositoryFile("docs/protocol.md"), encoding: .utf8)
        let start = try #require(page.range(of: "### Administrative messages (0600/0610): field 48 TLV"))
        let rest = page[start.upperBound...]
        let end = rest.range(of: "\n###")?.lowerBound ?? rest.endIndex
        return String(rest[..<end])
    }

    @Test("docs/protocol.md's administrative table names every operation and tag exactly as the code spells them")
    func administrativeTableIsTheContract() throws {
        let section = try self.administrativeSection()
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }
        // The first column: the operations, in backticks.
        var operations: Set<String> = []
        var tags: Set<String> = []
        for row in rows {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false)
            try #require(cells.count >= 3)
            operations.formUnion(Self.quoted(in: cells[1]))
            tags.formUnion(Self.quoted(in: cells.dropFirst(2).joined(separator: "|")).filter(Self.isTag))
        }
        // `OP` itself is introduced in the prose above the table.
        tags.formUnion(Self.quoted(in: section).filter { $0 == AdminTag.operation.rawValue })
        // The same TLV carries a reconciliation's transfers (its own table, in field 48 of 0500/0510).
        let page = try String(contentsOfFile: repositoryFile("docs/protocol.md"), encoding: .utf8)
        let reconciliation = try #require(page.range(of: "### Reconciliation (0500/0510)"))
        let table = page[reconciliation.upperBound...].prefix { $0 != "#" }
        tags.formUnion(table.split(separator: "\n").filter { $0.hasPrefix("| 48 ") }.flatMap { Self.quoted(in: $0) }.filter(Self.isTag))
        #expect(operations == Set(AdminOperation.allCases.map(\.rawValue)))
        #expect(tags == Set(AdminTag.allCases.map(\.rawValue)))
    }

    /// The texts in backticks.
    static func quoted(in text: some StringProtocol) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }
            .map { String($0.element) }
    }

    static func isTag(_ text: String) -> Bool {
        text.utf8.count == 2 && text.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
    }

    // MARK: Field 48 of a 0210

    @Test("the card's accounts as the demo card of alice gets them, default first")
    func cardAccounts() throws {
        let accounts = CardAccounts(["CP0000000001", "CP0000000002"])
        #expect(accounts.field == "AN012CP0000000001AN012CP0000000002")
        #expect(try CardAccounts(field: accounts.field) == accounts)
        #expect(try CardAccounts(field: "") == CardAccounts([]))
        // Elements of other tags are not accounts.
        #expect(try CardAccounts(field: "XX001aAN012CP0000000003") == CardAccounts(["CP0000000003"]))
    }

    @Test("a field 48 that is not TLV has no accounts", arguments: ["AN", "AN01", "AN012CP", "an012CP0000000001"])
    func cardAccountsRefused(_ text: String) throws {
        let error = try self.formatError { _ = try CardAccounts(field: text) }
        #expect(error.code == .tlv)
        #expect(error.field == 48)
    }
}

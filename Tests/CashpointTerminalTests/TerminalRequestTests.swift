import ATM87
import CashpointTerminal
import Testing

@Suite("terminal requests")
struct TerminalRequestTests {
    let builder = TransactionRequestBuilder(terminalID: "ATM00001", currency: "978")
    let time = TransmissionTime(month: 11, day: 25, hour: 9, minute: 31, second: 12)

    @Test("every transaction kind builds a 0200 that obeys the rules", arguments: TransactionKind.allCases)
    func valid(kind: TransactionKind) throws {
        let message = try self.builder.request(
            kind,
            pan: "4761739001010119",
            amount: kind.movesMoney ? 10_000 : 0,
            stan: 2,
            time: self.time,
            toAccount: kind == .transfer ? "CP0000000002" : nil
        )
        #expect(ATM87Rules.check(message).isEmpty, "\(ATM87Rules.check(message))")
        #expect(message[3] == kind.processingCode)
        #expect(message[7] == "1125093112")
        #expect(message[11] == "000002")
    }

    @Test("bad requests say what is wrong")
    func refused() {
        #expect(throws: RequestError.self) {
            try self.builder.request(.withdrawal, pan: "4761739001010119", amount: 0, stan: 1, time: self.time)
        }
        #expect(throws: RequestError.self) {
            try self.builder.request(.balance, pan: "4761739001010119", amount: 5, stan: 1, time: self.time)
        }
        #expect(throws: RequestError.self) {
            try self.builder.request(.transfer, pan: "4761739001010119", amount: 5, stan: 1, time: self.time)
        }
        #expect(throws: RequestError.self) {
            try self.builder.request(.withdrawal, pan: "4761-7390", amount: 5, stan: 1, time: self.time)
        }
        #expect(throws: RequestError.self) {
            try self.builder.request(.withdrawal, pan: "4761739001010119", amount: 5, stan: 0, time: self.time)
        }
    }
}

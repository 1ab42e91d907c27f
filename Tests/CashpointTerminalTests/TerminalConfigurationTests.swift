import CashpointTerminal
import Foundation
import Testing

@Suite("terminal configuration files")
struct TerminalConfigurationTests {
    static func read(_ json: String) throws(TerminalConfiguration.ConfigurationError) -> TerminalConfiguration {
        try TerminalConfiguration(json: Data(json.utf8), file: "/etc/cashpoint/atm.json")
    }

    static func problem(_ json: String) -> String? {
        do {
            _ = try Self.read(json)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("the example files of fixtures/terminals read, with their cassettes in minor units")
    func examples() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/terminals")
        let atm = try TerminalConfiguration(contentsOfFile: folder.appendingPathComponent("ATM00001.json").path)
        #expect(atm.terminal == "ATM00001")
        #expect(atm.location == "Station Square")
        #expect(atm.cassettes.map(\.denomination) == [2_000, 5_000])
        #expect(atm.cassettes.map(\.count) == [500, 200])
        #expect(atm.fastCash == [2_000, 5_000, 10_000, 20_000])
        #expect(atm.timeouts.cashTake == .seconds(30))
        #expect(atm.fixture?.hasSuffix("fixtures/bank.json") == true)
        #expect(atm.testCards.count == 4)
        let second = try TerminalConfiguration(contentsOfFile: folder.appendingPathComponent("ATM00002.json").path)
        #expect(second.maxNotesPerDispense == 30)
        #expect(second.port == 8583)
        let desk = try TerminalConfiguration(contentsOfFile: folder.appendingPathComponent("BRANCH01.json").path)
        #expect(desk.cassettes.isEmpty)
        _ = try desk.loadMasterKey()
    }

    @Test("paths are taken from the file's folder; defaults fill what is left out")
    func defaults() throws {
        let configuration = try Self.read(#"{"terminal": "ATM00009", "masterKeyFile": "keys/atm9.key"}"#)
        #expect(configuration.masterKeyFile == "/etc/cashpoint/keys/atm9.key")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.currency == "978")
        #expect(configuration.maxNotesPerDispense == 40)
        #expect(configuration.timeouts == ATMTimeouts())
    }

    @Test(
        "a missing or bad entry is one line that names it",
        arguments: [
            ("{}", "/etc/cashpoint/atm.json: terminal: is missing"),
            ("[1]", "/etc/cashpoint/atm.json: must be a JSON object"),
            ("{", "/etc/cashpoint/atm.json: is not JSON"),
            (#"{"terminal": "ATM-0001"}"#, "/etc/cashpoint/atm.json: terminal: must be 1 to 8 letters or digits"),
            (#"{"terminal": "A", "port": 70000}"#, "/etc/cashpoint/atm.json: port: must be a whole number from 1 to 65535"),
            (#"{"terminal": "A", "port": "8583"}"#, "/etc/cashpoint/atm.json: port: must be a whole number from 1 to 65535"),
            (#"{"terminal": "A", "currency": "EUR"}"#, #"/etc/cashpoint/atm.json: currency: must be an ISO 4217 numeric code such as "978""#),
            (#"{"terminal": "A", "cassettes": [{"count": 5}]}"#, "/etc/cashpoint/atm.json: cassettes[0].denomination: is missing"),
            (#"{"terminal": "A", "cassettes": [{"denomination": 20, "count": -1}]}"#, "/etc/cashpoint/atm.json: cassettes[0].count: must be a whole number from 0 to 10000"),
            (#"{"terminal": "A", "cassettes": {"denomination": 20}}"#, "/etc/cashpoint/atm.json: cassettes: must be a list"),
            (#"{"terminal": "A", "fastCash": [20, 0]}"#, "/etc/cashpoint/atm.json: fastCash[1]: must be a whole amount from 1 to 100000"),
            (#"{"terminal": "A", "timeouts": {"input": 0}}"#, "/etc/cashpoint/atm.json: timeouts.input: must be a whole number from 1 to 3600"),
            (#"{"terminal": "A", "timeouts": {"inpt": 5}}"#, "/etc/cashpoint/atm.json: timeouts.inpt: is not a timeout (input, moreTime, response, cashTake, cardTake, message)"),
            (#"{"terminal": "A", "testCards": [{"pan": "12"}]}"#, "/etc/cashpoint/atm.json: testCards[0].pan: must be 12 to 19 digits"),
            (#"{"terminal": "A", "cassete": []}"#, "/etc/cashpoint/atm.json: cassete: is not a configuration entry"),
            (#"{"terminal": "A", "location": ""}"#, "/etc/cashpoint/atm.json: location: must be a non-empty string"),
            (#"{"terminal": "A", "forwarding": {"maxAttempts": 0}}"#, "/etc/cashpoint/atm.json: forwarding.maxAttempts: must be a whole number from 1 to 1000"),
            (#"{"terminal": "A", "forwarding": {"retries": 3}}"#, "/etc/cashpoint/atm.json: forwarding.retries: is not a setting (firstRetry, maxDelay, maxAttempts)"),
        ]
    )
    func refused(json: String, message: String) {
        #expect(Self.problem(json) == message)
    }

    @Test("a terminal without a key says where to put one; a fixture without the terminal says so")
    func keys() throws {
        let none = try Self.read(#"{"terminal": "ATM00001"}"#)
        #expect(throws: TerminalConfiguration.StartError.self) { try none.loadMasterKey() }
        let missing = try Self.read(#"{"terminal": "ATM00001", "masterKeyFile": "/nonexistent/key"}"#)
        #expect(throws: TerminalConfiguration.StartError.self) { try missing.loadMasterKey() }
    }
}

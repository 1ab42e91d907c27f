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
        #expect(second.switches == [SwitchAddress(host: "127.0.0.1", port: 8583)])
        let desk = try TerminalConfiguration(contentsOfFile: folder.appendingPathComponent("BRANCH01.json").path)
        #expect(desk.cassettes.isEmpty)
        _ = try desk.loadMasterKey()
    }

    @Test("paths are taken from the file's folder; defaults fill what is left out")
    func defaults() throws {
        let configuration = try Self.read(#"{"terminal": "ATM00009", "masterKeyFile": "keys/atm9.key"}"#)
        #expect(configuration.masterKeyFile == "/etc/cashpoint/keys/atm9.key")
        #expect(configuration.switches == [SwitchAddress(host: "127.0.0.1", port: 8583)])
        #expect(configuration.currency == "978")
        #expect(configuration.maxNotesPerDispense == 40)
        #expect(configuration.timeouts == ATMTimeouts())
    }

    @Test("1 is a number, not a boolean (on Linux every NSNumber of 0 or 1 casts to Bool)")
    func one() throws {
        let configuration = try Self.read(#"{"terminal": "A", "timeouts": {"response": 1}, "forwarding": {"firstRetry": 1}}"#)
        #expect(configuration.timeouts.response == .seconds(1))
        #expect(configuration.forwarding.firstRetry == .seconds(1))
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
            (#"{"terminal": "A", "timeouts": {"response": true}}"#, "/etc/cashpoint/atm.json: timeouts.response: must be a whole number from 1 to 3600"),
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

    @Test(
        "switches: a list of HOST:PORT, IPv6 in brackets, tried in order; host and port alone are one switch",
        arguments: [
            (#"{"terminal": "A", "switches": ["10.0.0.1:8583"]}"#, ["10.0.0.1:8583"]),
            (#"{"terminal": "A", "switches": ["sw1.bank.example:8583", "sw2.bank.example:9583"]}"#, ["sw1.bank.example:8583", "sw2.bank.example:9583"]),
            (#"{"terminal": "A", "switches": ["[::1]:8583", "127.0.0.1:8584"]}"#, ["[::1]:8583", "127.0.0.1:8584"]),
            (#"{"terminal": "A", "switches": ["[fe80::1%eth0]:1"]}"#, ["[fe80::1%eth0]:1"]),
            (#"{"terminal": "A", "host": "10.0.0.9", "port": 9000}"#, ["10.0.0.9:9000"]),
            (#"{"terminal": "A", "port": 9000}"#, ["127.0.0.1:9000"]),
            (#"{"terminal": "A"}"#, ["127.0.0.1:8583"]),
        ]
    )
    func switches(json: String, addresses: [String]) throws {
        let configuration = try Self.read(json)
        #expect(configuration.switches.map(\.description) == addresses)
        #expect(configuration.switches.map { try? SwitchAddress(parsing: $0.description) } == configuration.switches)
    }

    @Test(
        "a bad switches entry is one line that names it",
        arguments: [
            (#"{"terminal": "A", "switches": []}"#, #"switches: must list at least one switch, as "HOST:PORT""#),
            (#"{"terminal": "A", "switches": "10.0.0.1:8583"}"#, #"switches: must be a list of "HOST:PORT" strings"#),
            (#"{"terminal": "A", "switches": [8583]}"#, #"switches[0]: must be a string "HOST:PORT""#),
            (#"{"terminal": "A", "switches": ["10.0.0.1:8583", "10.0.0.2"]}"#, #"switches[1]: "10.0.0.2" has no port; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["10.0.0.1:0"]}"#, #"switches[0]: "10.0.0.1:0" has a port that is not a number from 1 to 65535"#),
            (#"{"terminal": "A", "switches": ["10.0.0.1:65536"]}"#, #"switches[0]: "10.0.0.1:65536" has a port that is not a number from 1 to 65535"#),
            (#"{"terminal": "A", "switches": ["10.0.0.1:85x3"]}"#, #"switches[0]: "10.0.0.1:85x3" has a port that is not a number from 1 to 65535"#),
            (#"{"terminal": "A", "switches": [":8583"]}"#, #"switches[0]: ":8583" names no host; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["::1:8583"]}"#, #"switches[0]: "::1:8583" has an IPv6 address without brackets; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["[::1:8583"]}"#, #"switches[0]: "[::1:8583" has no closing ] after its IPv6 address; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["[::1]8583"]}"#, #"switches[0]: "[::1]8583" has no :PORT after ]; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["[]:8583"]}"#, #"switches[0]: "[]:8583" names no host; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["http://sw1:8583"]}"#, #"switches[0]: "http://sw1:8583" names no host; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"#),
            (#"{"terminal": "A", "switches": ["sw1:8583", "sw1:8583"]}"#, #"switches[1]: "sw1:8583" is listed twice"#),
            (#"{"terminal": "A", "switches": ["sw1:8583"], "host": "sw1"}"#, #"host: cannot be given with switches: list every switch in switches, as "HOST:PORT""#),
            (#"{"terminal": "A", "switches": ["sw1:8583"], "port": 8583}"#, #"port: cannot be given with switches: list every switch in switches, as "HOST:PORT""#),
        ]
    )
    func badSwitches(json: String, message: String) {
        #expect(Self.problem(json) == "/etc/cashpoint/atm.json: " + message)
    }
}

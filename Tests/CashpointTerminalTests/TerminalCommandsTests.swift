import ArgumentParser
import CashpointTerminal
import Foundation
import Testing

@Suite("atm-terminal's options: the configuration they name, and the values they parse")
struct TerminalCommandsTests {
    static func configuration(
        _ arguments: [String],
        defaultTerminal: String = "ATM00001"
    ) throws -> TerminalConfiguration {
        try TerminalConfiguration(try TerminalOptions.parse(arguments), defaultTerminal: defaultTerminal)
    }

    /// A configuration file with `json`, removed after `body`.
    static func withFile(_ json: String, _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("atm-\(UUID().uuidString).json").path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test("without a file: the default terminal, 500 notes of 20 and 200 of 50, the demo fixture's test key")
    func defaults() throws {
        let atm = try Self.configuration([])
        #expect(atm.terminal == "ATM00001")
        #expect(atm.cassettes.map(\.denomination) == [2_000, 5_000])
        #expect(atm.cassettes.map(\.count) == [500, 200])
        #expect(atm.cassettes.map(\.lowThreshold) == [50, 20])
        #expect(atm.fixture == "fixtures/bank.json")
        #expect(atm.masterKeyFile == nil)
        #expect(atm.switches == [SwitchAddress(host: "127.0.0.1", port: 8583)])
        #expect(try Self.configuration([], defaultTerminal: "BRANCH01").terminal == "BRANCH01")
    }

    @Test("flags override the file; a key file named by a flag replaces the fixture, and the other way round")
    func overrides() throws {
        try Self.withFile(#"{"terminal": "ATM00002", "masterKeyFile": "/keys/atm2.key", "port": 9000}"#) { file in
            let fromFile = try Self.configuration(["--config", file])
            #expect(fromFile.terminal == "ATM00002")
            #expect(fromFile.masterKeyFile == "/keys/atm2.key")
            #expect(fromFile.fixture == nil, "the file's key file: no demo fixture")
            #expect(fromFile.switches == [SwitchAddress(host: "127.0.0.1", port: 9000)])
            #expect(fromFile.cassettes.isEmpty)
            let flagged = try Self.configuration(
                [
                    "--config", file, "--host", "10.0.0.5", "--port", "8600", "--terminal", "ATM00009", "--fixture",
                    "f.json",
                ]
            )
            #expect(flagged.switches == [SwitchAddress(host: "10.0.0.5", port: 8600)])
            #expect(flagged.terminal == "ATM00009")
            #expect(flagged.fixture == "f.json")
            #expect(flagged.masterKeyFile == nil)
        }
        let keyed = try Self.configuration(["--fixture", "f.json", "--master-key-file", "/k", "--data-folder", "/d"])
        #expect(keyed.masterKeyFile == "/k")
        #expect(keyed.fixture == nil)
        #expect(keyed.dataFolder == "/d")
    }

    @Test("a port out of range and a configuration file that cannot be used are refused with the reason")
    func refused() throws {
        let port = #expect(throws: ValidationError.self) { try Self.configuration(["--port", "70000"]) }
        #expect(port?.message == "--port must be 1 to 65535")
        let file = #expect(throws: ValidationError.self) { try Self.configuration(["--config", "/no/such/file.json"]) }
        #expect(file?.message.hasPrefix("/no/such/file.json: cannot be read") == true)
    }

    @Test("--fault jam:N", arguments: [("jam:0", 0), ("jam:3", 3)])
    func fault(text: String, notes: Int) throws {
        #expect(try TerminalCommands.jamAfter(fault: text) == notes)
    }

    @Test("--fault refuses anything but jam:N with N 0 or more", arguments: ["jam:", "jam:-1", "jam:x", "stuck:1"])
    func badFault(text: String) {
        let error = #expect(throws: ValidationError.self) { try TerminalCommands.jamAfter(fault: text) }
        #expect(error?.message == "--fault takes jam:N (N notes, 0 or more), got '\(text)'")
    }

    @Test("--since takes a UTC day or a UTC time, in milliseconds since 1970")
    func since() throws {
        #expect(try TerminalCommands.since("2026-12-01") == 1_796_083_200_000)
        #expect(try TerminalCommands.since("2026-12-01T15:30:00Z") == 1_796_139_000_000)
        #expect(throws: ValidationError.self) { try TerminalCommands.since("yesterday") }
    }

    @Test("--counts: whole numbers separated by commas, blanks around them allowed")
    func counts() throws {
        #expect(try TerminalCommands.counts("500,200") == [500, 200])
        #expect(try TerminalCommands.counts(" 500 , 0") == [500, 0])
        let error = #expect(throws: ValidationError.self) { try TerminalCommands.counts("500,many") }
        #expect(error?.message == "--counts takes whole numbers separated by commas, e.g. 500,200")
    }

    @Test("a secret typed with echo off: a * per key, backspace erases one, Enter ends the line")
    func maskedLine() {
        var line = MaskedLine()
        #expect(line.key(Int32(UInt8(ascii: "1"))) == .echo("*"))
        #expect(line.key(Int32(UInt8(ascii: "2"))) == .echo("*"))
        #expect(line.key(127) == .echo("\u{8} \u{8}"))
        #expect(line.key(Int32(UInt8(ascii: "3"))) == .echo("*"))
        #expect(line.key(13) == .done("13"))
        var empty = MaskedLine()
        #expect(empty.key(8) == .echo(""), "nothing to erase")
        #expect(empty.key(EOF) == .done(nil), "input ended before anything was typed")
        var typed = MaskedLine()
        _ = typed.key(Int32(UInt8(ascii: "9")))
        #expect(typed.key(EOF) == .done("9"))
    }

    @Test("compose: an unknown kind is refused naming the kinds; a withdrawal prints the masked 0200 and its frame")
    func compose() throws {
        let unknown = #expect(throws: ValidationError.self) {
            try TerminalCommands.compose(try ComposeOptions.parse(["loan", "--pan", "4761739001010119"]))
        }
        #expect(unknown?.message.hasPrefix("unknown transaction 'loan'; choose one of withdrawal") == true)
        let text = try TerminalCommands.compose(
            try ComposeOptions.parse(["withdrawal", "--pan", "4761739001010119", "--amount", "2000", "--stan", "42"])
        )
        #expect(text.contains("476173******0119"), "the PAN masked in the message")
        #expect(text.contains("000042"))
        #expect(text.contains("0000  00 "), "the frame as a hex dump")
    }

    @Test("--switch, repeated: the list replaces the file's; --host and --port alone make one switch")
    func switchFlags() throws {
        try Self.withFile(#"{"terminal": "ATM00002", "switches": ["10.0.0.1:8583", "10.0.0.2:8583"]}"#) { file in
            #expect(try Self.configuration(["--config", file]).switches.map(\.description) == ["10.0.0.1:8583", "10.0.0.2:8583"])
            let listed = try Self.configuration(["--config", file, "--switch", "127.0.0.1:9001", "--switch", "[::1]:9002"])
            #expect(listed.switches == [SwitchAddress(host: "127.0.0.1", port: 9001), SwitchAddress(host: "::1", port: 9002)])
            // --port alone: one switch, the first configured one's host.
            #expect(try Self.configuration(["--config", file, "--port", "9100"]).switches.map(\.description) == ["10.0.0.1:9100"])
        }
    }

    @Test(
        "a bad --switch, or --switch with --host or --port, is refused with the reason",
        arguments: [
            (["--switch", "10.0.0.1"], #"--switch "10.0.0.1" has no port"#),
            (["--switch", "10.0.0.1:99999"], #"--switch "10.0.0.1:99999" has a port that is not a number from 1 to 65535"#),
            (["--switch", "junk junk:1"], #"--switch "junk junk:1" names no host"#),
            (["--switch", "a:1", "--switch", "a:1"], "--switch a:1 is given twice"),
            (["--switch", "a:1", "--host", "b"], "--switch cannot be given with --host or --port"),
            (["--switch", "a:1", "--port", "2"], "--switch cannot be given with --host or --port"),
            (["--port", "0"], "--port must be 1 to 65535"),
        ]
    )
    func badSwitchFlags(arguments: [String], message: String) {
        do {
            _ = try Self.configuration(arguments)
            Issue.record("\(arguments) was accepted")
        } catch let error as ValidationError {
            #expect(error.message.hasPrefix(message), "\(error.message)")
        } catch {
            Issue.record("\(arguments): \(error)")
        }
    }
}

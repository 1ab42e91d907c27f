import ATM87
import ArgumentParser
import CashpointHarness
import CashpointSecurity
import CashpointStore
import CashpointTerminal
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("atm-harness: decode, the flood's verdicts, and the options it refuses")
struct HarnessCommandsTests {
    /// An echo test (0800 301) as the harness decodes it.
    static func echo() throws -> ATM87Message {
        var message = ATM87Message(mti: .networkManagementRequest)
        try message.set(7, "1125093112")
        try message.set(11, "000001")
        try message.set(41, "ATM00001")
        try message.set(70, "301")
        return message
    }

    @Test("a frame is recognised by its length prefix, unframed hex decodes as it is, a hex dump too")
    func decode() throws {
        let message = try Self.echo()
        let framed = try HarnessCommands.decode(Hex.encode(message.framedBytes), framed: false)
        #expect(framed.text.hasPrefix("prefix: a 2-byte length header, "))
        #expect(framed.text.contains("\nframe: 2 length bytes + \(message.encodedBytes.count)\n"))
        #expect(framed.text.hasSuffix("rules: ok") == framed.ok)
        let bare = try HarnessCommands.decode(Hex.encode(message.encodedBytes), framed: false)
        #expect(!bare.text.contains("frame:"))
        #expect(bare.text.hasPrefix("prefix: none, read as a message without a length header"))
        #expect(bare.text.contains(ATM87PrettyPrinter.format(message)))
        let dump = try HarnessCommands.decode(HexDump.format(message.framedBytes), framed: false)
        #expect(dump.text == framed.text)
        // Pasted from docs/protocol.md with its fence lines.
        let fenced = try HarnessCommands.decode("```\n" + HexDump.format(message.framedBytes) + "\n```\n", framed: false)
        #expect(fenced.text == framed.text)
        let tagged = try HarnessCommands.decode("  ```text\n" + Hex.encode(message.encodedBytes) + "\n  ```", framed: false)
        #expect(tagged.text == bare.text)
    }

    @Test("a closed output pipe: the write fails once and is not tried again, and nothing crashes")
    func closedPipe() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        close(ends[0])
        let output = HarnessOutput(descriptor: ends[1])
        #expect(!output.line("step 1 ok"))
        #expect(output.isClosed)
        #expect(!output.line("step 2 ok"))
        close(ends[1])
        var open: [Int32] = [0, 0]
        #expect(pipe(&open) == 0)
        defer {
            close(open[0])
            close(open[1])
        }
        #expect(HarnessOutput(descriptor: open[1]).line("read"))
    }

    @Test("a wrong length prefix, bytes that do not decode and text that is not hex are each refused")
    func refused() throws {
        let message = try Self.echo()
        var bytes = message.framedBytes
        bytes[1] &+= 1
        let frame = try HarnessCommands.decode(Hex.encode(bytes), framed: true)
        #expect(!frame.ok)
        #expect(
            frame.text == "frame error: the length prefix says \(bytes.count - 1) bytes, but \(bytes.count - 2) follow"
        )
        let garbage = try HarnessCommands.decode("0102", framed: false)
        #expect(!garbage.ok)
        #expect(garbage.text.contains("\ndecode error: "))
        let one = try HarnessCommands.decode("01", framed: false)
        #expect(one.text.contains("\ndecode error: "), "one byte is no frame")
        let error = #expect(throws: ValidationError.self) { try HarnessCommands.decode("not hex", framed: false) }
        #expect(error?.message == "the input is not hex (pairs of 0-9, A-F), nor a hex dump")
    }

    static func measure(
        unanswered: Int = 0,
        before: Int? = nil,
        after: Int? = nil,
        pid: Bool = false
    )
        -> FloodCheck.FloodMeasure
    {
        var report = Garbler.Report()
        report.frames = 100
        report.answered = 90 - unanswered
        report.closedByServer = 10
        report.unanswered = unanswered
        return FloodCheck.FloodMeasure(
            report: report,
            connections: 4,
            elapsed: .seconds(2),
            warmUpFrames: 10,
            before: before,
            after: after,
            pidGiven: pid
        )
    }

    @Test("the flood fails on an unanswered frame, on memory grown past the bound, on memory it cannot read")
    func floodVerdict() {
        let clean = FloodCheck.verdict(Self.measure(), maxGrowthMiB: 64)
        #expect(!clean.failed)
        #expect(
            clean.lines == [
                "flood: 100 frames over 4 connections in 2.0 seconds: 90 answered (30 or another code), "
                    + "10 closed by the switch, 0 unanswered (warm-up: 10 frames)"
            ]
        )
        #expect(FloodCheck.verdict(Self.measure(unanswered: 1), maxGrowthMiB: 64).failed)
        let within = FloodCheck.verdict(
            Self.measure(before: 10_240, after: 10_240 + 64 * 1024, pid: true),
            maxGrowthMiB: 64
        )
        #expect(!within.failed)
        #expect(within.lines.last == "switch memory: 10.0 MiB before, 74.0 MiB after (growth 64.0 MiB; bound 64 MiB)")
        let grown = FloodCheck.verdict(
            Self.measure(before: 10_240, after: 10_240 + 65 * 1024, pid: true),
            maxGrowthMiB: 64
        )
        #expect(grown.failed)
        #expect(grown.lines.last == "flood: FAILED: the switch's memory grew beyond the bound")
        let unread = FloodCheck.verdict(Self.measure(pid: true), maxGrowthMiB: 64)
        #expect(unread.failed)
        #expect(unread.lines.last == "flood: cannot read the switch's memory from /proc")
    }

    @Test("idle connections fail when fewer open than asked, or when they grow the memory past the bound")
    func idleVerdict() {
        let held = FloodCheck.idleVerdict(wanted: 1_000, opened: 1_000, after: 20_480, during: 30_720, maxGrowthMiB: 64)
        #expect(!held.failed)
        #expect(
            held.lines == [
                "idle: 1000 of 1000 idle connections held open at once",
                "switch memory with them: 30.0 MiB (10.2 KiB per connection)",
            ]
        )
        #expect(FloodCheck.idleVerdict(wanted: 1_000, opened: 999, after: nil, during: nil, maxGrowthMiB: 64).failed)
        let grown = FloodCheck.idleVerdict(wanted: 10, opened: 10, after: 0, during: 65 * 1024, maxGrowthMiB: 64)
        #expect(grown.failed)
        #expect(grown.lines.last == "idle: FAILED: the switch's memory grew beyond the bound")
    }

    @Test("--proxy-upstream is HOST:PORT with a port of 1 to 65535")
    func upstream() {
        #expect(HarnessCommands.upstream("127.0.0.1:5432")! == ("127.0.0.1", 5432))
        #expect(HarnessCommands.upstream("[::1]:5432")! == ("::1", 5432))
        for bad in ["127.0.0.1", ":5432", "db:0", "db:65536", "db:port", "::1:5432", "[::1:5432", "[]:5432"] {
            #expect(HarnessCommands.upstream(bad) == nil, "\(bad)")
        }
        #expect(HarnessCommands.upstream(nil) == nil)
    }

    @Test(
        "load and bank refuse what they cannot run, naming the option",
        arguments: [
            (["--terminals", "0"], "--terminals must be 1 or more (0 only with --script: the scripts alone)"),
            (["--script", "x.yaml", "--script-users", "0"], "--script-users must be 1 to 10000"),
            (["--duration", "0"], "--duration must be above 0 seconds"),
            (["--warmup=-1"], "--warmup must be 0 or more seconds"),
            (["--rate", "0"], "--rate must be above 0 requests a second"),
            (["--think", "200ms", "--rate", "10"], "--think is a closed loop's pause; with --rate each terminal keeps its own schedule"),
            (["--ramp", "20s"], "--ramp must be shorter than the run (--warmup plus --duration)"),
            (["--ramp", "soon"], "--ramp: soon is not a duration (write 500ms, 2s, 1.5s or 1m)"),
            (["--switch", "127.0.0.1"], "--switch \"127.0.0.1\" has no port; must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"),
        ]
    )
    func loadRefuses(arguments: [String], reason: String) {
        #expect(LoadOptions.message(for: Self.parseError(LoadOptions.self, arguments)) == reason)
    }

    @Test(
        "bank refuses options that do not go together",
        arguments: [
            (["--terminals", "501"], "--terminals must be 1 to 500"),
            (["--proxy-port", "6000"], "--proxy-port (1-65535) and --proxy-upstream HOST:PORT go together"),
            (["--proxy-upstream", "db:5432"], "--proxy-port (1-65535) and --proxy-upstream HOST:PORT go together"),
            (
                ["--chaos"],
                "--chaos needs --proxy-port, --proxy-upstream, --restart-switch and --restart-database "
                    + "(or, on a cluster, --kill-primary, --rejoin-primary and --restart-switch)"
            ),
            (
                ["--chaos", "--kill-primary", "k", "--restart-switch", "r"],
                "--kill-primary and --rejoin-primary go together, with --chaos and --restart-switch"
            ),
            (
                ["--kill-primary", "k", "--rejoin-primary", "j", "--restart-switch", "r"],
                "--kill-primary and --rejoin-primary go together, with --chaos and --restart-switch"
            ),
            (
                [
                    "--chaos", "--kill-primary", "k", "--rejoin-primary", "j", "--restart-switch", "r",
                    "--restart-database", "d",
                ],
                "--kill-primary is a cluster's run: the switches use the cluster's URL, without the database "
                    + "proxy or --restart-database"
            ),
            (["--failovers", "0"], "--failovers must be 1 or more"),
            (["--switch", "a:1", "--switch", "b:0"], "--switch \"b:0\" has a port that is not a number from 1 to 65535"),
        ]
    )
    func bankRefuses(arguments: [String], reason: String) {
        #expect(BankCheckOptions.message(for: Self.parseError(BankCheckOptions.self, arguments)) == reason)
    }

    @Test("the options' defaults are the commands' documented ones")
    func defaults() throws {
        let load = try LoadOptions.parse(["--connections", "4", "--seconds", "2"])
        #expect(load.terminals == 4)
        #expect(load.duration == 2)
        #expect(load.address.port == 8583)
        #expect(load.address.fixture == "fixtures/bank.json")
        let flood = try FloodOptions.parse([])
        #expect(flood.frames == 10_000)
        #expect(flood.then == "fixtures/sequences/after-flood.json")
        _ = try BankCheckOptions.parse([
            "--chaos", "--proxy-port", "6000", "--proxy-upstream", "127.0.0.1:5432",
            "--restart-switch", "true", "--restart-database", "true",
        ])
        let cluster = try BankCheckOptions.parse([
            "--chaos", "--kill-primary", "k", "--rejoin-primary", "j", "--restart-switch", "r",
            "--switch", "127.0.0.1:7001", "--switch", "[::1]:7002",
        ])
        #expect(cluster.failovers == 1)
        #expect(
            try cluster.address.addresses(cluster.list.switches)
                == [SwitchAddress(host: "127.0.0.1", port: 7001), SwitchAddress(host: "::1", port: 7002)]
        )
        #expect(try load.address.addresses(load.list.switches) == [SwitchAddress(host: "127.0.0.1", port: 8583)])
        #expect(SwitchAddress(host: "::1", port: 7002).description == "[::1]:7002")
    }

    /// The error parsing `arguments` gives.
    @Test("load refuses the demo bank (not a load bank) unless --allow-demo-bank, before it connects")
    func loadRefusesTheDemoBank() async throws {
        // Port 9 (discard): nothing listens there, so a load that went on would fail to connect instead.
        var options = try LoadOptions.parse(["--port", "9", "--fixture", repositoryFile("fixtures/bank.json")])
        do {
            _ = try await HarnessCommands.load(options)
            Issue.record("a load of the demo bank ran")
        } catch {
            #expect(error.message.contains("is not a load bank"))
            #expect(error.message.contains("--allow-demo-bank"))
        }
        options = try LoadOptions.parse(["--port", "9", "--fixture", repositoryFile("fixtures/bank.json"), "--allow-demo-bank"])
        // Allowed, it goes on and cannot connect: a verdict, not the refusal.
        let verdict = try? await HarnessCommands.load(options)
        #expect(verdict != nil)
        let bank = try BankFixture.load(repositoryFile("fixtures/bank.json"))
        #expect(bank.purpose == nil)
        let loadBank = try JSONDecoder().decode(BankFixture.self, from: LoadBank.fixtureJSON(terminals: 2))
        #expect(loadBank.purpose == BankFixture.loadPurpose)
    }

    static func parseError<T: ParsableArguments>(_ type: T.Type, _ arguments: [String]) -> any Error {
        do {
            _ = try T.parse(arguments)
            Issue.record("\(arguments) parsed")
            return CancellationError()
        } catch {
            return error
        }
    }
}

import ArgumentParser
import CashpointHarness
import CashpointSecurity
import CashpointStore
import Foundation

/// Where a switch listens, and the terminal master keys (the demo fixture's test keys by default).
struct SwitchAddress: ParsableArguments {
    @Option(help: "The switch's host.")
    var host: String = "127.0.0.1"

    @Option(help: "The switch's ATM-87 port.")
    var port: Int = 8583

    @Option(help: "The bank fixture whose terminals' master keys (test keys) the sequences use.")
    var fixture: String = "fixtures/bank.json"

    func masterKey(of terminal: String) throws -> SecretKey {
        try Self.masterKey(of: terminal, fixture: self.fixture)
    }

    static func masterKey(of terminal: String, fixture: String) throws -> SecretKey {
        let bank: BankFixture
        do {
            bank = try BankFixture.load(fixture)
        } catch {
            throw ValidationError("cannot read \(fixture): \(error)")
        }
        guard let hex = bank.terminals.first(where: { $0.id == terminal })?.masterKey else {
            throw ValidationError("\(fixture) has no master key for terminal \(terminal)")
        }
        do {
            return try SecretKey(hex: hex, name: "master key of \(terminal)")
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The runner for scripts at this address, with the fixture's master keys.
    func runner(say: @escaping @Sendable (String) -> Void) -> ScriptRunner {
        let fixture = self.fixture
        return ScriptRunner(
            host: self.host,
            port: self.port,
            masterKey: { terminal in try Self.masterKey(of: terminal, fixture: fixture).key },
            say: say
        )
    }

    /// Plays a script; the number of steps that did not pass.
    func play(_ script: Script) async throws -> Int {
        let result = await self.runner(say: say).run(script)
        return result.failed + result.errors
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play scripts (fixtures/sequences/*.yaml, *.json) at a switch and check every answer.",
        discussion: """
            Prints each step, and for a step that failed what differed and both messages through the \
            masking printer; the closing line is `N passed, N failed` (steps). docs/harness.md describes \
            scripts. Exits 1 if any step failed or a script could not be read.
            """
    )

    @Argument(help: "Script files (YAML or JSON).")
    var files: [String]

    @OptionGroup var address: SwitchAddress

    @Option(help: "Write a JUnit XML report here (a testsuite per script, a testcase per step).")
    var junit: String?

    @Flag(help: "Print the report as JSON on standard output (the progress goes to standard error).")
    var json = false

    func run() async throws {
        let printer: @Sendable (String) -> Void
        if self.json {
            printer = { text in sayToStandardError(text) }
        } else {
            printer = { text in say(text) }
        }
        let report = await self.address.runner(say: printer).run(files: self.files)
        if let junit = self.junit {
            do {
                try report.junitXML().write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the JUnit report \(junit): \(error.localizedDescription)")
            }
        }
        if self.json { print(report.json()) }
        printer(report.summary)
        if report.failed > 0 { throw ExitCode(1) }
    }
}

struct Flood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Send random and garbled frames over many connections, then check that a valid transaction still succeeds.",
        discussion: """
            With --pid, reads the switch's resident memory (/proc) after a warm-up flood and after the \
            measured one, and fails if it grew by more than --max-growth-mib. Exits 1 on any failure.
            """
    )

    @OptionGroup var address: SwitchAddress

    @Option(help: "Frames to send.")
    var frames: Int = 10_000

    @Option(help: "Concurrent connections.")
    var connections: Int = 40

    @Option(help: "The switch's process id, to measure its memory.")
    var pid: Int32?

    @Option(help: "The most the switch's resident memory may grow over the measured flood, in MiB.")
    var maxGrowthMib: Int = 64

    @Option(help: "Idle connections to hold open at once after the flood (their memory is measured with --pid).")
    var idle: Int = 0

    @Option(help: "A sequence to play afterwards (it must pass).")
    var then: String = "fixtures/sequences/after-flood.json"

    func run() async throws {
        let warmUp = try await Garbler.flood(
            host: self.address.host,
            port: self.address.port,
            frames: max(1, self.frames / 10),
            connections: self.connections,
            seed: 7
        )
        let before = self.pid.flatMap(Garbler.residentKiB)
        let clock = ContinuousClock()
        var report = Garbler.Report()
        let elapsed = try await clock.measure {
            report = try await Garbler.flood(
                host: self.address.host,
                port: self.address.port,
                frames: self.frames,
                connections: self.connections,
                seed: 42
            )
        }
        let after = self.pid.flatMap(Garbler.residentKiB)
        say(
            "flood: \(report.frames) frames over \(self.connections) connections in \(elapsed): "
                + "\(report.answered) answered (30 or another code), \(report.closedByServer) closed by the switch, "
                + "\(report.unanswered) unanswered (warm-up: \(warmUp.frames) frames)"
        )
        var failed = report.unanswered > 0
        if let before, let after {
            let growth = Double(after - before) / 1024
            say(
                String(
                    format: "switch memory: %.1f MiB before, %.1f MiB after (growth %.1f MiB; bound %d MiB)",
                    Double(before) / 1024,
                    Double(after) / 1024,
                    growth,
                    self.maxGrowthMib
                )
            )
            if growth > Double(self.maxGrowthMib) {
                say("flood: FAILED: the switch's memory grew beyond the bound")
                failed = true
            }
        } else if self.pid != nil {
            say("flood: cannot read the switch's memory from /proc")
            failed = true
        }
        if self.idle > 0 {
            let (opened, during) = try await Self.holdIdle(
                host: self.address.host,
                port: self.address.port,
                count: self.idle,
                pid: self.pid
            )
            say("idle: \(opened) of \(self.idle) idle connections held open at once")
            if let after, let during {
                let growth = Double(during - after) / 1024
                say(
                    String(
                        format: "switch memory with them: %.1f MiB (%.1f KiB per connection)",
                        Double(during) / 1024,
                        Double(during - after) / Double(max(opened, 1))
                    )
                )
                if growth > Double(self.maxGrowthMib) {
                    say("idle: FAILED: the switch's memory grew beyond the bound")
                    failed = true
                }
            }
            if opened < self.idle { failed = true }
        }
        let failures = try await self.address.play(try Script.load(self.then))
        if failures > 0 || failed { throw ExitCode(1) }
        say("flood: OK")
    }
}

extension Flood {
    /// Opens `count` connections that send nothing, measures the switch while they are open, closes them.
    static func holdIdle(host: String, port: Int, count: Int, pid: Int32?) async throws -> (opened: Int, kib: Int?) {
        let (opened, counter) = AsyncStream<Void>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            let shared = SharedRelease()
            for _ in 0..<count {
                group.addTask {
                    try await RawLink.with(host: host, port: port) { _ in
                        counter.yield()
                        await shared.wait()
                    }
                }
            }
            var seen = 0
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(20))
            var iterator = opened.makeAsyncIterator()
            while seen < count, clock.now < deadline, await iterator.next() != nil { seen += 1 }
            try await Task.sleep(for: .milliseconds(500))
            let kib = pid.flatMap(Garbler.residentKiB)
            await shared.releaseAll()
            try await group.waitForAll()
            return (seen, kib)
        }
    }
}

/// Lets every idle connection go at once.
actor SharedRelease {
    var released = false
    var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if self.released { return }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    func releaseAll() {
        self.released = true
        for waiter in self.waiters { waiter.resume() }
        self.waiters = []
    }
}

/// A line on standard error (progress while standard output carries a machine report).
func sayToStandardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

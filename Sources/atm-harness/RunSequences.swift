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
        let bank: BankFixture
        do {
            bank = try BankFixture.load(self.fixture)
        } catch {
            throw ValidationError("cannot read \(self.fixture): \(error)")
        }
        guard let hex = bank.terminals.first(where: { $0.id == terminal })?.masterKey else {
            throw ValidationError("\(self.fixture) has no master key for terminal \(terminal)")
        }
        do {
            return try SecretKey(hex: hex, name: "master key of \(terminal)")
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Plays a sequence; the number of steps whose answers differed.
    func play(_ sequence: CashpointHarness.Sequence) async throws -> Int {
        try await SequenceRunner(
            host: self.host,
            port: self.port,
            masterKey: try self.masterKey(of: sequence.terminal).key,
            say: say
        ).run(sequence)
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play scripted sequences (fixtures/sequences/*.json) at a switch and check every answer.",
        discussion: """
            Prints each step's answer through the masking printer and every field that differs from \
            the sequence's expectation. Exits 1 if any step differs, 2 if a sequence cannot run.
            """
    )

    @Argument(help: "Sequence files.")
    var files: [String]

    @OptionGroup var address: SwitchAddress

    func run() async throws {
        var failures = 0
        for file in self.files {
            let sequence: CashpointHarness.Sequence
            do {
                sequence = try Sequence.load(file)
            } catch {
                throw ValidationError("cannot read the sequence \(file): \(error)")
            }
            do {
                failures += try await self.address.play(sequence)
            } catch {
                say("sequence \(sequence.name) stopped: \(error)")
                throw ExitCode(2)
            }
        }
        if failures > 0 { throw ExitCode(1) }
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
        let failures = try await self.address.play(try Sequence.load(self.then))
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

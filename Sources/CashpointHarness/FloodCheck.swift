public import Foundation

/// `atm-harness flood`: garbled frames over many connections, the switch's resident memory measured
/// around them (with its process id), optionally many idle connections held open at once, then a
/// script that must still pass. The verdicts are pure functions of the measurements; `run` is the shell.
public struct FloodCheck: Sendable {
    public var host: String
    public var port: Int
    public var frames: Int
    public var connections: Int
    /// The switch's process id, to read its memory; nil: not measured.
    public var pid: Int32?
    /// The most its resident memory may grow over the measured flood (and with the idle connections).
    public var maxGrowthMiB: Int
    /// Idle connections to hold open at once after the flood.
    public var idle: Int
    /// The script played afterwards, which must pass.
    public var then: String
    public var clock: any Clock<Duration>

    public init(
        host: String,
        port: Int,
        frames: Int,
        connections: Int,
        pid: Int32?,
        maxGrowthMiB: Int,
        idle: Int,
        then: String,
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.host = host
        self.port = port
        self.frames = frames
        self.connections = connections
        self.pid = pid
        self.maxGrowthMiB = maxGrowthMiB
        self.idle = idle
        self.then = then
        self.clock = clock
    }

    /// What the measured flood gave.
    public struct FloodMeasure: Sendable, Hashable {
        public var report: Garbler.Report
        public var connections: Int
        public var elapsed: Duration
        public var warmUpFrames: Int
        /// Resident KiB before and after; nil when not read.
        public var before: Int?
        public var after: Int?
        public var pidGiven: Bool

        public init(
            report: Garbler.Report,
            connections: Int,
            elapsed: Duration,
            warmUpFrames: Int,
            before: Int?,
            after: Int?,
            pidGiven: Bool
        ) {
            self.report = report
            self.connections = connections
            self.elapsed = elapsed
            self.warmUpFrames = warmUpFrames
            self.before = before
            self.after = after
            self.pidGiven = pidGiven
        }
    }

    /// The lines for the flood, and whether it failed: a frame left unanswered, memory grown beyond the
    /// bound, or memory that could not be read for a process id given.
    public static func verdict(_ measure: FloodMeasure, maxGrowthMiB: Int) -> (lines: [String], failed: Bool) {
        let report = measure.report
        var lines = [
            "flood: \(report.frames) frames over \(measure.connections) connections in \(measure.elapsed): "
                + "\(report.answered) answered (30 or another code), \(report.closedByServer) closed by the switch, "
                + "\(report.unanswered) unanswered (warm-up: \(measure.warmUpFrames) frames)"
        ]
        var failed = report.unanswered > 0
        if let before = measure.before, let after = measure.after {
            let growth = Double(after - before) / 1024
            lines.append(
                String(
                    format: "switch memory: %.1f MiB before, %.1f MiB after (growth %.1f MiB; bound %d MiB)",
                    Double(before) / 1024,
                    Double(after) / 1024,
                    growth,
                    maxGrowthMiB
                )
            )
            if growth > Double(maxGrowthMiB) {
                lines.append("flood: FAILED: the switch's memory grew beyond the bound")
                failed = true
            }
        } else if measure.pidGiven {
            lines.append("flood: cannot read the switch's memory from /proc")
            failed = true
        }
        return (lines, failed)
    }

    /// The lines for the idle connections, and whether they failed: fewer opened than asked, or memory
    /// grown beyond the bound while they were open (from `after`, the memory after the flood).
    public static func idleVerdict(
        wanted: Int,
        opened: Int,
        after: Int?,
        during: Int?,
        maxGrowthMiB: Int
    ) -> (lines: [String], failed: Bool) {
        var lines = ["idle: \(opened) of \(wanted) idle connections held open at once"]
        var failed = opened < wanted
        if let after, let during {
            let growth = Double(during - after) / 1024
            lines.append(
                String(
                    format: "switch memory with them: %.1f MiB (%.1f KiB per connection)",
                    Double(during) / 1024,
                    Double(during - after) / Double(max(opened, 1))
                )
            )
            if growth > Double(maxGrowthMiB) {
                lines.append("idle: FAILED: the switch's memory grew beyond the bound")
                failed = true
            }
        }
        return (lines, failed)
    }

    /// Floods, measures, holds the idle connections, plays the script; true when all of it passed.
    /// `play` plays a script and returns the steps that did not pass.
    public func run(
        say: @escaping @Sendable (String) -> Void,
        play: (Script) async throws -> Int
    ) async throws -> Bool {
        let warmUp = try await Garbler.flood(
            host: self.host,
            port: self.port,
            frames: max(1, self.frames / 10),
            connections: self.connections,
            seed: 7
        )
        let before = self.pid.flatMap(Garbler.residentKiB)
        var report = Garbler.Report()
        let elapsed = try await self.clock.measure {
            report = try await Garbler.flood(
                host: self.host,
                port: self.port,
                frames: self.frames,
                connections: self.connections,
                seed: 42
            )
        }
        let after = self.pid.flatMap(Garbler.residentKiB)
        let measure = FloodMeasure(
            report: report,
            connections: self.connections,
            elapsed: elapsed,
            warmUpFrames: warmUp.frames,
            before: before,
            after: after,
            pidGiven: self.pid != nil
        )
        let flood = Self.verdict(measure, maxGrowthMiB: self.maxGrowthMiB)
        flood.lines.forEach(say)
        var failed = flood.failed
        if self.idle > 0 {
            let (opened, during) = try await self.holdIdle()
            let idle = Self.idleVerdict(
                wanted: self.idle,
                opened: opened,
                after: after,
                during: during,
                maxGrowthMiB: self.maxGrowthMiB
            )
            idle.lines.forEach(say)
            failed = failed || idle.failed
        }
        let failures = try await play(try Script.load(self.then))
        return failures == 0 && !failed
    }

    /// Opens `idle` connections that send nothing (waiting at most 20 s for them), measures the switch
    /// while they are open (half a second after the last), closes them.
    func holdIdle() async throws -> (opened: Int, kib: Int?) {
        let (opened, counter) = AsyncStream<Void>.makeStream()
        let (host, port, count, pid, clock) = (self.host, self.port, self.idle, self.pid, self.clock)
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
            let waiting = Task {
                var seen = 0
                var iterator = opened.makeAsyncIterator()
                while seen < count, await iterator.next() != nil { seen += 1 }
                return seen
            }
            let deadline = Task {
                try? await clock.sleep(for: .seconds(20))
                counter.finish()
            }
            let seen = await waiting.value
            deadline.cancel()
            try await clock.sleep(for: .milliseconds(500))
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

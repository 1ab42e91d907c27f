import ATM87
import CashpointDatabase
import CashpointHarness
import CashpointSecurity
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite("Robustness over TCP", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(5)))
struct RobustnessTests {
    /// A 0200 whose MTI and STAN read well but whose currency (field 49, after the STAN) holds letters.
    static let badCurrency: [UInt8] = {
        var message = ATM87Message(mti: .financialRequest)
        try! message.set(3, "010000")
        try! message.set(4, "000000001000")
        try! message.set(11, "000777")
        try! message.set(49, "978")
        var bytes = message.encodedBytes
        bytes[bytes.count - 2] = UInt8(ascii: "U")
        return bytes
    }()

    @Test("a malformed message with a readable MTI and STAN is answered 30; the connection stays open")
    func malformedAnswered() async throws {
        try await SwitchUnderTest.with { under in
            try await RawLink.with(port: under.port) { link in
                for _ in 0..<2 {
                    try await link.sendFrame(Self.badCurrency)
                    guard case .frame(let bytes) = try await link.next() else {
                        Issue.record("no answer")
                        return
                    }
                    let answer = try ATM87Message(decoding: bytes)
                    #expect(answer.mti == .financialResponse)
                    #expect(answer[11] == "000777")
                    #expect(answer[39] == "30")
                }
            }
        }
    }

    /// A frame of MTI `mti` with STAN `stan` (and, for a 0200, the fields that let it reach the router).
    static func frame(_ mti: MTI, stan: Int) throws -> [UInt8] {
        var message = ATM87Message(mti: mti)
        let digits = String(stan)
        try message.set(11, String(repeating: "0", count: 6 - digits.count) + digits)
        if mti == .financialRequest {
            try message.set(3, "310000")
            try message.set(41, "ATM00001")
        }
        let bytes = message.encodedBytes
        return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    @Test("frames a peer sends at once, in one write and without reading, are answered one by one in order")
    func pipelinedInOrder() async throws {
        try await SwitchUnderTest.with { under in
            try await RawLink.with(port: under.port) { link in
                // 1,500 frames: requests the router answers in a task of their own (an unserved 0100, a
                // 0200 from a terminal not signed on) between malformed ones answered at once (30).
                var bytes: [UInt8] = []
                var stans: [String] = []
                for index in 0..<500 {
                    bytes += try Self.frame(MTI(rawValue: 100), stan: 3 * index + 1)
                    bytes += try Self.frame(.financialRequest, stan: 3 * index + 2)
                    var bad = Self.badCurrency
                    let stan = Array(String(100_000 + 3 * index + 3).utf8)
                    let at = try #require(bad.firstRange(of: Array("000777".utf8)))
                    bad.replaceSubrange(at, with: stan)
                    bytes += [UInt8(bad.count >> 8), UInt8(bad.count & 0xFF)] + bad
                    stans += [3 * index + 1, 3 * index + 2].map { String(format: "%06d", $0) }
                    stans.append(String(100_000 + 3 * index + 3))
                }
                try await link.send(bytes)
                var answered: [String] = []
                for expected in stans {
                    guard case .frame(let frame) = try await link.next(timeout: .seconds(30)) else {
                        Issue.record("no answer for STAN \(expected) after \(answered.count) answers")
                        return
                    }
                    let answer = try ATM87Message(decoding: frame)
                    answered.append(answer[11] ?? "-")
                    if expected.hasPrefix("1") { #expect(answer[39] == "30") }
                }
                #expect(answered == stans)
                // The connection is still open, and served.
                try await link.sendFrame(Self.badCurrency)
                guard case .frame(let last) = try await link.next() else {
                    Issue.record("no answer after the pipelined frames")
                    return
                }
                #expect(try ATM87Message(decoding: last)[11] == "000777")
            }
        }
    }

    @Test("unreadable garbage and an oversized frame close the connection; other connections go on")
    func garbageCloses() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                try await RawLink.with(port: under.port) { link in
                    try await link.sendFrame(Array("garbage!".utf8))
                    #expect(try await link.next() == .closed)
                }
                try await RawLink.with(port: under.port) { link in
                    try await link.send([0x23, 0x28])  // declares 9,000 bytes
                    #expect(try await link.next() == .closed)
                }
                #expect(try await terminal.echo()[39] == "00")
            }
        }
    }

    @Test("connections beyond the limit are closed at once, many times over; the connections within it go on")
    func connectionLimit() async throws {
        let two: @Sendable (inout SwitchConfiguration) -> Void = { $0.maxConnections = 2 }
        try await SwitchUnderTest.with(configure: two) { under in
            try await under.terminal { terminal in
                try await RawLink.with(port: under.port) { (second: RawLink) async throws in
                    // The second speaks (a malformed frame, answered 30), so no newcomer may take its place.
                    try await second.sendFrame(Self.badCurrency)
                    guard case .frame = try await second.next() else {
                        Issue.record("no answer")
                        return
                    }
                    // Wait until the switch counts both, then knock 20 times more.
                    for _ in 0..<50 where under.current.server.connectionCount < 2 {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    #expect(under.current.server.connectionCount == 2)
                    for _ in 0..<20 {
                        try await RawLink.with(port: under.port) { (refused: RawLink) async throws in
                            #expect(try await refused.next(timeout: .seconds(5)) == .closed)
                        }
                    }
                    #expect(try await terminal.echo()[39] == "00")
                }
                #expect(try await terminal.echo()[39] == "00")
            }
        }
    }

    @Test("a frame that trickles in is cut off at the frame deadline; at the limit, silent peers make room for a terminal")
    func slowSenders() async throws {
        let tight: @Sendable (inout SwitchConfiguration) -> Void = {
            $0.maxConnections = 3
            $0.frameDeadline = .milliseconds(500)
        }
        try await SwitchUnderTest.with(configure: tight) { under in
            // One byte, then one every 100 ms: the idle timer is reset each time, the frame deadline is not.
            try await RawLink.with(port: under.port) { (slow: RawLink) async throws in
                try await slow.send([0x00])
                var closed = false
                for _ in 0..<50 where !closed {
                    try? await slow.send([0x30])
                    closed = try await slow.next(timeout: .milliseconds(100)) == .closed
                }
                #expect(closed, "a trickling frame was never cut off")
            }
            // Three peers that connect and say nothing fill the limit; a terminal still gets in.
            try await RawLink.with(port: under.port) { (a: RawLink) async throws in
                try await RawLink.with(port: under.port) { (b: RawLink) async throws in
                    try await RawLink.with(port: under.port) { (c: RawLink) async throws in
                        for _ in 0..<100 where under.current.server.connectionCount < 3 {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        #expect(under.current.server.connectionCount == 3)
                        try await under.terminal { (terminal: TerminalSession) async throws in
                            #expect(try await terminal.echo()[39] == "00")
                        }
                        // The oldest silent one made room.
                        #expect(try await a.next(timeout: .seconds(5)) == .closed)
                        _ = (b, c)
                    }
                }
            }
        }
    }

    @Test("a connection reads into one small receive buffer; a frame longer than it still arrives whole")
    func smallReceiveBuffer() async throws {
        try await SwitchUnderTest.with { under in
            try await RawLink.with(port: under.port) { link in
                // About 4 KiB: the message, then bytes the decoder finds left over (answered 30).
                try await link.sendFrame(Self.badCurrency + Array(repeating: UInt8(ascii: "0"), count: 4_000))
                guard case .frame(let bytes) = try await link.next() else {
                    Issue.record("no answer")
                    return
                }
                #expect(try ATM87Message(decoding: bytes)[39] == "30")
                let channel = try #require(under.current.server.openChannels.first)
                let option = try await channel.getOption(.recvAllocator).get()
                let allocator = try #require(option as? AdaptiveRecvByteBufferAllocator)
                #expect(allocator.initial == 512)
                let readsPerWakeup = try await channel.getOption(.maxMessagesPerRead).get()
                #expect(readsPerWakeup == 1)
            }
        }
    }

    @Test("an idle connection is closed after the idle timeout")
    func idleTimeout() async throws {
        let shortIdle: @Sendable (inout SwitchConfiguration) -> Void = { $0.idleTimeout = .milliseconds(300) }
        try await SwitchUnderTest.with(configure: shortIdle) { under in
            try await RawLink.with(port: under.port) { (link: RawLink) async throws in
                #expect(try await link.next(timeout: .seconds(5)) == .closed)
            }
        }
    }

    @Test("10,000 random and garbled frames over 40 connections; then a valid transaction succeeds")
    func garbledFlood() async throws {
        try await SwitchUnderTest.with { under in
            let report = try await Garbler.flood(host: "127.0.0.1", port: under.port, frames: 10_000, connections: 40)
            #expect(report.frames == 10_000)
            #expect(report.unanswered == 0)
            #expect(report.answered + report.closedByServer == 10_000)
            try await under.terminal { terminal in
                let answer = try await terminal.cardRequest(
                    .withdrawal,
                    pan: alice.pan,
                    pin: alice.pin,
                    amount: 1_000,
                    from: alice.current
                )
                #expect(answer[39] == "00")
            }
            #expect(try await under.bank.balance(alice.current) == 249_000)
            // Every garbled connection is gone.
            for _ in 0..<50 where under.current.server.connectionCount > 0 {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(under.current.server.connectionCount == 0)
        }
    }

    @Test("PostgreSQL unreachable: 91 while it is down, and service resumes by itself")
    func databaseDown() async throws {
        // How soon the 91 comes (probeAfter, then at most two probes) is DatabaseHealth's, tested on a
        // manual clock in DatabaseHealthTests; here, over TCP and a real outage, only what is answered.
        try await Self.behindProxy { under, database in
            try await under.terminal { terminal in
                #expect(try await terminal.cardRequest(.balance, pan: alice.pan, pin: alice.pin)[39] == "00")
                database.takeDown()
                // The first 91 comes from the lost connection or from the probe, whichever is first.
                #expect(try await terminal.cardRequest(.balance, pan: alice.pan)[39] == "91")
                #expect(try await terminal.cardRequest(.balance, pan: alice.pan)[39] == "91")
                database.bringUp()
                var resumed = false
                for _ in 0..<60 where !resumed {
                    try await Task.sleep(for: .milliseconds(250))
                    resumed = try await terminal.cardRequest(.balance, pan: alice.pan)[39] == "00"
                }
                #expect(resumed)
            }
            await database.stop()
        }
    }

    @Test("graceful shutdown answers the request in flight, then stops")
    func gracefulShutdown() async throws {
        // The database is slow here, not gone: the health probe waits longer than the slowed request, so
        // a loaded machine does not make this a test of the 91 path (which databaseDown covers).
        let patient: @Sendable (inout SwitchConfiguration) -> Void = { $0.databaseProbeAfter = .seconds(5) }
        try await Self.behindProxy(configure: patient) { under, database in
            try await under.terminal { terminal in
                #expect(try await terminal.echo()[39] == "00")
                database.slowDown(.milliseconds(150))
                let running = under.current
                let stopper = Task {
                    // Stop while the withdrawal is being answered (the database answers slowly now): not
                    // before the switch has begun it, however long a loaded machine takes to get it there
                    // (a stop before it would close an idle connection, its request unread). Should the
                    // answer come and go between two looks, the stop comes after it, and the test holds.
                    for _ in 0..<6_000 where running.server.busyConnectionCount == 0 {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    try await running.stop()
                }
                let answer = try await terminal.cardRequest(
                    .withdrawal,
                    pan: alice.pan,
                    pin: alice.pin,
                    amount: 1_000,
                    from: alice.current
                )
                #expect(answer[39] == "00")
                try await stopper.value
            }
            database.slowDown(.zero)
            #expect(try await under.bank.balance(alice.current) == 249_000)
            // Restart so the harness can stop it again.
            try await under.startAgain()
            await database.stop()
        }
    }

    @Test("graceful shutdown with frames pipelined behind the request in flight: it is answered, the rest unread")
    func shutdownPipelined() async throws {
        let patient: @Sendable (inout SwitchConfiguration) -> Void = { $0.databaseProbeAfter = .seconds(5) }
        try await Self.behindProxy(configure: patient) { under, database in
            let running = under.current
            try await RawLink.with(port: under.port) { link in
                // The 0200 (from a terminal not signed on) reads the terminal's keys from the database, which
                // answers slowly now; the 0100 behind it needs no database.
                database.slowDown(.milliseconds(150))
                let pipelined = try Self.frame(.financialRequest, stan: 1) + Self.frame(MTI(rawValue: 100), stan: 2)
                try await link.send(pipelined)
                for _ in 0..<6_000 where running.server.busyConnectionCount == 0 {
                    try await Task.sleep(for: .milliseconds(5))
                }
                let stopper = Task { try await running.stop() }
                var answered: [String] = []
                while case .frame(let bytes) = try await link.next(timeout: .seconds(20)) {
                    answered.append(try ATM87Message(decoding: bytes)[11] ?? "-")
                }
                // The request in flight is answered. Should a loaded machine have answered it before the
                // stop began, the 0100 was read and answered too; never the 0100 alone or out of order.
                #expect(answered == ["000001"] || answered == ["000001", "000002"])
                try await stopper.value
                #expect(running.server.connectionCount == 0)
            }
            database.slowDown(.zero)
            try await under.startAgain()
            await database.stop()
        }
    }

    @Test("PostgreSQL ends the pool's connections under load: every request is answered, nothing posts twice, and shutdown is bounded")
    func poolBackendsTerminated() async throws {
        try await SwitchUnderTest.with { under in
            let keys = try await under.terminal { terminal in try #require(terminal.keys) }
            let killing = Atomic<Bool>(true)
            // Terminate every backend of the switch's role, again and again, while 8 connections post.
            let killer = Task {
                var rounds = 0
                while killing.load(ordering: .relaxed) {
                    try await Task.sleep(for: .milliseconds(150))
                    let ended = try await under.bank.count(
                        """
                        SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                        WHERE usename = 'cashpoint_switch' AND datname = current_database()
                        """
                    )
                    if ended > 0 { rounds += 1 }
                }
                return rounds
            }
            let results = try await withThrowingTaskGroup(of: [String].self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await SwitchLink.with(host: "127.0.0.1", port: under.port) { link in
                            let session = TerminalSession(
                                link: link,
                                terminal: "ATM00001",
                                masterKey: try masterKey("ATM00001"),
                                firstSTAN: 1 + index * 1_000,
                                now: under.clock.now
                            )
                            session.resume(keys: keys)
                            var codes: [String] = []
                            var opened = false
                            for step in 0..<40 {
                                let request =
                                    step % 2 == 0
                                    ? CardRequest(ProcessingCode(.transfer), pan: alice.pan, amount: 1, from: alice.current, to: alice.savings, pin: opened ? nil : alice.pin)
                                    : CardRequest(ProcessingCode(.balanceInquiry), pan: alice.pan, from: alice.current, pin: opened ? nil : alice.pin)
                                do {
                                    let answer = try await session.cardRequest(request, timeout: .seconds(15))
                                    codes.append(answer[39] ?? "--")
                                    if answer[39] == "00" { opened = true }
                                } catch {
                                    codes.append("unanswered")
                                }
                            }
                            return codes
                        }
                    }
                }
                var all: [[String]] = []
                for try await codes in group { all.append(codes) }
                return all
            }
            killing.store(false, ordering: .relaxed)
            let rounds = try await killer.value
            #expect(rounds > 0, "no backend was terminated")
            let codes = results.flatMap { $0 }
            #expect(!codes.contains("unanswered"), "requests without an answer: \(codes.filter { $0 == "unanswered" }.count)")
            let unexpected = codes.filter { !["00", "91", "96"].contains($0) }
            #expect(unexpected.isEmpty, "codes other than 00, 91 and 96: \(unexpected)")
            #expect(codes.contains("00"))
            #expect(under.current.server.busyConnectionCount == 0)
            #expect(try await under.ledgerAgrees())
            // Each approved transfer posted once: the ledger moved savings by exactly their count, give or
            // take requests answered 91 or 96 (in doubt: a terminal reverses those).
            let approvedTransfers = results.map { codes in
                codes.enumerated().filter { $0.offset % 2 == 0 && $0.element == "00" }.count
            }.reduce(0, +)
            let doubtful = codes.filter { $0 == "91" || $0 == "96" }.count
            let posted = try await under.bank.count(
                "SELECT count(*)::int FROM bank.transactions WHERE kind = 'transfer' AND response_code = '00'"
            )
            #expect(posted >= approvedTransfers && posted <= approvedTransfers + doubtful)
            // Shutdown is bounded even after the pool lost its connections.
            let clock = ContinuousClock()
            let took = try await clock.measure { try await under.current.stop() }
            #expect(took < .seconds(15), "stopping took \(took)")
            try await under.startAgain()
        }
    }

    /// A switch that reaches its database through a `DatabaseProxy` the test controls.
    static func behindProxy(
        configure: @Sendable (inout SwitchConfiguration) -> Void = { _ in },
        _ body: @Sendable (SwitchUnderTest, DatabaseProxy) async throws -> Void
    ) async throws {
        let proxy = Mutex<DatabaseProxy?>(nil)
        let throughProxy: @Sendable (TestBank) -> DatabaseURL = { bank in
            var url = bank.switchURL
            url.port = proxy.withLock { $0!.port }
            return url
        }
        let startProxy: @Sendable (TestBank) async throws -> Void = { bank in
            let started = try await DatabaseProxy.start(to: bank.switchURL)
            proxy.withLock { $0 = started }
        }
        try await SwitchUnderTest.with(databaseURL: throughProxy, configure: configure, before: startProxy) { under in
            try await body(under, try #require(proxy.withLock { $0 }))
        }
    }
}

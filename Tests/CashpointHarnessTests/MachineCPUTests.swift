import Testing

@testable import CashpointHarness

@Suite("harness: the machine's CPU time")
struct MachineCPUTests {
    @Test("busy time counts user, nice, system, irq and softirq; not idle, I/O wait or steal")
    func parse() throws {
        let stat = """
            cpu  1000 20 300 90000 400 5 6 700 0 0
            cpu0 500 10 150 45000 200 2 3 350 0 0
            intr 12345
            """
        // (1000 + 20 + 300 + 5 + 6) ticks at 100 a second = 13.31 s.
        #expect(MachineCPU.busyMicroseconds(procStat: stat, ticksPerSecond: 100) == 13_310_000)
    }

    @Test("a file without the cpu line, a short line or no tick rate gives no figure, not a wrong one")
    func refuses() {
        #expect(MachineCPU.busyMicroseconds(procStat: "cpu0 1 2 3 4 5 6 7\n", ticksPerSecond: 100) == nil)
        #expect(MachineCPU.busyMicroseconds(procStat: "cpu  1 2 3\n", ticksPerSecond: 100) == nil)
        #expect(MachineCPU.busyMicroseconds(procStat: "cpu  1 2 3 4 5 6 7\n", ticksPerSecond: 0) == nil)
        #expect(MachineCPU.busyMicroseconds(procStat: "", ticksPerSecond: 100) == nil)
    }

    @Test("the running machine's busy time is readable and does not go backwards")
    func live() throws {
        let first = try #require(MachineCPU.busyMicroseconds())
        let second = try #require(MachineCPU.busyMicroseconds())
        #expect(first > 0)
        #expect(second >= first)
    }

    @Test("this process's CPU time grows with the work it does")
    func process() throws {
        let before = try #require(MachineCPU.processMicroseconds())
        // About 20 ms of arithmetic the optimiser cannot drop.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .milliseconds(20) {
            for _ in 0..<1_000 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        }
        let after = try #require(MachineCPU.processMicroseconds())
        #expect(state != 0)
        #expect(after > before)
    }
}

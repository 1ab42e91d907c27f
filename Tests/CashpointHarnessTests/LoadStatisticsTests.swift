import ATM87
import Foundation
import Histogram
import Testing

@testable import CashpointHarness

/// The load's statistics and schedule, fed recorded latencies and a simulated clock: no sockets, no
/// sleeping, no stopwatch.
@Suite("harness: the load's mix, schedule and statistics")
struct LoadStatisticsTests {
    /// One terminal run against a simulated switch: each request is sent at its intended time or, when
    /// the terminal is behind, as soon as the previous answer is in, and takes `service(k)`. Records the
    /// latency from the intended send time (what the load records) and from the actual send time (what
    /// a load generator that forgets its schedule would record).
    func simulate(
        _ pacing: LoadPacing,
        requests: Int,
        service: (Int) -> Duration
    ) -> (corrected: LoadStatistics, naive: LoadStatistics) {
        var schedule = LoadSchedule(pacing)
        var corrected = LoadStatistics()
        var naive = LoadStatistics()
        var now = Duration.zero
        for k in 0..<requests {
            let intended = schedule.next(now: now)
            let sent = max(now, intended)
            let answered = sent + service(k)
            corrected.record(.balance, code: "00", latency: answered - intended)
            naive.record(.balance, code: "00", latency: answered - sent)
            now = answered
        }
        return (corrected, naive)
    }

    /// A switch that answers in 1 ms, except request 3, which it holds for 100 ms.
    func stall(_ k: Int) -> Duration { k == 3 ? .milliseconds(100) : .milliseconds(1) }

    // MARK: The mix

    @Test("the default mix is the ATM one, and a ticket's kind follows the weights in order")
    func mixTickets() throws {
        let mix = LoadMix.atm
        #expect(mix.description == "withdrawal=40,balance=30,transfer=20,deposit=10")
        #expect(mix.total == 100)
        let kinds = (0..<100).map(mix.kind(forTicket:))
        #expect(kinds.prefix(40).allSatisfy { $0 == .withdrawal })
        #expect(kinds[40..<70].allSatisfy { $0 == .balance })
        #expect(kinds[70..<90].allSatisfy { $0 == .transfer })
        #expect(kinds[90...].allSatisfy { $0 == .deposit })
    }

    @Test("a seeded draw follows the shares")
    func mixDraw() throws {
        var generator = SplitMix64(seed: 42)
        var counts: [LoadKind: Int] = [:]
        for _ in 0..<20_000 { counts[LoadMix.atm.draw(using: &generator), default: 0] += 1 }
        for (kind, share) in [(LoadKind.withdrawal, 0.4), (.balance, 0.3), (.transfer, 0.2), (.deposit, 0.1)] {
            #expect(abs(Double(counts[kind, default: 0]) / 20_000 - share) < 0.015, "\(kind)")
        }
    }

    @Test("each terminal's stream is its own: not another's shifted, and together they follow the shares")
    func terminalStreams() throws {
        // Seeded as `seed + index * increment`, stream 1 was stream 0 one draw on, so 32 terminals
        // drew nearly the same kinds and a short run missed the mix (59% withdrawals for 40%).
        var zero = SplitMix64.stream(0, of: 2)
        var one = SplitMix64.stream(1, of: 2)
        let first = (0..<65).map { _ in zero.next() }
        let second = (0..<64).map { _ in one.next() }
        #expect(Array(first.dropFirst()) != second)
        #expect(Set(first).isDisjoint(with: second))
        // 32 terminals, 30 draws each: the shares of a short run, within 4 standard deviations.
        var counts: [LoadKind: Int] = [:]
        for terminal in 0..<32 {
            var generator = SplitMix64.stream(terminal, of: 2)
            for _ in 0..<30 { counts[LoadMix.atm.draw(using: &generator), default: 0] += 1 }
        }
        for (kind, share) in [(LoadKind.withdrawal, 0.4), (.balance, 0.3), (.transfer, 0.2), (.deposit, 0.1)] {
            let deviation = 4 * (share * (1 - share) / 960).squareRoot()
            #expect(abs(Double(counts[kind, default: 0]) / 960 - share) < deviation, "\(kind)")
        }
    }

    @Test("a mix leaves out kinds of weight 0, in any order, with spaces")
    func mixParse() throws {
        let mix = try LoadMix(parsing: "deposit=1, balance = 3,withdrawal=0")
        #expect(mix.weights.map(\.kind) == [.balance, .deposit])
        #expect(mix.description == "balance=3,deposit=1")
        #expect(mix.kind(forTicket: 2) == .balance)
        #expect(mix.kind(forTicket: 3) == .deposit)
    }

    @Test(
        "a mix that is not kind=weight with known kinds and whole weights is refused",
        arguments: [
            "", "withdrawal", "withdrawal=", "cheque=10", "withdrawal=-1", "withdrawal=1.5",
            "balance=1,balance=2", "withdrawal=0,balance=0", "withdrawal=40,,balance=30",
        ]
    )
    func mixRefused(_ text: String) {
        #expect(throws: LoadMix.ParseError.self) { try LoadMix(parsing: text) }
    }

    // MARK: The schedule

    @Test("a closed loop sends when the last answer is in; an open loop shares the rate and staggers terminals")
    func pacing() {
        #expect(LoadPacing.forTerminal(0, of: 4, rate: nil) == .closedLoop)
        var closed = LoadSchedule(.closedLoop)
        #expect(closed.next(now: .milliseconds(7)) == .milliseconds(7))
        #expect(closed.next(now: .milliseconds(9)) == .milliseconds(9))
        #expect(closed.unsent(before: .seconds(1)) == 0)

        // 400 requests a second over 4 terminals: 100 each, 10 ms apart, a quarter of that between terminals.
        let pacing = LoadPacing.forTerminal(1, of: 4, rate: 400)
        #expect(pacing == .openLoop(interval: .milliseconds(10), phase: .microseconds(2_500)))
        var open = LoadSchedule(pacing)
        #expect(open.next(now: .zero) == .microseconds(2_500))
        #expect(open.next(now: .milliseconds(50)) == .microseconds(12_500))
        #expect(open.next(now: .zero) == .microseconds(22_500))
    }

    @Test("a ramp delays each terminal's first request by its share of the ramp; think pauses a closed loop after each answer")
    func rampAndThink() {
        #expect(LoadSchedule.rampStart(0, of: 4, over: .seconds(10)) == .zero)
        #expect(LoadSchedule.rampStart(3, of: 4, over: .seconds(10)) == .milliseconds(7_500))
        #expect(LoadSchedule.rampStart(3, of: 4, over: .zero) == .zero)

        var closed = LoadSchedule(.closedLoop, start: .seconds(5), think: .milliseconds(200))
        // The first request waits for the terminal's start, with no think before it.
        #expect(closed.next(now: .milliseconds(3)) == .seconds(5))
        // Then each follows its answer after the pause.
        #expect(closed.next(now: .milliseconds(5_040)) == .milliseconds(5_240))
        #expect(closed.next(now: .milliseconds(5_300)) == .milliseconds(5_500))
        var ready = LoadSchedule(.closedLoop, think: .milliseconds(200))
        #expect(ready.next(now: .milliseconds(7)) == .milliseconds(7))
        #expect(ready.next(now: .milliseconds(9)) == .milliseconds(209))

        // An open loop's whole schedule moves by the start, and counts its unsent requests from there.
        var open = LoadSchedule(.openLoop(interval: .milliseconds(10), phase: .milliseconds(2)), start: .seconds(1))
        #expect(open.next(now: .zero) == .milliseconds(1_002))
        #expect(open.next(now: .zero) == .milliseconds(1_012))
        #expect(open.unsent(before: .milliseconds(1_100)) == 8)
        #expect(open.unsent(before: .milliseconds(900)) == 0)
    }

    @Test("an open loop counts the scheduled requests a terminal that fell behind did not send")
    func unsent() {
        var schedule = LoadSchedule(.openLoop(interval: .milliseconds(10), phase: .zero))
        for _ in 0..<5 { _ = schedule.next(now: .zero) }
        // Slots at 0, 10, ..., 90 ms fall before 100 ms: 10 due, 5 sent.
        #expect(schedule.unsent(before: .milliseconds(100)) == 5)
        #expect(schedule.unsent(before: .milliseconds(41)) == 0)
    }

    // MARK: Coordinated omission

    @Test("with a schedule, a stall counts for every request it delayed, not for one")
    func coordinatedOmission() {
        let (corrected, naive) = self.simulate(
            .openLoop(interval: .milliseconds(10), phase: .zero),
            requests: 100,
            service: self.stall
        )
        // Request 3 is sent at 30 ms and answered at 130 ms. Requests 4 to 13 were due at 40 to 130 ms;
        // each went when the one before was answered and took 1 ms: 91, 82, ..., 10 ms from when it was due.
        let expected: [UInt64] = [100_000] + (0..<10).map { 91_000 - UInt64($0) * 9_000 }
        for value in expected {
            #expect(corrected.latency.count(within: value...value) >= 1, "\(value) µs")
        }
        #expect(corrected.latency.count(within: 2_000...200_000) == 11)
        #expect(naive.latency.count(within: 2_000...200_000) == 1)
        // 11 of 100 requests waited 10 ms or more: p90 sees the stall, which the naive record hides at p99.
        #expect(corrected.milliseconds(atPercentile: 90) >= 10)
        #expect(naive.milliseconds(atPercentile: 90) < 1.1)
        #expect(naive.milliseconds(atPercentile: 98) < 1.1)
        #expect(abs(corrected.milliseconds(atPercentile: 100) - 100) < 0.1)
    }

    @Test("the schedule's correction finds the latencies HdrHistogram's own backfill adds for the same stall")
    func agreesWithRecordCorrectedValue() {
        // A switch that answers at once (1 µs), except request 3, which it holds for 100 ms.
        let (corrected, naive) = self.simulate(
            .openLoop(interval: .milliseconds(10), phase: .zero),
            requests: 100
        ) { $0 == 3 ? .milliseconds(100) : .microseconds(1) }
        // HdrHistogram's correction of the back-to-back record, knowing one request was meant every 10 ms:
        // the stall's 100 ms, and the 90, 80, ..., 10 ms that the requests behind it would have waited.
        var backfilled = Histogram<UInt64>(highestTrackableValue: LoadStatistics.longestMicroseconds)
        for value in naive.latency.recordedValues() {
            backfilled.recordCorrectedValue(value.value, count: value.count, expectedInterval: 10_000)
        }
        func slow(_ histogram: Histogram<UInt64>) -> [UInt64] {
            histogram.recordedValues().filter { $0.value > 1_000 }.flatMap {
                Array(repeating: $0.value, count: Int($0.count))
            }
        }
        #expect(slow(backfilled).count == 10)
        #expect(slow(corrected.latency).count == 10)
        for (ours, theirs) in zip(slow(corrected.latency), slow(backfilled)) {
            #expect((ours > theirs ? ours - theirs : theirs - ours) <= 200, "\(ours) against \(theirs) µs")
        }
        // The schedule sends the delayed requests: it has 100 latencies where the backfill invents 9 more.
        #expect(corrected.latency.totalCount == 100)
        #expect(backfilled.totalCount == 109)
    }

    @Test("a closed loop records what each request waited: nothing to correct")
    func closedLoop() {
        let (corrected, naive) = self.simulate(.closedLoop, requests: 100, service: self.stall)
        #expect(corrected.latency == naive.latency)
        #expect(corrected.latency.count(within: 2_000...200_000) == 1)
    }

    @Test("an open loop that keeps up records the service time")
    func keepingUp() {
        let (corrected, naive) = self.simulate(
            .openLoop(interval: .milliseconds(10), phase: .milliseconds(3)),
            requests: 50
        ) { _ in .milliseconds(2) }
        #expect(corrected.latency == naive.latency)
        #expect(abs(corrected.milliseconds(atPercentile: 99) - 2) < 0.01)
    }

    // MARK: Statistics and the report

    @Test("percentiles come from the histogram within its 3 significant digits; statistics add up")
    func percentiles() {
        var first = LoadStatistics()
        var second = LoadStatistics()
        for ms in 1...1_000 {
            if ms.isMultiple(of: 2) {
                first.record(.withdrawal, code: "00", latency: .milliseconds(ms))
            } else {
                second.record(.transfer, code: ms < 100 ? "51" : "00", latency: .milliseconds(ms))
            }
        }
        second.recordError()
        first.add(second)
        #expect(first.answered == 1_000)
        #expect(first.errors == 1)
        #expect(first.codes == ["00": 950, "51": 50])
        #expect(first.kinds == [.withdrawal: 500, .transfer: 500])
        for (percentile, expected) in [(50.0, 500.0), (90.0, 900.0), (99.0, 990.0), (99.9, 999.0)] {
            #expect(abs(first.milliseconds(atPercentile: percentile) - expected) <= expected / 1_000)
        }
    }

    @Test("a latency beyond 60 s counts as 60 s; nothing recorded reads as 0")
    func bounds() {
        var statistics = LoadStatistics()
        #expect(statistics.milliseconds(atPercentile: 99) == 0)
        statistics.record(.balance, code: "00", latency: .seconds(90))
        #expect(statistics.answered == 1)
        #expect(abs(statistics.milliseconds(atPercentile: 100) - 60_000) <= 60)
    }

    @Test("the report: throughput over the measured window, percentiles, codes; JSON names p99.9")
    func report() throws {
        var statistics = LoadStatistics()
        for ms in 1...100 { statistics.record(.withdrawal, code: ms <= 98 ? "00" : "51", latency: .milliseconds(ms)) }
        let report = LoadReport(statistics: statistics, terminals: 4, targetRate: nil, mix: .atm, seconds: 2)
        #expect(report.mode == "closed-loop")
        #expect(report.requests == 100)
        #expect(report.throughput == 50)
        #expect(report.codes == ["00": 98, "51": 2])
        #expect(abs(report.latencyMilliseconds.p99 - 99) < 0.1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any]
        )
        let latency = try #require(object["latencyMilliseconds"] as? [String: Double])
        #expect(Set(latency.keys) == ["p50", "p90", "p99", "p99.9", "max", "mean"])
        #expect(object["throughput"] as? Double == 50)
        #expect(object["targetRate"] == nil)
        #expect(try JSONDecoder().decode(LoadReport.self, from: Data(report.json.utf8)) == report)
        #expect(report.text.contains("100 requests, 50.0/s"))
        #expect(report.text.contains("response codes: 00 x98 (98.0%), 51 x2 (2.0%)"))
        #expect(!report.text.contains("errors"))
        let open = LoadReport(statistics: statistics, terminals: 4, targetRate: 1_500, mix: .atm, seconds: 2, unsent: 3)
        #expect(open.mode == "open-loop")
        #expect(open.text.contains("open loop at 1,500/s"))
        #expect(open.text.contains("3 scheduled requests not sent"))
        #expect(!report.text.contains("ramp-up") && !report.text.contains("think") && object["rampSeconds"] == nil)
        let paced = LoadReport(
            statistics: statistics, terminals: 4, targetRate: nil, mix: .atm, seconds: 2, ramp: .seconds(10), think: .milliseconds(200)
        )
        #expect(paced.text.contains("closed loop, ramp-up 10.0 s, think 200 ms"))
        #expect(paced.rampSeconds == 10 && paced.thinkSeconds == 0.2)
    }

    @Test(
        "numbers read the same in every locale",
        arguments: [
            (1_234_567.891, 2, "1,234,567.89"), (999.999, 2, "1,000.00"), (0.5, 0, "1"), (12.0, 1, "12.0"),
            (-1_500.25, 1, "-1,500.3"), (0.004, 2, "0.00"),
        ]
    )
    func numbers(_ value: Double, _ digits: Int, _ text: String) {
        #expect(LoadReport.number(value, digits: digits) == text)
    }

    @Test("a progress line: the second, answers in it, its p99")
    func progress() {
        var interval = LoadStatistics()
        for ms in 1...10 { interval.record(.balance, code: "00", latency: .milliseconds(ms)) }
        interval.recordError()
        #expect(
            LoadProgress(second: 1, warmingUp: true, interval: interval).line
                == "load: 1 s (warm-up): 10/s, p99 10.00 ms, 1 errors"
        )
        #expect(
            LoadProgress(second: 3, warmingUp: false, interval: LoadStatistics()).line == "load: 3 s: 0/s, p99 0.00 ms"
        )
    }
}

/// `--hgrm` and `--plot`: HdrHistogram's percentile distribution and its chart, from recorded latencies.
@Suite("harness: the load's latency distribution, as text and as a chart")
struct LatencyDistributionTests {
    /// 1,000 answers: 1 to 1,000 ms.
    static var statistics: LoadStatistics {
        var statistics = LoadStatistics()
        for millisecond in 1...1_000 { statistics.record(.balance, code: "00", latency: .milliseconds(millisecond)) }
        return statistics
    }

    @Test func theDistributionIsHdrHistogramsTextInMilliseconds() throws {
        let text = Self.statistics.percentileDistribution
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].split(separator: " ") == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"])
        // Each row: value (ms), percentile as a fraction, the count up to it, 1/(1-p).
        let rows = lines.dropFirst(2).prefix { !$0.hasPrefix("#") }.map { $0.split(separator: " ") }
        let median = try #require(rows.first { Double($0[1]) ?? 0 >= 0.5 })
        #expect(abs((Double(median[0]) ?? 0) - 500) <= 1)
        #expect(rows.last.map { Int($0[2]) } == 1_000)
        #expect(text.contains("#[Max     =     1000.447, Total count    =         1000]"))
    }

    @Test func theChartDrawsEveryPointOnALogScaleOfThePercentile() throws {
        let points = Self.statistics.percentilePoints
        #expect(points.first!.percentile < 1 && points.last!.percentile == 100)
        let svg = LatencyPlot.svg(points, title: "32 terminals <closed loop>")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("32 terminals &lt;closed loop&gt;"))
        let polyline = try #require(svg.split(separator: "\n").first { $0.hasPrefix("<polyline") })
        let coordinates = polyline.split(separator: "\"")[7].split(separator: " ")
        #expect(coordinates.count == points.count)
        // 90% sits a third of the way to 99.9% (log10 of 1/(1-p): 1 of 3), and the axis tops at 1,000 ms.
        #expect(abs(LatencyPlot.position(90) - 1) < 1e-9 && abs(LatencyPlot.position(99.9) - 3) < 1e-9)
        #expect(svg.contains(">1000</text>") && svg.contains(">99.9%</text>"))
    }

    @Test func anEmptyLoadStillGivesAChartThatSaysSo() {
        #expect(LoadStatistics().percentilePoints.isEmpty)
        let svg = LatencyPlot.svg([], title: "nothing")
        #expect(svg.contains("no answered request") && !svg.contains("<polyline"))
    }

    @Test(arguments: [(0.7, 1.0), (1.0, 1.0), (98.6, 100.0), (130.0, 200.0), (0.0, 1.0), (3_100.0, 5_000.0)])
    func theAxisTopsAtOneTwoOrFiveTimesAPowerOfTen(value: Double, top: Double) {
        #expect(LatencyPlot.roundedUp(value) == top)
    }
}

import CashpointTerminal
import Testing

/// The store-and-forward queue's sender as a pure core: which entry goes next, what an attempt's
/// outcome means, and what becomes at start of what was in flight.
@Suite("store-and-forward sender")
struct StoreAndForwardTests {
    static func entry(_ id: Int64, attempts: Int = 0, due: Int64? = 0) -> SAFEntry {
        SAFEntry(
            id: id,
            state: .queued,
            originalSTAN: String(id).leftPadded(6),
            originalTime: "1201153207",
            processingCode: "010000",
            amount: 5_000,
            attempts: attempts,
            nextAttempt: due
        )
    }

    @Test("oldest first, one at a time, and only when due")
    func order() {
        let entries = [Self.entry(3), Self.entry(1, due: 5_000), Self.entry(2)]
        #expect(StoreAndForward.next(entries, now: 1_000) == nil)
        #expect(StoreAndForward.due(entries) == 5_000)
        #expect(StoreAndForward.next(entries, now: 5_000)?.id == 1)
        var done = entries[1]
        done.state = .done
        #expect(StoreAndForward.next([entries[0], done, entries[2]], now: 0)?.id == 2)
    }

    @Test("the first attempt is a 0420, every repeat a 0421")
    func repeats() {
        #expect(!StoreAndForward.isRepeat(Self.entry(1)))
        #expect(StoreAndForward.isRepeat(Self.entry(1, attempts: 1)))
    }

    @Test("back-off: 1 s first, doubling, capped, each with jitter in its upper half")
    func backoff() {
        var sender = StoreAndForward(policy: SAFPolicy(firstRetry: .seconds(1), maxDelay: .seconds(60), maxAttempts: 20), seed: 42)
        for attempt in 1...12 {
            let base: Int64 = min(60_000, Int64(1_000) << Int64(attempt - 1))
            let delay = sender.delay(afterAttempt: attempt)
            #expect((base / 2...base).contains(delay), "attempt \(attempt): \(delay) ms")
        }
        var a = StoreAndForward(seed: 7)
        var b = StoreAndForward(seed: 7)
        #expect((1...10).map { a.delay(afterAttempt: $0) } == (1...10).map { b.delay(afterAttempt: $0) })
    }

    @Test("00 ends an entry; 91 and no answer are tried again; another refusal goes to the operator at once")
    func outcomes() {
        var sender = StoreAndForward(seed: 1)
        let done = sender.attempted(Self.entry(1), .answered("00"), now: 10_000)
        #expect(done.state == .done)
        #expect(done.attempts == 1)
        let again = sender.attempted(Self.entry(1), .noAnswer, now: 10_000)
        #expect(again.state == .queued)
        #expect((10_500...11_000).contains(again.nextAttempt ?? 0))
        let busy = sender.attempted(again, .answered("91"), now: 20_000)
        #expect(busy.state == .queued)
        #expect(busy.lastCode == "91")
        #expect((21_000...22_000).contains(busy.nextAttempt ?? 0))
        let refused = sender.attempted(Self.entry(2), .answered("12"), now: 0)
        #expect(refused.state == .operator)
    }

    @Test(
        "at start, a request in flight when the terminal stopped: reversed when unanswered or its cash not all given, else settled",
        arguments: [
            // (processing code, answer code, amount, dispensed) → what becomes of it
            ("010000", nil, 5_000, 0, StoreAndForward.Recovery.reverse(.noAnswerBeforeStop, dispensed: 0)),
            ("210000", nil, 3_550, 0, .reverse(.noAnswerBeforeStop, dispensed: 0)),
            ("010000", "00", 10_000, 5_000, .reverse(.stoppedDuringDispense, dispensed: 5_000)),
            ("010000", "00", 10_000, 0, .reverse(.stoppedDuringDispense, dispensed: 0)),
            ("010000", "00", 10_000, 10_000, .settle),
            ("010000", "51", 10_000, 0, .settle),
            ("210000", "00", 3_550, 0, .settle),
            ("400000", "00", 2_500, 0, .settle),
        ] as [(String, String?, Int64, Int64, StoreAndForward.Recovery)]
    )
    func recovery(processingCode: String, answer: String?, amount: Int64, dispensed: Int64, expected: StoreAndForward.Recovery) {
        var entry = Self.entry(1)
        entry.state = .armed
        entry.processingCode = processingCode
        entry.answerCode = answer
        entry.amount = amount
        entry.dispensed = dispensed
        #expect(StoreAndForward.recovery(of: entry) == expected)
    }

    @Test("after the last attempt an entry is left for the operator, never dropped")
    func operatorAfterMax() {
        var sender = StoreAndForward(policy: SAFPolicy(maxAttempts: 3), seed: 1)
        var entry = Self.entry(1)
        for _ in 1...3 { entry = sender.attempted(entry, .noAnswer, now: 0) }
        #expect(entry.state == .operator)
        #expect(entry.attempts == 3)
    }
}

import ATM87
import CashpointTerminal
import Testing

/// The store-and-forward queue's jitter comes from `ATM87.SplitMix64`, the one seeded generator: the
/// same seed gives the delays it gave when the queue had its own copy of the generator.
@Suite("store-and-forward jitter: the one seeded generator")
struct SeededJitterTests {
    @Test(
        "a seed gives the delays it always gave",
        arguments: [
            (UInt64(42), [Int64(573), 1_313, 2_168, 4_542, 15_279, 31_491, 46_140, 36_362, 55_883, 32_958]),
            (UInt64(7), [779, 1_451, 3_515, 7_131, 10_770, 21_812, 58_344, 48_535, 39_312, 52_182]),
        ]
    )
    func delays(seed: UInt64, expected: [Int64]) {
        var sender = StoreAndForward(seed: seed)
        #expect((1...10).map { sender.delay(afterAttempt: $0) } == expected)
    }

    @Test("the jitter is SplitMix64's draws: the random part of each delay is the generator's next value")
    func drawsFromSplitMix64() {
        var sender = StoreAndForward(seed: 20_261_201)
        var generator = SplitMix64(seed: 20_261_201)
        for attempt in 1...10 {
            let half = min(60_000, Int64(1_000) << Int64(attempt - 1)) / 2
            #expect(sender.delay(afterAttempt: attempt) == half + Int64(generator.next() % UInt64(half + 1)))
        }
    }
}

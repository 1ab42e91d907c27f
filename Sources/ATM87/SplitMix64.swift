/// SplitMix64 (Steele, Lea and Flood, 2014): a small seeded generator, so that a run that breaks
/// something (a fuzz case, a flood, a load, a bank check's fault schedule, the store-and-forward
/// queue's jitter) is replayed from its seed. The one definition: the codec's tests, the terminal and the
/// harness all use this one. Not for secrets: PIN blocks and keys take `SystemRandomNumberGenerator`.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The increment of the state (the golden ratio's fraction, 2^64 / φ).
    static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        self.state &+= Self.gamma
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The generator of stream `index` (a terminal, a connection) of a seeded run. Its state is an
    /// output of the run's seed, not the seed plus a multiple of the increment: that would make stream
    /// `i` stream 0 shifted by `i` draws, so every terminal would draw nearly the same sequence.
    public static func stream(_ index: Int, of seed: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }
}

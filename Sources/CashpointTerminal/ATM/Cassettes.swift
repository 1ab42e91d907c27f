/// One cassette of the cash dispenser: notes of one denomination and currency.
public struct Cassette: Sendable, Hashable, Codable {
    /// The note's value in minor units (a 20 note in a currency with cents: 2000).
    public var denomination: Int64
    /// Notes left.
    public var count: Int
    /// ISO 4217 numeric code, e.g. "978".
    public var currency: String
    /// At or below this many notes the cassette reports low.
    public var lowThreshold: Int

    public init(denomination: Int64, count: Int, currency: String, lowThreshold: Int = 20) {
        self.denomination = denomination
        self.count = count
        self.currency = currency
        self.lowThreshold = lowThreshold
    }

    public enum State: String, Sendable, Hashable {
        case ok
        case low
        case empty
    }

    public var state: State {
        if self.count <= 0 { return .empty }
        return self.count <= self.lowThreshold ? .low : .ok
    }
}

/// How many notes to take from each cassette (indexed as the cassettes are).
public struct DispensePlan: Sendable, Hashable {
    public var notes: [Int]

    public init(notes: [Int]) { self.notes = notes }

    public var noteCount: Int { self.notes.reduce(0, +) }

    public func amount(of cassettes: [Cassette]) -> Int64 {
        zip(self.notes, cassettes).reduce(0) { $0 + Int64($1.0) * $1.1.denomination }
    }
}

/// Plans dispenses: the fewest notes that make an amount exactly, within the notes each cassette has
/// and the dispenser's limit of notes per dispense. Exact where greedy is not (60 from 50s and 20s is
/// three 20s): a bounded change-making search by dynamic programming over the amount in units of the
/// denominations' greatest common divisor.
public struct DispensePlanner: Sendable, Hashable {
    public var maxNotes: Int

    public init(maxNotes: Int = 40) { self.maxNotes = maxNotes }

    /// The plan for an amount, or nil when the cassettes cannot pay it.
    public func plan(_ amount: Int64, from cassettes: [Cassette]) -> DispensePlan? {
        guard amount > 0, self.maxNotes > 0 else { return nil }
        let usable = cassettes.indices.filter { cassettes[$0].count > 0 && cassettes[$0].denomination > 0 }
        guard !usable.isEmpty else { return nil }
        let unit = usable.map { cassettes[$0].denomination }.reduce(0, gcd)
        guard amount % unit == 0 else { return nil }
        let target = Int(amount / unit)
        // No plan can use more than maxNotes of the largest note: a target beyond that is unreachable.
        let largest = usable.map { Int(cassettes[$0].denomination / unit) }.max()!
        guard target <= largest * self.maxNotes else { return nil }

        let unreachable = Int.max
        // best[v]: fewest notes making v with the cassettes seen so far; take[i][v]: notes of cassette i in it.
        var best = [Int](repeating: unreachable, count: target + 1)
        best[0] = 0
        var take: [[Int]] = []
        for index in usable {
            let value = Int(cassettes[index].denomination / unit)
            let available = min(cassettes[index].count, self.maxNotes)
            var next = best
            var chosen = [Int](repeating: 0, count: target + 1)
            // Bounded: for each residue class modulo value, a sliding window would be faster; amounts at
            // an ATM are small enough that trying each count is quick (target * available steps).
            for v in 1...target {
                var k = 1
                while k <= available && k * value <= v {
                    let before = best[v - k * value]
                    if before != unreachable && before + k < next[v] {
                        next[v] = before + k
                        chosen[v] = k
                    }
                    k += 1
                }
            }
            best = next
            take.append(chosen)
        }
        guard best[target] != unreachable, best[target] <= self.maxNotes else { return nil }
        var notes = [Int](repeating: 0, count: cassettes.count)
        var remaining = target
        for (position, index) in usable.enumerated().reversed() {
            let k = take[position][remaining]
            notes[index] = k
            remaining -= k * Int(cassettes[index].denomination / unit)
        }
        precondition(remaining == 0, "a plan's notes make its amount")
        return DispensePlan(notes: notes)
    }

    /// Whether the cassettes can pay the amount.
    public func canPay(_ amount: Int64, from cassettes: [Cassette]) -> Bool {
        self.plan(amount, from: cassettes) != nil
    }
}

private func gcd(_ a: Int64, _ b: Int64) -> Int64 {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}

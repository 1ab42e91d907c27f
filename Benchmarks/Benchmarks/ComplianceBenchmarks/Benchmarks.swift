import ATM87
import Benchmark
import CashpointCompliance

/// Sanctions screening (issue 21's goals: one customer against a 20,000-entry list in under 1 ms;
/// re-screening 100,000 customers in under a minute).
///
/// The list is `SyntheticList.entries(count: 20_000)` (ATM87's `SplitMix64`, seed 21): invented names built from syllables, with
/// aliases, dates of birth and nationalities, made at start (not committed). "unlisted customer" screens
/// the next of 1,000 invented customers (each with a date of birth and a nationality) per iteration, as
/// onboarding does; "listed name, varied" screens a spelling or order variant of a listed person's name
/// (a hit). "re-screen 100,000 customers" is one `Screener.screen(people:)` call over 100,000 invented
/// customers, as a new list version triggers; its time per iteration is the whole run.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 10,
        maxDuration: .seconds(5),
        maxIterations: 100_000
    )

    var listRandom = SplitMix64(seed: 21)
    let entries = SyntheticList.entries(count: 20_000, using: &listRandom)
    let screener = Screener(entries: entries)
    var customerRandom = SplitMix64(seed: 1)
    let customers = SyntheticList.customers(count: 1_000, using: &customerRandom)
    var random = SplitMix64(seed: 5)
    let listed = entries.filter { $0.type == .individual }.prefix(1_000).map { entry in
        ScreeningSubject(
            name: SyntheticList.variant(of: entry.primaryName, using: &random),
            dateOfBirth: entry.datesOfBirth.first
        )
    }

    Benchmark("Screening: unlisted customer against 20,000 entries") { benchmark in
        var n = 0
        for _ in benchmark.scaledIterations {
            blackHole(screener.screen(person: customers[n % customers.count]))
            n += 1
        }
    }

    Benchmark("Screening: listed name, varied, against 20,000 entries") { benchmark in
        var n = 0
        for _ in benchmark.scaledIterations {
            blackHole(screener.screen(person: listed[n % listed.count]))
            n += 1
        }
    }

    Benchmark(
        "Screening: index of 20,000 entries built",
        configuration: .init(timeUnits: .milliseconds, warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 5)
    ) { _ in
        blackHole(Screener(entries: entries))
    }

    var populationRandom = SplitMix64(seed: 2)
    let population = SyntheticList.customers(count: 100_000, using: &populationRandom)
    Benchmark(
        "Screening: re-screen 100,000 customers against 20,000 entries",
        configuration: .init(
            metrics: [.wallClock],
            timeUnits: .milliseconds,
            warmupIterations: 0,
            maxDuration: .seconds(60),
            maxIterations: 3
        )
    ) { _ in
        blackHole(screener.screen(people: population))
    }
}

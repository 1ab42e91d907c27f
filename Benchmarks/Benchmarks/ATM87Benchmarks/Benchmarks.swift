import ATM87
import Benchmark
import NIOCore

/// A typical 0200 withdrawal (about 200 bytes: PAN, processing code, amount, times, STAN, entry mode,
/// terminal, currency, PIN block, account, MAC) and its 0210, as docs/protocol.md shows them.
func typicalPair() throws -> (ATM87Message, ATM87Message) {
    let request = try ATM87Message(
        mti: .financialRequest,
        fields: [
            2: "4761739001010119", 3: "010000", 4: "000000010000", 7: "1125093112", 11: "000002",
            12: "093112", 13: "1125", 22: "051", 41: "ATM00001", 49: "978",
            52: "3A6C29F05BE1D47C8892AB10FE4C6D21", 102: "CP0000000001", 128: "9C41E07A55D2B318",
        ]
    )
    var response = try request.makeResponse()
    try response.set(38, "A1B2C3")
    try response.set(39, "00")
    try response.set(54, "0001978C000000240000")
    try response.set(128, "5B7E2210C9A4F63D")
    return (request, response)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 1_000,
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 1_000_000
    )

    let (request, response) = try! typicalPair()
    let requestBytes = request.encoded()
    let responseBytes = response.encoded()

    // The figure the foundation issue asks for: the whole pair, per pair (scaled by 1,000).
    // As a connection does it: the terminal's outbound buffer carries the 0200, the switch's the 0210;
    // each decoded message is a zero-copy view of the buffer it came in.
    Benchmark("ATM87 0200+0210 encode+decode (pair)") { benchmark in
        var requestBuffer = ByteBufferAllocator().buffer(capacity: 512)
        var responseBuffer = ByteBufferAllocator().buffer(capacity: 512)
        for _ in benchmark.scaledIterations {
            requestBuffer.clear()
            request.encode(into: &requestBuffer)
            blackHole(try ATM87Message(decoding: requestBuffer))
            responseBuffer.clear()
            response.encode(into: &responseBuffer)
            blackHole(try ATM87Message(decoding: responseBuffer))
        }
    }

    Benchmark("ATM87 0200 encode") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            request.encode(into: &buffer)
            blackHole(buffer)
        }
    }

    Benchmark("ATM87 0200 decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ATM87Message(decoding: requestBytes))
        }
    }

    Benchmark("ATM87 0210 decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ATM87Message(decoding: responseBytes))
        }
    }
}

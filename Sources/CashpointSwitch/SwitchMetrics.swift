import ATM87
import Metrics
import Synchronization

/// The switch's metric handles, made once: a request looks its counter up by (MTI, code) instead of
/// asking the metrics factory for a new handle each time. Names and labels are listed in
/// docs/operations.md.
final class SwitchMetrics: Sendable {
    struct RequestKey: Hashable {
        var mti: MTI
        var code: String
    }

    let inFlight = Meter(label: "cashpoint_requests_in_flight")
    let malformedClosed = Counter(label: "cashpoint_malformed_frames_total", dimensions: [("answered", "no")])
    let malformedAnswered = Counter(label: "cashpoint_malformed_frames_total", dimensions: [("answered", "30")])
    let requests = Mutex<[RequestKey: Counter]>([:])
    let durations = Mutex<[MTI: Timer]>([:])

    /// `cashpoint_requests_total{mti, code}` (code `none` for a message that gets no answer).
    func requests(mti: MTI, code: String) -> Counter {
        let key = RequestKey(mti: mti, code: code)
        return self.requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "cashpoint_requests_total", dimensions: [("mti", "\(mti)"), ("code", code)])
            counters[key] = counter
            return counter
        }
    }

    /// `cashpoint_request_duration_seconds{mti}`.
    func duration(mti: MTI) -> Timer {
        self.durations.withLock { timers in
            if let timer = timers[mti] { return timer }
            let timer = Timer(label: "cashpoint_request_duration_seconds", dimensions: [("mti", "\(mti)")])
            timers[mti] = timer
            return timer
        }
    }
}

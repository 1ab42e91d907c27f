public import ATM87
import Foundation

/// Random and garbled frames for robustness runs: random bytes, a valid withdrawal with bytes
/// flipped, cut short, or with junk after it.
public enum Garbler {
    /// A well-formed 0200 (with a dummy PIN block and MAC) for the garbler to damage.
    public static func template(terminal: String = "ATM00001") throws -> [UInt8] {
        var message = try FinancialRequest(
            header: RequestHeader(
                terminal: terminal,
                stan: STAN(2)!,
                time: TransmissionTime(month: 11, day: 25, hour: 9, minute: 31, second: 12)
            ),
            pan: "4761739001010119",
            processingCode: ProcessingCode(.withdrawal),
            amount: 10_000,
            currency: "978",
            from: "CP0000000001",
            credential: .pinBlock([UInt8](repeating: 0xAB, count: 16))
        ).message()
        try message.set(128, bytes: [UInt8](repeating: 0xCD, count: 8))
        return message.encodedBytes
    }

    public static func garble(_ template: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        switch generator.next() % 4 {
        case 0:
            return (0..<Int(generator.next() % 200)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        case 1:
            var bytes = template
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            return bytes
        case 2:
            return Array(template.prefix(Int(generator.next() % UInt64(template.count))))
        default:
            var bytes = template
            bytes += (0..<Int(generator.next() % 30)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            return bytes
        }
    }

    public struct Report: Sendable, Hashable {
        public var frames = 0
        public var answered = 0
        public var closedByServer = 0
        public var unanswered = 0

        public init() {}
    }

    /// Sends `frames` garbled frames over `connections` concurrent connections (a new connection
    /// whenever the switch closes one), waiting for each answer or close.
    public static func flood(
        host: String,
        port: Int,
        frames: Int,
        connections: Int,
        seed: UInt64 = 1
    ) async throws -> Report {
        let template = try Self.template()
        return try await withThrowingTaskGroup(of: Report.self) { group in
            for connection in 0..<connections {
                let share = frames / connections + (connection < frames % connections ? 1 : 0)
                group.addTask {
                    var generator = SplitMix64.stream(connection, of: seed)
                    var report = Report()
                    while report.frames < share {
                        report = try await RawLink.with(host: host, port: port) { link in
                            var report = report
                            while report.frames < share {
                                report.frames += 1
                                try await link.sendFrame(Self.garble(template, using: &generator))
                                switch try await link.next(timeout: .seconds(10)) {
                                case .frame: report.answered += 1
                                case .closed:
                                    report.closedByServer += 1
                                    return report
                                case .timedOut:
                                    report.unanswered += 1
                                    return report
                                }
                            }
                            return report
                        }
                    }
                    return report
                }
            }
            var total = Report()
            for try await part in group {
                total.frames += part.frames
                total.answered += part.answered
                total.closedByServer += part.closedByServer
                total.unanswered += part.unanswered
            }
            return total
        }
    }

    /// A process's resident memory in KiB (Linux /proc), or nil.
    public static func residentKiB(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

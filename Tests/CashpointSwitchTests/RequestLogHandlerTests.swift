import ATM87
import Logging
import Synchronization
import Testing

@testable import CashpointSwitch

/// A request's logger: its metadata made only for a line that is logged, the same as before.
@Suite("A request's log metadata")
struct RequestLogHandlerTests {
    /// A handler that keeps what it is asked to log and counts every change of its own metadata.
    struct Recording: LogHandler {
        final class Record: Sendable {
            let events = Mutex<[LogEvent]>([])
            let metadataChanges = Atomic<Int>(0)
        }

        let record: Record
        var logLevel: Logger.Level = .warning
        var metadata: Logger.Metadata = [:] {
            didSet { self.record.metadataChanges.add(1, ordering: .relaxed) }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) { self.record.events.withLock { $0.append(event) } }
    }

    static func request() throws -> ATM87Message {
        try ATM87Message(
            mti: .financialRequest,
            fields: [2: "4761739001010119", 3: "310000", 4: "000000000000", 11: "000042", 41: "ATM00001", 49: "978"]
        )
    }

    /// A request's logger over a recording handler at `level`, and what that handler records.
    static func logger(_ level: Logger.Level) throws -> (Logger, Recording.Record) {
        let record = Recording.Record()
        var base = Logger(label: "switch") { _ in Recording(record: record) }
        base.logLevel = level
        return (RequestLogHandler.logger(base, for: try Self.request(), connection: 7), record)
    }

    @Test("nothing is made for a request that logs nothing at its level")
    func silent() throws {
        let (logger, record) = try Self.logger(.warning)
        logger.info("answered", metadata: [LogKey.responseCode: "00"])
        logger.debug("detail")
        #expect(record.metadataChanges.load(ordering: .relaxed) == 0)
        #expect(record.events.withLock { $0.isEmpty })
        #expect(logger.logLevel == .warning)
    }

    @Test("a line that is logged carries the request's metadata, the PAN masked; what the call gives wins")
    func logged() throws {
        var (logger, record) = try Self.logger(.info)
        logger.info("answered", metadata: [LogKey.responseCode: "00", LogKey.connection: "given"])
        logger[metadataKey: LogKey.operation] = "BALANCE"
        logger.warning("refused")
        let events = record.events.withLock { $0 }
        try #require(events.count == 2)
        let metadata = try #require(events[0].metadata)
        #expect(metadata[LogKey.mti] == "0200")
        #expect(metadata[LogKey.stan] == "000042")
        #expect(metadata[LogKey.terminal] == "ATM00001")
        #expect(metadata[LogKey.processingCode] == "310000")
        #expect(metadata[LogKey.pan] == "\(ATM87PrettyPrinter.maskPAN("4761739001010119"))")
        #expect(metadata[LogKey.responseCode] == "00")
        #expect(metadata[LogKey.connection] == "given")
        #expect(!metadata.values.contains { "\($0)".contains("4761739001010119") })
        #expect(events[1].metadata?[LogKey.connection] == "7")
        // Metadata set on the request's logger goes to its handler, as before.
        #expect(logger[metadataKey: LogKey.operation] == "BALANCE")
        #expect(record.metadataChanges.load(ordering: .relaxed) == 1)
    }

    @Test("an authorization code is six uppercase hex digits of the 24 low bits")
    func authorizationCode() {
        #expect(RequestRouter.authorizationCode(bits: 0) == "000000")
        #expect(RequestRouter.authorizationCode(bits: 0xFEDCBA9876_543210) == "012345")
        #expect(RequestRouter.authorizationCode(bits: .max) == "FFFFFF")
        let codes = Set((0..<200).map { _ in RequestRouter.authorizationCode() })
        #expect(codes.allSatisfy { $0.utf8.count == 6 && $0.allSatisfy { "0123456789ABCDEF".contains($0) } })
        #expect(codes.count > 190)
    }
}

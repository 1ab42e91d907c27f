import ATM87
import Logging

/// The log handler of one request: its logger's handler, with the request's metadata (connection,
/// MTI, STAN, terminal, masked PAN, processing code) added to each line that is logged.
///
/// The request is kept as it is and its metadata made only when a line is logged. Setting the six
/// values with `logger[metadataKey:] =` on every request cost work whether anything was logged or not:
/// swift-log's `StreamLogHandler` renders its whole metadata again on each change (six renderings, a
/// dictionary and a dozen strings a request, at the default level that logs nothing on success).
struct RequestLogHandler: LogHandler {
    var base: any LogHandler
    let request: ATM87Message
    let connection: Int

    /// `logger` for `request`, from the connection `connection`.
    static func logger(_ logger: Logger, for request: ATM87Message, connection: Int) -> Logger {
        var logger = logger
        logger.handler = RequestLogHandler(base: logger.handler, request: request, connection: connection)
        return logger
    }

    var logLevel: Logger.Level {
        get { self.base.logLevel }
        set { self.base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { self.base.metadata }
        set { self.base.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { self.base.metadataProvider }
        set { self.base.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.base[metadataKey: key] }
        set { self.base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        var metadata = self.requestMetadata
        // A value given at the call site wins, as it did over the logger's own metadata.
        if let given = event.metadata { metadata.merge(given) { $1 } }
        event.metadata = metadata
        self.base.log(event: event)
    }

    /// The request's metadata: what every line it logs carries. Never the full PAN.
    var requestMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = [
            LogKey.connection: "\(self.connection)",
            LogKey.mti: "\(self.request.mti)",
        ]
        if let stan = self.request[11] { metadata[LogKey.stan] = "\(stan)" }
        if let terminal = self.request.trimmed(41) { metadata[LogKey.terminal] = "\(terminal)" }
        if let pan = self.request[2] { metadata[LogKey.pan] = "\(ATM87PrettyPrinter.maskPAN(pan))" }
        if let code = self.request[3] { metadata[LogKey.processingCode] = "\(code)" }
        return metadata
    }
}

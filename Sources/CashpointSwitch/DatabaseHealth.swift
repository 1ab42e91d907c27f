public import CashpointDatabase
public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The database was found unreachable: the request is answered 91 at once.
public struct DatabaseUnreachable: Error, Sendable, CustomStringConvertible {
    public var description: String { "the database is unreachable" }
}

/// Keeps the switch answering when PostgreSQL is gone. A request that has not finished after
/// `probeAfter` makes the switch probe the database: a new TCP connection that sends PostgreSQL's
/// SSLRequest and waits for the server's one-byte answer ('S' or 'N'), which the server gives before
/// any authentication or query work, so a busy database still answers it at once. If the probe fails
/// within `probeTimeout`, the request is cancelled and answered 91, and so is every request after it, at once,
/// until a background probe (every `probeInterval`) finds the database again. A request still waiting
/// for a pooled connection is cancelled before it reaches the database, so a request answered 91
/// never posts later. A slow but reachable database is waited for: slowness is not an outage.
public actor DatabaseHealth {
    let url: DatabaseURL
    let probeAfter: Duration
    let probeTimeout: Duration
    let probeInterval: Duration
    let logger: Logger
    var down = false
    var probe: Task<Bool, Never>?
    var recovery: Task<Void, Never>?

    public init(
        url: DatabaseURL,
        probeAfter: Duration = .milliseconds(250),
        probeTimeout: Duration = .milliseconds(600),
        probeInterval: Duration = .milliseconds(250),
        logger: Logger
    ) {
        self.url = url
        self.probeAfter = probeAfter
        self.probeTimeout = probeTimeout
        self.probeInterval = probeInterval
        self.logger = logger
    }

    public var isDown: Bool { self.down }

    /// Runs `body`, or throws `DatabaseUnreachable` (within about probeAfter + probeTimeout) when the
    /// database cannot be reached.
    public nonisolated func guarding<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if await self.isDown { throw DatabaseUnreachable() }
        // The body runs in a task of its own: when the database is found unreachable the answer (91)
        // goes out at once, and the body is cancelled without waiting for it (a request still waiting
        // for a pooled connection leaves the queue; one whose connection died fails by itself).
        let outcome = Outcome<T>()
        let work = Task {
            do {
                outcome.finish(.success(try await body()))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        let watchdog = Task {
            try await Task.sleep(for: self.probeAfter)
            while !Task.isCancelled {
                if !(await self.reachable()) {
                    outcome.finish(.failure(DatabaseUnreachable()))
                    return
                }
                // Reachable but slow: wait for the answer, and look again now and then.
                try await Task.sleep(for: self.probeAfter * 4)
            }
        }
        defer { watchdog.cancel() }
        let result = await withTaskCancellationHandler {
            await outcome.value
        } onCancel: {
            work.cancel()
        }
        if case .failure(let error) = result, error is DatabaseUnreachable { work.cancel() }
        return try result.get()
    }

    /// One probe at a time, shared by every request that asks.
    func reachable() async -> Bool {
        if self.down { return false }
        if let probe = self.probe { return await probe.value }
        let task = Task { [url, probeTimeout] in
            await Self.ping(host: url.host, port: url.port, timeout: probeTimeout)
        }
        self.probe = task
        let ok = await task.value
        self.probe = nil
        if !ok { self.markDown() }
        return ok
    }

    func markDown() {
        guard !self.down else { return }
        self.down = true
        self.logger.error("database unreachable: answering 91 until it returns")
        self.recovery = Task { [url, probeTimeout, probeInterval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: probeInterval)
                if await Self.ping(host: url.host, port: url.port, timeout: probeTimeout) {
                    self.markUp()
                    return
                }
            }
        }
    }

    func markUp() {
        self.down = false
        self.recovery = nil
        self.logger.notice("database reachable again: serving")
    }

    /// Whether a PostgreSQL server answers an SSLRequest at host:port within `timeout`.
    public static func ping(host: String, port: Int, timeout: Duration) async -> Bool {
        let deadline = TimeAmount.nanoseconds(timeout.totalNanoseconds)
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connectTimeout(deadline)
                        .connect(host: host, port: port) { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                            }
                        }
                    return try await channel.executeThenClose { inbound, outbound in
                        // SSLRequest: length 8, code 80877103.
                        try await outbound.write(ByteBuffer(bytes: [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]))
                        for try await reply in inbound {
                            return reply.readableBytesView.first.map {
                                $0 == UInt8(ascii: "S") || $0 == UInt8(ascii: "N")
                            } ?? false
                        }
                        return false
                    }
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Stops the background probe (at shutdown).
    public func stop() {
        self.recovery?.cancel()
    }
}

/// The first result of a race, delivered once.
final class Outcome<T: Sendable>: Sendable {
    struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<Result<T, any Error>, Never>?
    }

    let state = Mutex(State())

    func finish(_ result: Result<T, any Error>) {
        let waiter: CheckedContinuation<Result<T, any Error>, Never>? = self.state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: result)
    }

    var value: Result<T, any Error> {
        get async {
            await withCheckedContinuation { continuation in
                let ready: Result<T, any Error>? = self.state.withLock { state in
                    if let result = state.result { return result }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}

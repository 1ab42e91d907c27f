import CashpointStore
public import Crypto
public import Logging
public import PostgresNIO
public import ServiceLifecycle

/// Seals the audit log's hash chain while the switch runs: every `interval`, every row not yet sealed
/// (one sealer at a time across switch instances, under an advisory lock). Off the posting path.
public struct AuditSealingService: Service {
    let sealer: AuditSealer
    let interval: Duration
    let logger: Logger

    public init(client: PostgresClient, key: SymmetricKey, interval: Duration = .seconds(1), logger: Logger) {
        self.sealer = AuditSealer(client: client, key: key, logger: logger)
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let sealed = try await self.sealer.sealAll()
                if sealed > 0 { self.logger.debug("audit rows sealed", metadata: [LogKey.sealed: "\(sealed)"]) }
            } catch {
                self.logger.warning("audit sealing failed; trying again", metadata: [LogKey.error: "\(error)"])
            }
            // Sleep until the next round, waking at once for a graceful shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
        // A last round so nothing written before the shutdown waits for the next start.
        _ = try? await self.sealer.sealAll()
    }
}

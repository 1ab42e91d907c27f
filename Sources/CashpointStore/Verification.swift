import CashpointBank
public import CashpointDatabase
import CashpointSecurity
public import Crypto
import Foundation
public import Logging
public import PostgresNIO

/// One thing verification found wrong, named so an operator can find it.
public struct Finding: Sendable, Hashable, CustomStringConvertible {
    public var subject: String
    public var problem: String

    public init(subject: String, problem: String) {
        self.subject = subject
        self.problem = problem
    }

    public var description: String { "\(self.subject): \(self.problem)" }
}

/// `atm-switch ledger verify`: every movement's lines sum to zero, every balance equals the sum of its
/// lines, every line's balance-after follows from the line before it, and a transaction has lines
/// exactly when it was approved for a non-zero amount.
public enum LedgerVerifier {
    public struct Report: Sendable, Hashable {
        public var transactions: Int
        public var lines: Int
        public var accounts: Int
        public var findings: [Finding]
        public var isClean: Bool { self.findings.isEmpty }
    }

    public static func verify(client: DatabaseClient, logger: Logger) async throws -> Report {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            try await connection.query("SELECT bank.set_context('system', NULL)", logger: logger)
            var findings: [Finding] = []
            var counts = (0, 0, 0)
            for try await (t, l, a) in try await connection.query(
                """
                SELECT (SELECT count(*) FROM bank.transactions), (SELECT count(*) FROM bank.history),
                       (SELECT count(*) FROM bank.accounts)
                """,
                logger: logger
            ).decode((Int, Int, Int).self) {
                counts = (t, l, a)
            }
            for try await (txn, sum) in try await connection.query(
                """
                SELECT transaction_id, sum(amount)::bigint FROM bank.history
                GROUP BY transaction_id HAVING sum(amount) <> 0 ORDER BY transaction_id
                """,
                logger: logger
            ).decode((Int64, Int64).self) {
                findings.append(Finding(subject: "transaction \(txn)", problem: "its lines sum to \(sum), not 0"))
            }
            for try await (account, balance, sum) in try await connection.query(
                """
                SELECT a.account_no, a.balance, coalesce(sum(h.amount), 0)::bigint
                FROM bank.accounts a LEFT JOIN bank.history h ON h.account_id = a.id
                GROUP BY a.id HAVING a.balance <> coalesce(sum(h.amount), 0) ORDER BY a.id
                """,
                logger: logger
            ).decode((String, Int64, Int64).self) {
                findings.append(
                    Finding(subject: "account \(account)", problem: "balance \(balance) but its lines sum to \(sum)")
                )
            }
            for try await (line, lineNo, account, expected, recorded, previousNo) in try await connection.query(
                """
                SELECT x.id, x.line_no, a.account_no, x.previous + x.amount, x.balance_after, x.previous_no FROM (
                    SELECT h.id, h.account_id, h.line_no, h.amount, h.balance_after,
                           lag(h.balance_after, 1, 0::bigint) OVER w AS previous,
                           lag(h.line_no, 1, 0::bigint) OVER w AS previous_no
                    FROM bank.history h
                    WINDOW w AS (PARTITION BY h.account_id ORDER BY h.line_no)) x
                JOIN bank.accounts a ON a.id = x.account_id
                WHERE x.balance_after <> x.previous + x.amount OR x.line_no <> x.previous_no + 1
                ORDER BY x.account_id, x.line_no
                """,
                logger: logger
            ).decode((Int64, Int64, String, Int64, Int64, Int64).self) {
                if lineNo != previousNo + 1 {
                    findings.append(
                        Finding(
                            subject: "line \(lineNo) of \(account)",
                            problem: "follows line \(previousNo): lines are missing"
                        )
                    )
                } else {
                    findings.append(
                        Finding(
                            subject: "line \(lineNo) of \(account) (id \(line))",
                            problem: "records balance \(recorded); its amount gives \(expected)"
                        )
                    )
                }
            }
            for try await (account, count, lines) in try await connection.query(
                """
                SELECT a.account_no, a.line_count, coalesce(max(h.line_no), 0)::bigint
                FROM bank.accounts a LEFT JOIN bank.history h ON h.account_id = a.id
                GROUP BY a.id HAVING a.line_count <> coalesce(max(h.line_no), 0) ORDER BY a.id
                """,
                logger: logger
            ).decode((String, Int64, Int64).self) {
                findings.append(
                    Finding(
                        subject: "account \(account)",
                        problem: "counts \(count) lines but its last is line \(lines)"
                    )
                )
            }
            for try await (txn, code, amount, lines) in try await connection.query(
                """
                SELECT t.id, t.response_code, t.amount, count(h.id)::int FROM bank.transactions t
                LEFT JOIN bank.history h ON h.transaction_id = t.id
                GROUP BY t.id
                HAVING (t.response_code = '00' AND t.amount > 0) <> (count(h.id) > 0)
                    OR (count(h.id) > 0 AND max(abs(h.amount)) <> t.amount)
                ORDER BY t.id
                """,
                logger: logger
            ).decode((Int64, String, Int64, Int).self) {
                findings.append(
                    Finding(
                        subject: "transaction \(txn)",
                        problem: "answered \(code) for \(amount) but has \(lines) lines that do not match"
                    )
                )
            }
            for try await (line, what) in try await connection.query(
                """
                SELECT h.id, CASE WHEN t.id IS NULL THEN 'names no transaction' ELSE 'names no account' END
                FROM bank.history h
                LEFT JOIN bank.transactions t ON t.id = h.transaction_id
                LEFT JOIN bank.accounts a ON a.id = h.account_id
                WHERE t.id IS NULL OR a.id IS NULL ORDER BY h.id
                """,
                logger: logger
            ).decode((Int64, String).self) {
                findings.append(Finding(subject: "line \(line)", problem: what))
            }
            for try await account in try await connection.query(
                "SELECT account_no FROM bank.accounts WHERE kind = 'customer' AND balance < 0 ORDER BY id",
                logger: logger
            ).decode(String.self) {
                findings.append(Finding(subject: "account \(account)", problem: "a customer balance is negative"))
            }
            return Report(transactions: counts.0, lines: counts.1, accounts: counts.2, findings: findings)
        }
    }
}

/// Seals audit rows into the hash chain: one sealer at a time (a transaction-level advisory lock),
/// so the chain is one line however many writers there are. Each batch takes the rows above the last
/// seal's `scanned_to` and the ids it left pending (rows that had not committed yet), in id order; the
/// chain's order is the order of sealing.
///
/// Every statement goes through `queryIfOpen`, so none waits for ever on a connection the server has
/// ended; a batch whose task is cancelled closes its connection, so one stuck on a silent connection
/// (a partition) ends too. `AuditSealingService` bounds each round with that.
public struct AuditSealer: Sendable {
    public let client: DatabaseClient
    public let key: SymmetricKey
    /// The key prepared once for the links (`PreparedHMAC`).
    let prepared: PreparedHMAC.Key
    public let logger: Logger
    public let batchSize: Int
    /// A pending id this far below `scanned_to` is taken as rolled back and no longer looked for.
    public let pendingHorizon: Int64

    /// The advisory lock that makes one sealer at a time ("AUDITSEA").
    public static let lockKey: Int64 = 0x4155_4449_5453_4541

    public init(
        client: DatabaseClient,
        key: SymmetricKey,
        logger: Logger,
        batchSize: Int = 2_000,
        pendingHorizon: Int64 = 100_000
    ) {
        self.client = client
        self.key = key
        self.prepared = PreparedHMAC.Key(key)
        self.logger = logger
        self.batchSize = batchSize
        self.pendingHorizon = pendingHorizon
    }

    /// Seals one batch into one seal row, in one transaction on a pooled connection; returns how many
    /// audit rows it sealed. Cancelled, it closes that connection: the server ends the transaction (and
    /// the advisory lock with it) once it hears of it, and a statement waiting for an answer fails at
    /// once, so the batch ends and the next one starts on another connection.
    @discardableResult
    public func sealBatch() async throws -> Int {
        try await self.client.withConnection { connection in
            try await withTaskCancellationHandler {
                try await self.sealBatch(on: connection)
            } onCancel: {
                connection.close().whenComplete { _ in }
            }
        }
    }

    /// One batch as one transaction on `connection`.
    func sealBatch(on connection: PostgresConnection) async throws -> Int {
        _ = try await connection.queryIfOpen("BEGIN", logger: self.logger)
        let sealed: Int
        do {
            sealed = try await self.sealInTransaction(connection)
        } catch {
            do {
                _ = try await connection.queryIfOpen("ROLLBACK", logger: self.logger)
            } catch {
                // A connection that cannot roll back is not given back to the pool as it is.
                connection.close().whenComplete { _ in }
            }
            throw error
        }
        _ = try await connection.queryIfOpen("COMMIT", logger: self.logger)
        return sealed
    }

    func sealInTransaction(_ connection: PostgresConnection) async throws -> Int {
        _ = try await connection.queryIfOpen("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: self.logger)
        var lastSeq: Int64 = 0
        var lastLink = AuditChain.genesis
        var scannedTo: Int64 = 0
        var pending: [Int64] = []
        for row in try await connection.queryIfOpen(
            """
            SELECT s.seq, substring(s.links FROM length(s.links) - 31), s.scanned_to, s.pending_ids
            FROM bank.audit_seals s ORDER BY s.seq DESC LIMIT 1
            """,
            logger: self.logger
        ) {
            let (seq, link, scanned, waiting) = try row.decode((Int64, ByteBuffer, Int64, [Int64]).self)
            lastSeq = seq
            lastLink = Array(buffer: link)
            scannedTo = scanned
            pending = waiting
        }
        // Two index range reads, never a scan of the sealed history: as one `id > x OR id = ANY(...)`
        // the planner walked the whole primary key and filtered (34 ms a batch at 125,000 rows,
        // growing with the table).
        var ids: [Int64] = []
        var links = ByteBuffer()
        links.reserveCapacity(self.batchSize * 32)
        for row in try await connection.queryIfOpen(
            """
            SELECT a.id, \(unescaped: AuditQueries.timestamp), a.actor, a.action, a.outcome, a.details::text, a.ip, a.device
            FROM (
                (SELECT n.* FROM bank.audit_logs n WHERE n.id > \(scannedTo) ORDER BY n.id LIMIT \(self.batchSize))
                UNION ALL
                (SELECT p.* FROM bank.audit_logs p WHERE p.id = ANY (\(pending)::bigint[]) AND p.id <= \(scannedTo))
            ) a
            ORDER BY a.id LIMIT \(self.batchSize)
            """,
            logger: self.logger
        ) {
            let (id, at, actor, action, outcome, details, ip, device) = try row.decode(
                (Int64, String, String, String, String, String, String?, String?).self
            )
            let audit = AuditRow(
                id: id,
                at: at,
                actor: actor,
                action: action,
                outcome: outcome,
                details: details,
                ip: ip,
                device: device
            )
            let link = AuditChain.link(previous: lastLink, row: audit, key: self.prepared)
            ids.append(audit.id)
            links.writeBytes(link)
            lastLink = link
        }
        guard let first = ids.first, let last = ids.last else { return 0 }
        // What is still pending: earlier pending ids not found now, and the ids skipped above the
        // old scanned_to (not committed yet, or rolled back).
        let sealedNow = Set(ids)
        var stillPending = pending.filter { !sealedNow.contains($0) }
        var expected = scannedTo + 1
        for id in ids where id > scannedTo {
            if id > expected {
                stillPending.append(contentsOf: expected..<min(id, expected + 10_000))
            }
            expected = id + 1
        }
        let newScannedTo = max(scannedTo, last)
        stillPending.removeAll { $0 < newScannedTo - self.pendingHorizon }
        _ = try await connection.queryIfOpen(
            """
            INSERT INTO bank.audit_seals (seq, first_id, last_id, audit_ids, links, scanned_to, pending_ids)
            VALUES (\(lastSeq + 1), \(first), \(ids.max()!), \(ids)::bigint[], \(links),
                    \(newScannedTo), \(stillPending)::bigint[])
            """,
            logger: self.logger
        )
        self.logger.debug(
            "audit batch sealed",
            metadata: [
                "audit.seal": "\(lastSeq + 1)", "audit.rows": "\(ids.count)",
                "audit.head": "\(Hex.lowercase(lastLink))",
            ]
        )
        return ids.count
    }

    /// Seals everything there is now, batch by batch.
    @discardableResult
    public func sealAll() async throws -> Int {
        var total = 0
        while true {
            try Task.checkCancellation()
            let sealed = try await self.sealBatch()
            total += sealed
            if sealed < self.batchSize { return total }
        }
    }

    /// Seals continuously until cancelled (tests race two of these; the switch runs
    /// `AuditSealingService`, which also bounds each round).
    public func run(every interval: Duration = .milliseconds(200)) async {
        while !Task.isCancelled {
            do {
                try await self.sealAll()
            } catch {
                self.logger.warning(
                    "audit sealing failed; retrying",
                    metadata: ["error": "\(String(describing: error))"]
                )
            }
            try? await Task.sleep(for: interval)
        }
    }
}

enum AuditQueries {
    /// The one rendering of a row's timestamp that the chain hashes (UTC, microseconds).
    static let timestamp = "to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
}

/// `atm-switch audit verify`: walks the chain from the first seal and names every altered, removed or
/// inserted row.
///
/// A row that is in no seal is either awaiting the sealer or inserted, and the last seal tells which,
/// however long ago it was written: the sealer's next batch takes every row above the last seal's
/// `scanned_to` and every row whose id that seal lists as pending (it had not committed when the seal
/// was made). Any other unsealed row lies where the sealer no longer looks: it was inserted.
public enum AuditVerifier {
    public struct Report: Sendable, Hashable {
        public var sealed: Int
        /// Rows in no seal yet that the sealer's next batch takes: written, not yet chained.
        public var pending: Int
        /// How long the oldest of the `pending` rows has waited, by the database's clock (nil: none).
        public var oldestPending: Duration?
        public var findings: [Finding]
        public var isClean: Bool { self.findings.isEmpty }
    }

    public static func verify(client: DatabaseClient, key: SymmetricKey, logger: Logger) async throws -> Report {
        let prepared = PreparedHMAC.Key(key)
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            var findings: [Finding] = []
            var expectedSeq: Int64 = 1
            var currentSeq: Int64 = 0
            var previous = AuditChain.genesis
            var chainKnown = true
            var sealed = 0
            var seen = Set<Int64>()
            for try await row in try await connection.query(
                """
                SELECT s.seq, u.ord, u.audit_id, substring(s.links FROM (u.ord::int - 1) * 32 + 1 FOR 32),
                       a.id, \(unescaped: AuditQueries.timestamp), a.actor, a.action, a.outcome, a.details::text, a.ip, a.device
                FROM bank.audit_seals s
                CROSS JOIN LATERAL unnest(s.audit_ids) WITH ORDINALITY AS u (audit_id, ord)
                LEFT JOIN bank.audit_logs a ON a.id = u.audit_id
                ORDER BY s.seq, u.ord
                """,
                logger: logger
            ).decode(
                (Int64, Int64, Int64, ByteBuffer, Int64?, String?, String?, String?, String?, String?, String?, String?)
                    .self
            ) {
                let (seq, auditID, link) = (row.0, row.2, Array(buffer: row.3))
                if seq != currentSeq {
                    if seq != expectedSeq {
                        findings.append(
                            Finding(
                                subject: "seals \(expectedSeq)-\(seq - 1)",
                                problem: "missing: sealed audit rows were removed"
                            )
                        )
                        // The chain cannot be followed across the gap: start again from this seal.
                        chainKnown = false
                    }
                    currentSeq = seq
                    expectedSeq = seq + 1
                }
                sealed += 1
                if !seen.insert(auditID).inserted {
                    findings.append(Finding(subject: "audit row \(auditID) (seal \(seq))", problem: "sealed twice"))
                }
                if let id = row.4, let at = row.5, let actor = row.6, let action = row.7, let outcome = row.8,
                    let details = row.9
                {
                    let audit = AuditRow(
                        id: id,
                        at: at,
                        actor: actor,
                        action: action,
                        outcome: outcome,
                        details: details,
                        ip: row.10,
                        device: row.11
                    )
                    if chainKnown && AuditChain.link(previous: previous, row: audit, key: prepared) != link {
                        findings.append(
                            Finding(
                                subject: "audit row \(auditID) (seal \(seq))",
                                problem: "altered: its content no longer matches its seal"
                            )
                        )
                    }
                } else {
                    findings.append(Finding(subject: "audit row \(auditID) (seal \(seq))", problem: "removed"))
                }
                previous = link
                chainKnown = true
            }
            var pending = 0
            var oldestPending: Duration? = nil
            for try await (id, awaited, waitedMicroseconds) in try await connection.query(
                """
                SELECT a.id, a.id > coalesce(l.scanned_to, 0) OR a.id = ANY (coalesce(l.pending_ids, '{}')),
                       (extract(epoch FROM now() - a.at) * 1000000)::bigint
                FROM bank.audit_logs a
                LEFT JOIN (SELECT s.scanned_to, s.pending_ids FROM bank.audit_seals s ORDER BY s.seq DESC LIMIT 1) l
                    ON true
                WHERE a.id NOT IN (SELECT unnest(s.audit_ids) FROM bank.audit_seals s) ORDER BY a.id
                """,
                logger: logger
            ).decode((Int64, Bool, Int64).self) {
                if awaited {
                    pending += 1
                    let waited = Duration.microseconds(waitedMicroseconds)
                    oldestPending = max(oldestPending ?? waited, waited)
                } else {
                    findings.append(
                        Finding(
                            subject: "audit row \(id)",
                            problem: "inserted: it is not in the chain, though later rows are"
                        )
                    )
                }
            }
            return Report(sealed: sealed, pending: pending, oldestPending: oldestPending, findings: findings)
        }
    }

    /// Waits, at most `within` on `clock`, until a running sealer (the switch's) has sealed every audit
    /// row written before the call; returns how many of those still await it (0: it caught up). Looks
    /// every `interval`, with two index range reads (the rows the sealer's next batch takes), never a scan.
    public static func waitForSealer<C: Clock>(
        client: DatabaseClient,
        within: Duration,
        interval: Duration = .milliseconds(200),
        clock: C = ContinuousClock(),
        logger: Logger
    ) async throws -> Int where C.Duration == Duration {
        let deadline = clock.now.advanced(by: within)
        var upTo: Int64 = 0
        for try await last in try await client.query(
            "SELECT coalesce(max(a.id), 0) FROM bank.audit_logs a",
            logger: logger
        ).decode(Int64.self) {
            upTo = last
        }
        while true {
            var waiting = 0
            for try await count in try await client.query(
                """
                WITH last AS (SELECT s.scanned_to, s.pending_ids FROM bank.audit_seals s ORDER BY s.seq DESC LIMIT 1),
                l AS (
                    SELECT coalesce((SELECT scanned_to FROM last), 0) AS scanned_to,
                           coalesce((SELECT pending_ids FROM last), '{}') AS pending_ids
                )
                SELECT ((SELECT count(*) FROM bank.audit_logs a, l WHERE a.id > l.scanned_to AND a.id <= \(upTo))
                      + (SELECT count(*) FROM bank.audit_logs a, l
                         WHERE a.id = ANY (l.pending_ids) AND a.id <= \(upTo)))::int
                """,
                logger: logger
            ).decode(Int.self) {
                waiting = count
            }
            if waiting == 0 || clock.now >= deadline { return waiting }
            try await clock.sleep(until: min(clock.now.advanced(by: interval), deadline), tolerance: nil)
        }
    }
}

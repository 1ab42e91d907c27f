public import ATM87
public import Crypto
public import Foundation
import GRDB

/// One record of the electronic journal: what happened, when, in which card session, under which STAN.
/// Details never hold a PIN, PIN block, key, token, password or a PAN other than masked (6 and 4).
public struct JournalRecord: Sendable, Hashable, Codable {
    public var seq: Int64
    /// Unix time in milliseconds, UTC.
    public var at: Int64
    public var session: Int64?
    public var stan: String?
    public var kind: String
    public var detail: [String: String]
    public var hash: String

    /// `2026-12-01T15:32:07.123Z`.
    public var time: String {
        let date = CivilDate(unixSeconds: Int(self.at / 1_000))
        let two = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(self.at % 1_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(date.year)-\(two(date.month))-\(two(date.day))T\(two(date.hour)):\(two(date.minute)):\(two(date.second)).\(ms)Z"
    }

    /// The detail as canonical JSON: keys sorted, no spaces. What the chain hashes.
    public var detailJSON: String { Self.canonical(self.detail) }

    static func canonical(_ detail: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(detail)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// What to append: the journal gives it its sequence number, time and hash.
public struct JournalEntry: Sendable, Hashable {
    public var kind: String
    public var session: Int64?
    public var stan: String?
    public var detail: [String: String]

    public init(_ kind: String, session: Int64? = nil, stan: String? = nil, _ detail: [String: String] = [:]) {
        self.kind = kind
        self.session = session
        self.stan = stan
        self.detail = detail
    }
}

/// Why the journal could not be used: one sentence to act on.
public struct JournalError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What `verify` found.
public struct JournalVerification: Sendable, Hashable {
    public var records: Int
    /// Each problem as a sentence naming the record(s): altered, removed, inserted.
    public var problems: [String]
    public var isIntact: Bool { self.problems.isEmpty }
}

/// The terminal's electronic journal in SQLite (GRDB), in the terminal's data folder: append-only
/// (triggers refuse UPDATE and DELETE), each record chained to the one before by an HMAC under a key
/// derived from the terminal's master key, so an edited, removed or inserted record is found. WAL
/// mode with `synchronous = FULL`: a record is on disk when its transaction commits, before the
/// terminal acts on it. The same database holds the store-and-forward queue and the cassette counts,
/// so a record and the queue entry it implies commit together.
public final class ElectronicJournal: Sendable {
    public let path: String
    let database: DatabaseQueue
    let chainKey: SymmetricKey
    let panKey: SymmetricKey
    let now: @Sendable () -> Date

    /// The hash before the first record.
    static let genesis = String(repeating: "0", count: 64)

    public init(path: String, masterKey: SymmetricKey, now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.path = path
        self.now = now
        self.chainKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: masterKey,
            info: Data("cashpoint journal chain".utf8),
            outputByteCount: 32
        )
        self.panKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: masterKey,
            info: Data("cashpoint journal card number".utf8),
            outputByteCount: 32
        )
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw JournalError("cannot make the journal's folder \(folder): \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // FULL: each commit is synced to disk, so a record survives a power cut once written.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            self.database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(self.database)
        } catch {
            throw JournalError("cannot open the journal \(path): \(error)")
        }
    }

    /// The journal's schema, as named migrations.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 journal, store-and-forward queue, cassettes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE journal (
                        seq INTEGER PRIMARY KEY,
                        at INTEGER NOT NULL,
                        session INTEGER,
                        stan TEXT,
                        kind TEXT NOT NULL,
                        detail TEXT NOT NULL,
                        hash TEXT NOT NULL
                    );
                    CREATE INDEX journal_session ON journal(session);
                    CREATE INDEX journal_kind ON journal(kind);
                    CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
                    BEGIN SELECT RAISE(ABORT, 'the electronic journal is append-only: records are never changed'); END;
                    CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
                    BEGIN SELECT RAISE(ABORT, 'the electronic journal is append-only: records are never removed'); END;

                    -- One row per money-moving request sent: armed until its outcome is known, then
                    -- settled (nothing to undo) or queued (a reversal advice to send), done or operator.
                    CREATE TABLE saf (
                        id INTEGER PRIMARY KEY,
                        request_seq INTEGER NOT NULL REFERENCES journal(seq),
                        state TEXT NOT NULL CHECK (state IN ('armed', 'settled', 'queued', 'done', 'operator')),
                        original_stan TEXT NOT NULL,
                        original_time TEXT NOT NULL,
                        processing_code TEXT NOT NULL,
                        amount INTEGER NOT NULL,
                        currency TEXT NOT NULL,
                        pan_masked TEXT NOT NULL,
                        pan_sealed BLOB NOT NULL,
                        dispensed INTEGER NOT NULL DEFAULT 0,
                        reason TEXT,
                        advice_stan TEXT,
                        advice_time TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt INTEGER,
                        last_code TEXT,
                        answer_code TEXT
                    );
                    CREATE INDEX saf_state ON saf(state);

                    CREATE TABLE cassettes (
                        position INTEGER PRIMARY KEY,
                        denomination INTEGER NOT NULL,
                        currency TEXT NOT NULL,
                        count INTEGER NOT NULL CHECK (count >= 0),
                        low_threshold INTEGER NOT NULL
                    );
                    """
            )
        }
        return migrator
    }

    // MARK: Writing

    /// One transaction: appends records and changes the queue and the cassettes together.
    public func write<T>(_ body: (JournalTransaction) throws -> T) throws -> T {
        try self.database.write { db in
            try body(JournalTransaction(db: db, journal: self))
        }
    }

    /// Appends one record in a transaction of its own; returns its sequence number.
    @discardableResult
    public func append(_ entry: JournalEntry) throws -> Int64 {
        try self.write { try $0.append(entry) }
    }

    func hash(previous: String, seq: Int64, at: Int64, session: Int64?, stan: String?, kind: String, detail: String) -> String {
        let text = [previous, String(seq), String(at), session.map(String.init) ?? "", stan ?? "", kind, detail]
            .joined(separator: "\u{1F}")
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: self.chainKey)
        return mac.map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    // MARK: Reading

    public func records(session: Int64? = nil, since: Int64? = nil, kinds: [String]? = nil) throws -> [JournalRecord] {
        try self.database.read { db in
            var clauses: [String] = []
            var arguments: [any DatabaseValueConvertible] = []
            if let session {
                clauses.append("session = ?")
                arguments.append(session)
            }
            if let since {
                clauses.append("at >= ?")
                arguments.append(since)
            }
            if let kinds, !kinds.isEmpty {
                clauses.append("kind IN (\(kinds.map { _ in "?" }.joined(separator: ", ")))")
                arguments += kinds.map { $0 as any DatabaseValueConvertible }
            }
            let filter = clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT seq, at, session, stan, kind, detail, hash FROM journal\(filter) ORDER BY seq",
                arguments: StatementArguments(arguments)
            )
            return rows.map(Self.record)
        }
    }

    static func record(_ row: Row) -> JournalRecord {
        let detailText: String = row["detail"]
        let detail = (try? JSONDecoder().decode([String: String].self, from: Data(detailText.utf8))) ?? [:]
        return JournalRecord(
            seq: row["seq"],
            at: row["at"],
            session: row["session"],
            stan: row["stan"],
            kind: row["kind"],
            detail: detail,
            hash: row["hash"]
        )
    }

    /// Walks the chain: every record's HMAC over its own content and the hash before it, and no gap
    /// in the sequence numbers.
    public func verify() throws -> JournalVerification {
        try self.database.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT seq, at, session, stan, kind, detail, hash FROM journal ORDER BY seq")
            var problems: [String] = []
            var previous = Self.genesis
            var expectedSeq: Int64 = 1
            for row in rows {
                let seq: Int64 = row["seq"]
                if seq != expectedSeq {
                    problems.append(
                        seq > expectedSeq
                            ? "records \(expectedSeq)-\(seq - 1) are missing (removed)"
                            : "record \(seq) is out of order"
                    )
                }
                let detail: String = row["detail"]
                let stored: String = row["hash"]
                let computed = self.hash(
                    previous: previous,
                    seq: seq,
                    at: row["at"],
                    session: row["session"],
                    stan: row["stan"],
                    kind: row["kind"],
                    detail: detail
                )
                if computed != stored {
                    problems.append("record \(seq) does not match its hash: altered, or the chain before it was changed")
                }
                previous = stored
                expectedSeq = seq + 1
            }
            return JournalVerification(records: rows.count, problems: problems)
        }
    }

    // MARK: The queue and the cassettes

    public func safEntries(states: [SAFEntry.State]) throws -> [SAFEntry] {
        try self.database.read { db in
            try SAFEntry.fetch(db, states: states)
        }
    }

    /// The cassette counts kept by the journal, nil when none were ever recorded.
    public func cassettes() throws -> [Cassette]? {
        try self.database.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM cassettes ORDER BY position")
            guard !rows.isEmpty else { return nil }
            return rows.map {
                Cassette(
                    denomination: $0["denomination"],
                    count: $0["count"],
                    currency: $0["currency"],
                    lowThreshold: $0["low_threshold"]
                )
            }
        }
    }

    /// The card number, enciphered for the queue (AES-GCM under a key derived from the master key).
    func seal(pan: String) throws -> Data {
        guard let combined = try AES.GCM.seal(Data(pan.utf8), using: self.panKey).combined else {
            throw JournalError("the card number could not be sealed")
        }
        return combined
    }

    func open(pan sealed: Data) throws -> String {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return String(decoding: try AES.GCM.open(box, using: self.panKey), as: UTF8.self)
    }
}

/// The journal inside one SQLite transaction.
public struct JournalTransaction {
    let db: Database
    let journal: ElectronicJournal

    /// Appends a record; returns its sequence number.
    @discardableResult
    public func append(_ entry: JournalEntry) throws -> Int64 {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last?["seq"] ?? 0) + 1
        let previous: String = last?["hash"] ?? ElectronicJournal.genesis
        let at = Int64((self.journal.now().timeIntervalSince1970 * 1_000).rounded())
        let detail = JournalRecord.canonical(entry.detail)
        let hash = self.journal.hash(
            previous: previous,
            seq: seq,
            at: at,
            session: entry.session,
            stan: entry.stan,
            kind: entry.kind,
            detail: detail
        )
        try self.db.execute(
            sql: "INSERT INTO journal (seq, at, session, stan, kind, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [seq, at, entry.session, entry.stan, entry.kind, detail, hash]
        )
        return seq
    }

    /// Records the cassette counts as they are now.
    public func saveCassettes(_ cassettes: [Cassette]) throws {
        try self.db.execute(sql: "DELETE FROM cassettes")
        for (position, cassette) in cassettes.enumerated() {
            try self.db.execute(
                sql: "INSERT INTO cassettes (position, denomination, currency, count, low_threshold) VALUES (?, ?, ?, ?, ?)",
                arguments: [position, cassette.denomination, cassette.currency, cassette.count, cassette.lowThreshold]
            )
        }
    }

    /// Arms a queue entry for a money-moving request about to be sent: if the terminal stops before
    /// its outcome is recorded, the entry becomes a reversal when it starts again.
    public func arm(requestSeq: Int64, request: ATM87Message, pan: String) throws -> Int64 {
        guard let stan = request[11], let time = request[7], let code = request[3], let amount = request.integer(4),
            let currency = request[49]
        else {
            throw JournalError("a request to arm has no STAN, time, processing code, amount or currency")
        }
        try self.db.execute(
            sql: """
                INSERT INTO saf (request_seq, state, original_stan, original_time, processing_code, amount, currency,
                    pan_masked, pan_sealed)
                VALUES (?, 'armed', ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                requestSeq, stan, time, code, amount, currency, ATM87PrettyPrinter.maskPAN(pan),
                try self.journal.seal(pan: pan),
            ]
        )
        return self.db.lastInsertedRowID
    }

    /// The request's outcome is known and needs nothing undone.
    public func settle(_ id: Int64) throws {
        try self.db.execute(sql: "UPDATE saf SET state = 'settled' WHERE id = ? AND state = 'armed'", arguments: [id])
    }

    /// The request's outcome is in doubt (or part of it must be undone): queue its reversal advice.
    public func queue(_ id: Int64, dispensed: Int64, reason: String, due: Int64) throws {
        try self.db.execute(
            sql: "UPDATE saf SET state = 'queued', dispensed = ?, reason = ?, next_attempt = ? WHERE id = ? AND state = 'armed'",
            arguments: [dispensed, reason, due, id]
        )
    }

    /// Keeps what the queue's sender decided about an entry.
    public func update(_ entry: SAFEntry) throws {
        try self.db.execute(
            sql: """
                UPDATE saf SET state = ?, advice_stan = ?, advice_time = ?, attempts = ?, next_attempt = ?, last_code = ?
                WHERE id = ?
                """,
            arguments: [
                entry.state.rawValue, entry.adviceSTAN, entry.adviceTime, entry.attempts, entry.nextAttempt,
                entry.lastCode, entry.id,
            ]
        )
    }

    /// The original request's answer, kept with its entry (what a restart needs to decide).
    public func answered(_ id: Int64, code: String) throws {
        try self.db.execute(sql: "UPDATE saf SET answer_code = ? WHERE id = ?", arguments: [code, id])
    }

    /// The cash given so far for the entry's withdrawal.
    public func dispensed(_ id: Int64, amount: Int64) throws {
        try self.db.execute(sql: "UPDATE saf SET dispensed = ? WHERE id = ? AND state = 'armed'", arguments: [amount, id])
    }

    /// Entries armed when the terminal last stopped (the caller queues or settles each).
    public func armed() throws -> [SAFEntry] {
        try SAFEntry.fetch(self.db, states: [.armed])
    }

    public func entry(_ id: Int64) throws -> SAFEntry? {
        try SAFEntry.fetch(self.db, id: id)
    }
}

/// A row of the store-and-forward queue.
public struct SAFEntry: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        case armed, settled, queued, done, `operator`
    }

    public var id: Int64
    public var requestSeq: Int64
    public var state: State
    public var originalSTAN: String
    public var originalTime: String
    public var processingCode: String
    public var amount: Int64
    public var currency: String
    public var maskedPAN: String
    public var sealedPAN: Data
    public var dispensed: Int64
    public var reason: String?
    /// The STAN and time of the first advice (0420); a repeat (0421) carries them again.
    public var adviceSTAN: String?
    public var adviceTime: String?
    public var attempts: Int
    /// Unix milliseconds.
    public var nextAttempt: Int64?
    public var lastCode: String?
    /// The original's response code, when its answer arrived.
    public var answerCode: String?

    static func fetch(_ db: Database, states: [State]) throws -> [SAFEntry] {
        let marks = states.map { _ in "?" }.joined(separator: ", ")
        return try Row.fetchAll(
            db,
            sql: "SELECT * FROM saf WHERE state IN (\(marks)) ORDER BY id",
            arguments: StatementArguments(states.map(\.rawValue))
        ).map(Self.init(row:))
    }

    static func fetch(_ db: Database, id: Int64) throws -> SAFEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM saf WHERE id = ?", arguments: [id]).map(Self.init(row:))
    }

    init(row: Row) {
        self.id = row["id"]
        self.requestSeq = row["request_seq"]
        self.state = State(rawValue: row["state"]) ?? .operator
        self.originalSTAN = row["original_stan"]
        self.originalTime = row["original_time"]
        self.processingCode = row["processing_code"]
        self.amount = row["amount"]
        self.currency = row["currency"]
        self.maskedPAN = row["pan_masked"]
        self.sealedPAN = row["pan_sealed"]
        self.dispensed = row["dispensed"]
        self.reason = row["reason"]
        self.adviceSTAN = row["advice_stan"]
        self.adviceTime = row["advice_time"]
        self.attempts = row["attempts"]
        self.nextAttempt = row["next_attempt"]
        self.lastCode = row["last_code"]
        self.answerCode = row["answer_code"]
    }

    public init(
        id: Int64,
        requestSeq: Int64 = 0,
        state: State,
        originalSTAN: String,
        originalTime: String,
        processingCode: String,
        amount: Int64,
        currency: String = "978",
        maskedPAN: String = "",
        sealedPAN: Data = Data(),
        dispensed: Int64 = 0,
        reason: String? = nil,
        adviceSTAN: String? = nil,
        adviceTime: String? = nil,
        attempts: Int = 0,
        nextAttempt: Int64? = nil,
        lastCode: String? = nil,
        answerCode: String? = nil
    ) {
        self.answerCode = answerCode
        self.id = id
        self.requestSeq = requestSeq
        self.state = state
        self.originalSTAN = originalSTAN
        self.originalTime = originalTime
        self.processingCode = processingCode
        self.amount = amount
        self.currency = currency
        self.maskedPAN = maskedPAN
        self.sealedPAN = sealedPAN
        self.dispensed = dispensed
        self.reason = reason
        self.adviceSTAN = adviceSTAN
        self.adviceTime = adviceTime
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.lastCode = lastCode
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
    }
}

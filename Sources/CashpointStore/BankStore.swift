public import CashpointBank
public import CashpointDatabase
public import Foundation
public import Logging
public import PostgresNIO

/// The bank's PostgreSQL store: each method is one call of one SQL function (one transaction), run by
/// a role that owns nothing. Serialization failures and deadlocks are retried a bounded number of
/// times and never reach the caller.
///
/// Every write whose answer the switch sends is CALLed through its `bank.NAME_committed` procedure
/// (Migrations/functions/post_committed.sql says why and how): the procedure commits before it sends its
/// row, so a row received is a commit made, in the same round trip. A connection lost before the row
/// leaves the write in doubt: a keyed money movement is asked again by its key (`recovering`); any other
/// write is answered 91 (`Bank.responseCode`) and never made again by the store, since it is not
/// idempotent (a PIN check made twice counts twice).
public struct BankStore: BankRecords {
    public let client: DatabaseClient
    public let logger: Logger
    public let maxAttempts: Int
    /// Card-session postings go through it, in batches, when it is set (`atm-switch serve --batch-postings`).
    public var postings: PostingService?

    public init(client: DatabaseClient, logger: Logger, maxAttempts: Int = 5) {
        self.client = client
        self.logger = logger
        self.maxAttempts = maxAttempts
    }

    // MARK: Money

    public func post(
        _ kind: PostingKind,
        actor: ActorContext,
        cardID: Int64?,
        key: IdempotencyKey,
        digest: [UInt8],
        amount: Int64,
        from: String?,
        to: String?,
        session: CardSessionKey? = nil
    ) async throws -> PostingResult {
        let statement = PostStatement(
            role: actor.role.rawValue,
            userID: actor.userID,
            cardID: cardID,
            actor: actor.name,
            ip: actor.ip,
            device: actor.device,
            terminal: key.terminal,
            stan: key.stan,
            transmitted: key.transmitted,
            digest: ByteBuffer(bytes: digest),
            kind: kind.rawValue,
            amount: amount,
            from: from,
            to: to
        )
        if let session {
            let statement = SessionPostStatement(
                posting: statement,
                panDigest: ByteBuffer(bytes: session.panDigest),
                sessionID: session.sessionID
            )
            let alone = {
                try await self.recovering(key) {
                    for try await row in try await self.client.execute(statement, logger: self.logger) {
                        return try Self.posting(row)
                    }
                    throw StoreError(kind: .unavailable, detail: "CALL bank.post_committed returned no row")
                }
            }
            if let postings = self.postings, actor.role == .customer, actor.userID != nil, let cardID {
                let posting = BatchedPosting(
                    kind: kind, actor: actor, cardID: cardID, key: key, digest: digest, amount: amount,
                    from: from, to: to, session: session
                )
                return try await postings.post(posting, alone: alone)
            }
            return try await alone()
        }
        return try await self.recovering(key) {
            for try await row in try await self.client.execute(statement, logger: self.logger) {
                return try Self.posting(row)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.post_committed returned no row")
        }
    }

    /// The answer in a `bank.post_committed` row, or (no response code) why the card session may not go on.
    static func posting(_ row: PostStatement.Row) throws -> PostingResult {
        guard let code = row.0 else {
            throw Self.refused(
                card: row.5, status: row.6, expired: row.7 ?? false, locked: row.8 ?? false, ended: row.9 ?? false
            )
        }
        return PostingResult(
            code: ResponseCode(rawValue: code),
            transactionID: row.1,
            balanceAfter: row.2,
            authCode: row.3,
            replayed: row.4
        )
    }

    public func reverse(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        originalSTAN: String,
        originalTransmitted: String,
        dispensed: Int64?,
        kind: PostingKind?,
        amount: Int64,
        panDigest: [UInt8]?
    ) async throws -> StoredReversal {
        try await self.recovering(key) {
            let rows = try await self.client.query(
                """
                CALL bank.reverse_committed(
                    \(actor.name), \(actor.ip), \(actor.device),
                    \(key.terminal), \(key.stan), \(key.transmitted), \(ByteBuffer(bytes: digest)),
                    \(originalSTAN), \(originalTransmitted), \(dispensed),
                    \(kind?.rawValue), \(amount), \(panDigest.map { ByteBuffer(bytes: $0) }))
                """,
                logger: self.logger
            )
            for try await (code, txn, reversed, replayed, field, originalKind) in rows.decode(
                (String?, Int64?, Int64, Bool, Int?, String?).self
            ) {
                guard let code else {
                    guard let field else {
                        throw StoreError(kind: .unavailable, detail: "bank.reverse returned neither answer nor mismatch")
                    }
                    return .mismatch(field: field, originalKind: originalKind ?? "")
                }
                return .done(
                    ReversalResult(
                        code: ResponseCode(rawValue: code),
                        transactionID: txn,
                        reversedAmount: reversed,
                        replayed: replayed
                    )
                )
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.reverse_committed returned no row")
        }
    }

    public func balance(
        actor: ActorContext,
        cardID: Int64?,
        account: String,
        session: CardSessionKey? = nil
    ) async throws -> (ResponseCode, Int64?) {
        if let session {
            let statement = SessionBalanceStatement(
                panDigest: ByteBuffer(bytes: session.panDigest),
                sessionID: session.sessionID,
                role: actor.role.rawValue,
                userID: actor.userID,
                cardID: cardID,
                account: account,
                actor: actor.name,
                ip: actor.ip,
                device: actor.device
            )
            return try await self.retrying {
                for try await row in try await self.client.execute(statement, logger: self.logger) {
                    guard let code = row.0 else {
                        throw Self.refused(card: row.2, status: row.3, expired: row.4, locked: row.5, ended: row.6)
                    }
                    return (ResponseCode(rawValue: code), row.1)
                }
                throw StoreError(kind: .unavailable, detail: "bank.session_balance returned no row")
            }
        }
        return try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT response_code, balance FROM bank.balance(
                    \(actor.role.rawValue), \(actor.userID), \(cardID), \(account), \(actor.name), \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
            for try await (code, balance) in rows.decode((String, Int64?).self) {
                return (ResponseCode(rawValue: code), balance)
            }
            throw StoreError(kind: .unavailable, detail: "bank.balance returned no row")
        }
    }

    public func miniStatement(
        actor: ActorContext,
        cardID: Int64?,
        account: String,
        count: Int = 10,
        session: CardSessionKey? = nil
    ) async throws -> (ResponseCode, [StatementLine]) {
        try await self.retrying {
            let call: PostgresQuery =
                if let session {
                    """
                    SELECT response_code, line_id, at, kind, amount, balance_after,
                        card_id, card_status, card_expired, user_locked, session_ended
                    FROM bank.session_statement(
                        \(ByteBuffer(bytes: session.panDigest)), \(session.sessionID),
                        \(actor.role.rawValue), \(actor.userID), \(cardID), \(account), \(count)::int,
                        \(actor.name), \(actor.ip), \(actor.device))
                    """
                } else {
                    """
                    SELECT response_code, line_id, at, kind, amount, balance_after,
                        NULL::bigint, NULL::text, false, false, false
                    FROM bank.mini_statement(
                        \(actor.role.rawValue), \(actor.userID), \(cardID), \(account), \(count)::int,
                        \(actor.name), \(actor.ip), \(actor.device))
                    """
                }
            let rows = try await self.client.query(call, logger: self.logger)
            var code = ResponseCode.systemMalfunction
            var lines: [StatementLine] = []
            for try await (rowCode, id, at, kind, amount, balance, card, status, expired, locked, ended) in rows.decode(
                (String?, Int64?, Date?, String?, Int64?, Int64?, Int64?, String?, Bool, Bool, Bool).self
            ) {
                guard let rowCode else {
                    throw Self.refused(card: card, status: status, expired: expired, locked: locked, ended: ended)
                }
                code = ResponseCode(rawValue: rowCode)
                if let id, let at, let kind, let amount, let balance {
                    lines.append(
                        StatementLine(lineNumber: id, at: at, kind: kind, amount: amount, balanceAfter: balance)
                    )
                }
            }
            return (code, lines)
        }
    }

    // MARK: Cards and PINs

    public func card(panDigest: [UInt8]) async throws -> CardRecord? {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT card_id, user_id, pin_hash, status, pin_tries, expired, max_pin_tries, pan_masked, user_locked
                FROM bank.card_by_digest(\(ByteBuffer(bytes: panDigest)))
                """,
                logger: self.logger
            )
            for try await (id, user, hash, status, tries, expired, maxTries, masked, locked) in rows.decode(
                (Int64, Int64, String, String, Int, Bool, Int, String, Bool).self
            ) {
                return CardRecord(
                    cardID: id,
                    userID: user,
                    pinHash: hash,
                    status: status,
                    pinTries: tries,
                    expired: expired,
                    maxPINTries: maxTries,
                    maskedPAN: masked,
                    userLocked: locked
                )
            }
            return nil
        }
    }

    /// The accounts a card may use, default first.
    public func accounts(ofCard cardID: Int64) async throws -> [String] {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT account_no FROM bank.card_accounts_of(\(cardID))",
                logger: self.logger
            )
            var accounts: [String] = []
            for try await account in rows.decode(String.self) { accounts.append(account) }
            return accounts
        }
    }

    /// Records a PIN check: the try counter and the card's status after it (the bank answers from them),
    /// received only once they committed. Not idempotent, so never made again after a lost connection:
    /// the `DatabaseUnavailable` reaches the switch, which answers 91 (the check may have been counted).
    public func recordPINAttempt(cardID: Int64, ok: Bool, actor: ActorContext) async throws -> PINAttempt {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.record_pin_attempt_committed(
                    \(cardID), \(ok), \(actor.name), \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
            for try await (tries, status) in rows.decode((Int, String).self) {
                return PINAttempt(tries: tries, status: status)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.record_pin_attempt_committed returned no row")
        }
    }

    public func recordCardRefusal(cardID: Int64?, code: ResponseCode, reason: String, actor: ActorContext) async throws
    {
        try await self.retrying {
            try await self.execute(
                """
                CALL bank.record_card_refusal_committed(
                    \(cardID), \(code.rawValue), \(reason), \(actor.name), \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
        }
    }

    public func changePIN(
        cardID: Int64,
        userID: Int64,
        newHash: String,
        actor: ActorContext,
        panDigest: [UInt8],
        sessionID: String?
    ) async throws -> ResponseCode {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.change_pin_committed(
                    \(cardID), \(userID), \(newHash), \(actor.name), \(actor.ip), \(actor.device),
                    \(ByteBuffer(bytes: panDigest)), \(sessionID))
                """,
                logger: self.logger
            )
            for try await (code, card, status, expired, locked, ended) in rows.decode(
                (String?, Int64?, String?, Bool, Bool, Bool).self
            ) {
                guard let code else {
                    throw Self.refused(card: card, status: status, expired: expired, locked: locked, ended: ended)
                }
                return ResponseCode(rawValue: code)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.change_pin_committed returned no row")
        }
    }

    // MARK: Staff

    public func staff(userName: String) async throws -> StaffRecord? {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT user_id, role, password_hash, locked FROM bank.staff_by_name(\(userName))",
                logger: self.logger
            )
            for try await (id, role, hash, locked) in rows.decode((Int64, String, String, Bool).self) {
                guard let role = Role(rawValue: role) else { return nil }
                return StaffRecord(userID: id, role: role, hash: hash, locked: locked)
            }
            return nil
        }
    }

    // MARK: Administration

    public func createCustomer(actor: ActorContext, userName: String, fullName: String) async throws -> Int64 {
        try await self.scalar(
            """
            CALL bank.create_customer_committed(
                \(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(userName), \(fullName))
            """
        )
    }

    public func createStaff(
        actor: ActorContext,
        userName: String,
        fullName: String,
        role: Role,
        passwordHash: String
    ) async throws -> Int64 {
        try await self.scalar(
            """
            CALL bank.create_staff_committed(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                \(userName), \(fullName), \(role.rawValue), \(passwordHash))
            """
        )
    }

    public func openAccount(
        actor: ActorContext,
        userID: Int64,
        accountNo: String,
        name: String,
        dailyLimit: Int64?,
        dailyCount: Int?
    ) async throws -> Int64 {
        try await self.scalar(
            """
            CALL bank.open_account_committed(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                \(userID), \(accountNo), \(name), \(dailyLimit), \(dailyCount)::int)
            """
        )
    }

    public func openInternalAccount(
        actor: ActorContext,
        accountNo: String,
        name: String,
        kind: String
    ) async throws
        -> Int64
    {
        try await self.scalar(
            "SELECT bank.open_internal_account(\(actor.name), \(accountNo), \(name), \(kind))"
        )
    }

    public func registerTerminal(
        actor: ActorContext,
        terminal: String,
        kind: String,
        location: String,
        cashAccount: String
    ) async throws {
        try await self.retrying {
            try await self.execute(
                "SELECT bank.register_terminal(\(actor.name), \(terminal), \(kind), \(location), \(cashAccount))",
                logger: self.logger
            )
        }
    }

    public func issueCard(
        actor: ActorContext,
        userID: Int64,
        panDigest: [UInt8],
        maskedPAN: String,
        pinHash: String,
        expiry: String,
        accounts: [String]
    ) async throws -> Int64 {
        try await self.scalar(
            """
            CALL bank.issue_card_committed(
                \(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(userID),
                \(ByteBuffer(bytes: panDigest)), \(maskedPAN), \(pinHash), \(expiry)::date, \(accounts))
            """
        )
    }

    public func postOpening(actor: ActorContext, account: String, amount: Int64, equityAccount: String) async throws {
        let _: Int64 = try await self.scalar(
            "SELECT bank.post_opening(\(actor.name), \(account), \(amount), \(equityAccount))"
        )
    }

    public func setAccountLocked(actor: ActorContext, account: String, locked: Bool) async throws -> Bool {
        try await self.scalar(
            """
            CALL bank.set_account_locked_committed(
                \(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(account), \(locked))
            """
        )
    }

    public func setCardStatus(actor: ActorContext, panDigest: [UInt8], status: String) async throws -> Bool {
        try await self.scalar(
            """
            CALL bank.set_card_status_committed(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                \(ByteBuffer(bytes: panDigest)), \(status))
            """
        )
    }

    public func unlockUser(actor: ActorContext, userName: String) async throws -> Bool {
        try await self.scalar(
            """
            CALL bank.unlock_user_committed(
                \(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(userName))
            """
        )
    }

    public func changeRole(actor: ActorContext, userName: String, role: Role) async throws -> Bool {
        try await self.scalar(
            """
            CALL bank.change_role_committed(
                \(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(userName), \(role.rawValue))
            """
        )
    }

    public func readAudit(actor: ActorContext, filter: AuditFilter) async throws -> [AuditRecord] {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT id, at, actor, action, outcome, details::text, ip, device
                FROM bank.read_audit(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                    \(filter.actor), \(filter.action), \(filter.since), \(filter.until), \(filter.beforeID), \(filter.limit)::int)
                """,
                logger: self.logger
            )
            var records: [AuditRecord] = []
            for try await (id, at, who, action, outcome, details, ip, device) in rows.decode(
                (Int64, Date, String, String, String, String, String?, String?).self
            ) {
                records.append(
                    AuditRecord(
                        id: id,
                        at: at,
                        actor: who,
                        action: action,
                        outcome: outcome,
                        details: details,
                        ip: ip,
                        device: device
                    )
                )
            }
            return records
        }
    }

    /// Writes an audit row for something the switch itself decided (a refused token, a bad MAC,
    /// a refusal by the permission table).
    public func audit(actor: ActorContext, action: String, outcome: String, details: [String: String]) async throws {
        let json = try String(
            decoding: JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]),
            as: UTF8.self
        )
        try await self.retrying {
            try await self.execute(
                """
                CALL bank.audit_committed(
                    \(actor.name), \(action), \(outcome), \(json)::jsonb, \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
        }
    }

    // MARK: Plumbing

    /// Runs a statement whose rows do not matter, reading them all so any error surfaces here.
    func execute(_ query: PostgresQuery, logger: Logger) async throws {
        let rows = try await self.client.query(query, logger: logger)
        for try await _ in rows {}
    }

    func scalar<T: PostgresDecodable & Sendable>(_ query: PostgresQuery) async throws -> T {
        try await self.retrying {
            let rows = try await self.client.query(query, logger: self.logger)
            for try await value in rows.decode(T.self) { return value }
            throw StoreError(kind: .unavailable, detail: "the query returned no row")
        }
    }

    /// A keyed money movement (`retrying` it as every call): when its connection is lost before its row
    /// came (the CALL's row is its commit's confirmation), the same call again on a new connection,
    /// until an answer, another error, or the caller's cancellation. The idempotency key makes it safe
    /// and makes it the ledger's answer: a first call that committed gives its stored answer
    /// (`replayed`); one that did not is posted now, once; one whose backend still runs (only the
    /// switch's connection was cut) holds the key, and the repeat waits for it and gets its answer.
    /// The switch's request deadline bounds it (`DatabaseHealth` answers 91 or 96 and cancels the
    /// work), so a request is answered 91, in doubt, only when the ledger could not be asked in time.
    func recovering<T: Sendable>(_ key: IdempotencyKey, _ body: () async throws -> T) async throws -> T {
        var pause: Duration = .milliseconds(50)
        while true {
            do {
                return try await self.retrying(body)
            } catch let error as DatabaseUnavailable where error.kind == .connectionLost {
                self.logger.notice(
                    "a money movement's confirmation was lost: asking the ledger again by its key",
                    metadata: ["terminal": "\(key.terminal)", "stan": "\(key.stan)", "reason": "\(error.reason)"]
                )
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
            }
        }
    }

    /// Runs `body`, retrying serialization failures (40001), deadlocks (40P01) and a concurrent
    /// duplicate that claimed the same idempotency key first (23505 on its key, or CP001), at most
    /// `maxAttempts` times, with a short randomised pause: the retry finds the stored answer. Other
    /// database errors become a `StoreError`.
    @discardableResult
    func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let error as PSQLError {
                let state = error.serverInfo?[.sqlState]
                let constraint = error.serverInfo?[.constraintName]
                let transient =
                    state.map { ["40001", "40P01", "CP001"].contains($0) } ?? false
                    || (state == "23505"
                        && ["transactions_idempotency_key", "transactions_one_reversal"].contains(constraint ?? ""))
                if transient, let state, attempt < self.maxAttempts {
                    self.logger.debug(
                        "retrying after a transient conflict",
                        metadata: ["sql.state": "\(state)", "attempt": "\(attempt)"]
                    )
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
                    continue
                }
                throw Self.storeError(error)
            }
        }
    }

    /// A card session that may not go on, from the facts a session call's row returns.
    static func refused(card: Int64?, status: String?, expired: Bool, locked: Bool, ended: Bool) -> CardSessionRefused {
        CardSessionRefused(
            CardSessionState(
                cardID: card,
                card: status.map { CardState(status: $0, expired: expired, userLocked: locked) },
                ended: ended
            )
        )
    }

    static func storeError(_ error: PSQLError) -> any Error {
        let message = error.serverInfo?[.message] ?? String(describing: error.code)
        let state = error.serverInfo?[.sqlState]
        let constraint = error.serverInfo?[.constraintName]
        switch state {
        case "42501": return StoreError(kind: .notPermitted, detail: message, sqlState: state)
        case "CPHLD": return StoreError(kind: .approvalRequired, detail: message, sqlState: state)
        case "23505":
            return StoreError(
                kind: .alreadyExists,
                detail: message,
                sqlState: state,
                taken: constraint.flatMap(UniqueConstraint.value(named:))
            )
        case "23503", "P0002":
            return StoreError(kind: .notFound, detail: message, sqlState: state)
        case "23514", "22023", "22P02", "22001", "22007", "22008":
            return StoreError(kind: .invalidValue, detail: message, sqlState: state)
        case .some(let state) where DatabaseUnavailable.isConnectionLost(sqlState: state):
            return DatabaseUnavailable(.connectionLost, reason: "\(state): \(message)", sqlState: state)
        case .some(let state): return StoreError(kind: .unavailable, detail: "\(state): \(message)", sqlState: state)
        case .none: return DatabaseUnavailable(.connectionLost, reason: "the database did not answer: \(error.code)")
        }
    }
}

/// `bank.post` as a prepared statement: the switch's hottest call is parsed and planned once per
/// connection, then only bound and executed. It is CALLed through `bank.post_committed`, which commits
/// before it sends its row: the row is the commit's confirmation, in the same round trip (a row sent
/// before the commit could reach the switch from a backend that then died without committing).
struct PostStatement: PostgresPreparedStatement {
    static let sql = """
        CALL bank.post_committed(
            $1::text, $2::bigint, $3::bigint, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text,
            $10::bytea, $11::text, $12::bigint, $13::text, $14::text)
        """
    /// bank.post's result columns, as the procedure's INOUT parameters.
    typealias Row = (String?, Int64?, Int64?, String?, Bool, Int64?, String?, Bool?, Bool?, Bool?)

    var role: String
    var userID: Int64?
    var cardID: Int64?
    var actor: String
    var ip: String?
    var device: String?
    var terminal: String
    var stan: String
    var transmitted: String
    var digest: ByteBuffer
    var kind: String
    var amount: Int64
    var from: String?
    var to: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 14)
        bindings.append(self.role)
        bindings.append(self.userID)
        bindings.append(self.cardID)
        bindings.append(self.actor)
        bindings.append(self.ip)
        bindings.append(self.device)
        bindings.append(self.terminal)
        bindings.append(self.stan)
        bindings.append(self.transmitted)
        bindings.append(self.digest)
        bindings.append(self.kind)
        bindings.append(self.amount)
        bindings.append(self.from)
        bindings.append(self.to)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// `bank.post_committed` for a card session, as a prepared statement: a card session's posting, with the
/// card and session checked in the same call. Its parameters are `bank.post`'s, then the PAN digest and
/// the session id.
struct SessionPostStatement: PostgresPreparedStatement {
    static let sql = """
        CALL bank.post_committed(
            $1::text, $2::bigint, $3::bigint, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text,
            $10::bytea, $11::text, $12::bigint, $13::text, $14::text, $15::bytea, $16::text)
        """
    typealias Row = PostStatement.Row

    var posting: PostStatement
    var panDigest: ByteBuffer
    var sessionID: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = try self.posting.makeBindings()
        bindings.append(self.panDigest)
        bindings.append(self.sessionID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// `bank.session_balance` as a prepared statement: a card session's balance inquiry in one call.
struct SessionBalanceStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT response_code, balance, card_id, card_status, card_expired, user_locked, session_ended
        FROM bank.session_balance($1::bytea, $2::text, $3::text, $4::bigint, $5::bigint, $6::text, $7::text,
            $8::text, $9::text)
        """
    typealias Row = (String?, Int64?, Int64?, String?, Bool, Bool, Bool)

    var panDigest: ByteBuffer
    var sessionID: String
    var role: String
    var userID: Int64?
    var cardID: Int64?
    var account: String
    var actor: String
    var ip: String?
    var device: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 9)
        bindings.append(self.panDigest)
        bindings.append(self.sessionID)
        bindings.append(self.role)
        bindings.append(self.userID)
        bindings.append(self.cardID)
        bindings.append(self.account)
        bindings.append(self.actor)
        bindings.append(self.ip)
        bindings.append(self.device)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

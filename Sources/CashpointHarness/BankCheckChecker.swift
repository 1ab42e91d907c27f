public import CashpointBank
/// A row of `bank.transactions` with its posting lines (`bank.history`), as the bank check reads them.
public struct BankCheckLedgerRow: Sendable, Hashable {
    public struct Line: Sendable, Hashable {
        public var account: String
        public var amount: Int64
        public init(account: String, amount: Int64) {
            self.account = account
            self.amount = amount
        }
    }

    public var id: Int64
    public var key: BankCheckKey
    /// withdrawal, deposit, transfer, reversal, voided (a key its reversal claimed before it arrived), ...
    public var kind: String
    public var amount: Int64
    public var responseCode: String
    /// For a reversal: the row it reverses.
    public var originalID: Int64?
    /// The posting lines; none for a refusal or a voided key.
    public var lines: [Line]

    public init(
        id: Int64,
        key: BankCheckKey,
        kind: String,
        amount: Int64,
        responseCode: String,
        originalID: Int64? = nil,
        lines: [Line]
    ) {
        self.id = id
        self.key = key
        self.kind = kind
        self.amount = amount
        self.responseCode = responseCode
        self.originalID = originalID
        self.lines = lines
    }

    /// The row moved money.
    public var posted: Bool { !self.lines.isEmpty }

    /// What the row moved on each account.
    public var effects: [String: Int64] {
        var effects: [String: Int64] = [:]
        for line in self.lines { effects[line.account, default: 0] += line.amount }
        return effects.filter { $0.value != 0 }
    }
}

/// How a request in doubt ended, from the ledger.
public enum BankCheckSettlement: String, Sendable, Hashable, CaseIterable, Comparable {
    /// No row holds its key: it never reached the bank, and its reversal found nothing to reverse.
    case absent = "absent"
    /// Its reversal arrived first and claimed its key ('voided'): it never posts.
    case voided = "absent (key claimed by its reversal)"
    /// It reached the bank and was refused: nothing moved.
    case refused = "absent (refused by the bank)"
    /// It was posted once and its reversal posted once: present once, undone.
    case postedAndReversed = "present once, reversed"
    /// It was posted once and its reversal was refused (51: a deposit whose money has since been spent
    /// cannot be taken back): it stands, present once, and the model counts it.
    case postedReversalRefused = "present once, its reversal refused"
    /// It was posted and nothing reversed it: a broken invariant (the reversal was acknowledged).
    case postedNotReversed = "present once, NOT reversed"
    /// Its reversal was never answered (or only with 91/96).
    case unsettled = "reversal never answered"

    public static func < (lhs: Self, rhs: Self) -> Bool {
        Self.allCases.firstIndex(of: lhs)! < Self.allCases.firstIndex(of: rhs)!
    }
}

/// A broken invariant, naming the request, row, read or account.
public enum BankCheckFinding: Sendable, Hashable, CustomStringConvertible {
    /// Answered 00, and no row holds its key.
    case acknowledgedMissing(BankCheckKey)
    /// Answered 00, and more than one row holds its key.
    case acknowledgedDoubled(BankCheckKey, rows: Int)
    /// Answered 00, and its row is not what it asked for (kind, amount, code, lines) or was reversed.
    case acknowledgedWrong(BankCheckKey, String)
    /// Refused, and a row with its key moved money.
    case refusedPosted(BankCheckKey, code: String)
    /// In doubt: more than one row holds its key, or it was reversed more than once.
    case inDoubtDoubled(BankCheckKey, String)
    /// In doubt, its reversal acknowledged, and it stands posted.
    case inDoubtNotReversed(BankCheckKey)
    /// In doubt, and its reversal was never answered.
    case inDoubtUnsettled(BankCheckKey)
    /// A row from one of the check's terminals that moved money and that no request of the history explains.
    case unexplainedRow(id: Int64, BankCheckKey)
    /// A row whose lines do not sum to zero.
    case unbalancedRow(id: Int64, BankCheckKey, sum: Int64)
    /// A read (0: the opening one) whose total is not the opening total.
    case totalChanged(read: Int, expected: Int64, found: Int64)
    /// A customer account below zero in a read.
    case negativeBalance(read: Int, account: String, balance: Int64)
    /// At the end, a customer account's balance is not its opening balance plus what the acknowledged
    /// requests moved.
    case balanceDiffers(account: String, expected: Int64, found: Int64)
    /// An account in the end state that the opening read did not have, or the other way round.
    case accountsDiffer(String)

    public var description: String {
        switch self {
        case .acknowledgedMissing(let key): "\(key): answered 00 but not in the ledger"
        case .acknowledgedDoubled(let key, let rows): "\(key): answered 00 and in the ledger \(rows) times"
        case .acknowledgedWrong(let key, let why): "\(key): answered 00 but \(why)"
        case .refusedPosted(let key, let code): "\(key): refused (\(code)) but posted"
        case .inDoubtDoubled(let key, let why): "\(key): in doubt and \(why)"
        case .inDoubtNotReversed(let key): "\(key): in doubt, its reversal acknowledged, and it stands posted"
        case .inDoubtUnsettled(let key): "\(key): in doubt and its reversal was never answered"
        case .unexplainedRow(let id, let key): "transaction \(id) (\(key)) moved money and no request explains it"
        case .unbalancedRow(let id, let key, let sum): "transaction \(id) (\(key)): its lines sum to \(sum), not 0"
        case .totalChanged(let read, let expected, let found):
            "read \(read): the total of all accounts is \(found), not \(expected)"
        case .negativeBalance(let read, let account, let balance):
            "read \(read): customer account \(account) is at \(balance)"
        case .balanceDiffers(let account, let expected, let found):
            "end state: account \(account) is at \(found); its opening balance and the acknowledged requests make \(expected)"
        case .accountsDiffer(let why): "end state: \(why)"
        }
    }
}

/// The checker's verdict: the broken invariants, and how each request in doubt was settled.
public struct BankCheckVerdict: Sendable, Hashable {
    public var findings: [BankCheckFinding]
    public var settlements: [BankCheckKey: BankCheckSettlement]
    public var readsChecked: Int

    public var passed: Bool { self.findings.isEmpty }

    public var settlementCounts: [BankCheckSettlement: Int] {
        self.settlements.values.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }
}

/// The bank check's checker, after Jepsen's bank test but stricter: besides the balances (every read
/// and the end state conserve the total, no customer account below zero), every request is looked up
/// in the ledger by its key. Answered 00: in the ledger exactly once, as asked. Refused: not posted. In
/// doubt: after its reversal was acknowledged, either absent or posted once and reversed once. And the
/// end state is the opening one plus what the acknowledged requests moved, so a lost or doubled
/// acknowledged request is seen even where it keeps the total. Pure: the history and the ledger in,
/// the findings out.
public enum BankCheckChecker {
    /// - Parameters:
    ///   - requests: every money-moving request the terminals sent, with its outcome.
    ///   - ledger: every row of `bank.transactions` from the check's terminals, with its lines.
    ///   - opening: the balances read before the first request.
    ///   - reads: the balances read while the requests ran.
    ///   - final: the balances read once every request was answered or settled.
    public static func check(
        requests: [BankCheckRequest],
        ledger: [BankCheckLedgerRow],
        opening: BankCheckSnapshot,
        reads: [BankCheckSnapshot],
        final: BankCheckSnapshot
    ) -> BankCheckVerdict {
        var findings: [BankCheckFinding] = []
        var settlements: [BankCheckKey: BankCheckSettlement] = [:]
        let rowsByKey = Dictionary(grouping: ledger, by: \.key)
        let reversalsByOriginal = Dictionary(
            grouping: ledger.filter { $0.kind == "reversal" && $0.originalID != nil },
            by: { $0.originalID! }
        )
        var explained = Set<Int64>()

        for request in requests {
            let rows = rowsByKey[request.key] ?? []
            explained.formUnion(rows.map(\.id))
            switch request.outcome {
            case .acknowledged:
                findings += Self.acknowledged(request, rows: rows, reversals: reversalsByOriginal)
            case .refused(let code):
                if rows.contains(where: \.posted) { findings.append(.refusedPosted(request.key, code: code)) }
            case .inDoubt:
                if let reversal = request.reversal {
                    explained.formUnion((rowsByKey[reversal.key] ?? []).map(\.id))
                }
                let (settlement, finding) = Self.inDoubt(request, rows: rows, reversals: reversalsByOriginal)
                settlements[request.key] = settlement
                if let finding { findings.append(finding) }
            }
        }

        for row in ledger {
            let sum = row.lines.reduce(0) { $0 + $1.amount }
            if sum != 0 { findings.append(.unbalancedRow(id: row.id, row.key, sum: sum)) }
            // A reversal of a request of the history is explained by it (its advice's key is recorded too).
            let explainedReversal = row.originalID.map { explained.contains($0) } ?? false
            if row.posted && !explained.contains(row.id) && !explainedReversal {
                findings.append(.unexplainedRow(id: row.id, row.key))
            }
        }

        // What moved money on the customers' accounts: the acknowledged requests, and the requests in
        // doubt that stand posted because their reversal was refused.
        let standing = requests.filter {
            $0.outcome == .acknowledged || settlements[$0.key] == .postedReversalRefused
        }
        findings += Self.balances(standing: standing, opening: opening, reads: reads, final: final)
        return BankCheckVerdict(findings: findings, settlements: settlements, readsChecked: reads.count + 2)
    }

    static func acknowledged(
        _ request: BankCheckRequest,
        rows: [BankCheckLedgerRow],
        reversals: [Int64: [BankCheckLedgerRow]]
    ) -> [BankCheckFinding] {
        guard let row = rows.first else { return [.acknowledgedMissing(request.key)] }
        guard rows.count == 1 else { return [.acknowledgedDoubled(request.key, rows: rows.count)] }
        let operation = request.operation
        if row.responseCode != "00" { return [.acknowledgedWrong(request.key, "its row says \(row.responseCode)")] }
        if row.kind != operation.kind.rawValue {
            return [.acknowledgedWrong(request.key, "its row is a \(row.kind), not a \(operation.kind.rawValue)")]
        }
        if row.amount != operation.amount {
            return [.acknowledgedWrong(request.key, "its row is for \(row.amount), not \(operation.amount)")]
        }
        let customerEffects = row.effects.filter { operation.customerEffects[$0.key] != nil }
        if customerEffects != operation.customerEffects {
            return [.acknowledgedWrong(request.key, "its lines move \(customerEffects), not \(operation.customerEffects)")]
        }
        if let reversal = reversals[row.id]?.first(where: \.posted) {
            return [.acknowledgedWrong(request.key, "transaction \(reversal.id) reversed it")]
        }
        return []
    }

    static func inDoubt(
        _ request: BankCheckRequest,
        rows: [BankCheckLedgerRow],
        reversals: [Int64: [BankCheckLedgerRow]]
    ) -> (BankCheckSettlement, BankCheckFinding?) {
        // Answered at all (00, or a refusal such as 51): the switch has settled the request one way.
        let settledByReversal = request.reversal?.answer != nil
        let acknowledged = request.reversal?.settled ?? false
        let unsettled: BankCheckFinding? = settledByReversal ? nil : .inDoubtUnsettled(request.key)
        guard let row = rows.first else { return (settledByReversal ? .absent : .unsettled, unsettled) }
        guard rows.count == 1 else {
            return (.postedNotReversed, .inDoubtDoubled(request.key, "\(rows.count) rows hold its key"))
        }
        guard row.posted else {
            let absent: BankCheckSettlement = row.kind == "voided" ? .voided : .refused
            return (settledByReversal ? absent : .unsettled, unsettled)
        }
        let undoing = (reversals[row.id] ?? []).filter(\.posted)
        switch undoing.count {
        case 0:
            if acknowledged { return (.postedNotReversed, .inDoubtNotReversed(request.key)) }
            return (settledByReversal ? .postedReversalRefused : .unsettled, unsettled)
        case 1:
            let net = row.effects.merging(undoing[0].effects, uniquingKeysWith: +).filter { $0.value != 0 }
            if !net.isEmpty {
                return (.postedNotReversed, .inDoubtDoubled(request.key, "its reversal left \(net) moved"))
            }
            return (.postedAndReversed, unsettled)
        default:
            return (.postedNotReversed, .inDoubtDoubled(request.key, "reversed \(undoing.count) times"))
        }
    }

    static func balances(
        standing requests: [BankCheckRequest],
        opening: BankCheckSnapshot,
        reads: [BankCheckSnapshot],
        final: BankCheckSnapshot
    ) -> [BankCheckFinding] {
        var findings: [BankCheckFinding] = []
        let total = opening.total
        for (index, read) in ([opening] + reads + [final]).enumerated() {
            if read.total != total { findings.append(.totalChanged(read: index, expected: total, found: read.total)) }
            for balance in read.balances where balance.isCustomer && balance.balance < 0 {
                findings.append(.negativeBalance(read: index, account: balance.account, balance: balance.balance))
            }
        }
        // The model: each customer account ends at its opening balance plus what the standing requests
        // moved (a refused one moved nothing; one in doubt was settled to nothing moved, or stands).
        var expected = Dictionary(
            opening.balances.filter(\.isCustomer).map { ($0.account, $0.balance) },
            uniquingKeysWith: { first, _ in first }
        )
        for request in requests {
            for (account, amount) in request.operation.customerEffects {
                expected[account, default: 0] += amount
            }
        }
        let found = Dictionary(
            final.balances.filter(\.isCustomer).map { ($0.account, $0.balance) },
            uniquingKeysWith: { first, _ in first }
        )
        for (account, balance) in expected.sorted(by: { $0.key < $1.key }) {
            guard let actual = found[account] else {
                findings.append(.accountsDiffer("account \(account) is no longer there"))
                continue
            }
            if actual != balance { findings.append(.balanceDiffers(account: account, expected: balance, found: actual)) }
        }
        for account in found.keys.sorted() where expected[account] == nil {
            findings.append(.accountsDiffer("account \(account) was not there at the opening read"))
        }
        return findings
    }
}

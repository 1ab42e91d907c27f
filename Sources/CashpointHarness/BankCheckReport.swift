/// What `atm-harness bank` prints: the seed, the requests and how they ended, the faults fired, how each
/// request in doubt was settled, the findings, and the verdict.
public struct BankCheckReport: Sendable {
    public var seed: UInt64
    public var terminals: Int
    public var seconds: Double
    public var chaos: Bool
    public var requests: [BankCheckRequest]
    /// Balance inquiries by response code.
    public var inquiries: [String: Int]
    public var reconnects: Int
    public var failedReads: Int
    public var ledgerRows: Int
    public var faults: [ChaosFault: Int]
    /// The kinds of fault the run was to inject (every one must fire).
    public var faultKinds: [ChaosFault]
    public var faultErrors: [String]
    /// Each kill of the PostgreSQL primary, as the terminals saw it.
    public var failovers: [BankCheckFailover]
    public var verdict: BankCheckVerdict
    /// How long the switch's audit sealer was given after the run (nil: not checked), and how many audit
    /// rows of the run it had still not sealed then.
    public var auditSealedWithin: Duration?
    public var unsealedAuditRows: Int?

    public init(
        seed: UInt64,
        terminals: Int,
        seconds: Double,
        chaos: Bool,
        requests: [BankCheckRequest],
        inquiries: [String: Int],
        reconnects: Int,
        failedReads: Int,
        ledgerRows: Int,
        faults: [ChaosFault: Int],
        faultKinds: [ChaosFault]? = nil,
        faultErrors: [String],
        failovers: [BankCheckFailover] = [],
        verdict: BankCheckVerdict,
        auditSealedWithin: Duration? = nil,
        unsealedAuditRows: Int? = nil
    ) {
        self.seed = seed
        self.terminals = terminals
        self.seconds = seconds
        self.chaos = chaos
        self.requests = requests
        self.inquiries = inquiries
        self.reconnects = reconnects
        self.failedReads = failedReads
        self.ledgerRows = ledgerRows
        self.faults = faults
        self.faultKinds = faultKinds ?? (chaos ? ChaosFault.singleServer : [])
        self.faultErrors = faultErrors
        self.failovers = failovers
        self.verdict = verdict
        self.auditSealedWithin = auditSealedWithin
        self.unsealedAuditRows = unsealedAuditRows
    }

    /// The fault kinds that never fired in a chaos run.
    public var faultsNotFired: [ChaosFault] { self.faultKinds.filter { (self.faults[$0] ?? 0) == 0 } }

    /// No finding, in a chaos run every kind of fault fired (and none failed to), after every failover a
    /// request was answered 00 again, and the switch sealed every audit row of the run in time (when that
    /// was checked).
    public var passed: Bool {
        self.verdict.passed && self.faultsNotFired.isEmpty && self.faultErrors.isEmpty
            && self.failovers.allSatisfy { $0.firstAcknowledgedAfter != nil }
            && (self.unsealedAuditRows ?? 0) == 0
    }

    public var text: String {
        var lines = ["bank check, seed \(self.seed) (atm-harness bank --seed \(self.seed) reproduces the schedule)"]
        lines.append(
            "\(self.terminals) terminals, \(Self.number(self.seconds)) s, \(self.chaos ? "with chaos" : "no faults"); "
                + "\(self.reconnects) reconnections"
        )
        var (acknowledged, refused, inDoubt) = (0, [String: Int](), [BankCheckDoubt: Int]())
        for request in self.requests {
            switch request.outcome {
            case .acknowledged: acknowledged += 1
            case .refused(let code): refused[code, default: 0] += 1
            case .inDoubt(let why): inDoubt[why, default: 0] += 1
            }
        }
        let byKind = Dictionary(grouping: self.requests, by: \.operation.kind)
        lines.append(
            "requests: \(self.requests.count) ("
                + BankCheckOperationKind.allCases.map { "\(byKind[$0]?.count ?? 0) \($0.rawValue)s" }.joined(separator: ", ")
                + ")"
        )
        lines.append("  answered 00: \(acknowledged)")
        lines.append("  refused: \(refused.values.reduce(0, +))" + Self.breakdown(refused))
        lines.append(
            "  in doubt: \(inDoubt.values.reduce(0, +))"
                + Self.breakdown(Dictionary(uniqueKeysWithValues: inDoubt.map { ($0.key.rawValue, $0.value) }))
        )
        for (settlement, count) in self.verdict.settlementCounts.sorted(by: { $0.key < $1.key }) {
            lines.append("    settled \(settlement.rawValue): \(count)")
        }
        lines.append("balance inquiries: \(self.inquiries.values.reduce(0, +))" + Self.breakdown(self.inquiries))
        lines.append(
            "balance reads checked: \(self.verdict.readsChecked) (\(self.failedReads) could not be made: PostgreSQL away)"
        )
        lines.append("ledger rows of the check's terminals: \(self.ledgerRows)")
        if self.chaos {
            lines.append("faults fired:")
            for fault in self.faultKinds {
                lines.append("  \(fault.rawValue): \(self.faults[fault] ?? 0)")
            }
            for error in self.faultErrors { lines.append("  FAILED: \(error)") }
            if !self.faultsNotFired.isEmpty {
                lines.append("  NOT FIRED: " + self.faultsNotFired.map(\.rawValue).joined(separator: ", "))
            }
        }
        if !self.failovers.isEmpty {
            lines.append("failovers (the primary killed, from the kill):")
            for failover in self.failovers { lines.append("  " + failover.text) }
            let recovered = self.failovers.compactMap(\.firstAcknowledgedAfter).sorted()
            let inDoubt = self.failovers.map(\.inDoubt).sorted()
            if !recovered.isEmpty {
                lines.append(
                    "  first 00: median \(Self.seconds(recovered[recovered.count / 2])) s, worst "
                        + "\(Self.seconds(recovered.last!)) s; in doubt per failover: median \(inDoubt[inDoubt.count / 2]), "
                        + "worst \(inDoubt.last!)"
                )
            }
        }
        if let within = self.auditSealedWithin, let unsealed = self.unsealedAuditRows {
            lines.append(
                "audit rows of the run the switch had not sealed \(within) after it: \(unsealed)"
                    + (unsealed == 0 ? "" : " (FAILED: its sealer stopped; its log says why its rounds failed)")
            )
        }
        if self.verdict.findings.isEmpty {
            lines.append("findings: none")
        } else {
            lines.append("findings: \(self.verdict.findings.count)")
            for finding in self.verdict.findings { lines.append("  \(finding)") }
        }
        lines.append(self.passed ? "PASSED" : "FAILED (seed \(self.seed))")
        return lines.joined(separator: "\n")
    }

    static func breakdown(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "" : " (" + counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// Seconds with one decimal.
    static func seconds(_ duration: Duration) -> String {
        let tenths = Int((Double(duration.components.seconds) * 10 + Double(duration.components.attoseconds) / 1e17).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// One kill of the PostgreSQL primary as the bank check's terminals saw it: how long until a request was
/// answered 00 again, and how many went in doubt meanwhile. The primary's death is taken as the end of the
/// first request that went in doubt after the kill command started (under load, within milliseconds of
/// the kill: the switch's connections to the primary end with it).
public struct BankCheckFailover: Sendable, Hashable {
    /// From the start of the run: when the kill command started.
    public var killedAt: Duration
    /// From then until the kill command returned: the secondary promoted and taking writes.
    public var promotedAfter: Duration
    /// From the primary's death until the first 00 to a money-moving request sent after it; nil: none came.
    public var firstAcknowledgedAfter: Duration?
    /// Money-moving requests that went in doubt (no answer, a lost connection, 91, 96) from the primary's
    /// death to that first 00: each is settled by its reversal advice.
    public var inDoubt: Int

    public init(killedAt: Duration, promotedAfter: Duration, firstAcknowledgedAfter: Duration?, inDoubt: Int) {
        self.killedAt = killedAt
        self.promotedAfter = promotedAfter
        self.firstAcknowledgedAfter = firstAcknowledgedAfter
        self.inDoubt = inDoubt
    }

    /// Each kill, measured from the requests' send and end times.
    public static func measure(kills: [(at: Duration, promotedAfter: Duration)], requests: [BankCheckRequest]) -> [Self] {
        kills.map { kill in
            let doubts = requests.compactMap { request -> Duration? in
                guard case .inDoubt = request.outcome, let ended = request.ended, ended >= kill.at else { return nil }
                return ended
            }
            let death = doubts.filter { $0 <= kill.at + kill.promotedAfter }.min() ?? kill.at
            let first = requests.compactMap { request -> Duration? in
                guard case .acknowledged = request.outcome, let sent = request.sent, sent >= death else { return nil }
                return request.ended
            }.min()
            return Self(
                killedAt: kill.at,
                promotedAfter: kill.promotedAfter,
                firstAcknowledgedAfter: first.map { $0 - death },
                inDoubt: doubts.filter { ended in ended >= death && first.map { ended <= $0 } ?? true }.count
            )
        }
    }

    public var text: String {
        "at \(BankCheckReport.seconds(self.killedAt)) s: promoted after \(BankCheckReport.seconds(self.promotedAfter)) s, "
            + (self.firstAcknowledgedAfter.map { "first 00 \(BankCheckReport.seconds($0)) s after the primary's death" }
                ?? "FAILED: no request answered 00 after it")
            + ", \(self.inDoubt) requests in doubt"
    }
}

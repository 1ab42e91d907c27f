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
    public var faultErrors: [String]
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
        faultErrors: [String],
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
        self.faultErrors = faultErrors
        self.verdict = verdict
        self.auditSealedWithin = auditSealedWithin
        self.unsealedAuditRows = unsealedAuditRows
    }

    /// The fault kinds that never fired in a chaos run.
    public var faultsNotFired: [ChaosFault] { self.chaos ? ChaosFault.allCases.filter { (self.faults[$0] ?? 0) == 0 } : [] }

    /// No finding, in a chaos run every kind of fault fired (and none failed to), and the switch sealed
    /// every audit row of the run in time (when that was checked).
    public var passed: Bool {
        self.verdict.passed && self.faultsNotFired.isEmpty && self.faultErrors.isEmpty
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
            for fault in ChaosFault.allCases {
                lines.append("  \(fault.rawValue): \(self.faults[fault] ?? 0)")
            }
            for error in self.faultErrors { lines.append("  FAILED: \(error)") }
            if !self.faultsNotFired.isEmpty {
                lines.append("  NOT FIRED: " + self.faultsNotFired.map(\.rawValue).joined(separator: ", "))
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
}

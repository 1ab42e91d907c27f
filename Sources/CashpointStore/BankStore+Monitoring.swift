public import CashpointBank
public import Foundation
import CashpointDatabase
import NIOCore
import PostgresNIO

/// What loading a rule file did (`bank.load_aml_rules`): 00 in force (or unchanged), 09 held for a
/// second person (the change's id), 58 no maker who may ask.
public struct RuleLoadOutcome: Sendable, Hashable {
    public var code: ResponseCode
    /// The version in force after the call.
    public var version: Int?
    public var changeID: Int64?
    public var detail: String?
}

/// One round of the monitoring worker (`bank.monitor`).
public struct MonitoringRound: Sendable, Hashable {
    public var examined: Int
    public var alerts: Int
    public var remaining: Int64
}

// Transaction monitoring, alerts, cases and reports: one SQL function each (Migrations/functions).
extension BankStore {
    public func loadMonitoringRules(
        _ rules: MonitoringRuleSet,
        source: String,
        maker: String?,
        reason: String?,
        actor: ActorContext
    ) async throws -> RuleLoadOutcome {
        let json = String(decoding: rules.json, as: UTF8.self)
        return try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT response_code, version, change_id, detail FROM bank.load_aml_rules(\(actor.name), \(actor.ip),
                    \(actor.device), \(maker), \(reason), \(source), \(ByteBuffer(bytes: rules.digest)), \(json)::jsonb)
                """,
                logger: self.logger
            )
            for try await (code, version, change, detail) in rows.decode((String, Int?, Int64?, String?).self) {
                return RuleLoadOutcome(code: ResponseCode(rawValue: code), version: version, changeID: change, detail: detail)
            }
            throw StoreError(kind: .unavailable, detail: "bank.load_aml_rules returned no row")
        }
    }

    /// One round of the monitoring worker: up to `limit` queued postings examined (`bank.monitor`).
    public func monitor(limit: Int) async throws -> MonitoringRound {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT examined, alerts, remaining FROM bank.monitor(\(limit)::int)",
                logger: self.logger
            )
            for try await (examined, alerts, remaining) in rows.decode((Int, Int, Int64).self) {
                return MonitoringRound(examined: examined, alerts: alerts, remaining: remaining)
            }
            throw StoreError(kind: .unavailable, detail: "bank.monitor returned no row")
        }
    }

    public func workCase(
        actor: ActorContext,
        caseID: Int64,
        step: CaseStep,
        argument: String?,
        note: String?
    ) async throws -> CaseAnswer {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.work_case_committed(\(actor.role.rawValue), \(actor.name),
                    \(actor.ip), \(actor.device), \(caseID), \(step.rawValue), \(argument), \(note))
                """,
                logger: self.logger
            )
            for try await (code, detail, status) in rows.decode((String, String?, String?).self) {
                return CaseAnswer(code: ResponseCode(rawValue: code), detail: detail, status: status)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.work_case_committed returned no row")
        }
    }

    /// A case opened at the desk for a customer: 00 and its id, 94 and the customer's active case, 12.
    public func openCase(
        actor: ActorContext,
        customer: String,
        severity: AlertSeverity,
        reason: String
    ) async throws -> (code: ResponseCode, caseID: Int64?, detail: String?) {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.open_case_committed(\(actor.role.rawValue), \(actor.name),
                    \(actor.ip), \(actor.device), \(customer), \(severity.rawValue), \(reason))
                """,
                logger: self.logger
            )
            for try await (code, id, detail) in rows.decode((String, Int64?, String?).self) {
                return (ResponseCode(rawValue: code), id, detail)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.open_case_committed returned no row")
        }
    }

    /// The desk's queue: `status` is active, all, open, assigned, escalated or closed.
    public func listCases(actor: ActorContext, status: String, offset: Int, limit: Int) async throws -> [CaseSummary] {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT case_id, subject, customer, severity, status, assignee, opened_at, alerts, last_event_at, rules
                FROM bank.list_cases(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(status),
                    \(offset)::int, \(limit)::int)
                """,
                logger: self.logger
            )
            var cases: [CaseSummary] = []
            for try await (id, subject, name, severity, status, assignee, opened, alerts, last, rules) in rows.decode(
                (Int64, String, String, String, String, String?, Date, Int64, Date?, String).self
            ) {
                guard let severity = AlertSeverity(rawValue: severity) else {
                    throw StoreError(kind: .invalidValue, detail: "case \(id): severity \(severity)")
                }
                cases.append(
                    CaseSummary(
                        id: id,
                        subject: subject,
                        name: name,
                        severity: severity,
                        status: status,
                        assignee: assignee,
                        openedAt: opened,
                        alerts: alerts,
                        lastEventAt: last,
                        rules: rules.split(separator: " ").map(String.init)
                    )
                )
            }
            return cases
        }
    }

    /// Everything about a case (nil: no such case), for the desk (`forReport` false) or a SAR draft.
    public func caseFile(actor: ActorContext, caseID: Int64, forReport: Bool) async throws -> CaseFile? {
        let purpose = forReport ? "sar" : "show"
        let json: String? = try await self.scalar(
            """
            SELECT bank.case_file(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(caseID),
                \(purpose))::text
            """
        )
        guard let json else { return nil }
        do {
            return try CaseFile.decode(json)
        } catch {
            throw StoreError(kind: .invalidValue, detail: "case \(caseID)'s file: \(error)")
        }
    }

    /// The daily cash transaction report's rows for `day` (YYYY-MM-DD, UTC).
    public func cashTransactionReport(actor: ActorContext, day: String) async throws -> [CashReportRow] {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT customer_id, user_name, full_name, accounts, cash_in, deposits, cash_out, withdrawals, first_at,
                    last_at, transaction_ids
                FROM bank.cash_transaction_report(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                    \(day)::date)
                """,
                logger: self.logger
            )
            var report: [CashReportRow] = []
            for try await (id, user, name, accounts, cashIn, deposits, cashOut, withdrawals, first, last, ids)
                in rows.decode((Int64, String, String, String, Int64, Int, Int64, Int, Date, Date, [Int64]).self)
            {
                report.append(
                    CashReportRow(
                        customerID: id,
                        userName: user,
                        fullName: name,
                        accounts: accounts,
                        cashIn: cashIn,
                        deposits: deposits,
                        cashOut: cashOut,
                        withdrawals: withdrawals,
                        firstAt: first,
                        lastAt: last,
                        transactionIDs: ids
                    )
                )
            }
            return report
        }
    }
}

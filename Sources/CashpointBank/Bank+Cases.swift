import Foundation

// MARK: The compliance case desk

extension Bank {
    /// The states CASES lists: `active` (not closed), `all`, or one status.
    static let caseQueueStates: Set<String> = ["active", "all", "open", "assigned", "escalated", "closed"]

    /// CASES, CASE and the steps of a case (the permission table has allowed `workCases` already; the SQL
    /// functions check the role again). Listing and viewing need no fresh factor; a decision (assign,
    /// escalate, close) needs one within the step-up window, as VERIFY does (1A `NF` `OT` otherwise).
    /// The store says 12 for an unknown case or a step its status does not allow, 58 for a high-severity
    /// case closed by the person who opened or assigned it, each with the reason.
    func caseDesk(
        _ operation: StaffOperation,
        actor: ActorContext,
        fourEyes: FourEyesRequest
    ) async throws
        -> BankAnswer
    {
        switch operation {
        case .listCases(let status, let offset, let limit):
            guard Self.caseQueueStates.contains(status), offset >= 0, (1...50).contains(limit) else {
                return .refused(.formatError)
            }
            var answer = BankAnswer(code: .approved)
            answer.cases = try await self.records.listCases(actor: actor, status: status, offset: offset, limit: limit)
            return answer
        case .showCase(let id):
            guard let file = try await self.records.caseFile(actor: actor, caseID: id, forReport: false) else {
                return BankAnswer(code: .invalidTransaction, reason: "no such case")
            }
            var answer = BankAnswer(code: .approved)
            answer.caseFile = file
            return answer
        case .workCase(let id, let step, let argument, let note):
            guard !step.isDecision || fourEyes.factorIsFresh else {
                return .needs(.code, .additionalAuthenticationRequired, reason: "step-up: one-time code")
            }
            let result = try await self.records.workCase(
                actor: actor,
                caseID: id,
                step: step,
                argument: argument,
                note: note
            )
            var answer = BankAnswer(code: result.code, reason: result.detail)
            answer.caseStatus = result.status
            return answer
        case .openCase(let customer, let severity, let reason):
            let opened = try await self.records.openCase(
                actor: actor,
                customer: customer,
                severity: severity,
                reason: reason
            )
            return BankAnswer(code: opened.code, createdID: opened.caseID, reason: opened.detail)
        default:
            return .refused(.invalidTransaction)
        }
    }
}

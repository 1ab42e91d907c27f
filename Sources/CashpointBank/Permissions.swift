/// Who is acting.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    case customer
    case teller
    case admin
}

/// What can be asked of the bank.
public enum BankOperation: String, Sendable, Hashable, CaseIterable {
    case balance
    case withdrawal
    case deposit
    case transfer
    case miniStatement
    case pinChange
    case createCustomer
    case createAccount
    case issueCard
    case lockAccount
    case unlockAccount
    case lockCard
    case unlockCard
    case unlockUser
    case listUsers
    case readAudit
    case changeRole
    case createStaff
    /// An account's daily limits (held for a second person).
    case setLimits
    /// A one-time enrolment code for a member of staff's second factor.
    case enrolStaff
    /// Listing, approving and rejecting held changes (four eyes; who may check which change is the
    /// four-eyes table's, bank.high_risk_operations).
    case reviewChanges
    /// Transaction monitoring's cases and reports: list, show, open, assign, escalate, note, close; the
    /// cash transaction report and a SAR draft (docs/compliance.md). The compliance role's, with
    /// administrators; until that role exists, administrators'.
    case workCases

    /// Whether the operation acts on one customer's account (and so depends on whose it is).
    public var isAccountOperation: Bool {
        switch self {
        case .balance, .withdrawal, .deposit, .transfer, .miniStatement, .pinChange: return true
        default: return false
        }
    }
}

/// Whose account an operation touches, as seen from the actor.
public enum Ownership: Sendable, Hashable {
    /// The actor's own (for a customer: an account of the card in use).
    case own
    /// Another customer's.
    case otherCustomer
    /// Not an account operation.
    case notApplicable
}

/// The permission table, in one place: the API layer of role-based access. The SQL functions check
/// the same roles again (the database layer), and row-level security ties a customer's transaction to
/// that customer's accounts.
///
/// | BankOperation | customer | teller | admin |
/// |---|---|---|---|
/// | balance, withdrawal, deposit, transfer, mini-statement, PIN change | own accounts | any customer account | any customer account |
/// | create customer / account / card, lock and unlock account, card, user, daily limits, review held changes | no | yes | yes |
/// | list users, read the audit log, change a role, create staff, enrol a second factor, work compliance cases | no | no | yes |
///
/// Some of these are high-risk: held for a second person's approval whoever asks (four eyes). Which,
/// above what amount, and who may check them is data in the database, `bank.high_risk_operations`
/// (docs/security.md), enforced by the SQL functions; the bank holds what they refuse.
public enum Permissions {
    public enum Decision: Sendable, Hashable {
        case allow
        /// Refused, with the response code to answer.
        case deny(ResponseCode)
    }

    static let tellerOperations: Set<BankOperation> = [
        .createCustomer, .createAccount, .issueCard, .lockAccount, .unlockAccount, .lockCard, .unlockCard,
        .unlockUser, .setLimits, .reviewChanges,
    ]
    static let adminOnlyOperations: Set<BankOperation> = [
        .listUsers, .readAudit, .changeRole, .createStaff, .enrolStaff, .workCases,
    ]

    public static func decide(role: Role, operation: BankOperation, ownership: Ownership) -> Decision {
        if operation.isAccountOperation {
            switch (role, ownership) {
            case (.customer, .own), (.teller, _), (.admin, _):
                return .allow
            case (.customer, _):
                return .deny(.notPermittedToCardholder)
            }
        }
        switch role {
        case .customer:
            return .deny(.notPermittedToCardholder)
        case .teller:
            return tellerOperations.contains(operation) ? .allow : .deny(.notPermittedToTerminal)
        case .admin:
            return tellerOperations.contains(operation) || adminOnlyOperations.contains(operation)
                ? .allow : .deny(.notPermittedToTerminal)
        }
    }
}

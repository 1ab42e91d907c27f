/// Who is acting.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    case customer
    case teller
    case admin
    /// A compliance officer: staff (password and second factor, as tellers and administrators), who
    /// sees customers' KYC records and decides them, and works the case desk; moves no money and
    /// creates nobody.
    case compliance

    /// Tellers, administrators and compliance officers sign on at a branch desk with a password and a
    /// second factor; customers use cards.
    public var isStaff: Bool { self != .customer }
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
    /// A customer's KYC record (identity, status, risk rating and its reasons).
    case viewKYC
    /// Deciding a customer's KYC: verify or reject (high risk: four eyes, a second compliance user).
    case verifyCustomer
    /// The compliance case desk: transaction monitoring's alerts and cases (list, show, open, assign,
    /// escalate, note, close), the cash transaction report and a SAR draft (docs/compliance.md).
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
/// | BankOperation | customer | teller | admin | compliance |
/// |---|---|---|---|---|
/// | balance, withdrawal, deposit, transfer, mini-statement, PIN change | own accounts | any customer account | any customer account | no |
/// | create customer / account / card, lock and unlock account, card, user, daily limits | no | yes | yes | no |
/// | review held changes (which ones: the four-eyes table) | no | yes | yes | yes |
/// | list users, read the audit log, change a role, create staff, enrol a second factor | no | no | yes | no |
/// | view a customer's KYC record | no | no | yes | yes |
/// | verify or reject a customer (KYC), work the case desk | no | no | no | yes |
///
/// An administrator may read a KYC record (oversight) but not decide one: who administers staff and
/// roles does not also clear customers (segregation of duties); a teller who opens a customer does not
/// verify them either. A compliance officer moves no money and opens nothing.
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
        .listUsers, .readAudit, .changeRole, .createStaff, .enrolStaff, .viewKYC,
    ]
    static let complianceOperations: Set<BankOperation> = [.reviewChanges, .viewKYC, .verifyCustomer, .workCases]

    public static func decide(role: Role, operation: BankOperation, ownership: Ownership) -> Decision {
        if operation.isAccountOperation {
            switch (role, ownership) {
            case (.customer, .own), (.teller, _), (.admin, _):
                return .allow
            case (.customer, _):
                return .deny(.notPermittedToCardholder)
            case (.compliance, _):
                return .deny(.notPermittedToTerminal)
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
        case .compliance:
            return complianceOperations.contains(operation) ? .allow : .deny(.notPermittedToTerminal)
        }
    }
}

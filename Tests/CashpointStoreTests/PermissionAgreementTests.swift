import CashpointBank
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// The permission table (`Permissions`, the API layer) and the SQL functions' own role checks
/// (`bank.require_role(ARRAY[...])`, the database layer) say the same: for every function that checks a
/// role, the roles it lets through are those the table allows for the operation it performs. The lists
/// are read from the functions as a freshly migrated database has them, so a change to either side alone
/// fails here. `system` (the bank's own context: seeding, migrations) is not a role of the table.
@Suite("the permission table and the SQL functions' role checks agree", .enabled(if: databaseTestsEnabled))
struct PermissionAgreementTests {
    /// The operation (or operations) each function that checks a role performs.
    static let guarded: [String: [BankOperation]] = [
        "allocate_account_number": [.createAccount],
        "allocate_card_serial": [.issueCard],
        "change_role": [.changeRole],
        "create_customer": [.createCustomer],
        "create_staff": [.createStaff],
        "issue_card": [.issueCard],
        "list_users_page": [.listUsers],
        "open_account": [.createAccount],
        "read_audit": [.readAudit],
        "set_account_locked": [.lockAccount, .unlockAccount],
        "set_card_status": [.lockCard, .unlockCard],
        "unlock_user": [.unlockUser],
        "set_account_limits": [.setLimits],
        "issue_enrolment_code": [.enrolStaff],
        "request_change": [.reviewChanges],
        "approve_change": [.reviewChanges],
        "reject_change": [.reviewChanges],
        "list_changes": [.reviewChanges],
        "record_identity": [.createCustomer],
        "customer_kyc": [.viewKYC],
        "decide_kyc": [.verifyCustomer],
        "record_screening": [.verifyCustomer],
        "screening_subjects": [.verifyCustomer],
        "work_case": [.workCases],
        "open_case": [.workCases],
        "list_cases": [.workCases],
        "case_file": [.workCases],
        "cash_transaction_report": [.workCases],
    ]

    /// The roles each `bank.require_role(ARRAY['a', 'b'])` in a function's body names, all calls together.
    static func requiredRoles(_ body: String) -> Set<String> {
        var roles: Set<String> = []
        var rest = Substring(body)
        while let call = rest.range(of: "require_role(ARRAY[") {
            rest = rest[call.upperBound...]
            guard let end = rest.firstIndex(of: "]") else { break }
            for element in rest[..<end].split(separator: ",") {
                roles.insert(element.trimmingCharacters(in: CharacterSet(charactersIn: " '\n")))
            }
            rest = rest[end...]
        }
        return roles
    }

    @Test("each function's role list is the table's for its operation, and every staff operation has one")
    func agree() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let bodies = try await bank.asSuperuser { connection in
                let rows = try await connection.query(
                    """
                    SELECT proname::text, prosrc FROM pg_proc
                    WHERE pronamespace = 'bank'::regnamespace AND proname <> 'require_role'
                      AND prosrc LIKE '%require_role(%'
                    """,
                    logger: quietLogger
                )
                var bodies: [String: String] = [:]
                for try await (name, body) in rows.decode((String, String).self) { bodies[name] = body }
                return bodies
            }
            // Every function that checks a role is listed with its operation, and only those.
            #expect(Set(bodies.keys) == Set(Self.guarded.keys))
            let tableRoles = Set(Role.allCases.map(\.rawValue))
            for (function, body) in bodies.sorted(by: { $0.key < $1.key }) {
                let sql = Self.requiredRoles(body)
                #expect(!sql.isEmpty, "\(function): no role list read")
                for operation in Self.guarded[function] ?? [] {
                    let allowed = Role.allCases.filter {
                        Permissions.decide(role: $0, operation: operation, ownership: .otherCustomer) == .allow
                    }
                    #expect(
                        sql.intersection(tableRoles) == Set(allowed.map(\.rawValue)),
                        "bank.\(function) lets \(sql.sorted()) through; the table allows \(operation) to \(allowed)"
                    )
                }
            }
            // Every operation staff may be refused is checked again in SQL.
            let staffOperations = BankOperation.allCases.filter {
                !$0.isAccountOperation
            }
            #expect(Set(staffOperations).isSubset(of: Set(Self.guarded.values.joined())))
        }
    }

    @Test("the role lists are read as written", arguments: [
        ("PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);", ["teller", "admin", "system"]),
        ("x bank.require_role(ARRAY['admin']); y bank.require_role(ARRAY['teller']);", ["admin", "teller"]),
        ("no check here", []),
    ])
    func parse(body: String, roles: [String]) {
        #expect(Self.requiredRoles(body) == Set(roles))
    }
}

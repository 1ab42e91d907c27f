public import CashpointBank
import CashpointDatabase
import NIOCore
import PostgresNIO

/// The unique constraints whose violation says which name or number is taken (`StoreError.taken`).
enum UniqueConstraint {
    static let names: [String: UniqueValue] = [
        "users_user_name_key": .userName,
        "accounts_account_no_key": .accountNumber,
        "cards_pan_digest_key": .cardNumber,
        "terminals_pkey": .terminalID,
    ]

    static func value(named constraint: String) -> UniqueValue? { Self.names[constraint] }
}

extension BankStore {
    /// The customer, the account (its number allocated by the database when `accountNo` is nil) and the
    /// card linked to it, in one SQL function, so one transaction: when any step fails nothing is made,
    /// and the `StoreError` says why (`alreadyExists` names the constraint that was broken).
    public func createCustomerWithAccountAndCard(
        actor: ActorContext,
        userName: String,
        fullName: String,
        accountNo: String?,
        accountName: String,
        dailyLimit: Int64?,
        dailyCount: Int?,
        panDigest: [UInt8],
        maskedPAN: String,
        pinHash: String,
        expiry: String,
        identity: StoredIdentity
    ) async throws -> CreatedCustomerRows {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.create_customer_with_account_and_card_committed(
                    \(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(userName), \(fullName),
                    \(accountNo), \(accountName), \(dailyLimit), \(dailyCount)::int,
                    \(ByteBuffer(bytes: panDigest)), \(maskedPAN), \(pinHash), \(expiry)::date,
                    \(identity.kept.dateOfBirth)::date, \(identity.kept.nationality), \(identity.kept.address),
                    \(identity.kept.documentType.rawValue), \(identity.kept.documentCountry),
                    \(ByteBuffer(bytes: identity.documentDigest)), \(identity.kept.documentLast4),
                    \(identity.kept.politicallyExposed),
                    \(identity.screening.stored), \(identity.screening.detail), \(identity.rating.rating.rawValue),
                    \(identity.rating.reasons)::text[])
                """,
                logger: self.logger
            )
            for try await (customer, account, number, card) in rows.decode((Int64, Int64, String, Int64).self) {
                return CreatedCustomerRows(customerID: customer, accountID: account, accountNo: number, cardID: card)
            }
            throw StoreError(
                kind: .unavailable,
                detail: "CALL bank.create_customer_with_account_and_card_committed returned no row"
            )
        }
    }

    /// `limit` users (1-50) after skipping `skip`, by id, and the number of users in all: the page is
    /// cut in SQL.
    public func listUsers(actor: ActorContext, skip: Int, limit: Int) async throws -> UserPage {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT user_id, user_name, full_name, role, locked, failed_attempts, total
                FROM bank.list_users_page(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                    \(skip)::int, \(limit)::int)
                """,
                logger: self.logger
            )
            var page = UserPage(users: [], total: 0)
            for try await (id, name, full, role, locked, failed, total) in rows.decode(
                (Int64?, String?, String?, String?, Bool?, Int?, Int64).self
            ) {
                page.total = Int(total)
                guard let id, let name, let full, let role, let locked, let failed else { continue }
                page.users.append(
                    UserRecord(
                        id: id,
                        userName: name,
                        fullName: full,
                        role: role,
                        locked: locked,
                        failedAttempts: failed
                    )
                )
            }
            return page
        }
    }
}

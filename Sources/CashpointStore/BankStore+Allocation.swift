public import CashpointBank
import CashpointDatabase
import NIOCore
import PostgresNIO

extension BankStore {
    /// The bank's currency (ISO 4217 numeric), which every customer account is held in.
    public func bankCurrency() async throws -> String? {
        try await self.retrying {
            let rows = try await self.client.query("SELECT bank.bank_currency()", logger: self.logger)
            for try await currency in rows.decode(String?.self) { return currency }
            return nil
        }
    }

    /// The first of 1,000 retrieval reference numbers no other caller gets.
    public func reserveReferences() async throws -> Int64 {
        try await self.scalar("SELECT bank.reserve_references()")
    }

    /// A new account number (`CP` and 10 digits), not yet taken.
    public func allocateAccountNumber(actor: ActorContext) async throws -> String {
        try await self.scalar("SELECT bank.allocate_account_number(\(actor.role.rawValue))")
    }

    /// A new card serial, for the switch to make a PAN of (BIN, serial, Luhn check digit).
    public func allocateCardSerial(actor: ActorContext) async throws -> Int64 {
        try await self.scalar("SELECT bank.allocate_card_serial(\(actor.role.rawValue))")
    }
}

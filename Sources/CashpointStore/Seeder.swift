public import CashpointBank
public import CashpointSecurity
import Foundation
import Logging
public import NIOPosix
import PostgresNIO

/// The bank of `fixtures/bank.json`: settings, internal accounts, terminals, staff, customers with
/// accounts, opening balances and cards. Test PINs and passwords are in the file and listed in
/// `fixtures/README.md`; they are test data only.
public struct BankFixture: Sendable, Codable, Hashable {
    public struct Terminal: Sendable, Codable, Hashable {
        public var id: String
        public var kind: String
        public var location: String
        public var cashAccount: String
        /// The terminal master key as 64 hex characters: test keys only, for the demo terminals.
        public var masterKey: String?
    }

    public struct Staff: Sendable, Codable, Hashable {
        public var userName: String
        public var fullName: String
        public var role: Role
        public var password: String
    }

    public struct Account: Sendable, Codable, Hashable {
        public var accountNo: String
        public var name: String
        public var opening: Int64
        public var dailyLimit: Int64?
        public var dailyCount: Int?

        public init(accountNo: String, name: String, opening: Int64, dailyLimit: Int64?, dailyCount: Int?) {
            self.accountNo = accountNo
            self.name = name
            self.opening = opening
            self.dailyLimit = dailyLimit
            self.dailyCount = dailyCount
        }
    }

    public struct Card: Sendable, Codable, Hashable {
        public var pan: String
        public var pin: String
        public var expiry: String
        public var accounts: [String]

        public init(pan: String, pin: String, expiry: String, accounts: [String]) {
            self.pan = pan
            self.pin = pin
            self.expiry = expiry
            self.accounts = accounts
        }
    }

    public struct Customer: Sendable, Codable, Hashable {
        public var userName: String
        public var fullName: String
        public var accounts: [Account]
        public var cards: [Card]

        public init(userName: String, fullName: String, accounts: [Account], cards: [Card]) {
            self.userName = userName
            self.fullName = fullName
            self.accounts = accounts
            self.cards = cards
        }
    }

    public var currency: String
    public var maxPINTries: Int
    public var maxPasswordTries: Int
    public var equityAccount: String
    /// The vault's account number (default `BANKVAULT`) and its opening cash in minor units (default 0),
    /// which comes from the equity account.
    public var vaultAccount: String?
    public var vaultCash: Int64?
    public var terminals: [Terminal]
    public var staff: [Staff]
    public var customers: [Customer]

    public static func load(_ path: String) throws -> BankFixture {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(BankFixture.self, from: data)
    }
}

public enum Seeder {
    public struct SeedError: Error, CustomStringConvertible, Sendable {
        public var reason: String
        public var description: String { self.reason }
    }

    public struct Report: Sendable, Hashable {
        public var customers: Int
        public var accounts: Int
        public var cards: Int
        public var staff: Int
        public var terminals: Int
    }

    /// Loads the fixture into an empty bank. Refuses a bank that already has users.
    public static func seed(
        _ fixture: BankFixture,
        store: BankStore,
        hasher: CredentialHasher,
        switchKey: SwitchKey? = nil,
        threadPool: NIOThreadPool = .singleton
    ) async throws -> Report {
        let seeder = ActorContext.system("seed")
        let users = try await store.listUsersCount()
        guard users == 0 else {
            throw SeedError(
                reason: "the bank already has \(users) users: seed an empty database (scripts/pg destroy, or a new one)"
            )
        }
        try await store.configure(
            actor: seeder,
            currency: fixture.currency,
            maxPINTries: fixture.maxPINTries,
            maxPasswordTries: fixture.maxPasswordTries
        )
        _ = try await store.openInternalAccount(
            actor: seeder,
            accountNo: fixture.equityAccount,
            name: "Bank equity (opening balances)",
            kind: "bank_equity"
        )
        try await store.openVault(
            actor: seeder,
            accountNo: fixture.vaultAccount ?? "BANKVAULT",
            opening: fixture.vaultCash ?? 0
        )
        for terminal in fixture.terminals {
            let kind = terminal.kind == "atm" ? "terminal_cash" : "teller_drawer"
            _ = try await store.openInternalAccount(
                actor: seeder,
                accountNo: terminal.cashAccount,
                name: "Cash of \(terminal.id)",
                kind: kind
            )
            try await store.registerTerminal(
                actor: seeder,
                terminal: terminal.id,
                kind: terminal.kind,
                location: terminal.location,
                cashAccount: terminal.cashAccount
            )
            if let hex = terminal.masterKey {
                guard let switchKey else {
                    throw SeedError(reason: "the fixture has terminal master keys: pass the switch key to seal them")
                }
                let master: SecretKey
                do {
                    master = try SecretKey(hex: hex, name: "master key of \(terminal.id)")
                } catch {
                    throw SeedError(reason: error.description)
                }
                _ = try await store.setTerminalMasterKey(
                    actor: seeder,
                    terminal: terminal.id,
                    sealed: try switchKey.sealMasterKey(master.key, terminal: terminal.id),
                    checkValue: KeyCheckValue.of(master.key)
                )
            }
        }
        for member in fixture.staff {
            let hash = try await threadPool.runIfActive {
                try hasher.hashPassword(userName: member.userName, password: member.password)
            }
            _ = try await store.createStaff(
                actor: seeder,
                userName: member.userName,
                fullName: member.fullName,
                role: member.role,
                passwordHash: hash
            )
        }
        var accounts = 0
        var cards = 0
        for customer in fixture.customers {
            let userID = try await store.createCustomer(
                actor: seeder,
                userName: customer.userName,
                fullName: customer.fullName
            )
            for account in customer.accounts {
                _ = try await store.openAccount(
                    actor: seeder,
                    userID: userID,
                    accountNo: account.accountNo,
                    name: account.name,
                    dailyLimit: account.dailyLimit,
                    dailyCount: account.dailyCount
                )
                if account.opening > 0 {
                    try await store.postOpening(
                        actor: seeder,
                        account: account.accountNo,
                        amount: account.opening,
                        equityAccount: fixture.equityAccount
                    )
                }
                accounts += 1
            }
            for card in customer.cards {
                guard CredentialHasher.isValidPIN(card.pin) else {
                    throw SeedError(reason: "card \(CredentialHasher.maskPAN(card.pan)): a PIN is 4-12 digits")
                }
                let hash = try await threadPool.runIfActive { try hasher.hashPIN(pan: card.pan, pin: card.pin) }
                _ = try await store.issueCard(
                    actor: seeder,
                    userID: userID,
                    panDigest: hasher.panDigest(card.pan),
                    maskedPAN: CredentialHasher.maskPAN(card.pan),
                    pinHash: hash,
                    expiry: card.expiry,
                    accounts: card.accounts
                )
                cards += 1
            }
        }
        return Report(
            customers: fixture.customers.count,
            accounts: accounts,
            cards: cards,
            staff: fixture.staff.count,
            terminals: fixture.terminals.count
        )
    }
}

extension Seeder {
    /// Stores the fixture's test master keys for its terminals that have none yet (a bank seeded before
    /// terminals had keys); returns the terminals given a key.
    public static func installTerminalKeys(
        _ fixture: BankFixture,
        store: BankStore,
        switchKey: SwitchKey
    ) async throws -> [String] {
        var installed: [String] = []
        for terminal in fixture.terminals {
            guard let hex = terminal.masterKey,
                let record = try await store.terminalKeys(terminal.id), record.masterKeySealed == nil
            else { continue }
            let master: SecretKey
            do {
                master = try SecretKey(hex: hex, name: "master key of \(terminal.id)")
            } catch {
                throw SeedError(reason: error.description)
            }
            _ = try await store.setTerminalMasterKey(
                actor: .system("seed"),
                terminal: terminal.id,
                sealed: try switchKey.sealMasterKey(master.key, terminal: terminal.id),
                checkValue: KeyCheckValue.of(master.key)
            )
            installed.append(terminal.id)
        }
        return installed
    }
}

extension BankStore {
    func listUsersCount() async throws -> Int {
        try await self.scalar(
            "SELECT count(*)::int FROM bank.audit_logs WHERE action IN ('customer.create', 'staff.create')"
        )
    }

    public func configure(actor: ActorContext, currency: String, maxPINTries: Int, maxPasswordTries: Int) async throws {
        try await self.retrying {
            try await self.execute(
                "SELECT bank.configure(\(actor.name), \(currency), \(maxPINTries)::int, \(maxPasswordTries)::int)",
                logger: self.logger
            )
        }
    }
}

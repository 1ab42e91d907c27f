import CashpointDatabase
import ATM87
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
        /// The second factor's TOTP secret, base32 (SHA-1, 6 digits, 30 s): enrolled and confirmed at
        /// once. Test secrets only: a real member of staff enrols at the desk.
        public var totpSecret: String?
        /// Their recovery codes (XXXXX-XXXXX), with `totpSecret`.
        public var recoveryCodes: [String]?
        /// A one-time enrolment code for a member of staff without `totpSecret` (valid 24 hours).
        public var enrolmentCode: String?
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

    /// A customer's identity (know your customer; invented for the demo bank). The full name is the
    /// legal name. `kyc`: `verified` (with a review date by the rating) or `pending`.
    public struct Identity: Sendable, Codable, Hashable {
        /// YYYY-MM-DD.
        public var dateOfBirth: String
        public var nationality: String
        public var address: String
        public var documentType: String
        public var documentCountry: String
        /// Test data: the seeder keeps only its keyed digest and last 4.
        public var documentNumber: String
        public var politicallyExposed: Bool
        public var kyc: String

        public init(
            dateOfBirth: String,
            nationality: String,
            address: String,
            documentType: String,
            documentCountry: String,
            documentNumber: String,
            politicallyExposed: Bool,
            kyc: String
        ) {
            self.dateOfBirth = dateOfBirth
            self.nationality = nationality
            self.address = address
            self.documentType = documentType
            self.documentCountry = documentCountry
            self.documentNumber = documentNumber
            self.politicallyExposed = politicallyExposed
            self.kyc = kyc
        }

        /// The identity as CREATE takes it; nil when a value is malformed.
        var customerIdentity: CustomerIdentity? {
            guard let born = CustomerIdentity.date(yyyymmdd: self.dateOfBirth.replacingOccurrences(of: "-", with: "")),
                let type = DocumentType(rawValue: self.documentType)
            else { return nil }
            return CustomerIdentity(
                dateOfBirth: born, nationality: self.nationality, address: self.address, documentType: type,
                documentCountry: self.documentCountry, documentNumber: self.documentNumber,
                politicallyExposed: self.politicallyExposed
            )
        }
    }

    public struct Customer: Sendable, Codable, Hashable {
        public var userName: String
        public var fullName: String
        public var accounts: [Account]
        public var cards: [Card]
        /// Nil: a customer with no identity recorded (served while bank.settings.serve_unrecorded).
        public var identity: Identity?

        public init(userName: String, fullName: String, accounts: [Account], cards: [Card], identity: Identity? = nil) {
            self.userName = userName
            self.fullName = fullName
            self.accounts = accounts
            self.cards = cards
            self.identity = identity
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
    /// What the bank is for: `load` for a load bank (`atm-harness load-bank`), whose customers exist to
    /// have money moved about by `atm-harness load`; absent for a bank of people, such as the demo's.
    public var purpose: String?

    /// The value of `purpose` that marks a load bank.
    public static let loadPurpose = "load"

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

    /// Loads the fixture into an empty bank, all or nothing: the whole fixture is checked first
    /// (`validate`), then loaded in one transaction, so a fixture refused for any reason, by the check
    /// or by the database, leaves the bank exactly as it was. Refuses a bank that already has users.
    public static func seed(
        _ fixture: BankFixture,
        store: BankStore,
        hasher: CredentialHasher,
        switchKey: SwitchKey? = nil,
        threadPool: NIOThreadPool = .singleton
    ) async throws -> Report {
        try self.validate(fixture, hasSwitchKey: switchKey != nil)
        // The slow work (bcrypt, sealing) before the transaction, so it holds its locks briefly.
        var staffHashes: [String] = []
        for member in fixture.staff {
            staffHashes.append(
                try await threadPool.runIfActive {
                    try hasher.hashPassword(userName: member.userName, password: member.password)
                }
            )
        }
        var recoveryHashes: [String: [String]] = [:]
        for member in fixture.staff where member.totpSecret != nil {
            let codes = (member.recoveryCodes ?? []).compactMap(RecoveryCodes.normalize)
            recoveryHashes[member.userName] = try await threadPool.runIfActive {
                try codes.map { try hasher.hashRecoveryCode(userName: member.userName, code: $0) }
            }
        }
        var pinHashes: [[String]] = []
        for customer in fixture.customers {
            var hashes: [String] = []
            for card in customer.cards {
                hashes.append(try await threadPool.runIfActive { try hasher.hashPIN(pan: card.pan, pin: card.pin) })
            }
            pinHashes.append(hashes)
        }
        var sealedKeys: [String: (sealed: [UInt8], checkValue: String)] = [:]
        for terminal in fixture.terminals {
            guard let hex = terminal.masterKey, let switchKey else { continue }
            let master = try SecretKey(hex: hex, name: "master key of \(terminal.id)")
            sealedKeys[terminal.id] = (
                try switchKey.sealMasterKey(master.key, terminal: terminal.id), KeyCheckValue.of(master.key)
            )
        }
        let loading = Loading(logger: store.logger)
        let sealed = sealedKeys
        let staffPasswordHashes = staffHashes
        let cardPINHashes = pinHashes
        let recovery = recoveryHashes
        do {
            try await store.client.withTransaction(logger: store.logger) { connection in
                try await loading.load(
                    fixture,
                    on: connection,
                    staffHashes: staffPasswordHashes,
                    pinHashes: cardPINHashes,
                    sealedKeys: sealed,
                    hasher: hasher,
                    switchKey: switchKey,
                    recoveryHashes: recovery
                )
            }
        } catch let error as PostgresTransactionError {
            throw loading.refusal(error.closureError ?? error.beginError ?? error.commitError ?? error)
        } catch {
            throw loading.refusal(error)
        }
        return Report(
            customers: fixture.customers.count,
            accounts: fixture.customers.reduce(0) { $0 + $1.accounts.count },
            cards: fixture.customers.reduce(0) { $0 + $1.cards.count },
            staff: fixture.staff.count,
            terminals: fixture.terminals.count
        )
    }

    /// Checks the whole fixture before anything is written; throws one `SeedError` naming every entry
    /// that is wrong and why.
    public static func validate(_ fixture: BankFixture, hasSwitchKey: Bool) throws {
        var problems: [String] = []
        func digits(_ text: String) -> Bool { !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        if !(fixture.currency.utf8.count == 3 && digits(fixture.currency)) {
            problems.append("currency \"\(fixture.currency)\": an ISO 4217 numeric code is 3 digits")
        }
        if fixture.maxPINTries < 1 { problems.append("maxPINTries must be 1 or more") }
        if fixture.maxPasswordTries < 1 { problems.append("maxPasswordTries must be 1 or more") }
        if let cash = fixture.vaultCash, cash < 0 { problems.append("vaultCash \(cash) is negative") }
        func isISODate(_ text: String) -> Bool {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard text.utf8.count == 10, parts.count == 3, parts.allSatisfy({ digits(String($0)) }),
                let month = Int(parts[1]), let day = Int(parts[2])
            else { return false }
            return (1...12).contains(month) && (1...31).contains(day)
        }
        var accountNumbers: Set<String> = []
        func account(_ number: String, _ entry: String) {
            if number.isEmpty {
                problems.append("\(entry): the account number is empty")
            } else if !accountNumbers.insert(number).inserted {
                problems.append("\(entry): account number \(number) appears twice in the fixture")
            }
        }
        account(fixture.equityAccount, "equityAccount")
        account(fixture.vaultAccount ?? "BANKVAULT", "vaultAccount")
        var terminalIDs: Set<String> = []
        for terminal in fixture.terminals {
            let entry = "terminal \(terminal.id)"
            if !((1...8).contains(terminal.id.utf8.count)
                && terminal.id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }))
            {
                problems.append("\(entry): a terminal id is 1-8 capital letters or digits")
            }
            if !terminalIDs.insert(terminal.id).inserted { problems.append("\(entry) appears twice") }
            if !["atm", "branch"].contains(terminal.kind) {
                problems.append("\(entry): kind \"\(terminal.kind)\" is not atm or branch")
            }
            account(terminal.cashAccount, "\(entry) cashAccount")
            if let hex = terminal.masterKey {
                do {
                    _ = try SecretKey(hex: hex, name: "master key")
                } catch {
                    problems.append("\(entry): \(error.description)")
                }
                if !hasSwitchKey {
                    problems.append("\(entry) has a master key: pass the switch key to seal it")
                }
            }
        }
        var userNames: Set<String> = []
        func user(_ name: String, _ entry: String) {
            if name.isEmpty {
                problems.append("\(entry): the user name is empty")
            } else if !userNames.insert(name).inserted {
                problems.append("\(entry): user name \(name) appears twice in the fixture")
            }
        }
        for member in fixture.staff {
            user(member.userName, "staff \(member.userName)")
            if member.password.isEmpty { problems.append("staff \(member.userName): the password is empty") }
            if let secret = member.totpSecret {
                if (Base32.decode(secret)?.count ?? 0) < 16 {
                    problems.append("staff \(member.userName): totpSecret is base32 of 16 bytes or more")
                }
                if !hasSwitchKey { problems.append("staff \(member.userName) has a totpSecret: pass the switch key to seal it") }
                if member.enrolmentCode != nil {
                    problems.append("staff \(member.userName): a totpSecret or an enrolmentCode, not both")
                }
            }
            for code in (member.recoveryCodes ?? []) + [member.enrolmentCode].compactMap({ $0 })
            where RecoveryCodes.normalize(code) == nil {
                problems.append("staff \(member.userName): \"\(code)\" is not XXXXX-XXXXX from 23456789ABCDEFGHJKLMNPQRSTUVWXYZ")
            }
        }
        var pans: Set<String> = []
        for customer in fixture.customers {
            let entry = "customer \(customer.userName)"
            user(customer.userName, entry)
            for item in customer.accounts {
                let name = "\(entry), account \(item.accountNo)"
                account(item.accountNo, name)
                if item.opening < 0 { problems.append("\(name): opening balance \(item.opening) is negative") }
                if let limit = item.dailyLimit, limit < 0 {
                    problems.append("\(name): dailyLimit \(limit) is negative")
                }
                if let count = item.dailyCount, count < 0 {
                    problems.append("\(name): dailyCount \(count) is negative")
                }
            }
            if let identity = customer.identity {
                let today = DateComponents(year: 9999, month: 12, day: 31)
                if let problem = identity.customerIdentity.map({ $0.problem(today: today) }) ?? "a malformed date of birth or document type" {
                    problems.append("\(entry), identity: \(problem)")
                }
                if !["verified", "pending"].contains(identity.kyc) {
                    problems.append("\(entry), identity: kyc \"\(identity.kyc)\" is verified or pending")
                }
            }
            let own = Set(customer.accounts.map(\.accountNo))
            for card in customer.cards {
                let name = "\(entry), card \(ATM87PrettyPrinter.maskPAN(card.pan))"
                // The store keeps any card number of a card's shape; one that fails its check digit is the
                // switch's to refuse (14), and tests seed such cards to see it do so.
                if Luhn.problem(withPAN: card.pan) == .notTwelveToNineteenDigits {
                    problems.append("\(name): a PAN is 12-19 digits")
                } else if !pans.insert(card.pan).inserted {
                    problems.append("\(name) appears twice in the fixture")
                }
                if !CredentialHasher.isValidPIN(card.pin) { problems.append("\(name): a PIN is 4-12 digits") }
                if !isISODate(card.expiry) {
                    problems.append("\(name): expiry \"\(card.expiry)\" is not a date YYYY-MM-DD")
                }
                if card.accounts.isEmpty { problems.append("\(name): it names no account") }
                for number in card.accounts where !own.contains(number) {
                    problems.append("\(name): account \(number) is not one of the customer's")
                }
            }
        }
        guard problems.isEmpty else {
            throw SeedError(
                reason: "the fixture is refused, nothing was loaded: " + problems.joined(separator: "; ")
            )
        }
    }

    /// One fixture's load on one connection inside the seed's transaction; remembers which entry it is
    /// at, so a refusal by the database names it.
    final class Loading: @unchecked Sendable {
        let logger: Logger
        var entry = "the bank's settings"

        init(logger: Logger) { self.logger = logger }

        func refusal(_ error: any Error) -> any Error {
            if error is SeedError { return error }
            if let error = error as? PSQLError {
                let message = error.serverInfo?[.message] ?? "\(BankStore.storeError(error))"
                return SeedError(
                    reason: "\(self.entry): \(message)"
                        + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
                        + "; nothing was loaded"
                )
            }
            return error
        }

        func value<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> T {
            let rows = try await connection.query(query, logger: self.logger)
            for try await value in rows.decode(T.self) { return value }
            throw SeedError(reason: "\(self.entry): the database returned no row")
        }

        func run(_ query: PostgresQuery, on connection: PostgresConnection) async throws {
            let rows = try await connection.query(query, logger: self.logger)
            for try await _ in rows {}
        }

        func load(
            _ fixture: BankFixture,
            on connection: PostgresConnection,
            staffHashes: [String],
            pinHashes: [[String]],
            sealedKeys: [String: (sealed: [UInt8], checkValue: String)],
            hasher: CredentialHasher,
            switchKey: SwitchKey? = nil,
            recoveryHashes: [String: [String]] = [:]
        ) async throws {
            let actor = ActorContext.system("seed")
            let users: Int = try await self.value(
                "SELECT count(*)::int FROM bank.audit_logs WHERE action IN ('customer.create', 'staff.create')",
                on: connection
            )
            guard users == 0 else {
                throw SeedError(
                    reason: "the bank already has \(users) users: seed an empty database (scripts/pg destroy, or a new one)"
                )
            }
            try await self.run(
                """
                SELECT bank.configure(\(actor.name), \(fixture.currency), \(fixture.maxPINTries)::int,
                    \(fixture.maxPasswordTries)::int)
                """,
                on: connection
            )
            self.entry = "equityAccount \(fixture.equityAccount)"
            let _: Int64 = try await self.value(
                """
                SELECT bank.open_internal_account(\(actor.name), \(fixture.equityAccount),
                    \("Bank equity (opening balances)"), \("bank_equity"))
                """,
                on: connection
            )
            let vault = fixture.vaultAccount ?? "BANKVAULT"
            self.entry = "vaultAccount \(vault)"
            let _: Int64 = try await self.value(
                "SELECT bank.open_vault(\(actor.name), \(vault), \(fixture.vaultCash ?? 0))",
                on: connection
            )
            for terminal in fixture.terminals {
                self.entry = "terminal \(terminal.id)"
                let kind = terminal.kind == "atm" ? "terminal_cash" : "teller_drawer"
                let _: Int64 = try await self.value(
                    """
                    SELECT bank.open_internal_account(\(actor.name), \(terminal.cashAccount),
                        \("Cash of \(terminal.id)"), \(kind))
                    """,
                    on: connection
                )
                try await self.run(
                    """
                    SELECT bank.register_terminal(\(actor.name), \(terminal.id), \(terminal.kind),
                        \(terminal.location), \(terminal.cashAccount))
                    """,
                    on: connection
                )
                if let key = sealedKeys[terminal.id] {
                    let _: Bool = try await self.value(
                        """
                        SELECT bank.set_terminal_master_key(\(actor.name), \(terminal.id),
                            \(ByteBuffer(bytes: key.sealed)), \(key.checkValue))
                        """,
                        on: connection
                    )
                }
            }
            for (member, hash) in zip(fixture.staff, staffHashes) {
                self.entry = "staff \(member.userName)"
                let userID: Int64 = try await self.value(
                    """
                    SELECT bank.create_staff(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                        \(member.userName), \(member.fullName), \(member.role.rawValue), \(hash))
                    """,
                    on: connection
                )
                if let text = member.totpSecret, let secret = Base32.decode(text), let switchKey {
                    let sealed = try switchKey.sealFactorSecret(secret, userID: userID)
                    let _: Int64 = try await self.value(
                        """
                        SELECT bank.seed_staff_factor(\(member.userName), \(ByteBuffer(bytes: sealed)), 'SHA1', 6,
                            \(recoveryHashes[member.userName] ?? [])::text[])
                        """,
                        on: connection
                    )
                }
                if let code = member.enrolmentCode.flatMap(RecoveryCodes.normalize) {
                    try await self.run(
                        """
                        SELECT * FROM bank.issue_enrolment_code('system', NULL, \(actor.name), NULL, NULL,
                            \(member.userName), \(ByteBuffer(bytes: hasher.enrolmentCodeDigest(code))))
                        """,
                        on: connection
                    )
                }
            }
            for (customer, hashes) in zip(fixture.customers, pinHashes) {
                self.entry = "customer \(customer.userName)"
                let userID: Int64 = try await self.value(
                    """
                    SELECT bank.create_customer(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                        \(customer.userName), \(customer.fullName))
                    """,
                    on: connection
                )
                for account in customer.accounts {
                    self.entry = "customer \(customer.userName), account \(account.accountNo)"
                    let _: Int64 = try await self.value(
                        """
                        SELECT bank.open_account(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                            \(userID), \(account.accountNo), \(account.name), \(account.dailyLimit), \(account.dailyCount)::int)
                        """,
                        on: connection
                    )
                    if account.opening > 0 {
                        let _: Int64 = try await self.value(
                            """
                            SELECT bank.post_opening(\(actor.name), \(account.accountNo), \(account.opening),
                                \(fixture.equityAccount))
                            """,
                            on: connection
                        )
                    }
                }
                if let identity = customer.identity, let given = identity.customerIdentity {
                    self.entry = "customer \(customer.userName), identity"
                    try await self.recordIdentity(
                        identity,
                        given,
                        of: customer,
                        userID: userID,
                        hasher: hasher,
                        actor: actor,
                        on: connection
                    )
                }
                for (card, hash) in zip(customer.cards, hashes) {
                    self.entry = "customer \(customer.userName), card \(ATM87PrettyPrinter.maskPAN(card.pan))"
                    let _: Int64 = try await self.value(
                        """
                        SELECT bank.issue_card(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                            \(userID), \(ByteBuffer(bytes: hasher.panDigest(card.pan))), \(ATM87PrettyPrinter.maskPAN(card.pan)),
                            \(hash), \(card.expiry)::date, \(card.accounts))
                        """,
                        on: connection
                    )
                }
            }
        }
    }
}

extension Seeder.Loading {
    /// A fixture customer's identity, rated by the risk rules with the bank's country list, recorded
    /// verified (review date by the rating) or pending.
    func recordIdentity(
        _ identity: BankFixture.Identity,
        _ given: CustomerIdentity,
        of customer: BankFixture.Customer,
        userID: Int64,
        hasher: CredentialHasher,
        actor: ActorContext,
        on connection: PostgresConnection
    ) async throws {
        var countries: [CountryRisk] = []
        let rows = try await connection.query("SELECT country, risk, source FROM bank.country_risks()", logger: self.logger)
        for try await (country, risk, source) in rows.decode((String, String, String).self) {
            if let rating = RiskRating(rawValue: risk) { countries.append(CountryRisk(country: country, risk: rating, source: source)) }
        }
        let rating = KYCRisk.rate(
            KYCRisk.Facts(
                nationality: given.nationality,
                documentCountry: given.documentCountry,
                politicallyExposed: given.politicallyExposed,
                screening: .notScreened,
                largestDailyLimit: customer.accounts.compactMap(\.dailyLimit).max()
            ),
            countries: countries
        )
        let months = identity.kyc == "verified" ? KYCRisk.reviewMonths(rating.rating) : nil
        let _: String = try await self.value(
            """
            SELECT bank.record_identity(\(actor.role.rawValue), \(actor.name), NULL, NULL, \(userID), \(customer.fullName),
                \(given.birthDate)::date, \(given.nationality), \(given.address), \(given.documentType.rawValue),
                \(given.documentCountry),
                \(ByteBuffer(bytes: hasher.documentDigest(type: given.documentType.rawValue, country: given.documentCountry, number: given.documentNumber))),
                \(given.documentLast4), \(given.politicallyExposed), 'not_screened', NULL, \(rating.rating.rawValue),
                \(rating.reasons)::text[], (current_date + make_interval(months => \(months)::int))::date)
            """,
            on: connection
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

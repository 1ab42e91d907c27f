import CashpointBank
import CashpointSecurity
import CashpointStore
import Crypto
import Testing

@Suite("permission table")
struct PermissionTests {
    static let accountOperations: [BankOperation] = [
        .balance, .withdrawal, .deposit, .transfer, .miniStatement, .pinChange,
    ]
    static let tellerOperations: [BankOperation] = [
        .createCustomer, .createAccount, .issueCard, .lockAccount, .unlockAccount, .lockCard, .unlockCard, .unlockUser,
        .setLimits, .reviewChanges,
    ]
    static let adminOperations: [BankOperation] = [.listUsers, .readAudit, .changeRole, .createStaff, .enrolStaff, .workCases]

    @Test("every role and operation has exactly the decision of the origin's RBAC table")
    func table() {
        #expect(
            Set(Self.accountOperations + Self.tellerOperations + Self.adminOperations) == Set(BankOperation.allCases)
        )
        for operation in Self.accountOperations {
            #expect(Permissions.decide(role: .customer, operation: operation, ownership: .own) == .allow)
            #expect(
                Permissions.decide(role: .customer, operation: operation, ownership: .otherCustomer)
                    == .deny(.notPermittedToCardholder)
            )
            for role in [Role.teller, .admin] {
                #expect(Permissions.decide(role: role, operation: operation, ownership: .otherCustomer) == .allow)
                #expect(Permissions.decide(role: role, operation: operation, ownership: .own) == .allow)
            }
        }
        for operation in Self.tellerOperations {
            #expect(
                Permissions.decide(role: .customer, operation: operation, ownership: .notApplicable)
                    == .deny(.notPermittedToCardholder)
            )
            #expect(Permissions.decide(role: .teller, operation: operation, ownership: .notApplicable) == .allow)
            #expect(Permissions.decide(role: .admin, operation: operation, ownership: .notApplicable) == .allow)
        }
        for operation in Self.adminOperations {
            #expect(
                Permissions.decide(role: .customer, operation: operation, ownership: .notApplicable)
                    == .deny(.notPermittedToCardholder)
            )
            #expect(
                Permissions.decide(role: .teller, operation: operation, ownership: .notApplicable)
                    == .deny(.notPermittedToTerminal)
            )
            #expect(Permissions.decide(role: .admin, operation: operation, ownership: .notApplicable) == .allow)
        }
    }

    @Test("response codes carry the spec's meaning")
    func responseCodes() {
        #expect(ResponseCode.pinTriesExceeded.meaning.contains("PIN tries"))
        #expect(ResponseCode.duplicate.description == "94 (Duplicate transmission)")
        #expect(ResponseCode.approved.isApproved)
        #expect(!ResponseCode.wrongPIN.isApproved)
    }
}

@Suite("idempotency keys and request digests")
struct IdempotencyTests {
    @Test(
        "well-formed keys",
        arguments: [
            (IdempotencyKey(terminal: "ATM00001", stan: "000001", transmitted: "1125093112"), true),
            (IdempotencyKey(terminal: "", stan: "000001", transmitted: "1125093112"), false),
            (IdempotencyKey(terminal: "ATM000001", stan: "000001", transmitted: "1125093112"), false),
            (IdempotencyKey(terminal: "atm1", stan: "000001", transmitted: "1125093112"), false),
            (IdempotencyKey(terminal: "ATM1", stan: "1", transmitted: "1125093112"), false),
            (IdempotencyKey(terminal: "ATM1", stan: "000001", transmitted: "11250931"), false),
        ]
    )
    func wellFormed(key: IdempotencyKey, expected: Bool) {
        #expect(key.isWellFormed == expected)
    }

    @Test("digests differ when any part, or the split between parts, differs")
    func digests() {
        let base = RequestDigest.of(["withdrawal", "100", "ab"])
        #expect(base == RequestDigest.of(["withdrawal", "100", "ab"]))
        #expect(base != RequestDigest.of(["withdrawal", "101", "ab"]))
        #expect(base != RequestDigest.of(["withdrawal", "10", "0ab"]))
        #expect(base.count == 32)
    }
}

@Suite("audit chain links")
struct AuditChainTests {
    let key = SymmetricKey(data: [UInt8](repeating: 7, count: 32))
    let row = AuditRow(
        id: 1,
        at: "2026-11-25T09:31:12.000000Z",
        actor: "tina.teller",
        action: "card.unlock",
        outcome: "00",
        details: "{}",
        ip: nil,
        device: "BRANCH01"
    )

    @Test("a link depends on the key, the previous link and every column")
    func sensitivity() {
        let link = AuditChain.link(previous: AuditChain.genesis, row: self.row, key: self.key)
        #expect(link == AuditChain.link(previous: AuditChain.genesis, row: self.row, key: self.key))
        #expect(link != AuditChain.link(previous: link, row: self.row, key: self.key))
        #expect(
            link
                != AuditChain.link(
                    previous: AuditChain.genesis,
                    row: self.row,
                    key: SymmetricKey(data: [UInt8](repeating: 8, count: 32))
                )
        )
        var variants: [AuditRow] = []
        var changed = self.row
        changed.id = 2
        variants.append(changed)
        changed = self.row
        changed.at = "2026-11-25T09:31:12.000001Z"
        variants.append(changed)
        changed = self.row
        changed.actor = "tina.tellex"
        variants.append(changed)
        changed = self.row
        changed.action = "card.lock"
        variants.append(changed)
        changed = self.row
        changed.outcome = "05"
        variants.append(changed)
        changed = self.row
        changed.details = "{\"a\": 1}"
        variants.append(changed)
        changed = self.row
        changed.ip = ""
        variants.append(changed)
        changed = self.row
        changed.device = nil
        variants.append(changed)
        for variant in variants {
            #expect(AuditChain.link(previous: AuditChain.genesis, row: variant, key: self.key) != link, "\(variant)")
        }
    }

    /// The encoding is fixed: chains sealed by earlier builds must still verify. The expected link was
    /// computed with Python's hmac over the encoding docs/security.md gives (each column as a 4-byte
    /// big-endian length and its UTF-8; an absent one as 0xFFFFFFFF).
    @Test("a link matches an independent computation of the documented encoding")
    func knownAnswer() {
        let row = AuditRow(
            id: 7,
            at: "2026-11-25T12:00:00.000000Z",
            actor: "teller1",
            action: "deposit",
            outcome: "00",
            details: "{\"a\": 1}",
            ip: nil,
            device: "BR01"
        )
        let link = AuditChain.link(
            previous: AuditChain.genesis,
            row: row,
            key: SymmetricKey(data: [UInt8](repeating: 1, count: 32))
        )
        #expect(Hex.lowercase(link) == "aed710c00b1c37e9dcbbb93afbd3dece8b0d679bad0f47503d61aac89a44705d")
    }
}

@Suite("keyed credential digests")
struct CredentialTests {
    let hasher = CredentialHasher(pepper: try! SecretKey(bytes: [UInt8](repeating: 1, count: 32)), cost: 4)
    let otherPepper = CredentialHasher(pepper: try! SecretKey(bytes: [UInt8](repeating: 2, count: 32)), cost: 4)

    @Test("a PIN hash verifies only with its PAN, its PIN and its pepper")
    func pinBinding() throws {
        let hash = try self.hasher.hashPIN(pan: "4761739001010119", pin: "1234")
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(self.hasher.verifyPIN(pan: "4761739001010119", pin: "1234", against: hash))
        #expect(!self.hasher.verifyPIN(pan: "4761739001010119", pin: "1235", against: hash))
        #expect(
            !self.hasher.verifyPIN(pan: "5555555555554444", pin: "1234", against: hash),
            "a hash moved to another card must not verify"
        )
        #expect(
            !self.otherPepper.verifyPIN(pan: "4761739001010119", pin: "1234", against: hash),
            "a stolen hash is useless without the pepper"
        )
    }

    @Test("PAN digests are keyed and distinct")
    func panDigests() {
        #expect(self.hasher.panDigest("4761739001010119") == self.hasher.panDigest("4761739001010119"))
        #expect(self.hasher.panDigest("4761739001010119") != self.hasher.panDigest("4761739001010118"))
        #expect(self.hasher.panDigest("4761739001010119") != self.otherPepper.panDigest("4761739001010119"))
    }

    @Test("PIN format")
    func formats() {
        #expect(CredentialHasher.isValidPIN("1234"))
        #expect(CredentialHasher.isValidPIN("123456789012"))
        #expect(!CredentialHasher.isValidPIN("123"))
        #expect(!CredentialHasher.isValidPIN("12a4"))
    }

    @Test("key files: 64 hex characters, with a clear error otherwise")
    func keys() {
        #expect(throws: SecretKey.LoadError.self) { try SecretKey(hex: "abcd", name: "pepper") }
        #expect(throws: SecretKey.LoadError.self) {
            try SecretKey(hex: String(repeating: "zz", count: 32), name: "pepper")
        }
        #expect(throws: SecretKey.LoadError.self) { try SecretKey(contentsOfFile: "/nonexistent/key", name: "pepper") }
        #expect((try? SecretKey(hex: String(repeating: "0a", count: 32), name: "pepper")) != nil)
        #expect(!"\(SecretKey.generate())".contains("0"))
    }
}

@Suite("SQL script splitting")
struct SQLScriptTests {
    @Test("statements split at semicolons outside strings, identifiers, dollar quotes and comments")
    func split() throws {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE "a;b" (x text DEFAULT 'it''s; fine');
            /* block; /* nested; */ still comment */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
            CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;y' $body$;
            SELECT $1;
            ;
            """
        let statements = try SQLScript.statements(script)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("DEFAULT 'it''s; fine')"))
        #expect(statements[1].contains("RETURN 1; END $$"))
        #expect(statements[2].contains("$body$ SELECT 'x;y' $body$"))
        #expect(statements[3] == "SELECT $1")
    }

    @Test("unclosed quotes are errors", arguments: ["SELECT 'x", "SELECT \"x", "SELECT $$ x", "/* x"])
    func unclosed(script: String) {
        #expect(throws: SQLScript.SplitError.self) { try SQLScript.statements(script) }
    }

    @Test("every bundled migration and function file splits")
    func bundled() throws {
        let scripts =
            try Migration.bundled().map { ($0.name, $0.sql) } + RepeatableMigration.bundled().map { ($0.file, $0.sql) }
        for (name, sql) in scripts {
            let statements = try SQLScript.statements(sql)
            #expect(!statements.isEmpty, "\(name)")
            for statement in statements {
                #expect(statement.contains { !$0.isWhitespace }, "\(name): an empty statement")
            }
        }
    }
}

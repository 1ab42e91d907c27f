import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("four eyes and the second factor in the database")
struct FourEyesTests {
    /// Each statement, as the switch's role, must fail with SQLSTATE CPHLD (no approved change).
    static let directCalls: [String] = [
        "SELECT bank.unlock_user('admin', 'ada.admin', NULL, 'BRANCH01', 'tina.teller')",
        "SELECT bank.set_account_locked('teller', 'tina.teller', NULL, 'BRANCH01', 'CP0000000001', false)",
        "SELECT bank.change_role('admin', 'ada.admin', NULL, 'BRANCH01', 'tina.teller', 'admin')",
        "SELECT bank.create_staff('admin', 'ada.admin', NULL, 'BRANCH01', 'eve.evil', 'Eve', 'admin', '$2b$04$abcdefghijklmnopqrstuu0123456789012345678901234567890')",
        "SELECT bank.set_account_limits('teller', 'tina.teller', NULL, 'BRANCH01', 'CP0000000001', 99999999, 99)",
        "SELECT * FROM bank.issue_enrolment_code('admin', 2, 'ada.admin', NULL, 'BRANCH01', 'tina.teller', '\\x00')",
        """
        SELECT * FROM bank.post('teller', NULL, NULL, 'tina.teller', NULL, 'BRANCH01', 'BRANCH01', '000001',
            '1207101010', '\\x00', 'withdrawal', 900000, 'CP0000000001', NULL)
        """,
    ]

    @Test("a direct call of a high-risk function by the switch's role, without an approved change, is refused")
    func directCallsRefused() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            // Lock what the calls would unlock, so that each would change something.
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            _ = try await service.perform(.lockAccount("CP0000000001"), by: teller, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            for sql in Self.directCalls {
                let state: String? = try await bank.asSwitchRole { connection in
                    do {
                        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger)
                        for try await _ in rows {}
                        return nil
                    } catch let error as PSQLError {
                        return error.serverInfo?[.sqlState]
                    }
                }
                #expect(state == "CPHLD", "\(sql)")
            }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CP0000000001' AND is_locked") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users WHERE user_name = 'eve.evil'") == 0)
        }
    }

    @Test("a code's time step is accepted once: two connections racing with the same code, one wins")
    func replayRace() async throws {
        try await TestBank.with(fixture: try demoFixture(), maximumConnections: 4) { bank, service in
            let userID = try #require(try await service.records.staff(userName: "tina.teller")).userID
            let step = OneTimePassword.step(at: Int64(Date().timeIntervalSince1970))
            for round in 0..<5 {
                let actor = ActorContext.system("tina.teller")
                async let first = service.records.recordStaffLogin(
                    userID: userID, passwordOK: true, factor: .right(step: step + Int64(round)), actor: actor)
                async let second = service.records.recordStaffLogin(
                    userID: userID, passwordOK: true, factor: .right(step: step + Int64(round)), actor: actor)
                let codes = try await [first, second].map(\.rawValue).sorted()
                #expect(codes == ["00", "63"], "round \(round)")
            }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'factor.replayed'") == 5)
        }
    }

    @Test("five wrong codes after a right password lock the user; the right password does not reset the count")
    func wrongCodesLock() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            for attempt in 1...5 {
                let result = try await service.loginStaff(
                    userName: "tina.teller", password: "teller-test-password", oneTimeCode: "000000",
                    device: "BRANCH01", ip: nil)
                #expect(result == .refused(attempt < 5 ? .wrongPIN : .restricted))
            }
            let locked = try await service.loginStaff(
                userName: "tina.teller", password: "teller-test-password",
                oneTimeCode: StaffCodes.next("tina.teller", scope: service.codeScope), device: "BRANCH01", ip: nil)
            #expect(locked == .refused(.restricted))
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'factor.wrong'") == 5)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'user.locked'") == 1)
        }
    }

    @Test("sign-on: no code 1A, a code two steps off refused, a recovery code once; enrolment with a code")
    func signOnAndEnrolment() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let none = try await service.loginStaff(userName: "ada.admin", password: "admin-test-password", device: "B", ip: nil)
            #expect(none == .needs(.code))
            let step = OneTimePassword.step(at: Int64(Date().timeIntervalSince1970))
            let old = try await service.loginStaff(
                userName: "ada.admin", password: "admin-test-password", oneTimeCode: StaffCodes.code("ada.admin", step: step - 2),
                device: "B", ip: nil)
            #expect(old == .refused(.wrongPIN))
            let recovery = try #require(try demoFixture().staff.first { $0.userName == "ada.admin" }?.recoveryCodes?.first)
            let once = try await service.loginStaff(
                userName: "ada.admin", password: "admin-test-password", oneTimeCode: recovery, device: "B", ip: nil)
            guard case .approved = once else { throw TestFailure("recovery code refused: \(once)") }
            let twice = try await service.loginStaff(
                userName: "ada.admin", password: "admin-test-password", oneTimeCode: recovery, device: "B", ip: nil)
            #expect(twice == .refused(.wrongPIN))
            // nina.new has an enrolment code and no factor.
            let noCode = try await service.loginStaff(userName: "nina.new", password: "new-test-password", device: "B", ip: nil)
            #expect(noCode == .needs(.enrolmentCode))
            let started = try await service.loginStaff(
                userName: "nina.new", password: "new-test-password", enrolmentCode: "newst-aff22", device: "B", ip: nil)
            guard case .enrolment(let secret, let parameters, let codes) = started else {
                throw TestFailure("enrolment not begun: \(started)")
            }
            #expect(secret.count == 20 && codes.count == 10 && parameters == .standard)
            let spent = try await service.loginStaff(
                userName: "nina.new", password: "new-test-password", enrolmentCode: "NEWST-AFF22", device: "B", ip: nil)
            #expect(spent == .refused(.wrongPIN))
            let code = OneTimePassword.code(secret: secret, at: Int64(Date().timeIntervalSince1970))
            let confirmed = try await service.loginStaff(
                userName: "nina.new", password: "new-test-password", oneTimeCode: code, device: "B", ip: nil)
            guard case .approved = confirmed else { throw TestFailure("enrolment not confirmed: \(confirmed)") }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'factor.enrolled'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.enrolment_codes") == 0)
        }
    }

    @Test("held: the maker cannot approve, a second teller can; approval re-checks the state; duplicates 94; step-up and reason")
    func heldChanges() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let tina = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let tom = try await service.signedOnStaff("tom.teller", "teller2-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            _ = try await service.perform(.lockAccount("CP0000000001"), by: tina, key: desk.next(), ip: nil)
            let stale = try await service.perform(.unlockAccount("CP0000000001"), by: tina, key: desk.next(), ip: nil)
            #expect(stale.code == .additionalAuthenticationRequired && stale.nextFactor == .code)
            let fresh = FourEyesRequest(reason: nil, factorIsFresh: true)
            let noReason = try await service.perform(.unlockAccount("CP0000000001"), by: tina, key: desk.next(), ip: nil, fourEyes: fresh)
            #expect(noReason.code == .formatError && noReason.nextFactor == .reason)
            let asked = FourEyesRequest(reason: "customer called, identity checked", factorIsFresh: true)
            let held = try await service.perform(.unlockAccount("CP0000000001"), by: tina, key: desk.next(), ip: nil, fourEyes: asked)
            #expect(held.code == .held)
            let id = try #require(held.changeID)
            let duplicate = try await service.perform(.unlockAccount("CP0000000001"), by: tina, key: desk.next(), ip: nil, fourEyes: asked)
            #expect(duplicate.code == .duplicate && duplicate.changeID == id)
            let own = try await service.approveChange(id, by: tina, device: "BRANCH01", ip: nil, factorIsFresh: true)
            #expect(own.code == .notPermittedToTerminal)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CP0000000001' AND is_locked") == 1)
            let approved = try await service.approveChange(id, by: tom, device: "BRANCH02", ip: nil, factorIsFresh: true)
            #expect(approved.code == .approved)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CP0000000001' AND is_locked") == 0)
            let again = try await service.approveChange(id, by: tom, device: "BRANCH02", ip: nil, factorIsFresh: true)
            #expect(again.code == .invalidTransaction)
            // A change whose target moved on fails with the reason.
            let limits = try await service.perform(
                .setLimits(account: "CP0000000001", dailyLimit: 200_000, dailyCount: nil), by: tina, key: desk.next(), ip: nil,
                fourEyes: asked)
            #expect(limits.code == .held)
            _ = try await service.perform(.lockAccount("CP0000000001"), by: tom, key: desk.next(), ip: nil)
            let failed = try await service.approveChange(try #require(limits.changeID), by: tom, device: "BRANCH02", ip: nil, factorIsFresh: true)
            #expect(failed.code == .invalidTransaction)
            #expect(failed.reason?.contains("changed") == true)
            // A desk withdrawal above the table's amount is held, then posted on approval under the maker's key.
            let before = try await bank.balance("CP0000000001")
            let big = try await service.perform(
                .withdrawal(account: "CP0000000002", amount: 150_000), by: tina, key: desk.next(), ip: nil, fourEyes: asked)
            #expect(big.code == .held)
            let paid = try await service.approveChange(try #require(big.changeID), by: tom, device: "BRANCH02", ip: nil, factorIsFresh: true)
            #expect(paid.code == .approved || paid.code == .insufficientFunds)
            #expect(try await bank.balance("CP0000000001") == before)
            for action in ["change.held", "change.approved", "change.applied", "change.refused", "change.failed"] {
                #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = '\(action)'") >= 1, "\(action)")
            }
        }
    }

    @Test("a pending change past its time expires (audited) and can no longer be approved")
    func expiry() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let tina = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let tom = try await service.signedOnStaff("tom.teller", "teller2-test-password")
            let asked = FourEyesRequest(reason: "raise for a house purchase", factorIsFresh: true)
            let held = try await service.perform(
                .setLimits(account: "CP0000000003", dailyLimit: nil, dailyCount: 9), by: tina,
                key: KeyMaker(terminal: "BRANCH01").next(), ip: nil, fourEyes: asked)
            let id = try #require(held.changeID)
            try await bank.asSuperuser { connection in
                try await connection.query(
                    "UPDATE bank.changes SET expires_at = now() - interval '1 second' WHERE id = \(id)", logger: quietLogger)
            }
            let late = try await service.approveChange(id, by: tom, device: "BRANCH02", ip: nil, factorIsFresh: true)
            #expect(late.code == .invalidTransaction)
            #expect(late.reason == "the change is expired")
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'change.expired'") == 1)
            #expect(try await bank.count("SELECT daily_withdrawal_count FROM bank.accounts WHERE account_no = 'CP0000000003'") != 9)
        }
    }
}

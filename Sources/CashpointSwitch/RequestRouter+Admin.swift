import ATM87
import CashpointBank
import CashpointSecurity
import Foundation
import JWTKit
import Logging

extension RequestRouter {
    func administrative(_ exchange: Exchange) async throws -> ATM87Message {
        let request = exchange.request
        let tlv: ATM87TLV
        do {
            tlv = try ATM87TLV(parsing: request[48] ?? "")
        } catch {
            throw Refusal(.formatError, error.description)
        }
        guard let operation = tlv.operation else {
            throw Refusal(.formatError, "field 48 \(AdminTag.operation.rawValue): unknown or missing operation")
        }
        var logger = exchange.logger
        logger[metadataKey: LogKey.operation] = "\(operation.rawValue)"
        if operation == .login { return try await self.staffLogin(exchange, tlv: tlv) }
        // The ATM reports its own replenishment: its session MAC authenticates it, no staff token.
        if operation == .replenish { return try await self.replenish(exchange, tlv: tlv) }

        guard let token = request[62] else {
            throw Refusal(.notPermittedToTerminal, "field 62: sign on first", audit: "token.missing")
        }
        let claims = try await self.checkToken(token, exchange, panDigest: nil)
        if operation == .logout {
            self.tokens.end(claims)
            try await self.bank.endSession(
                id: claims.jti.value,
                of: claims.sub.value,
                role: claims.role,
                expires: claims.exp.value,
                terminal: exchange.terminal,
                ip: exchange.peer.ip
            )
            logger.info("session ended")
            return self.plainResponse(to: request, code: .approved, reason: nil)
        }
        // A staff session ended on another switch (or before a restart) is refused here too.
        if try await self.bank.sessionEnded(claims.jti.value) {
            throw Refusal(.securityViolation, TokenRefusal.ended.rawValue, audit: "token.refused")
        }
        guard let role = Role(rawValue: claims.role) else { throw Refusal(.securityViolation, "token role") }
        let actor = StaffMember(userID: claims.uid, userName: claims.sub.value, role: role)
        var out = ATM87TLV()
        var response: ATM87Message
        var answer: BankAnswer

        // Step-up: a one-time code in any staff 0600 is checked as at sign-on; a right one renews the
        // token's `fa` (the answer carries the new token) and makes this request's factor fresh.
        var renewedToken: String?
        var factorAt = claims.fa.map { Date(timeIntervalSince1970: Double($0)) }
        if let block = tlv[.oneTimeCode] {
            let code = try self.decipher(block, .code, exchange, audit: "factor.refused")
            let result = try await self.bank.stepUp(actor, oneTimeCode: code, device: exchange.terminal, ip: exchange.peer.ip)
            guard result.isApproved else {
                return self.plainResponse(
                    to: request,
                    code: result,
                    reason: result == .securityViolation ? "the code was used already" : "one-time code refused"
                )
            }
            let now = self.configuration.now()
            factorAt = now
            renewedToken = try self.tokens.reissue(claims, factorAt: now)
        }
        let factorIsFresh = factorAt.map { self.configuration.now().timeIntervalSince($0) <= Self.stepUpWindow } ?? false
        let fourEyes = FourEyesRequest(reason: tlv[.reason], factorIsFresh: factorIsFresh)

        func perform(_ operation: StaffOperation) async throws -> BankAnswer {
            try await self.bank.perform(operation, by: actor, key: exchange.key, ip: exchange.peer.ip, fourEyes: fourEyes)
        }
        func changeID() throws -> Int64 {
            guard let id = tlv[.change].flatMap({ Int64($0) }), id > 0 else {
                throw Refusal(.formatError, "field 48 \(AdminTag.change.rawValue): the change's number")
            }
            return id
        }
        func account() throws -> String {
            guard let account = request.trimmed(102), !account.isEmpty else {
                throw Refusal(.unknownFromAccount, "field 102: the account")
            }
            return account
        }
        func amount() throws -> Int64 {
            guard let amount = request.integer(4) else { throw Refusal(.invalidAmount, "field 4: the amount") }
            return Int64(amount)
        }
        func customer() throws -> Int64 {
            guard let customerID = tlv[.customerID].flatMap({ Int64($0) }) else {
                throw Refusal(.formatError, "field 48 \(AdminTag.customerID.rawValue)")
            }
            return customerID
        }
        func required(_ tag: AdminTag) throws -> String {
            guard let value = tlv[tag], !value.isEmpty else {
                throw Refusal(.formatError, "field 48 \(tag.rawValue) is missing")
            }
            return value
        }

        switch operation {
        case .login, .logout, .replenish:
            // Answered above, before the token check (LOGIN, REPLENISH) and the role (LOGOUT).
            throw Refusal(.invalidTransaction, "\(operation.rawValue) is answered before this point")
        case .createCustomer:
            return try await self.createCustomer(exchange, tlv: tlv, actor: actor)
        case .openAccount:
            let customerID = try customer()
            answer = try await perform(
                .openAccount(
                    customerID: customerID,
                    accountNo: try account(),
                    name: tlv[.accountName] ?? "Current account",
                    dailyLimit: tlv[.dailyAmountLimit].flatMap { Int64($0) },
                    dailyCount: tlv[.dailyCountLimit].flatMap { Int($0) }
                )
            )
            if let id = answer.createdID { out.append(.accountID, String(id)) }
        case .issueCard:
            let customerID = try customer()
            guard let pan = request[2], let keys = exchange.keys else {
                throw Refusal(.formatError, "field 2: the card")
            }
            answer = try await perform(
                .issueFirstCard(
                    customerID: customerID,
                    pan: pan,
                    expiry: try Self.expiryMonth(tlv[.expiry]),
                    accounts: [try account()]
                )
            )
            if let id = answer.createdID, let pin = answer.firstPIN, answer.code.isApproved {
                var generator = SystemRandomNumberGenerator()
                out.append(.cardID, String(id))
                out.append(
                    .pinBlock,
                    Hex.encode(try PINBlock.encipher(pin: pin, pan: pan, key: keys.pin, using: &generator))
                )
            }
        case .lockAccount: answer = try await perform(.lockAccount(try account()))
        case .unlockAccount: answer = try await perform(.unlockAccount(try account()))
        case .lockCard, .unlockCard:
            guard let pan = request[2] else { throw Refusal(.formatError, "field 2: the card") }
            answer = try await perform(operation == .lockCard ? .lockCard(pan: pan) : .unlockCard(pan: pan))
        case .unlockUser: answer = try await perform(.unlockUser(try required(.userName)))
        case .setRole:
            guard let newRole = Role(rawValue: try required(.role)) else {
                throw Refusal(.formatError, "field 48 \(AdminTag.role.rawValue)")
            }
            answer = try await perform(.changeRole(userName: try required(.userName), role: newRole))
        case .setLimits:
            let limit = try Self.number(tlv[.dailyAmountLimit], .dailyAmountLimit, in: 0...999_999_999_999).map(Int64.init)
            let count = try Self.number(tlv[.dailyCountLimit], .dailyCountLimit, in: 0...9_999)
            guard limit != nil || count != nil else {
                throw Refusal(.formatError, "LIMITS needs DL or DC")
            }
            answer = try await perform(.setLimits(account: try account(), dailyLimit: limit, dailyCount: count))
        case .createStaff:
            guard let staffRole = Role(rawValue: try required(.role)), staffRole != .customer else {
                throw Refusal(.formatError, "field 48 \(AdminTag.role.rawValue): teller, admin or compliance")
            }
            let password = try self.decipher(try required(.password), .password, exchange, audit: "staff.refused")
            answer = try await perform(
                .createStaff(
                    userName: try required(.userName),
                    fullName: try required(.customerName),
                    role: staffRole,
                    password: password
                )
            )
        case .enrol:
            answer = try await perform(.enrolStaff(userName: try required(.userName)))
        case .pendingChanges, .showChange:
            let single = operation == .showChange
            let limit = single ? 1 : try Self.number(tlv[.limit], .limit, in: 1...50) ?? 20
            let before = single ? try changeID() + 1 : try Self.number(tlv[.page], .page, in: 1...Int.max).map(Int64.init)
            answer = try await self.bank.listChanges(
                state: single ? "all" : (tlv[.state] ?? "pending"),
                beforeID: before,
                limit: limit,
                by: actor,
                device: exchange.terminal,
                ip: exchange.peer.ip
            )
            if single {
                guard let change = answer.changes.first, change.id == before! - 1 else {
                    answer = BankAnswer(code: .invalidTransaction, reason: "no such change")
                    break
                }
                out.append(.changeEntry, Self.changeEntry(change))
                out.append(.before, Self.clean(change.before))
                out.append(.after, Self.clean(change.after))
                out.append(.reason, Self.clean(change.reason))
                if let decision = change.decisionReason { out.append(.decisionReason, Self.clean(decision)) }
            } else {
                var last: Int64?
                for change in answer.changes {
                    let entry = Self.changeEntry(change)
                    guard out.encoded.utf8.count + ATM87TLV.cost(of: entry) + 30 <= 999 else { break }
                    out.append(.changeEntry, entry)
                    last = change.id
                }
                if let last, answer.changes.count == limit || last != answer.changes.last?.id {
                    out.append(.next, String(last))
                }
            }
        case .approveChange:
            answer = try await self.bank.approveChange(
                try changeID(),
                by: actor,
                device: exchange.terminal,
                ip: exchange.peer.ip,
                factorIsFresh: factorIsFresh
            )
            if let balance = answer.balance, answer.code.isApproved { out.append(.balance, Self.signedAmount(balance)) }
            if let auth = answer.authCode, answer.code.isApproved { out.append(.authorization, auth) }
        case .rejectChange:
            answer = try await self.bank.rejectChange(
                try changeID(),
                reason: tlv[.reason] ?? "",
                by: actor,
                device: exchange.terminal,
                ip: exchange.peer.ip,
                factorIsFresh: factorIsFresh
            )
        case .kyc:
            answer = try await perform(.viewKYC(customerID: try customer()))
            if let record = answer.kyc { Self.append(record, to: &out) }
        case .verify:
            guard let decision = tlv[.kycStatus].flatMap(KYCDecision.init(rawValue:)) else {
                throw Refusal(.formatError, "field 48 \(AdminTag.kycStatus.rawValue): verified or rejected")
            }
            answer = try await perform(
                .decideKYC(customerID: try customer(), decision: decision, reason: tlv[.reason] ?? "")
            )
        case .cases, .showCase, .assignCase, .escalateCase, .noteCase, .closeCase, .openCase:
            answer = try await self.caseDesk(operation, tlv: tlv, actor: actor, out: &out, perform: perform)
        case .balance:
            answer = try await perform(.balance(account: try account()))
            if let balance = answer.balance { out.append(.balance, Self.signedAmount(balance)) }
        case .statement:
            answer = try await perform(.miniStatement(account: try account()))
        case .deposit, .withdraw:
            let target = try account()
            let value = try amount()
            answer = try await perform(
                operation == .deposit
                    ? .deposit(account: target, amount: value) : .withdrawal(account: target, amount: value)
            )
            if let balance = answer.balance, answer.code.isApproved {
                out.append(.balance, Self.signedAmount(balance))
            }
            if let auth = answer.authCode, answer.code.isApproved { out.append(.authorization, auth) }
        case .listUsers:
            let skip = try Self.number(tlv[.page], .page, in: 0...Int(Int32.max)) ?? 0
            let limit = try Self.number(tlv[.limit], .limit, in: 1...50) ?? 20
            answer = try await perform(.listUsers(skip: skip, limit: limit))
            var shown = 0
            for user in answer.users {
                let entry = "\(user.id)|\(user.userName)|\(user.role)|\(user.locked ? "Y" : "N")|\(user.failedAttempts)"
                guard shown < limit, out.encoded.utf8.count + ATM87TLV.cost(of: entry) + 40 <= 999 else { break }
                out.append(.user, entry)
                shown += 1
            }
            let total = answer.userCount ?? 0
            out.append(.count, String(total))
            if skip + shown < total { out.append(.next, String(skip + shown)) }
        case .readAudit:
            let limit = try Self.number(tlv[.limit], .limit, in: 1...50) ?? 20
            let filter = AuditFilter(
                actor: tlv[.actor],
                action: tlv[.action],
                since: try tlv[.from].map(Self.timestamp),
                until: try tlv[.to].map(Self.timestamp),
                beforeID: try Self.number(tlv[.page], .page, in: 1...Int.max).map(Int64.init),
                limit: limit
            )
            answer = try await perform(.readAudit(filter))
            var last: Int64?
            var truncated = false
            for record in answer.audit {
                let entry = [
                    String(record.id), Self.timestampText(record.at), Self.clean(record.actor),
                    Self.clean(record.action),
                    record.outcome, Self.clean(record.device ?? ""),
                ].joined(separator: "|")
                guard out.encoded.utf8.count + ATM87TLV.cost(of: entry) + 30 <= 999 else {
                    truncated = true
                    break
                }
                out.append(.auditRow, entry)
                last = record.id
            }
            if let last, truncated || answer.audit.count == limit { out.append(.next, String(last)) }
        }
        if let id = answer.changeID, [.held, .duplicate].contains(answer.code) { out.append(.change, String(id)) }
        if let next = answer.nextFactor { out.append(.nextFactor, next.rawValue) }
        if let code = answer.enrolmentCode {
            guard let keys = exchange.keys else { throw Refusal(.securityViolation, "no session keys") }
            out.append(
                .enrolmentCode,
                try MessageBlock.encipher(
                    code,
                    purpose: .enrolment,
                    key: keys.pin,
                    terminal: exchange.terminal,
                    stan: exchange.stan,
                    transmitted: exchange.transmitted
                )
            )
        }
        response = self.plainResponse(to: request, code: answer.code, reason: answer.reason)
        if let renewedToken { try response.set(62, renewedToken) }
        if !answer.statement.isEmpty { try response.set(63, Self.statement(answer.statement)) }
        if let account = request[102] { try response.set(102, account) }
        if !out.elements.isEmpty { try response.set(48, out.encoded) }
        logger.info("administrative request answered", metadata: [LogKey.responseCode: "\(answer.code.rawValue)"])
        return response
    }

    /// LOGIN: UN, and PW (the password, AES-GCM under the session PIN key, see `PasswordBlock`).
    /// Approved: a staff token in field 62 and the role in RL.
    func staffLogin(_ exchange: Exchange, tlv: ATM87TLV) async throws -> ATM87Message {
        let request = exchange.request
        guard let userName = tlv[.userName], let enciphered = tlv[.password], let keys = exchange.keys else {
            throw Refusal(
                .formatError,
                "\(AdminOperation.login.rawValue) needs \(AdminTag.userName.rawValue) and \(AdminTag.password.rawValue)"
            )
        }
        // Staff sign on at a branch desk, never at an ATM.
        guard await self.sessions.kind(of: exchange.terminal) == "branch" else {
            throw Refusal(.notPermittedToTerminal, "staff sign on at branch terminals", audit: "login.refused")
        }
        let password: String
        do {
            password = try PasswordBlock.decipher(
                enciphered,
                key: keys.pin,
                terminal: exchange.terminal,
                stan: exchange.stan,
                transmitted: exchange.transmitted
            )
        } catch {
            throw Refusal(.securityViolation, "the password block does not decipher", audit: "login.refused")
        }
        let oneTimeCode = try tlv[.oneTimeCode].map { try self.decipher($0, .code, exchange, audit: "login.refused") }
        let enrolmentCode = try tlv[.enrolmentCode].map {
            try self.decipher($0, .enrolment, exchange, audit: "login.refused")
        }
        let login = try await self.bank.loginStaff(
            userName: userName,
            password: password,
            oneTimeCode: oneTimeCode,
            enrolmentCode: enrolmentCode,
            device: exchange.terminal,
            ip: exchange.peer.ip
        )
        var out = ATM87TLV()
        switch login {
        case .refused(let code):
            return self.plainResponse(
                to: request,
                code: code,
                reason: code == .securityViolation ? "the code was used already" : "sign-on refused"
            )
        case .needs(let next):
            out.append(.nextFactor, next.rawValue)
            var response = self.plainResponse(
                to: request,
                code: .additionalAuthenticationRequired,
                reason: next == .code ? "one-time code needed" : "enrolment code needed"
            )
            try response.set(48, out.encoded)
            return response
        case .enrolment(let secret, _, let recoveryCodes):
            func block(_ text: String, _ purpose: MessageBlock.Purpose) throws -> String {
                try MessageBlock.encipher(
                    text,
                    purpose: purpose,
                    key: keys.pin,
                    terminal: exchange.terminal,
                    stan: exchange.stan,
                    transmitted: exchange.transmitted
                )
            }
            out.append(.nextFactor, NextFactor.code.rawValue)
            out.append(.secret, try block(Base32.encode(secret), .secret))
            out.append(.recoveryCodes, try block(recoveryCodes.joined(separator: " "), .recovery))
            var response = self.plainResponse(
                to: request,
                code: .additionalAuthenticationRequired,
                reason: "confirm with a new code"
            )
            try response.set(48, out.encoded)
            exchange.logger.notice("second factor enrolment begun", metadata: [LogKey.user: "\(userName)"])
            return response
        case .approved(let staff):
            let (token, _) = try self.tokens.issue(
                subject: staff.userName,
                terminal: exchange.terminal,
                role: staff.role.rawValue,
                userID: staff.userID,
                lifetime: self.configuration.staffTokenLifetime,
                factorAt: self.configuration.now()
            )
            var response = self.plainResponse(to: request, code: .approved, reason: nil)
            try response.set(62, token)
            out.append(.role, staff.role.rawValue)
            try response.set(48, out.encoded)
            exchange.logger.notice(
                "staff signed on",
                metadata: [LogKey.user: "\(staff.userName)", LogKey.role: "\(staff.role.rawValue)"]
            )
            return response
        }
    }

    /// How long a second factor checked stays fresh for high-risk requests (step-up): 5 minutes.
    static let stepUpWindow: TimeInterval = 300

    /// A code block of this message (docs/protocol.md): 63 and audited when it does not decipher.
    func decipher(_ block: String, _ purpose: MessageBlock.Purpose, _ exchange: Exchange, audit: String) throws -> String {
        guard let keys = exchange.keys else { throw Refusal(.securityViolation, "no session keys", audit: audit) }
        do {
            return try MessageBlock.decipher(
                block,
                purpose: purpose,
                key: keys.pin,
                terminal: exchange.terminal,
                stan: exchange.stan,
                transmitted: exchange.transmitted
            )
        } catch {
            throw Refusal(.securityViolation, "the \(purpose.rawValue) block does not decipher", audit: audit)
        }
    }

    /// A `CG` entry: `id|state|operation|target|maker|requested|expires|checker|reason`.
    static func changeEntry(_ change: ChangeRecord) -> String {
        [
            String(change.id), change.state, change.operation, Self.clean(change.subject), Self.clean(change.maker),
            Self.timestampText(change.requestedAt), Self.timestampText(change.expiresAt),
            Self.clean(change.checker ?? ""), Self.clean(String(change.reason.prefix(60))),
        ].joined(separator: "|")
    }

    /// CREATE: a customer (UN user name, CN full name) with an account (field 102; NM its name, DL and
    /// DC its daily amount and count limits) and a card (field 2; EX expiry YYMM), made by the bank in
    /// one transaction. The bank chooses the first PIN, given once as a format 4 PIN block under the
    /// session PIN key in PB, for the branch terminal to print on a PIN mailer; it is never stored or
    /// logged in the clear.
    func createCustomer(_ exchange: Exchange, tlv: ATM87TLV, actor: StaffMember) async throws -> ATM87Message {
        let request = exchange.request
        guard let userName = tlv[.userName], let fullName = tlv[.customerName], let keys = exchange.keys else {
            throw Refusal(
                .formatError,
                "\(AdminOperation.createCustomer.rawValue) needs \(AdminTag.userName.rawValue) and "
                    + "\(AdminTag.customerName.rawValue)"
            )
        }
        let identity = try self.identity(tlv, exchange)
        let screened =
            await self.screening?.screen(
                legalName: fullName,
                dateOfBirth: identity.birthDate,
                nationality: identity.nationality
            ) ?? CustomerScreening.Outcome(result: .notScreened, notScreenedBecause: "screening not configured")
        let result = try await self.bank.createCustomer(
            NewCustomer(
                userName: userName,
                fullName: fullName,
                identity: identity,
                screening: screened.result,
                accountNo: request.trimmed(102).flatMap { $0.isEmpty ? nil : $0 },
                accountName: tlv[.accountName],
                dailyLimit: tlv[.dailyAmountLimit].flatMap { Int64($0) },
                dailyCount: tlv[.dailyCountLimit].flatMap { Int($0) },
                pan: request[2],
                expiry: try Self.expiryMonth(tlv[.expiry]),
                cardBIN: self.configuration.cardBIN
            ),
            by: actor,
            key: exchange.key,
            ip: exchange.peer.ip
        )
        let created: CreatedCustomer
        switch result {
        case .created(let made):
            created = made
        case .refused(.notPermitted(let code)):
            return self.plainResponse(to: request, code: code, reason: nil)
        case .refused(let refusal):
            if refusal == .noCardNumbersLeft {
                throw Refusal(refusal.code, "no card numbers left under BIN \(self.configuration.cardBIN)")
            }
            return self.plainResponse(to: request, code: refusal.code, reason: refusal.reason)
        }
        var generator = SystemRandomNumberGenerator()
        var out = ATM87TLV()
        out.append(.customerID, String(created.customerID))
        out.append(.accountID, String(created.accountID))
        out.append(.cardID, String(created.cardID))
        // A customer made at the desk starts pending (a compliance officer verifies); SC says what the
        // sanctions screening found, or why the customer was not screened.
        out.append(.kycStatus, KYCStatus.pending.rawValue)
        out.append(.screening, Self.screeningText(screened))
        out.append(
            .pinBlock,
            Hex.encode(
                try PINBlock.encipher(pin: created.firstPIN, pan: created.pan, key: keys.pin, using: &generator)
            )
        )
        var response = self.plainResponse(to: request, code: .approved, reason: nil)
        try response.set(2, created.pan)
        try response.set(102, created.accountNo)
        try response.set(48, out.encoded)
        exchange.logger.notice(
            "customer created with account and card",
            metadata: [LogKey.customerId: "\(created.customerID)", LogKey.screening: "\(screened.result.stored)"]
        )
        return response
    }

    /// CREATE's `SC`: `clear`, `hit|detail`, or `not_screened|why`.
    static func screeningText(_ outcome: CustomerScreening.Outcome) -> String {
        switch outcome.result {
        case .notScreened: return "not_screened" + (outcome.notScreenedBecause.map { "|\($0)" } ?? "")
        case .clear: return "clear"
        case .hit(let detail): return "hit|" + Self.clean(detail)
        }
    }

    /// CREATE's identity (know your customer): BD, NA, AD, IT, IC, IN (the document number, a code block
    /// of purpose `document`) and PP; 30 naming the first missing or malformed tag.
    func identity(_ tlv: ATM87TLV, _ exchange: Exchange) throws -> CustomerIdentity {
        func required(_ tag: AdminTag, _ what: String) throws -> String {
            guard let value = tlv[tag], !value.isEmpty else {
                throw Refusal(.formatError, "field 48 \(tag.rawValue): \(what)")
            }
            return value
        }
        guard let born = CustomerIdentity.date(yyyymmdd: try required(.birthDate, "date of birth YYYYMMDD")) else {
            throw Refusal(.formatError, "field 48 \(AdminTag.birthDate.rawValue): date of birth YYYYMMDD")
        }
        guard let type = DocumentType(rawValue: try required(.documentType, "passport, id_card or driving_licence"))
        else {
            throw Refusal(.formatError, "field 48 \(AdminTag.documentType.rawValue): passport, id_card or driving_licence")
        }
        let exposed = tlv[.politicallyExposed] ?? "N"
        guard exposed == "Y" || exposed == "N" else {
            throw Refusal(.formatError, "field 48 \(AdminTag.politicallyExposed.rawValue): Y or N")
        }
        let number = try self.decipher(
            try required(.documentNumber, "the document number block"),
            .document,
            exchange,
            audit: "customer.refused"
        )
        return CustomerIdentity(
            dateOfBirth: born,
            nationality: try required(.nationality, "nationality, ISO 3166 alpha-2"),
            address: try required(.address, "address"),
            documentType: type,
            documentCountry: try required(.documentCountry, "issuing country, ISO 3166 alpha-2"),
            documentNumber: number,
            politicallyExposed: exposed == "Y"
        )
    }

    /// KYC's answer: the record's elements (no document number: only `DM`, type, country and last 4).
    static func append(_ record: KYCRecord, to out: inout ATM87TLV) {
        out.append(.customerID, String(record.customerID))
        out.append(.userName, record.userName)
        out.append(.customerName, Self.clean(record.identity.legalName))
        out.append(.birthDate, record.identity.dateOfBirth.replacingOccurrences(of: "-", with: ""))
        out.append(.nationality, record.identity.nationality)
        out.append(.address, Self.clean(record.identity.address))
        out.append(.maskedDocument, record.maskedDocument)
        out.append(.politicallyExposed, record.identity.politicallyExposed ? "Y" : "N")
        out.append(.kycStatus, record.status.rawValue)
        out.append(.riskRating, record.rating.rawValue)
        out.append(
            .screening,
            record.screening.stored + (record.screening.detail.map { "|" + Self.clean(String($0.prefix(80))) } ?? "")
        )
        if let due = record.reviewDue { out.append(.reviewDue, due.replacingOccurrences(of: "-", with: "")) }
        if let by = record.decidedBy {
            out.append(.decidedBy, Self.clean(by) + (record.decidedAt.map { "|" + Self.timestampText($0) } ?? ""))
        }
        if let why = record.decisionReason { out.append(.decisionReason, Self.clean(String(why.prefix(80)))) }
        // The reasons last, as many as field 48 (999 characters) holds.
        for reason in record.reasons {
            let entry = Self.clean(reason)
            guard out.encoded.utf8.count + ATM87TLV.cost(of: entry) <= 999 else { break }
            out.append(.riskReason, entry)
        }
    }

    // MARK: Formats

    /// A TLV number (digits only) within `range`, nil when the tag is absent; otherwise 30.
    static func number(_ text: String?, _ tag: AdminTag, in range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = Int(text), range.contains(value)
        else {
            throw Refusal(.formatError, "field 48 \(tag.rawValue): \(range.lowerBound)-\(range.upperBound)")
        }
        return value
    }

    static func signedAmount(_ value: Int64) -> String { SignedAmount.encode(value) }

    /// YYYYMMDDhhmmss, UTC.
    static func timestamp(_ text: String) throws -> Date {
        let digits = Array(text.utf8)
        guard digits.count == 14, digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw Refusal(.formatError, "a time is YYYYMMDDhhmmss")
        }
        func part(_ range: Range<Int>) -> Int { Int(String(decoding: digits[range], as: UTF8.self))! }
        var components = DateComponents()
        components.year = part(0..<4)
        components.month = part(4..<6)
        components.day = part(6..<8)
        components.hour = part(8..<10)
        components.minute = part(10..<12)
        components.second = part(12..<14)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { throw Refusal(.formatError, "not a date") }
        return date
    }

    static func timestampText(_ date: Date) -> String {
        let day = CivilDate(unixSeconds: Int(date.timeIntervalSince1970))
        return Self.digits(Int64(day.year), 4) + Self.digits(Int64(day.month), 2) + Self.digits(Int64(day.day), 2)
            + Self.digits(Int64(day.hour), 2) + Self.digits(Int64(day.minute), 2) + Self.digits(Int64(day.second), 2)
    }

    /// EX, a card's expiry month (YYMM), nil when absent; otherwise 30.
    static func expiryMonth(_ text: String?) throws -> ExpiryMonth? {
        guard let text else { return nil }
        guard let month = ExpiryMonth(yymm: text) else {
            throw Refusal(.formatError, "\(AdminTag.expiry.rawValue) is YYMM")
        }
        return month
    }

    /// A value inside a '|'-separated entry: no separators, printable ASCII.
    static func clean(_ text: String) -> String {
        String(
            text.unicodeScalars.map {
                $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F && $0 != "|" ? Character($0) : "_"
            }
        )
    }
}

import ATM87
import CashpointBank
import CashpointSecurity
import Foundation
import JWTKit
import Logging

extension RequestRouter {
    /// A 0200. The card is proved by a PIN block (field 52, ISO 9564 format 4 under the session PIN
    /// key: bcrypt runs, and an approved answer carries a new card-session token in field 62) or by
    /// that token (field 62; no bcrypt). A PIN change (92) always needs the old PIN block (52) and the
    /// new one (125).
    func financial(_ exchange: Exchange) async throws -> ATM87Message {
        let request = exchange.request
        guard let pan = Self.pan(of: request) else {
            throw Refusal(.formatError, "no PAN in field 2 or 35")
        }
        // A number that fails the Luhn check is no card: refused before any database work.
        guard Luhn.isValidPAN(pan) else { throw Refusal(.unknownCard, "the PAN fails the Luhn check") }
        guard let processing = request[3], let amount = request.integer(4).map(Int64.init) else {
            throw Refusal(.formatError, "fields 3 and 4")
        }
        let type: ProcessingCode.TransactionType
        do {
            type = try ProcessingCode(field: processing).transaction
        } catch .malformed {
            throw Refusal(.formatError, "field 3 is six digits")
        } catch {
            throw Refusal(.invalidTransaction, "processing code \(processing)")
        }
        // No exchange rates: a request in any currency but the bank's, which every account is held in,
        // is refused rather than posted as if it were the account's.
        let currency = try await self.bankCurrency()
        guard request[49] == currency else {
            throw Refusal(
                .invalidTransaction,
                "currency \(request[49] ?? "none") is not the account's \(currency)",
                audit: "currency.refused"
            )
        }
        let card = self.bank.present(pan: pan)
        var issuedToken: String?
        var session: String?
        let holder: CardHolder

        if let block = request.binary(52) {
            let pin = try self.decipherPIN(block, pan: pan, exchange)
            let authentication = try await self.bank.authenticateCard(
                card,
                pin: pin,
                terminal: exchange.terminal,
                ip: exchange.peer.ip
            )
            switch authentication {
            case .refused(let code, let capture):
                exchange.logger.notice(
                    "card refused",
                    metadata: [LogKey.responseCode: "\(code.rawValue)", LogKey.capture: "\(capture)"]
                )
                var response = self.plainResponse(to: request, code: code, reason: capture ? "capture card" : nil)
                if capture { try response.set(44, "CAPTURE CARD") }
                try await self.setReference(&response, transactionID: nil)
                return response
            case .approved(let approved):
                holder = approved
                // An approved PIN opens a card session, whatever the transaction (a PIN change too).
                issuedToken = try self.tokens.issue(
                    subject: approved.actorName,
                    terminal: exchange.terminal,
                    role: Role.customer.rawValue,
                    userID: approved.userID,
                    lifetime: self.configuration.cardTokenLifetime,
                    cardID: approved.cardID,
                    panDigest: card.tokenDigest,
                    accounts: approved.accounts
                ).token
            }
        } else if let token = request[62] {
            guard type != .pinChange else { throw Refusal(.formatError, "a PIN change needs the old PIN block") }
            let claims = try await self.checkToken(token, exchange, panDigest: card.tokenDigest)
            guard claims.role == Role.customer.rawValue, let cardID = claims.cid else {
                throw Refusal(
                    .notPermittedToTerminal,
                    "a staff token cannot make card transactions",
                    audit: "token.refused"
                )
            }
            // The card may have been blocked, its customer locked, or the session ended (by any switch)
            // since the token was issued: each takes effect at once, not when the token expires. The
            // database checks them in the same call that answers the request (`session`).
            session = claims.jti.value
            holder = CardHolder(
                cardID: cardID,
                userID: claims.uid,
                maskedPAN: card.maskedPAN,
                accounts: claims.acc ?? []
            )
        } else {
            throw Refusal(.formatError, "field 52 (PIN block) or 62 (token) is needed")
        }

        let from = request.trimmed(102)
        let to = request.trimmed(103)
        let operation: CardOperation
        switch type {
        case .withdrawal: operation = .withdrawal(amount: amount, account: from)
        case .deposit: operation = .deposit(amount: amount, account: to ?? from)
        case .balanceInquiry: operation = .balance(account: from)
        case .miniStatement: operation = .miniStatement(account: from)
        case .transfer:
            guard let to else { throw Refusal(.unknownToAccount, "a transfer names its account in field 103") }
            operation = .transfer(amount: amount, from: from, to: to)
        case .pinChange:
            guard let newBlock = request.binary(125) else {
                throw Refusal(.formatError, "a PIN change needs the new PIN block in field 125")
            }
            operation = .pinChange(newPIN: try self.decipherPIN(newBlock, pan: pan, exchange))
        }
        let answer = try await self.bank.perform(
            operation,
            for: holder,
            card: card,
            key: exchange.key,
            ip: exchange.peer.ip,
            session: session
        )
        var response = self.plainResponse(to: request, code: answer.code, reason: answer.reason)
        if answer.capture { try response.set(44, "CAPTURE CARD") }
        try await self.setReference(&response, transactionID: answer.transactionID)
        // Every approval carries an authorization code: a posting's is stored with it (a repeat gets
        // the same); a balance, statement or PIN change gets a fresh one.
        if answer.code.isApproved { try response.set(38, answer.authCode ?? Self.authorizationCode()) }
        if let balance = answer.balance, answer.code.isApproved {
            try response.set(54, Self.additionalAmount(balance, currency: currency))
        }
        if !answer.statement.isEmpty { try response.set(63, Self.statement(answer.statement)) }
        if let issuedToken {
            try response.set(62, issuedToken)
            // The card session opens here: the terminal learns which accounts it may offer.
            if answer.code.isApproved, !holder.accounts.isEmpty {
                try response.set(48, CardAccounts(holder.accounts).field)
            }
        }
        if answer.replayed { exchange.logger.info("repeat of an answered request: the stored answer, nothing posted") }
        return response
    }

    /// A 0420/0421: the original named by field 90 (MTI, STAN, transmission time) is reversed by the
    /// amount not dispensed (field 95's actual amount; no field 95: all of it).
    func reversal(_ exchange: Exchange) async throws -> ATM87Message {
        let request = exchange.request
        guard let field90 = request[90], let original = try? OriginalDataElements(field: field90),
            let amount = request.integer(4).map(Int64.init)
        else {
            throw Refusal(.formatError, "field 90 or 4")
        }
        let originalSTAN = original.stan
        let originalTransmitted = original.transmissionTime
        var dispensed: Int64?
        if let replacement = request[95] {
            guard let amounts = try? ReplacementAmounts(field: replacement) else {
                throw Refusal(.formatError, "field 95")
            }
            dispensed = amounts.actual
        }
        // The bank's names of the kinds a reversal may undo (those that move money).
        let kinds: [ProcessingCode.TransactionType: PostingKind] = [
            .withdrawal: .withdrawal, .deposit: .deposit, .transfer: .transfer,
        ]
        let kind = request[3].flatMap { ProcessingCode.TransactionType(rawValue: String($0.prefix(2))) }
            .flatMap { kinds[$0] }
        let result = try await self.bank.reverse(
            key: exchange.key,
            originalSTAN: originalSTAN,
            originalTransmitted: originalTransmitted,
            kind: kind,
            originalAmount: amount,
            card: Self.pan(of: request).map { self.bank.present(pan: $0) },
            dispensed: dispensed,
            ip: exchange.peer.ip
        )
        // An advice that disagrees with its original in field 2, 3 or 4 is refused (12), audited as
        // `reversal.refused`, and moves nothing.
        if let mismatch = result.mismatch {
            throw Refusal(result.code, mismatch.description, audit: "reversal.refused")
        }
        exchange.logger.notice(
            "reversal",
            metadata: [
                LogKey.originalStan: "\(originalSTAN)", LogKey.reversedAmount: "\(result.reversedAmount)",
                LogKey.replayed: "\(result.replayed)",
            ]
        )
        var response = self.plainResponse(to: request, code: result.code, reason: nil)
        try await self.setReference(&response, transactionID: result.transactionID)
        return response
    }

    // MARK: Helpers

    /// Field 2, or the PAN in front of the separator of track 2 (field 35).
    static func pan(of request: ATM87Message) -> String? {
        if let pan = request[2] { return pan }
        guard let track = request[35] else { return nil }
        let digits = track.prefix { $0 != "=" && $0 != "D" }
        return digits.isEmpty ? nil : String(digits)
    }

    func decipherPIN(_ block: [UInt8], pan: String, _ exchange: Exchange) throws -> String {
        guard let keys = exchange.keys else { throw Refusal(.notPermittedToTerminal, "no session") }
        do {
            return try PINBlock.decipher(block, pan: pan, key: keys.pin)
        } catch {
            throw Refusal(
                .securityViolation,
                "the PIN block does not decipher under the session PIN key",
                audit: "pinblock.refused"
            )
        }
    }

    /// A token for this terminal (and this card, when a PAN digest is given), or a refusal: 63, audited.
    func checkToken(_ token: String, _ exchange: Exchange, panDigest: String?) async throws -> SessionClaims {
        switch self.tokens.check(token, terminal: exchange.terminal, panDigest: panDigest) {
        case .success(let claims): return claims
        case .failure(let refusal):
            throw Refusal(.securityViolation, refusal.rawValue, audit: "token.refused")
        }
    }

    /// A fresh authorization code (field 38): 6 uppercase hexadecimal characters from the system's CSPRNG.
    /// One draw of 64 bits gives all six (24 bits); a draw per character was six `getrandom` calls.
    static func authorizationCode() -> String {
        var generator = SystemRandomNumberGenerator()
        return Self.authorizationCode(bits: generator.next())
    }

    /// The six hexadecimal characters of the low 24 bits of `bits`, lowest nibble first.
    static func authorizationCode(bits: UInt64) -> String {
        String(unsafeUninitializedCapacity: 6) { code in
            for index in 0..<6 { code[index] = Self.hexDigits[Int(bits >> (4 * UInt64(index)) & 0xF)] }
            return 6
        }
    }

    static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Field 54: the ledger balance.
    static func additionalAmount(_ balance: Int64, currency: String) -> String {
        AdditionalAmount(.ledgerBalance, amount: balance, currency: currency).field
    }

    /// Field 63: the mini-statement, newest first.
    static func statement(_ lines: [StatementLine]) -> String {
        MiniStatementLine.encode(
            lines.map {
                MiniStatementLine(
                    unixSeconds: Int($0.at.timeIntervalSince1970),
                    kind: $0.kind,
                    amount: $0.amount,
                    balanceAfter: $0.balanceAfter
                )
            }
        )
    }

    static func digits(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

import ATM87
import CashpointBank
import Logging

extension RequestRouter {
    /// A 0500: the terminal's figures since its last cutover (fields 74-77, 86-89, 97; transfers in field
    /// 48 `TN` / `TA`). The 0510 carries the switch's figures for the same period in the same fields, the
    /// ledger's cash for the terminal in field 48 `CB`, 00 when every figure agrees and 95 when one
    /// differs (field 44 names the first, by how much the switch's differs). The period is closed either
    /// way; a repeat gets the stored answer.
    func reconciliation(_ exchange: Exchange) async throws -> ATM87Message {
        let request = exchange.request
        let totals: ReconciliationTotals
        do {
            totals = try ReconciliationTotals(message: request)
        } catch {
            throw Refusal(.formatError, error.description)
        }
        guard let settlementDate = request[15] else { throw Refusal(.formatError, "field 15") }
        let currency = try await self.bankCurrency()
        guard request[50] == currency else {
            throw Refusal(
                .invalidTransaction,
                "currency \(request[50] ?? "none") is not the bank's \(currency)",
                audit: "currency.refused"
            )
        }
        let result = try await self.bank.reconcile(
            key: exchange.key,
            settlementDate: settlementDate,
            totals: totals,
            ip: exchange.peer.ip
        )
        var response = self.plainResponse(to: request, code: result.code, reason: nil)
        if let figures = result.switchTotals {
            try figures.write(
                into: &response,
                extra: result.cashHeld.map { [(.cashHeld, SignedAmount.encode($0))] } ?? []
            )
            if let difference = totals.firstDifference(to: figures) {
                try response.set(44, Self.shortReason("\(difference.name): switch \(Self.signed(difference.by))"))
            }
        } else if !result.code.isApproved {
            try response.set(44, Self.shortReason("STAN reused: other totals"))
        }
        exchange.logger.notice(
            "reconciliation",
            metadata: [
                LogKey.responseCode: "\(result.code.rawValue)", LogKey.replayed: "\(result.replayed)",
                LogKey.cutover: "\(result.cutoverID.map(String.init) ?? "-")",
            ]
        )
        return response
    }

    /// A 0600 REPLENISH, sent by an ATM for itself (its session MAC is the authentication; no staff
    /// token): `UL` cash taken out and `LD` cash put in (minor units), posted between the ATM's own cash
    /// account and the vault. The 0610 carries `CB`, the cash the ledger says the ATM holds afterwards.
    func replenish(_ exchange: Exchange, tlv: ATM87TLV) async throws -> ATM87Message {
        guard self.sessions.kind(of: exchange.terminal) == "atm" else {
            throw Refusal(.notPermittedToTerminal, "only an ATM replenishes", audit: "terminal.replenish")
        }
        guard tlv[.unloaded] != nil || tlv[.loaded] != nil else {
            throw Refusal(.formatError, "REPLENISH needs UL or LD")
        }
        let unloaded = try Self.minorUnits(tlv[.unloaded], .unloaded) ?? 0
        let loaded = try Self.minorUnits(tlv[.loaded], .loaded) ?? 0
        let result = try await self.bank.replenish(
            key: exchange.key,
            unloaded: unloaded,
            loaded: loaded,
            ip: exchange.peer.ip
        )
        var response = self.plainResponse(to: exchange.request, code: result.code, reason: nil)
        if result.code.isApproved, let cash = result.cashHeld {
            try response.set(48, ATM87TLV([.init(AdminTag.cashHeld.rawValue, SignedAmount.encode(cash))]).encoded)
        }
        exchange.logger.notice(
            "replenishment",
            metadata: [
                LogKey.responseCode: "\(result.code.rawValue)", LogKey.replayed: "\(result.replayed)",
                LogKey.unloaded: "\(unloaded)", LogKey.loaded: "\(loaded)",
            ]
        )
        return response
    }

    /// An amount in minor units in a TLV element: 1-12 digits; nil when absent; otherwise 30.
    static func minorUnits(_ text: String?, _ tag: AdminTag) throws -> Int64? {
        guard let text else { return nil }
        guard (1...12).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let value = Int64(text)
        else {
            throw Refusal(.formatError, "field 48 \(tag.rawValue): 1-12 digits")
        }
        return value
    }

    static func signed(_ value: Int64) -> String { value < 0 ? "\(value)" : "+\(value)" }
}

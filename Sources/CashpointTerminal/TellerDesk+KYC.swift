import ATM87
import Foundation

/// The identity CREATE collects (know your customer): the clear elements and the document number,
/// which travels only as a code block.
struct DeskIdentity {
    var elements: [(AdminTag, String)]
    var documentNumber: String
}

extension TellerDesk {
    /// The identity questions of a new customer; nil (and said so) when one is left unanswered or
    /// malformed, before anything is sent.
    func askIdentity() async -> DeskIdentity? {
        func ask(_ prompt: String, _ valid: (String) -> Bool, _ help: String) async -> String? {
            guard let typed = await self.io.ask(prompt), let value = Self.entered(typed), valid(value) else {
                self.io.show("Not created: \(help)")
                return nil
            }
            return value
        }
        let country = { (text: String) in text.utf8.count == 2 && text.utf8.allSatisfy { (0x41...0x5A).contains($0) } }
        guard
            let born = await ask(
                "Date of birth (YYYYMMDD):",
                { $0.utf8.count == 8 && $0.allSatisfy(\.isNumber) },
                "the date of birth is YYYYMMDD."
            ),
            let nationality = await ask("Nationality (2 letters, e.g. GB):", { country($0.uppercased()) }, "a nationality is 2 letters."),
            let address = await ask("Address:", { $0.count <= 160 && !$0.contains("|") }, "an address is 1-160 characters."),
            let type = await ask(
                "Identity document (passport, id_card or driving_licence):",
                { ["passport", "id_card", "driving_licence"].contains($0.lowercased()) },
                "the document is passport, id_card or driving_licence."
            ),
            let issued = await ask("Issuing country (2 letters):", { country($0.uppercased()) }, "a country is 2 letters."),
            let number = await self.io.askSecret("Document number:").flatMap(Self.entered),
            let exposed = await ask(
                "Politically exposed person (Y/N):",
                { ["Y", "N"].contains($0.uppercased()) },
                "answer Y or N."
            )
        else { return nil }
        return DeskIdentity(
            elements: [
                (.birthDate, born), (.nationality, nationality.uppercased()), (.address, address),
                (.documentType, type.lowercased()), (.documentCountry, issued.uppercased()),
                (.politicallyExposed, exposed.uppercased()),
            ],
            documentNumber: number
        )
    }

    /// KYC (a compliance officer's or an administrator's): a customer's KYC record.
    func kycRecord() async throws {
        guard let typed = await self.io.ask("Customer number:"), let customer = Self.entered(typed) else { return }
        let answer = try await self.perform(DeskRequest(.kyc, [(.customerID, customer)]))
        self.report(answer) { tlv in Self.kycText(tlv) }
    }

    /// VERIFY (a compliance officer's): verify or reject a customer, with a reason and a fresh code;
    /// verifying a high-risk customer is held for a second compliance officer.
    func verifyCustomer() async throws {
        guard let typed = await self.io.ask("Customer number:"), let customer = Self.entered(typed),
            let choice = await self.io.ask("Verify (V) or reject (R):")
        else { return }
        let decision: String
        switch choice.trimmingCharacters(in: .whitespaces).uppercased() {
        case "V": decision = "verified"
        case "R": decision = "rejected"
        default:
            self.io.show("Type V to verify or R to reject; nothing was decided.")
            return
        }
        guard let reason = await self.askReason() else { return }
        let answer = try await self.perform(
            DeskRequest(.verify, [(.customerID, customer), (.kycStatus, decision)], reason: reason)
        )
        self.report(answer) { _ in "Customer \(customer) \(decision)." }
    }

    /// A KYC record in words.
    static func kycText(_ tlv: ATM87TLV) -> String {
        let date = { (text: String?) -> String in
            guard let text, text.count == 8 else { return text ?? "?" }
            return "\(text.prefix(4))-\(text.dropFirst(4).prefix(2))-\(text.suffix(2))"
        }
        var lines = [
            "Customer \(tlv[.customerID] ?? "?") (\(tlv[.userName] ?? "?")): \(tlv[.customerName] ?? "?")",
            "Born \(date(tlv[.birthDate])), nationality \(tlv[.nationality] ?? "?")",
            "Address: \(tlv[.address] ?? "?")",
            "Document: \(tlv[.maskedDocument] ?? "?")" + (tlv[.politicallyExposed] == "Y" ? "; politically exposed" : ""),
            "KYC \(tlv[.kycStatus] ?? "?")" + (tlv[.reviewDue].map { ", review due \(date($0))" } ?? ""),
            "Risk \(tlv[.riskRating] ?? "?"): " + tlv.all(AdminTag.riskReason.rawValue).joined(separator: "; "),
            "Screening: \(tlv[.screening] ?? "?")",
        ]
        if let by = tlv[.decidedBy] {
            lines.append("Last decided by \(by)" + (tlv[.decisionReason].map { ": \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}

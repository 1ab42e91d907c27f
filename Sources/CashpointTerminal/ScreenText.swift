import ATM87
import Foundation

/// Where the teller desk reads keys and shows screens: the console, or a script in tests.
public protocol KeypadIO: AnyObject {
    func show(_ text: String)
    /// A line typed at the prompt; nil when input has ended.
    func ask(_ prompt: String) async -> String?
    /// Like `ask`, but the keys are not shown (a PIN, a password): each is echoed as `*`.
    func askSecret(_ prompt: String) async -> String?
}

/// What a customer reads for each answer: the words an ATM shows, never a bare code.
public enum ScreenText {
    public static func refusal(_ code: String?) -> String {
        switch code {
        case "1K": return "We need to verify your identity first. Please visit a branch with your ID."
        case "12": return "This transaction is not possible."
        case "13": return "That amount is not possible."
        case "14": return "This card is not recognised."
        case "30": return "The request could not be read. Please try again."
        case "51": return "Insufficient funds."
        case "54": return "This card has expired."
        case "55": return "Incorrect PIN."
        case "57": return "This transaction is not allowed with this card."
        case "58": return "This transaction is not allowed at this terminal."
        case "59": return "This withdrawal cannot be made now. Please contact your bank."
        case "61": return "This exceeds your daily withdrawal limit."
        case "62": return "This card or account is restricted. Please contact your bank."
        case "63": return "Security check failed. Please insert your card again."
        case "65": return "You have reached today's number of withdrawals."
        case "75": return "Too many incorrect PINs. Your card has been retained. Please contact your bank."
        case "76": return "That account is not available."
        case "77": return "The account to pay into is not available."
        case "91": return "Service is temporarily unavailable. Please try later."
        case "68": return "Your transaction took too long and was cancelled. Your account has not been charged."
        case "94": return "This request was already made."
        default: return "The transaction could not be completed (code \(code ?? "none"))."
        }
    }

    /// Minor units as `1,234.56`.
    public static func money(_ minor: Int64) -> String {
        let sign = minor < 0 ? "-" : ""
        let value = abs(minor)
        var whole = String(value / 100)
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole = String(whole.dropLast(3))
        }
        let cents = value % 100
        return "\(sign)\(whole)\(grouped).\(cents < 10 ? "0" : "")\(cents)"
    }

    /// `50`, `50.5`, `50.05` → minor units; nil for anything else.
    public static func parseAmount(_ text: String) -> Int64? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = Int64(parts[0]), whole >= 0, whole < 10_000_000 else {
            return nil
        }
        var cents: Int64 = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy(\.isNumber), let fraction = Int64(parts[1])
            else {
                return nil
            }
            cents = parts[1].count == 1 ? fraction * 10 : fraction
        }
        return whole * 100 + cents
    }

    /// The ledger balance of field 54, in minor units.
    public static func balance(_ field54: String?) -> Int64? {
        guard let field54, let amounts = try? AdditionalAmount.decode(field54) else { return nil }
        return amounts.first { $0.amountType == .ledgerBalance }?.amount
    }
}

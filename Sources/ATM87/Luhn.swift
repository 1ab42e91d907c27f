/// The Luhn (mod 10) check of ISO/IEC 7812-1, which every card number (PAN) passes: from the
/// rightmost digit, every second digit is doubled (9 subtracted when that gives more than 9), and the
/// sum of all digits is a multiple of 10.
public enum Luhn {
    /// Why a string is not a card number.
    public enum PANProblem: Sendable, Hashable {
        /// Not 12 to 19 ASCII digits.
        case notTwelveToNineteenDigits
        /// The right length, but the check digit is wrong.
        case checkDigit
    }

    /// Whether `number` is 12-19 ASCII digits that pass the Luhn check.
    public static func isValidPAN(_ number: String) -> Bool { self.problem(withPAN: number) == nil }

    /// What is wrong with `number` as a card number, or nil when it is one.
    public static func problem(withPAN number: String) -> PANProblem? {
        let digits = Array(number.utf8)
        guard (12...19).contains(digits.count), digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else {
            return .notTwelveToNineteenDigits
        }
        return self.sum(of: digits, doublingFirst: false) % 10 == 0 ? nil : .checkDigit
    }

    /// The check digit that makes `partial` (digits only, without its check digit) Luhn-valid;
    /// nil when `partial` is empty or holds anything but ASCII digits.
    public static func checkDigit(for partial: String) -> Character? {
        let digits = Array(partial.utf8)
        guard !digits.isEmpty, digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
        // The check digit will be the rightmost, so the rightmost digit of `partial` is doubled.
        let digit = (10 - self.sum(of: digits, doublingFirst: true) % 10) % 10
        return Character(Unicode.Scalar(UInt8(ascii: "0") + UInt8(digit)))
    }

    /// The Luhn sum, walking from the right; `doublingFirst` doubles the rightmost digit.
    static func sum(of digits: [UInt8], doublingFirst: Bool) -> Int {
        var total = 0
        var double = doublingFirst
        for byte in digits.reversed() {
            var value = Int(byte - UInt8(ascii: "0"))
            if double {
                value *= 2
                if value > 9 { value -= 9 }
            }
            total += value
            double.toggle()
        }
        return total
    }
}

import ATM87
import Testing

@Suite("masking printer")
struct PrettyPrinterTests {
    static let secrets = [
        "4761739001010119", "3A6C29F05BE1D47C8892AB10FE4C6D21", "9C41E07A55D2B318",
        "4761739001010119=25121011000012300000", "eyJhbGciOiJIUzI1NiJ9", "2512",
    ]

    func loaded() throws -> ATM87Message {
        var message = try typicalWithdrawal()
        message.remove(2)
        try message.set(2, "4761739001010119")
        try message.set(35, "4761739001010119=25121011000012300000")
        try message.set(14, "2512")
        try message.set(62, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
        return message
    }

    @Test("PAN shows first 6 and last 4; PIN block, MAC, track 2, expiry and token never show")
    func masked() throws {
        let message = try self.loaded()
        let renderings = [
            ATM87PrettyPrinter.format(message), ATM87PrettyPrinter.oneLine(message), "\(message)",
            String(describing: message), String(reflecting: message), dumped(message),
        ]
        for text in renderings {
            #expect(text.contains("476173******0119"), "\(text)")
            for secret in Self.secrets {
                #expect(!text.contains(secret), "\(secret) leaked in \(text)")
            }
        }
        #expect(ATM87PrettyPrinter.format(message).contains("<redacted 16 bytes>"))
    }

    @Test(
        "the masking rule (docs/security.md): 13 or more show 6 and 4, 5 to 12 their last 4, 4 or fewer nothing",
        arguments: [
            ("4761739001010119", "476173******0119"), ("4761739001011", "476173***1011"),
            ("4761739001010119123", "476173*********9123"), ("123456789012", "********9012"), ("12345", "*2345"),
            ("1234", "****"), ("123", "***"), ("", ""),
            // Not ASCII (a PAN never is, but the printer masks whatever it is given, by characters).
            ("٤٧٦١٧٣٩٠٠١٠١٠١١٩", "٤٧٦١٧٣******٠١١٩"),
        ]
    )
    func panMask(pan: String, shown: String) {
        #expect(ATM87PrettyPrinter.maskPAN(pan) == shown)
    }

    func dumped(_ message: ATM87Message) -> String {
        var text = ""
        dump(message, to: &text)
        return text
    }
}

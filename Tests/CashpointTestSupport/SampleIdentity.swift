public import CashpointBank
import Foundation

extension CustomerIdentity {
    /// An invented identity for tests: nothing on the country list, not politically exposed (low risk).
    public static let sample = CustomerIdentity(
        dateOfBirth: DateComponents(year: 1990, month: 1, day: 31),
        nationality: "GB",
        address: "1 Test Street, Exampleton",
        documentType: .passport,
        documentCountry: "GB",
        documentNumber: "TEST12345",
        politicallyExposed: false
    )

    /// The sample, politically exposed (high risk: verifying them is four eyes).
    public static let exposed: CustomerIdentity = {
        var identity = CustomerIdentity.sample
        identity.politicallyExposed = true
        identity.documentNumber = "PEP998877"
        return identity
    }()
}

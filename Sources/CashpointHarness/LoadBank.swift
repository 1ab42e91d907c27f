import ATM87
import CashpointStore
import Crypto
public import Foundation

/// The bank a load runs against: `terminals` ATMs (LOAD0001, LOAD0002, ...), each with a TEST master
/// key derived from its id, and as many customers, each with a current and a savings account and one
/// card for both. Terminal `i` uses customer `i`'s card, so terminals do not queue for each other's
/// accounts, as a bank's ATMs mostly do not.
///
/// The money is there for any run: a large opening balance and no practical daily limit, so the load
/// measures postings, not refusals (51 insufficient funds, 61 and 65 daily limits). Written in the
/// format of `fixtures/bank.json`, for `atm-switch seed`.
public enum LoadBank {
    /// The opening balance of every account, in minor units (100 million in the bank's currency).
    public static let opening: Int64 = 10_000_000_000
    /// No daily limit a load reaches: 10 billion in minor units, 2 billion withdrawals.
    public static let dailyLimit: Int64 = 1_000_000_000_000
    public static let dailyCount = 2_000_000_000

    public static func terminal(_ number: Int) -> String { "LOAD" + Self.padded(number, 4) }

    /// The terminal's TEST master key: SHA-256 of a fixed text and its id, so a load needs only the
    /// fixture to sign the terminal on.
    public static func masterKeyHex(terminal: String) -> String {
        HexDump.hex(Array(SHA256.hash(data: Array("cashpoint load test master key \(terminal)".utf8))))
    }

    /// Customer `number`'s card: 16 digits, Luhn-valid, in a range no demo card uses.
    public static func pan(_ number: Int) -> String {
        let partial = "990000" + Self.padded(number, 9)
        return partial + String(Luhn.checkDigit(for: partial)!)
    }

    public static func pin(_ number: Int) -> String { Self.padded(number % 10_000, 4) }

    /// Idle terminal `number` (IDL00001, ...): an ATM with no card of its own, for `atm-harness load --idle`.
    public static func idleTerminal(_ number: Int) -> String { "IDL" + Self.padded(number, 5) }

    /// The fixture as `fixtures/bank.json` has it; with `idleTerminals`, that many more ATMs after the
    /// others, with master keys and no customers (`atm-harness load --idle`).
    public static func fixtureJSON(terminals: Int, idleTerminals: Int = 0) throws -> Data {
        precondition((1...9_999).contains(terminals), "a load bank has 1 to 9,999 terminals")
        precondition((0...99_999).contains(idleTerminals), "a load bank has 0 to 99,999 idle terminals")
        let ids = (1...terminals).map(Self.terminal) + (0..<idleTerminals).map { Self.idleTerminal($0 + 1) }
        let terminalEntries: [[String: Any]] = ids.enumerated().map { index, id in
            [
                "id": id, "kind": "atm", "location": "Load test \(index + 1)", "cashAccount": "CASH" + id,
                "masterKey": Self.masterKeyHex(terminal: id),
            ]
        }
        let customers: [[String: Any]] = (1...terminals).map { number in
            let current = "LC" + Self.padded(number, 10)
            let savings = "LS" + Self.padded(number, 10)
            func account(_ accountNo: String, _ name: String) -> [String: Any] {
                [
                    "accountNo": accountNo, "name": name, "opening": Self.opening, "dailyLimit": Self.dailyLimit,
                    "dailyCount": Self.dailyCount,
                ]
            }
            return [
                "userName": "load" + Self.padded(number, 4),
                "fullName": "Load Customer \(number)",
                "accounts": [account(current, "Load current \(number)"), account(savings, "Load savings \(number)")],
                "cards": [
                    [
                        "pan": Self.pan(number), "pin": Self.pin(number), "expiry": "2035-12-31",
                        "accounts": [current, savings],
                    ]
                ],
            ]
        }
        let fixture: [String: Any] = [
            "currency": "978", "maxPINTries": 3, "maxPasswordTries": 5, "equityAccount": "LOADEQUITY",
            "vaultAccount": "LOADVAULT", "vaultCash": 0, "terminals": terminalEntries, "staff": [] as [Any],
            "customers": customers, "purpose": BankFixture.loadPurpose,
        ]
        return try JSONSerialization.data(withJSONObject: fixture, options: [.prettyPrinted, .sortedKeys])
    }

    static func padded(_ value: Int, _ width: Int) -> String { PostingLoad.zeroPadded(value, width: width) }
}

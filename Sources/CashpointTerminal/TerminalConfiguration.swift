import ATM87
public import Foundation

/// A terminal's configuration file (JSON), as `atm-terminal atm --config FILE` and `atm-terminal teller
/// --config FILE` read it. Amounts are in whole units of the currency (notes), timeouts in seconds.
/// Paths are relative to the file's folder. docs/operations.md lists every entry.
public struct TerminalConfiguration: Sendable, Hashable {
    public var terminal: String
    /// The switches the terminal may sign on to, in the order it tries them (at least one): it talks to
    /// one at a time and moves to the next when the link is lost (`SwitchRotation`).
    public var switches: [SwitchAddress]
    /// A file holding the terminal's master key (64 hex characters).
    public var masterKeyFile: String?
    /// A demo bank fixture whose terminal entry carries a TEST master key (instead of a key file).
    public var fixture: String?
    public var bankName: String
    public var location: String
    public var currency: String
    public var cassettes: [Cassette]
    public var maxNotesPerDispense: Int
    /// Minor units.
    public var fastCash: [Int64]
    public var timeouts: ATMTimeouts
    public var dataFolder: String?
    /// Cards a demo offers to pick at the welcome screen (never with their PINs here).
    public var testCards: [TestCard]
    /// How the store-and-forward queue retries its reversal advices.
    public var forwarding: SAFPolicy

    public struct TestCard: Sendable, Hashable {
        public var pan: String
        public var label: String

        public init(pan: String, label: String) {
            self.pan = pan
            self.label = label
        }
    }

    /// One switch at `host`:`port`, unless `switches` lists them.
    public init(
        terminal: String,
        host: String = "127.0.0.1",
        port: Int = 8583,
        switches: [SwitchAddress]? = nil,
        masterKeyFile: String? = nil,
        fixture: String? = nil,
        bankName: String = "CASHPOINT BANK",
        location: String = "",
        currency: String = "978",
        cassettes: [Cassette] = [],
        maxNotesPerDispense: Int = 40,
        fastCash: [Int64] = [2_000, 5_000, 10_000, 20_000],
        timeouts: ATMTimeouts = ATMTimeouts(),
        dataFolder: String? = nil,
        testCards: [TestCard] = [],
        forwarding: SAFPolicy = SAFPolicy()
    ) {
        self.forwarding = forwarding
        self.terminal = terminal
        self.switches = switches ?? [SwitchAddress(host: host, port: port)]
        self.masterKeyFile = masterKeyFile
        self.fixture = fixture
        self.bankName = bankName
        self.location = location
        self.currency = currency
        self.cassettes = cassettes
        self.maxNotesPerDispense = maxNotesPerDispense
        self.fastCash = fastCash
        self.timeouts = timeouts
        self.dataFolder = dataFolder
        self.testCards = testCards
    }

    /// "the switch at H:P", or "the switches at H1:P1, H2:P2": for an error.
    public var switchesText: String {
        let list = self.switches.map(\.description).joined(separator: ", ")
        return (self.switches.count == 1 ? "the switch at " : "the switches at ") + list
    }

    /// A configuration file that cannot be used: one line naming the entry and what is wrong.
    public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
        public var file: String
        public var entry: String?
        public var problem: String

        public var description: String {
            "\(self.file): " + (self.entry.map { "\($0): " } ?? "") + self.problem
        }
    }

    /// Reads and checks a configuration file.
    public init(contentsOfFile path: String) throws(ConfigurationError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(file: path, entry: nil, problem: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(json: data, file: path)
    }

    /// Reads and checks configuration JSON; `file` names it in errors and anchors relative paths.
    public init(json data: Data, file: String) throws(ConfigurationError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigurationError(file: file, entry: nil, problem: "is not JSON")
        }
        guard let root = object as? [String: Any] else {
            throw ConfigurationError(file: file, entry: nil, problem: "must be a JSON object")
        }
        let reader = Reader(file: file, root: root)
        let known: Set<String> = [
            "terminal", "switches", "host", "port", "masterKeyFile", "fixture", "bankName", "location", "currency",
            "cassettes", "maxNotesPerDispense", "fastCash", "timeouts", "dataFolder", "testCards",
            "forwarding",
        ]
        if let unknown = root.keys.sorted().first(where: { !known.contains($0) }) {
            throw ConfigurationError(file: file, entry: unknown, problem: "is not a configuration entry")
        }
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        let relative = { (path: String) in
            path.hasPrefix("/") ? path : folder.appendingPathComponent(path).standardizedFileURL.path
        }

        let terminal = try reader.string("terminal", required: true)!
        guard (1...8).contains(terminal.count), terminal.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw ConfigurationError(file: file, entry: "terminal", problem: "must be 1 to 8 letters or digits")
        }
        let currency = try reader.string("currency") ?? "978"
        guard currency.count == 3, currency.allSatisfy(\.isNumber) else {
            throw ConfigurationError(file: file, entry: "currency", problem: "must be an ISO 4217 numeric code such as \"978\"")
        }
        var cassettes: [Cassette] = []
        for (index, item) in try reader.array("cassettes").enumerated() {
            let name = "cassettes[\(index)]"
            guard let entry = item as? [String: Any] else {
                throw ConfigurationError(file: file, entry: name, problem: "must be an object with denomination and count")
            }
            let cassette = Reader(file: file, root: entry, prefix: name + ".")
            let denomination = try cassette.integer("denomination", required: true, range: 1...100_000)!
            let count = try cassette.integer("count", required: true, range: 0...10_000)!
            let low = try cassette.integer("lowThreshold", range: 0...10_000) ?? 20
            let noteCurrency = try cassette.string("currency") ?? currency
            cassettes.append(
                Cassette(denomination: Int64(denomination) * 100, count: count, currency: noteCurrency, lowThreshold: low)
            )
        }
        var fastCash: [Int64] = []
        for (index, item) in try reader.array("fastCash", default: [20, 50, 100, 200]).enumerated() {
            guard let value = item as? Int, (1...100_000).contains(value) else {
                throw ConfigurationError(file: file, entry: "fastCash[\(index)]", problem: "must be a whole amount from 1 to 100000")
            }
            fastCash.append(Int64(value) * 100)
        }
        var timeouts = ATMTimeouts()
        if let value = reader.root["timeouts"] {
            guard let entry = value as? [String: Any] else {
                throw ConfigurationError(file: file, entry: "timeouts", problem: "must be an object of seconds")
            }
            let timing = Reader(file: file, root: entry, prefix: "timeouts.")
            let names: Set<String> = ["input", "moreTime", "response", "cashTake", "cardTake", "message"]
            if let unknown = entry.keys.sorted().first(where: { !names.contains($0) }) {
                throw ConfigurationError(file: file, entry: "timeouts.\(unknown)", problem: "is not a timeout (input, moreTime, response, cashTake, cardTake, message)")
            }
            func seconds(_ name: String, _ current: Duration) throws(ConfigurationError) -> Duration {
                try timing.integer(name, range: 1...3_600).map { Duration.seconds($0) } ?? current
            }
            timeouts.input = try seconds("input", timeouts.input)
            timeouts.moreTime = try seconds("moreTime", timeouts.moreTime)
            timeouts.response = try seconds("response", timeouts.response)
            timeouts.cashTake = try seconds("cashTake", timeouts.cashTake)
            timeouts.cardTake = try seconds("cardTake", timeouts.cardTake)
            timeouts.message = try seconds("message", timeouts.message)
        }
        var forwarding = SAFPolicy()
        if let value = reader.root["forwarding"] {
            guard let entry = value as? [String: Any] else {
                throw ConfigurationError(file: file, entry: "forwarding", problem: "must be an object (firstRetry, maxDelay, maxAttempts)")
            }
            let names: Set<String> = ["firstRetry", "maxDelay", "maxAttempts"]
            if let unknown = entry.keys.sorted().first(where: { !names.contains($0) }) {
                throw ConfigurationError(file: file, entry: "forwarding.\(unknown)", problem: "is not a setting (firstRetry, maxDelay, maxAttempts)")
            }
            let settings = Reader(file: file, root: entry, prefix: "forwarding.")
            forwarding.firstRetry = try settings.integer("firstRetry", range: 1...3_600).map { .seconds($0) } ?? forwarding.firstRetry
            forwarding.maxDelay = try settings.integer("maxDelay", range: 1...86_400).map { .seconds($0) } ?? forwarding.maxDelay
            forwarding.maxAttempts = try settings.integer("maxAttempts", range: 1...1_000) ?? forwarding.maxAttempts
        }
        var cards: [TestCard] = []
        for (index, item) in try reader.array("testCards").enumerated() {
            let name = "testCards[\(index)]"
            guard let entry = item as? [String: Any] else {
                throw ConfigurationError(file: file, entry: name, problem: "must be an object with pan and label")
            }
            let card = Reader(file: file, root: entry, prefix: name + ".")
            let pan = try card.string("pan", required: true)!
            // The card reader's rule (ATMSession.isCardNumber): a test card the reader would give back is refused here.
            switch Luhn.problem(withPAN: pan) {
            case nil: break
            case .notTwelveToNineteenDigits:
                throw ConfigurationError(file: file, entry: name + ".pan", problem: "must be 12 to 19 digits")
            case .checkDigit:
                throw ConfigurationError(file: file, entry: name + ".pan", problem: "fails its check digit (Luhn)")
            }
            cards.append(TestCard(pan: pan, label: try card.string("label") ?? ""))
        }
        let masterKeyFile = try reader.string("masterKeyFile").map(relative)
        let fixture = try reader.string("fixture").map(relative)
        self.init(
            terminal: terminal,
            switches: try Self.switches(reader),
            masterKeyFile: masterKeyFile,
            fixture: fixture,
            bankName: try reader.string("bankName") ?? "CASHPOINT BANK",
            location: try reader.string("location") ?? "",
            currency: currency,
            cassettes: cassettes,
            maxNotesPerDispense: try reader.integer("maxNotesPerDispense", range: 1...200) ?? 40,
            fastCash: fastCash,
            timeouts: timeouts,
            dataFolder: try reader.string("dataFolder").map(relative),
            testCards: cards,
            forwarding: forwarding
        )
    }

    /// `switches` (a list of "HOST:PORT"), or the older `host` and `port` (one switch); not both.
    static func switches(_ reader: Reader) throws(ConfigurationError) -> [SwitchAddress] {
        guard let value = reader.root["switches"] else {
            let host = try reader.string("host") ?? "127.0.0.1"
            let port = try reader.integer("port", range: 1...65_535) ?? 8583
            return [SwitchAddress(host: host, port: port)]
        }
        if let other = ["host", "port"].first(where: { reader.root[$0] != nil }) {
            throw ConfigurationError(
                file: reader.file,
                entry: other,
                problem: "cannot be given with switches: list every switch in switches, as \"HOST:PORT\""
            )
        }
        guard let items = value as? [Any] else {
            throw ConfigurationError(file: reader.file, entry: "switches", problem: "must be a list of \"HOST:PORT\" strings")
        }
        guard !items.isEmpty else {
            throw ConfigurationError(file: reader.file, entry: "switches", problem: "must list at least one switch, as \"HOST:PORT\"")
        }
        var addresses: [SwitchAddress] = []
        for (index, item) in items.enumerated() {
            let name = "switches[\(index)]"
            guard let text = item as? String else {
                throw ConfigurationError(file: reader.file, entry: name, problem: "must be a string \"HOST:PORT\"")
            }
            let address: SwitchAddress
            do {
                address = try SwitchAddress(parsing: text)
            } catch {
                throw ConfigurationError(file: reader.file, entry: name, problem: error.description)
            }
            guard !addresses.contains(address) else {
                throw ConfigurationError(file: reader.file, entry: name, problem: "\"\(text)\" is listed twice")
            }
            addresses.append(address)
        }
        return addresses
    }

    /// Typed reads of one JSON object's entries, each error naming the entry.
    struct Reader {
        var file: String
        var root: [String: Any]
        var prefix = ""

        func string(_ name: String, required: Bool = false) throws(ConfigurationError) -> String? {
            guard let value = self.root[name] else {
                if required { throw ConfigurationError(file: self.file, entry: self.prefix + name, problem: "is missing") }
                return nil
            }
            guard let text = value as? String, !text.isEmpty else {
                throw ConfigurationError(file: self.file, entry: self.prefix + name, problem: "must be a non-empty string")
            }
            return text
        }

        func integer(_ name: String, required: Bool = false, range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let value = self.root[name] else {
                if required { throw ConfigurationError(file: self.file, entry: self.prefix + name, problem: "is missing") }
                return nil
            }
            // JSONSerialization reads true as a number; a Bool is not a number here. (Not `value is Bool`:
            // on Linux every NSNumber of 0 or 1 casts to Bool, so `1` was refused. A JSON boolean is
            // the NSNumber whose Objective-C type is `c`.)
            guard let number = value as? NSNumber, String(cString: number.objCType) != "c",
                let integer = Int(exactly: number.doubleValue),
                range.contains(integer)
            else {
                throw ConfigurationError(
                    file: self.file,
                    entry: self.prefix + name,
                    problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound)"
                )
            }
            return integer
        }

        func array(_ name: String, default fallback: [Any] = []) throws(ConfigurationError) -> [Any] {
            guard let value = self.root[name] else { return fallback }
            guard let items = value as? [Any] else {
                throw ConfigurationError(file: self.file, entry: self.prefix + name, problem: "must be a list")
            }
            return items
        }
    }
}

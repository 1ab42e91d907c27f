/// One switch a terminal may sign on to: a host name or address and its ATM-87 port.
public struct SwitchAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a text is not a switch address: the message says what to write instead.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var text: String
        public var problem: String

        public var description: String { "\"\(self.text)\" \(self.problem)" }
    }

    /// `HOST:PORT`, or `[IPV6]:PORT`: the port is required (1 to 65535), an IPv6 address is in brackets.
    public init(parsing text: String) throws(ParseError) {
        let usage = "must be HOST:PORT (an IPv6 address in brackets: [::1]:8583)"
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(text: text, problem: "has no closing ] after its IPv6 address; \(usage)")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { throw ParseError(text: text, problem: "has no :PORT after ]; \(usage)") }
            port = after.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ParseError(text: text, problem: "has no port; \(usage)") }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "[" || $0 == "]" }) else {
            throw ParseError(text: text, problem: "names no host; \(usage)")
        }
        guard text.hasPrefix("[") || !host.contains(":") else {
            throw ParseError(text: text, problem: "has an IPv6 address without brackets; \(usage)")
        }
        guard port.allSatisfy(\.isASCII), let number = Int(port), (1...65_535).contains(number) else {
            throw ParseError(text: text, problem: "has a port that is not a number from 1 to 65535")
        }
        self.init(host: String(host), port: number)
    }

    /// `host:port`, an IPv6 address in brackets (as `init(parsing:)` reads it).
    public var description: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
}

/// Which switch of its list a terminal talks to, and where it goes when the link is lost: a state
/// machine with no I/O and no clock. The shell connects where it says, and tells it how that went.
///
/// A link lost (or a connection or sign-on that fails) moves to the next address at once, wrapping
/// around, while some address has not failed since the last sign-on that worked: the terminal is
/// `moving` (an ATM shows "one moment"). When every address has failed in a row it waits `retryDelay`
/// before the next (an ATM is out of service meanwhile), and goes round again for as long as it takes.
public struct SwitchRotation: Sendable, Hashable {
    public let addresses: [SwitchAddress]
    public let retryDelay: Duration
    /// The address in use, or being tried.
    public private(set) var index = 0
    /// Attempts failed in a row since the last sign-on that worked (or since the start).
    public private(set) var failures = 0

    /// What to do next.
    public enum Step: Sendable, Hashable {
        /// Connect to this address now: another switch may answer (the terminal is moving).
        case connect(SwitchAddress)
        /// Every address failed in a row: connect to this one after the delay (the terminal is down).
        case retry(SwitchAddress, after: Duration)
    }

    /// `addresses` must not be empty (the configuration refuses an empty list).
    public init(_ addresses: [SwitchAddress], retryDelay: Duration) {
        precondition(!addresses.isEmpty, "a terminal needs at least one switch address")
        self.addresses = addresses
        self.retryDelay = retryDelay
    }

    /// The address in use, or being tried.
    public var current: SwitchAddress { self.addresses[self.index] }

    /// The terminal signed on to `current`: a later failure starts a new round of moves from here.
    public mutating func signedOn() {
        self.failures = 0
    }

    /// The link to `current` was lost, or the connection or sign-on failed: the next address, at once
    /// while some address has not failed in this round, else after `retryDelay` (and a new round).
    public mutating func failed() -> Step {
        self.failures += 1
        self.index = (self.index + 1) % self.addresses.count
        guard self.failures >= self.addresses.count else { return .connect(self.current) }
        self.failures = 0
        return .retry(self.current, after: self.retryDelay)
    }
}

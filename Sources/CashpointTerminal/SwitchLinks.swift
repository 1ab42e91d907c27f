public import ATM87
import Synchronization

/// The link of a terminal that waits for each answer (the branch desk), over the configuration's list
/// of switches: one connection at a time, to the switch `SwitchRotation` names. `signOn` connects and
/// signs a session on (fresh keys), trying each switch of the list at most once; after a lost link the
/// desk calls it again with `next` and goes on with the next switch that answers.
public final class SwitchLinks: SwitchExchange {
    var rotation: SwitchRotation
    let connector: any ATMConnector
    var connection: (any ATMConnection)?
    var inbound: AsyncStream<LinkEvent>.AsyncIterator?

    public init(_ addresses: [SwitchAddress], connector: any ATMConnector = TCPConnector()) {
        // No waiting here between rounds: `signOn` tries each switch once and reports.
        self.rotation = SwitchRotation(addresses, retryDelay: .zero)
        self.connector = connector
    }

    /// The switch in use (or last tried).
    public var current: SwitchAddress { self.rotation.current }

    /// Connects to a switch and signs `session` on there, trying the switches in turn, each at most
    /// once: the current one first, or (`next`, after a lost link) the one after it. Returns the switch
    /// that answered; throws the last failure (`LinkError`, `SignOnRefused`) when none did.
    @discardableResult
    public func signOn(_ session: TerminalSession, next: Bool = false) async throws -> SwitchAddress {
        self.close()
        if next { _ = self.rotation.failed() }
        var last: any Error = LinkError("no switch to try", kind: .closed)
        for _ in self.rotation.addresses.indices {
            let address = self.rotation.current
            do {
                try await self.connect(address)
                let answer = try await session.signOn()
                guard answer[39] == "00" else { throw SignOnRefused(terminal: session.terminal, code: answer[39]) }
                self.rotation.signedOn()
                return address
            } catch {
                last = error
                self.close()
                _ = self.rotation.failed()
            }
        }
        throw last
    }

    func connect(_ address: SwitchAddress) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: LinkEvent.self)
        self.inbound = stream.makeAsyncIterator()
        self.connection = try await self.connector.connect(host: address.host, port: address.port) { event in
            continuation.yield(event)
            if case .closed = event { continuation.finish() }
        }
    }

    /// Closes the connection (if any).
    public func close() {
        self.connection?.close()
        self.connection = nil
        self.inbound = nil
    }

    public func exchange(_ message: ATM87Message, timeout: Duration) async throws -> ATM87Message {
        try await self.send(message)
        return try await self.receive(timeout: timeout)
    }

    public func send(_ message: ATM87Message) async throws {
        guard let connection = self.connection else { throw LinkError("not connected to a switch", kind: .closed) }
        connection.write(message)
    }

    /// The next message; the connection's end, a frame that does not decode, or no answer within
    /// `timeout` (the connection is then closed) is an error.
    func receive(timeout: Duration) async throws -> ATM87Message {
        guard let connection = self.connection, self.inbound != nil else {
            throw LinkError("not connected to a switch", kind: .closed)
        }
        let fired = TimeoutFlag()
        let timer = Task {
            try await Task.sleep(for: timeout)
            fired.fired.store(true, ordering: .relaxed)
            connection.close()
        }
        defer { timer.cancel() }
        let next = await self.inbound?.next()
        switch next {
        case .received(.message(let message))?:
            return message
        case .received(.malformed(let error))?:
            self.close()
            throw LinkError("the switch's answer does not decode: \(error)")
        case .closed?, nil:
            self.close()
            if fired.fired.load(ordering: .relaxed) { throw LinkError("no answer within \(timeout)", kind: .timeout) }
            throw LinkError("the switch closed the connection", kind: .closed)
        }
    }
}

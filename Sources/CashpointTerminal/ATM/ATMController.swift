import ATM87
public import Crypto
public import Foundation

/// What a customer (or a script) does at the machine, as the front end reads it.
public enum ATMInput: Sendable, Hashable {
    case key(ATMKey)
    /// A card in the reader (its number, typed or picked).
    case insertCard(String)
    /// Digits typed, then Enter: a card number at the welcome screen, else keys of the keypad.
    case typed(String)
    /// Takes what the machine holds out: the cash, or the card.
    case take
    /// Ends the program (the operator's key, or the end of input).
    case quit
}

/// The screen and the devices a customer sees: the front end draws, the controller decides.
public protocol ATMFrontEnd: AnyObject {
    /// The display, and the state of the machine beside it.
    func draw(_ display: ATMDisplay, status: ATMStatus)
    /// Paper out of the receipt printer (a front end that shows `ATMStatus.receipt` may ignore it).
    func printReceipt(_ lines: [String])
    /// What the machine does with its hands, and what it tells its operator.
    func device(_ event: String)
    /// Throws away keys typed ahead while the machine was busy (a keyboard front end).
    func discardTypeAhead()
}

/// The state shown beside the display: link, cassettes, and what the machine holds out.
public struct ATMStatus: Sendable, Hashable {
    public var terminal: String
    public var location: String
    public var online: Bool
    public var cassettes: [Cassette]
    public var currency: String
    /// The card in the reader, masked.
    public var cardInReader: String?
    /// Cash presented and not yet taken.
    public var cashPresented: Int64?
    /// The card is in the reader's mouth, waiting to be taken.
    public var cardOut: Bool
    /// The current customer's receipt (none once the customer has gone).
    public var receipt: [String]

    public init(
        terminal: String,
        location: String,
        online: Bool,
        cassettes: [Cassette],
        currency: String,
        cardInReader: String?,
        cashPresented: Int64? = nil,
        cardOut: Bool = false,
        receipt: [String] = []
    ) {
        self.terminal = terminal
        self.location = location
        self.online = online
        self.cassettes = cassettes
        self.currency = currency
        self.cardInReader = cardInReader
        self.cashPresented = cashPresented
        self.cardOut = cardOut
        self.receipt = receipt
    }
}

/// One queue for everything that happens to the machine: keys, timers, the switch's messages and the
/// end of its connection, the dispenser's result. The controller takes them one at a time. Input is
/// taken one at a time too: the reader waits until the machine is ready for the next key (the screen
/// that follows the last one is up, not waiting for the switch or the dispenser), so a script's lines
/// never run ahead of the screens.
public final class ATMEvents: Sendable {
    enum Event: Sendable {
        case input(ATMInput)
        case timer(ATMTimer, generation: Int)
        case connected(generation: Int, Result<any ATMConnection, LinkError>)
        case link(generation: Int, LinkEvent)
        case reconnect(generation: Int)
        case keepAlive(generation: Int)
        case forward(generation: Int)
        /// An exchange of the shell's own (sign-on, advice, echo, logout, sign-off) had no answer in time.
        case deadline(stan: String, generation: Int)
        case dispensed(DispensePlan)
        /// A request the session asked for could not go out (nothing was sent).
        case requestNotSent
    }

    let stream: AsyncStream<Event>
    let continuation: AsyncStream<Event>.Continuation
    let ready = DispatchSemaphore(value: 0)

    public init() {
        (self.stream, self.continuation) = AsyncStream.makeStream(of: Event.self)
    }

    /// From the input thread: hands over one input and waits until the machine is ready for the next.
    public func submit(_ input: ATMInput) {
        self.continuation.yield(.input(input))
        self.ready.wait()
    }

    func yield(_ event: Event) { self.continuation.yield(event) }

    func inputDone() { self.ready.signal() }
}

/// The ATM's shell. It feeds the session state machine its events and performs its actions: the
/// screen, timers on an injected clock, the dispenser, the card reader, the receipt printer, and the
/// switch: requests and reversal advices go out and return at once; their answers, the end of the
/// connection and every deadline come back as events. It connects (and reconnects) by itself.
public final class ATMController: @unchecked Sendable {
    /// Where the link is.
    enum LinkPhase: Equatable {
        case down
        case connecting
        case signingOn
        /// Signed on; the store-and-forward queue drains before a customer is served.
        case draining
        case serving
    }

    /// What an answer on the link is waited for by.
    enum Exchange {
        case signOn
        /// A 0200 of the session (the request, unsigned, for the answer's check).
        case card(ATM87Message)
        /// A reversal advice of the store-and-forward queue: the entry as it was sent.
        case advice(SAFEntry)
        case echo
        case logout
        case signOff
    }

    let configuration: TerminalConfiguration
    let masterKey: SymmetricKey
    let frontEnd: any ATMFrontEnd
    let events: ATMEvents
    let connector: any ATMConnector
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    /// How long to wait between attempts to reach the switch.
    let retryDelay: Duration
    /// How often an idle machine tests its link.
    let keepAliveInterval: Duration
    /// The electronic journal, the store-and-forward queue and the cassette counts (SQLite).
    let journal: ElectronicJournal

    var session: ATMSession
    var dispenser: EmulatedDispenser
    /// The queue's sender: which entry next, and what an attempt's outcome means.
    var forwarder: StoreAndForward
    /// Which switch of the configuration's list the link goes to, and where it goes when it is lost.
    var rotation: SwitchRotation

    // The link.
    var phase = LinkPhase.down
    var connection: (any ATMConnection)?
    /// The terminal's protocol state on this connection: STANs, session keys, tokens.
    var terminal: TerminalProtocol?
    var linkGeneration = 0
    /// Exchanges waiting for their answer, by the request's STAN.
    var pending: [String: Exchange] = [:]
    var deadlines: [String: Task<Void, Never>] = [:]
    /// The STAN of the 0200 the session is waiting on.
    var cardInFlight: String?
    var adviceInFlight: String?
    /// Whether the queue had nothing due at the last look (the machine may serve).
    var queueIdle = false

    // Timers.
    var timer: Task<Void, Never>?
    var timerGeneration = 0
    var reconnectGeneration = 0
    var keepAliveGeneration = 0
    var keepAliveTimer: Task<Void, Never>?
    var forwardTimer: Task<Void, Never>?
    var forwardGeneration = 0

    // What the machine holds out, for the status beside the screen.
    var cashPresented: Int64?
    var cardOut = false
    var receipt: [String] = []

    /// An input not taken yet: the machine was not ready for it.
    var heldInput: ATMInput?
    /// An input taken whose reader still waits for the machine to be ready for the next.
    var inputPending = false
    var quitting = false
    var finished = false

    // The journal's view of the customer.
    /// The queue entry armed for the money-moving request in flight or being completed.
    var armed: Int64?
    /// The card session's number in the journal (the sequence number of its card-inserted record).
    var cardSession: Int64?
    /// The last STAN sent, for the journal's records of the answer and what follows it.
    var lastSTAN: String?
    var lastScreen: String?

    public init(
        configuration: TerminalConfiguration,
        masterKey: SymmetricKey,
        frontEnd: any ATMFrontEnd,
        events: ATMEvents,
        connector: any ATMConnector = TCPConnector(),
        dispenser: EmulatedDispenser = EmulatedDispenser(),
        clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Date = { Date() },
        retryDelay: Duration = .seconds(5),
        keepAliveInterval: Duration = .seconds(60),
        journal: ElectronicJournal,
        forwarding: SAFPolicy = SAFPolicy(),
        seed: UInt64 = UInt64.random(in: 0...UInt64.max)
    ) {
        self.journal = journal
        self.forwarder = StoreAndForward(policy: forwarding, seed: seed)
        self.keepAliveInterval = keepAliveInterval
        self.configuration = configuration
        self.masterKey = masterKey
        self.frontEnd = frontEnd
        self.events = events
        self.connector = connector
        self.clock = clock
        self.now = now
        self.retryDelay = retryDelay
        self.rotation = SwitchRotation(configuration.switches, retryDelay: retryDelay)
        self.dispenser = dispenser
        self.session = ATMSession(
            settings: ATMSettings(
                currency: configuration.currency,
                fastCash: configuration.fastCash,
                timeouts: configuration.timeouts,
                planner: DispensePlanner(maxNotes: configuration.maxNotesPerDispense)
            ),
            cassettes: (try? journal.cassettes()) ?? configuration.cassettes
        )
    }

    /// The cassettes as they are now.
    public var cassettes: [Cassette] { self.session.cassettes }

    /// Runs the machine until the input ends (`quit`): connects, serves customers, and reconnects
    /// whenever the link goes down.
    public func run() async {
        self.recover()
        self.redraw()
        self.connect()
        self.scheduleKeepAlive()
        for await event in self.events.stream {
            self.handle(event)
            if self.finished { break }
            self.afterEvent()
        }
        // Stopped (or cancelled): a reader still waiting is let go.
        if self.inputPending || self.heldInput != nil { self.events.inputDone() }
        self.events.continuation.finish()
    }

    func handle(_ event: ATMEvents.Event) {
        switch event {
        case .input(let input):
            // Taken when the machine is ready for it (the reader waits meanwhile: one at a time).
            self.heldInput = input
        case .timer(let timer, let generation):
            guard generation == self.timerGeneration else { return }
            if timer == .response, let stan = self.cardInFlight {
                // The session gives the request up; the link that did not answer in time is not trusted.
                // It goes before the session's actions are performed: the reversal they queue goes out
                // after the next sign-on, not on this link as it closes (its answer lost, the advice
                // repeated as a 0421 for nothing).
                self.cardInFlight = nil
                self.pending[stan] = nil
                self.frontEnd.device("no answer from the switch within \(self.configuration.timeouts.response)")
                self.record(self.entry("error", ["error": "no answer within \(self.configuration.timeouts.response)"]))
                self.linkDown("no answer in time", first: self.session.timerFired(timer))
            } else {
                self.perform(self.session.timerFired(timer))
            }
        case .connected(let generation, let result):
            self.connected(generation, result)
        case .link(let generation, let event):
            guard generation == self.linkGeneration else { return }
            switch event {
            case .received(.message(let message)): self.received(message)
            case .received(.malformed(let error)):
                self.frontEnd.device("the switch's answer does not decode: \(error)")
                self.linkDown("an answer that does not decode")
            case .closed: self.linkDown("the switch closed the connection")
            }
        case .reconnect(let generation):
            if generation == self.reconnectGeneration, self.phase == .down, !self.quitting { self.connect() }
        case .keepAlive(let generation):
            guard generation == self.keepAliveGeneration else { return }
            self.keepAlive()
            self.scheduleKeepAlive()
        case .forward(let generation):
            if generation == self.forwardGeneration { self.forward() }
        case .deadline(let stan, let generation):
            guard generation == self.linkGeneration, let exchange = self.pending.removeValue(forKey: stan) else { return }
            self.deadlines[stan] = nil
            self.timedOut(exchange, stan: stan)
        case .dispensed(let given):
            self.perform(self.session.dispenseEnded(given: given))
        case .requestNotSent:
            self.perform(self.session.requestNotSent())
        }
    }

    /// After each event: the machine serves once the queue has drained; the input reader may go on
    /// once the machine waits for no one; the screen is drawn.
    func afterEvent() {
        if self.phase == .draining, self.queueIdle, self.adviceInFlight == nil {
            self.phase = .serving
            self.perform(self.session.linkUp())
        }
        if let input = self.heldInput, self.readyForInput {
            // The screen the input answers is drawn first (a script's reader sees each screen).
            self.redraw()
            self.heldInput = nil
            self.inputPending = true
            self.handle(input)
        }
        if self.inputPending, self.readyForInput {
            self.inputPending = false
            self.events.inputDone()
        }
        self.redraw()
    }

    /// Whether the next key may be read: the machine is not waiting on the switch, the dispenser, or
    /// its own start (connecting, signing on, draining the queue).
    var readyForInput: Bool {
        if self.quitting { return true }
        if self.session.isWaiting { return false }
        switch self.phase {
        case .connecting, .signingOn, .draining: return false
        case .down, .serving: return true
        }
    }

    func handle(_ input: ATMInput) {
        self.recordKeys(input)
        switch input {
        case .quit:
            self.quit()
        case .insertCard(let pan):
            guard self.session.isIdle else {
                self.frontEnd.device(
                    self.session.isOutOfService
                        ? "out of service: the card is not taken in"
                        : self.session.isMoving ? "one moment: the card is not taken in" : "a card is already in the reader"
                )
                return
            }
            self.perform(self.session.cardInserted(pan: pan))
        case .take:
            self.perform(self.session.take())
        case .typed(let digits):
            if self.session.isIdle {
                self.handle(.insertCard(digits))
                return
            }
            // One line, one step: the keys' actions are performed together.
            var actions: [ATMAction] = []
            for digit in digits.utf8 where (0x30...0x39).contains(digit) {
                actions += self.session.key(.digit(digit - 0x30))
            }
            actions += self.session.key(.enter)
            self.perform(actions)
        case .key(.function(let key)) where self.session.isIdle:
            // The card reader's emulation: a demo's test cards are picked with the function keys.
            guard let index = FunctionKey.allCases.firstIndex(of: key), index < self.configuration.testCards.count
            else { return }
            self.handle(.insertCard(self.configuration.testCards[index].pan))
        case .key(let key):
            self.perform(self.session.key(key))
        }
    }

    // MARK: The link

    func connect() {
        self.phase = .connecting
        self.linkGeneration += 1
        let generation = self.linkGeneration
        let events = self.events
        let connector = self.connector
        let address = self.rotation.current
        let (host, port) = (address.host, address.port)
        Task {
            do {
                let connection = try await connector.connect(host: host, port: port) { event in
                    events.yield(.link(generation: generation, event))
                }
                events.yield(.connected(generation: generation, .success(connection)))
            } catch let error as LinkError {
                events.yield(.connected(generation: generation, .failure(error)))
            } catch {
                events.yield(.connected(generation: generation, .failure(LinkError("\(error)", kind: .closed))))
            }
        }
    }

    func connected(_ generation: Int, _ result: Result<any ATMConnection, LinkError>) {
        guard generation == self.linkGeneration, self.phase == .connecting, !self.quitting else {
            if case .success(let connection) = result { connection.close() }
            return
        }
        switch result {
        case .failure(let error):
            self.frontEnd.device("the switch cannot be reached: \(error)")
            self.linkDown(nil)
        case .success(let connection):
            self.connection = connection
            let terminal = TerminalProtocol(
                terminal: self.configuration.terminal,
                masterKey: self.masterKey,
                currency: self.configuration.currency,
                now: self.now
            )
            self.terminal = terminal
            self.phase = .signingOn
            do {
                let request = try terminal.signOnRequest()
                self.exchange(request, signed: request, .signOn)
            } catch {
                self.frontEnd.device("the sign-on could not be built: \(error)")
                self.linkDown(nil)
            }
        }
    }

    /// Writes a request and waits for its answer as an event; the shell's own exchanges get a deadline.
    func exchange(_ request: ATM87Message, signed: ATM87Message, _ exchange: Exchange) {
        guard let connection = self.connection, let stan = request[11] else { return }
        self.pending[stan] = exchange
        if case .card = exchange {
            self.cardInFlight = stan
        } else {
            let generation = self.linkGeneration
            self.deadlines[stan] = self.after(self.configuration.timeouts.response, .deadline(stan: stan, generation: generation))
        }
        connection.write(signed)
    }

    /// A message from the switch, given to what waits for it.
    func received(_ message: ATM87Message) {
        guard let stan = message[11], let exchange = self.pending.removeValue(forKey: stan) else {
            self.frontEnd.device("an answer nobody waits for (STAN \(message[11] ?? "none")): ignored")
            return
        }
        self.deadlines.removeValue(forKey: stan)?.cancel()
        guard let terminal = self.terminal else { return }
        switch exchange {
        case .signOn:
            do {
                let answer = try terminal.acceptSignOn(message)
                guard answer[39] == "00" else {
                    self.frontEnd.device("the switch refused the sign-on (\(answer[39] ?? "no code"))")
                    self.linkDown(nil)
                    return
                }
            } catch {
                self.frontEnd.device("the sign-on failed: \(error)")
                self.linkDown(nil)
                return
            }
            let address = self.rotation.current.description
            self.rotation.signedOn()
            self.frontEnd.device("signed on to the switch at \(address)")
            self.record(JournalEntry("link.up", ["switch": address]))
            self.phase = .draining
            self.queueIdle = false
            self.forward()
        case .card(let request):
            let answer: ATM87Message
            do {
                answer = try terminal.checked(message, answering: request)
            } catch {
                self.cardInFlight = nil
                self.frontEnd.device("the switch's answer cannot be used: \(error)")
                self.record(self.entry("error", ["error": "answer refused: \(error)"]))
                self.linkDown("an answer that fails its check")
                return
            }
            terminal.acceptCardAnswer(answer)
            self.frontEnd.discardTypeAhead()
            self.cardInFlight = nil
            self.perform(self.session.answerReceived(CardAnswer(answer)))
        case .advice(let entry):
            let answer = try? terminal.checked(message, answering: nil)
            self.adviceAnswered(entry, answer: answer)
            self.forward()
        case .echo:
            if message[39] != "00" { self.frontEnd.device("the switch answered the echo test \(message[39] ?? "?")") }
        case .logout:
            break
        case .signOff:
            terminal.acceptSignOff(message)
            self.finish()
        }
    }

    /// An exchange of the shell's own had no answer in time: the link is not trusted any more.
    func timedOut(_ exchange: Exchange, stan: String) {
        switch exchange {
        case .advice(let entry):
            self.adviceAnswered(entry, answer: nil)
        case .signOff:
            self.finish()
            return
        case .signOn, .echo, .logout, .card:
            break
        }
        self.frontEnd.device("the link to the switch is gone (no answer within \(self.configuration.timeouts.response))")
        self.linkDown("no answer in time")
    }

    /// The link is gone (or never came up): what waited on it is told, the session learns it, and the
    /// rotation says where next: another switch at once (the customer sees "one moment"), or, when
    /// every switch has failed in a row, the next after the retry delay (out of service meanwhile).
    /// `reason` nil: it was never up. `first`: the session's actions on what brought the link down,
    /// performed once it is closed and before the session learns it is gone.
    func linkDown(_ reason: String?, first: [ATMAction] = []) {
        let wasUp = self.phase == .draining || self.phase == .serving
        self.connection?.close()
        self.connection = nil
        self.terminal = nil
        self.phase = .down
        self.linkGeneration += 1
        for task in self.deadlines.values { task.cancel() }
        self.deadlines = [:]
        let waiting = self.pending
        self.pending = [:]
        self.cardInFlight = nil
        for case .advice(let entry) in waiting.values { self.adviceAnswered(entry, answer: nil) }
        let from = self.rotation.current.description
        if let reason, wasUp, !self.quitting {
            self.record(JournalEntry("link.down", ["reason": reason, "switch": from]))
        }
        self.perform(first)
        if self.quitting {
            self.finish()
            return
        }
        switch self.rotation.failed() {
        case .connect(let next):
            self.frontEnd.device("moving from the switch at \(from) to the one at \(next)")
            self.record(JournalEntry("link.moving", ["from": from, "to": next.description]))
            self.perform(self.session.linkMoving())
            self.connect()
        case .retry(let next, let delay):
            if self.configuration.switches.count > 1 {
                self.frontEnd.device("no switch answers; the next try, at \(next), in \(delay)")
            }
            self.perform(self.session.linkLost())
            self.reconnectGeneration += 1
            _ = self.after(delay, .reconnect(generation: self.reconnectGeneration))
        }
    }

    /// While the link is up, an echo test (0800/301) every `keepAliveInterval` the machine is idle: it
    /// keeps the switch from closing an idle connection, and finds a broken link before a customer does.
    func keepAlive() {
        guard self.session.isIdle, self.phase == .serving, let terminal = self.terminal,
            !self.pending.values.contains(where: { if case .echo = $0 { return true } else { return false } })
        else { return }
        do {
            let request = try terminal.networkRequest(.echo)
            self.exchange(request, signed: try terminal.signed(request), .echo)
        } catch {
            self.frontEnd.device("the echo test could not be built: \(error)")
        }
    }

    func scheduleKeepAlive() {
        self.keepAliveTimer?.cancel()
        self.keepAliveGeneration += 1
        self.keepAliveTimer = self.after(self.keepAliveInterval, .keepAlive(generation: self.keepAliveGeneration))
    }

    /// The end of input: signs off when signed on (waiting for the answer, or its deadline), then stops.
    func quit() {
        guard !self.quitting else { return }
        self.quitting = true
        guard self.phase == .serving || self.phase == .draining, let terminal = self.terminal else {
            self.finish()
            return
        }
        do {
            let request = try terminal.networkRequest(.signOff)
            self.exchange(request, signed: try terminal.signed(request), .signOff)
        } catch {
            self.finish()
        }
    }

    func finish() {
        guard !self.finished else { return }
        self.finished = true
        self.connection?.close()
        self.connection = nil
        for task in [self.timer, self.forwardTimer, self.keepAliveTimer] { task?.cancel() }
        for task in self.deadlines.values { task.cancel() }
        self.record(JournalEntry("terminal.stop"))
        let counts = self.session.cassettes.map {
            "\(ScreenText.cash($0.denomination, currency: $0.currency)) x \($0.count) \($0.state.rawValue)"
        }
        self.frontEnd.device("cassettes: " + counts.joined(separator: ", "))
    }

    // MARK: Timers and the screen

    func startTimer(_ timer: ATMTimer, _ duration: Duration) {
        self.timer?.cancel()
        self.timerGeneration += 1
        self.timer = self.after(duration, .timer(timer, generation: self.timerGeneration))
    }

    func stopTimer() {
        self.timerGeneration += 1
        self.timer?.cancel()
        self.timer = nil
    }

    /// An event into the queue after a while on the injected clock (none if cancelled first).
    func after(_ duration: Duration, _ event: ATMEvents.Event) -> Task<Void, Never> {
        let clock = self.clock
        let events = self.events
        return Task {
            do {
                try await clock.sleep(for: duration)
            } catch {
                return
            }
            events.yield(event)
        }
    }

    func redraw() {
        let status = ATMStatus(
            terminal: self.configuration.terminal,
            location: self.configuration.location,
            online: self.phase == .serving,
            cassettes: self.session.cassettes,
            currency: self.configuration.currency,
            cardInReader: self.session.cardInReader,
            cashPresented: self.cashPresented,
            cardOut: self.cardOut,
            receipt: self.receipt
        )
        var display = ATMDisplay(self.session.screen)
        if self.session.isIdle {
            for (key, card) in zip(FunctionKey.first(self.configuration.testCards.count), self.configuration.testCards) {
                display.keys[key] = "Card \(ATM87PrettyPrinter.maskPAN(card.pan).suffix(4)) \(card.label)"
            }
            if !self.configuration.testCards.isEmpty { display.lines.append("Or pick a test card.") }
        }
        self.frontEnd.draw(display, status: status)
    }
}

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
    /// Paper out of the receipt printer.
    func printReceipt(_ lines: [String])
    /// What the machine does with its hands: cash out, card out, card kept.
    func device(_ event: String)
    /// Throws away keys typed ahead while the machine was busy (a keyboard front end).
    func discardTypeAhead()
}

/// The state shown beside the display: link, cassettes, card.
public struct ATMStatus: Sendable, Hashable {
    public var terminal: String
    public var location: String
    public var online: Bool
    public var cassettes: [Cassette]
    public var currency: String
    public var cardInReader: String?

    public init(terminal: String, location: String, online: Bool, cassettes: [Cassette], currency: String, cardInReader: String?) {
        self.terminal = terminal
        self.location = location
        self.online = online
        self.cassettes = cassettes
        self.currency = currency
        self.cardInReader = cardInReader
    }
}

/// One queue for everything that happens to the machine: keys, timer expiries, the end of a
/// reconnect wait. Input is taken one at a time: the reader waits until the controller has dealt
/// with the last input (and everything it set off) before it reads the next, so a script's lines
/// never run ahead of the screens.
public final class ATMEvents: Sendable {
    enum Event: Sendable {
        case input(ATMInput)
        case timer(ATMTimer, generation: Int)
        case reconnect(generation: Int)
        case keepAlive
        case forward(generation: Int)
    }

    let stream: AsyncStream<Event>
    let continuation: AsyncStream<Event>.Continuation
    let ready = DispatchSemaphore(value: 0)

    public init() {
        (self.stream, self.continuation) = AsyncStream.makeStream(of: Event.self)
    }

    /// From the input thread: hands over one input and waits until it has been dealt with.
    public func submit(_ input: ATMInput) {
        self.continuation.yield(.input(input))
        self.ready.wait()
    }

    func yield(_ event: Event) { self.continuation.yield(event) }

    func inputDone() { self.ready.signal() }
}

/// The ATM's shell: feeds the session state machine its events and performs its actions: the screen,
/// timers on an injected clock, requests and reversals through the terminal session, the dispenser,
/// the card reader and the receipt printer. It connects (and reconnects) to the switch itself.
public final class ATMController: @unchecked Sendable {
    let configuration: TerminalConfiguration
    let masterKey: SymmetricKey
    let frontEnd: any ATMFrontEnd
    let events: ATMEvents
    let clock: any Clock<Duration>
    let now: @Sendable () -> Date
    /// How long to wait between attempts to reach the switch.
    let retryDelay: Duration
    /// How often an idle machine tests its link.
    let keepAliveInterval: Duration

    var session: ATMSession
    var dispenser: EmulatedDispenser
    var link: TerminalSession?
    var pan: String?
    var timer: Task<Void, Never>?
    var timerGeneration = 0
    var reconnectGeneration = 0
    var quitting = false
    /// The electronic journal, the store-and-forward queue and the cassette counts (SQLite).
    let journal: ElectronicJournal
    /// The queue's sender: which entry next, and what an attempt's outcome means.
    var forwarder: StoreAndForward
    var forwardTimer: Task<Void, Never>?
    var forwardGeneration = 0
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
        self.clock = clock
        self.now = now
        self.retryDelay = retryDelay
        self.dispenser = dispenser
        self.session = ATMSession(
            settings: ATMSettings(
                currency: configuration.currency,
                fastCash: configuration.fastCash,
                timeouts: configuration.timeouts,
                planner: DispensePlanner(maxNotes: configuration.maxNotesPerDispense),
                accountPrefix: configuration.accountPrefix
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
        while !self.quitting {
            do {
                try await SwitchLink.with(host: self.configuration.host, port: self.configuration.port) { link in
                    let terminal = TerminalSession(
                        link: link,
                        terminal: self.configuration.terminal,
                        masterKey: self.masterKey,
                        currency: self.configuration.currency,
                        now: self.now
                    )
                    let answer = try await terminal.signOn()
                    guard answer[39] == "00" else {
                        throw LinkError("the switch refused the sign-on (\(answer[39] ?? "no code"))")
                    }
                    self.link = terminal
                    self.frontEnd.device("signed on to the switch at \(self.configuration.host):\(self.configuration.port)")
                    self.record(JournalEntry("link.up", ["switch": "\(self.configuration.host):\(self.configuration.port)"]))
                    // The queue drains before a customer is served.
                    await self.forward()
                    if self.link != nil { await self.perform(self.session.linkUp()) }
                    let beat = self.heartbeat()
                    await self.serve()
                    beat.cancel()
                    if self.quitting, self.link != nil {
                        _ = try? await terminal.signOff()
                    }
                }
            } catch {
                self.frontEnd.device("the switch cannot be reached: \(error)")
            }
            if !self.quitting { self.record(JournalEntry("link.down")) }
            self.link = nil
            if self.quitting { break }
            await self.perform(self.session.linkLost())
            // Out of service (or finishing a customer): keep serving events until it is time to retry.
            self.reconnectGeneration += 1
            let generation = self.reconnectGeneration
            _ = self.after(self.retryDelay, .reconnect(generation: generation))
            await self.serve(untilReconnect: generation)
        }
        self.timer?.cancel()
        self.forwardTimer?.cancel()
        self.record(JournalEntry("terminal.stop"))
        let counts = self.session.cassettes.map {
            "\(ScreenText.cash($0.denomination, currency: $0.currency)) x \($0.count) \($0.state.rawValue)"
        }
        self.frontEnd.device("cassettes: " + counts.joined(separator: ", "))
        self.events.continuation.finish()
    }

    /// Handles events until the link is lost, the input ends, or (offline) the reconnect time comes.
    func serve(untilReconnect generation: Int? = nil) async {
        while let event = await self.nextEvent() {
            switch event {
            case .input(let input):
                await self.handle(input)
                self.events.inputDone()
            case .timer(let timer, let current):
                guard current == self.timerGeneration else { continue }
                await self.perform(self.session.timerFired(timer))
            case .reconnect(let current):
                if generation == current { return }
            case .keepAlive:
                await self.keepAlive()
            case .forward(let current):
                if current == self.forwardGeneration { await self.forward() }
            }
            if self.quitting { return }
            if generation == nil && self.link == nil { return }
            // Offline, a customer who has taken the card leaves an idle machine: out of service.
            if self.link == nil && self.session.isIdle { await self.perform(self.session.linkLost()) }
        }
        self.quitting = true
    }

    /// The one iterator of the event stream (dropping an iterator would end the stream).
    var iterator: AsyncStream<ATMEvents.Event>.AsyncIterator?

    func nextEvent() async -> ATMEvents.Event? {
        var iterator = self.iterator ?? self.events.stream.makeAsyncIterator()
        let event = await iterator.next()
        self.iterator = iterator
        return event
    }

    func handle(_ input: ATMInput) async {
        self.recordKeys(input)
        switch input {
        case .quit:
            self.quitting = true
        case .insertCard(let pan):
            guard self.session.isIdle else {
                self.frontEnd.device(self.session.isOutOfService ? "out of service: the card is not taken in" : "a card is already in the reader")
                return
            }
            self.pan = pan
            self.link?.cardToken = nil
            self.cardSession = self.record(JournalEntry("card.inserted", ["pan": ATM87PrettyPrinter.maskPAN(pan)]))
            await self.perform(self.session.cardInserted(pan: pan))
        case .take:
            if case .takeCash = self.session.screen {
                await self.perform(self.session.cashTaken())
            } else {
                await self.perform(self.session.cardTaken())
            }
        case .typed(let digits):
            if self.session.isIdle {
                guard (12...19).contains(digits.count), digits.allSatisfy(\.isNumber) else {
                    self.frontEnd.device("a card number is 12 to 19 digits")
                    return
                }
                await self.handle(.insertCard(digits))
                return
            }
            // One line, one step: the keys' actions are performed together, so the screen is drawn once.
            var actions: [ATMAction] = []
            for digit in digits.utf8 where (0x30...0x39).contains(digit) {
                actions += self.session.key(.digit(digit - 0x30))
            }
            actions += self.session.key(.enter)
            await self.perform(actions)
        case .key(.function(let key)) where self.session.isIdle:
            // The card reader's emulation: a demo's test cards are picked with the function keys.
            guard let index = FunctionKey.allCases.firstIndex(of: key), index < self.configuration.testCards.count
            else { return }
            await self.handle(.insertCard(self.configuration.testCards[index].pan))
        case .key(let key):
            await self.perform(self.session.key(key))
        }
    }

    /// Performs actions in order; the dispenser's and the switch's results are fed back at once.
    func perform(_ actions: [ATMAction]) async {
        for action in actions {
            switch action {
            case .show(let screen):
                // Drawn once the actions are done (or before the machine waits on the switch).
                let name = ATMDisplay(screen).title
                if name != self.lastScreen {
                    self.lastScreen = name
                    self.record(self.entry("screen", ["screen": name]))
                }
            case .startTimer(let timer, let duration):
                self.startTimer(timer, duration)
            case .stopTimer:
                self.timerGeneration += 1
                self.timer?.cancel()
                self.timer = nil
            case .send(let request):
                await self.send(request)
            case .reverse(let order):
                await self.reverse(order)
            case .endCardSession:
                if let link = self.link { _ = try? await link.endCardSession() }
            case .dispense(let plan):
                let result = self.dispenser.dispense(plan)
                self.recordDispense(planned: plan, given: result.given, complete: result.complete)
                self.frontEnd.device(
                    result.complete
                        ? "dispensing \(plan.noteCount) note\(plan.noteCount == 1 ? "" : "s")"
                        : "the dispenser jammed after \(result.given.noteCount) of \(plan.noteCount) notes"
                )
                await self.perform(
                    result.complete ? self.session.dispensed(result.given) : self.session.dispenseFailed(given: result.given)
                )
            case .presentCash(let amount):
                self.frontEnd.device("cash presented: \(ScreenText.cash(amount, currency: self.configuration.currency)) (T takes it)")
            case .retractCash:
                self.frontEnd.device("cash retracted")
            case .printReceipt(let data):
                let header = Receipt.Header(
                    bankName: self.configuration.bankName,
                    terminal: self.configuration.terminal,
                    location: self.configuration.location,
                    time: Int(self.now().timeIntervalSince1970)
                )
                let lines = Receipt.lines(data, header)
                self.record(self.entry("receipt", ["lines": lines.joined(separator: "\n")]))
                self.frontEnd.printReceipt(lines)
            case .ejectCard:
                self.frontEnd.device("card ejected (T takes it)")
            case .captureCard:
                self.pan = nil
                self.frontEnd.device("card captured")
            case .journal(let event):
                self.recordEvent(event)
            }
        }
        if case .welcome = self.session.screen {
            self.pan = nil
            self.cardSession = nil
        }
        self.redraw()
    }

    /// Sends a request: journalled (and, for money, armed in the queue) before it goes on the wire;
    /// the answer journalled before the session acts on it; a timeout or a lost link goes back into the
    /// session as an outcome in doubt.
    func send(_ request: CardRequest) async {
        guard let link = self.link, let pan = self.pan else {
            await self.perform(self.session.linkLost())
            return
        }
        let message: ATM87Message
        do {
            message = try link.build(request, pan: pan)
            self.lastSTAN = message[11]
            let moves = request.processingCode.transaction.movesMoney
            self.armed = try self.journal.write { journal in
                let seq = try journal.append(
                    self.entry(
                        "request.sent",
                        [
                            "mti": "0200", "processingCode": request.processingCode.field,
                            "amount": String(request.amount), "from": request.from ?? "", "to": request.to ?? "",
                            "pan": ATM87PrettyPrinter.maskPAN(pan), "pinBlock": request.pin == nil ? "no" : "yes",
                        ]
                    )
                )
                return moves ? try journal.arm(requestSeq: seq, request: message, pan: pan) : nil
            }
        } catch {
            // Nothing went out: the journal could not record it, or it could not be built.
            self.frontEnd.device("the request was not sent: \(error)")
            self.record(self.entry("error", ["error": "request not sent: \(error)"]))
            await self.perform(self.session.linkLost())
            return
        }
        self.redraw()
        let outcome: Result<ATM87Message, any Error>
        do {
            outcome = .success(try await link.send(cardRequest: message, timeout: self.configuration.timeouts.response))
        } catch {
            outcome = .failure(error)
        }
        self.frontEnd.discardTypeAhead()
        switch outcome {
        case .success(let answer):
            let code = answer[39] ?? ""
            self.record(
                self.entry(
                    "answer.received",
                    [
                        "mti": answer.mti.description, "code": code, "rrn": answer[37] ?? "", "auth": answer[38] ?? "",
                        "processingCode": request.processingCode.field, "amount": String(request.amount),
                    ]
                ),
                answered: code
            )
            await self.perform(self.session.answerReceived(answer))
        case .failure(let error as LinkError):
            self.link = nil
            self.frontEnd.device("no answer from the switch: \(error)")
            self.record(self.entry("error", ["error": "no answer: \(error)"]))
            await self.perform(
                error.kind == .timeout ? self.session.timerFired(.response) : self.session.linkLost()
            )
        case .failure(let error):
            self.link = nil
            self.frontEnd.device("the request could not be sent: \(error)")
            self.record(self.entry("error", ["error": "request failed: \(error)"]))
            await self.perform(self.session.linkLost())
        }
    }

    /// While the link is up, an echo test (0800/301) every `keepAliveInterval` the machine is idle: it
    /// keeps the switch from closing an idle connection, and finds a broken link before a customer does.
    func heartbeat() -> Task<Void, Never> {
        let clock = self.clock
        let interval = self.keepAliveInterval
        let events = self.events
        return Task {
            while !Task.isCancelled {
                do {
                    try await clock.sleep(for: interval)
                } catch {
                    return
                }
                events.yield(.keepAlive)
            }
        }
    }

    func keepAlive() async {
        guard self.session.isIdle, let link = self.link else { return }
        do {
            let answer = try await link.echo()
            if answer[39] != "00" { self.frontEnd.device("the switch answered the echo test \(answer[39] ?? "?")") }
        } catch {
            self.link = nil
            self.frontEnd.device("the link to the switch is gone (\(error))")
        }
    }

    /// Queues the reversal advice of the request in flight, in one transaction with its journal
    /// record, then lets the sender try it at once if the link is up.
    func reverse(_ order: ReversalOrder) async {
        guard let armed = self.armed else { return }
        self.armed = nil
        do {
            try self.journal.write { journal in
                try journal.queue(armed, dispensed: order.dispensed, reason: order.reason.rawValue, due: self.millisecondsNow())
                try journal.append(
                    self.entry(
                        "reversal.queued",
                        [
                            "queue": String(armed), "reason": order.reason.rawValue, "amount": String(order.amount),
                            "dispensed": String(order.dispensed),
                        ]
                    )
                )
            }
        } catch {
            self.frontEnd.device("the reversal could not be queued: \(error)")
            return
        }
        if self.link != nil { await self.forward() }
    }

    func startTimer(_ timer: ATMTimer, _ duration: Duration) {
        self.timer?.cancel()
        self.timerGeneration += 1
        self.timer = self.after(duration, .timer(timer, generation: self.timerGeneration))
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
            online: self.link != nil,
            cassettes: self.session.cassettes,
            currency: self.configuration.currency,
            cardInReader: self.pan.map(ATM87PrettyPrinter.maskPAN)
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

import ATM87
import CashpointBank
import CashpointTerminal
import NIOCore
import NIOPosix

/// The load's terminals on one event loop: every terminal's connection is a channel of that loop, and
/// everything a terminal does (sign on, open its card session, wait for the others, send a request,
/// check its answer, record it, send the next) happens in the loop's callbacks. No task, no thread hop
/// and no lock per request: one core drives the load, and the client costs what the protocol costs.
///
/// Each terminal builds and checks its messages with `TerminalProtocol` (as the ATM's controller does):
/// the MAC on every request, and every answer's STAN and MAC checked before it counts.
final class LoadDriver {
    enum Phase {
        case connecting
        case signingOn
        case openingCard
        case waiting
        case running
        case finished
    }

    /// The request a terminal waits on.
    struct Pending {
        var request: ATM87Message
        var kind: LoadKind
        var card: Int
        /// Since the run's start; `.zero` during start-up.
        var intended: Duration
        var sentAt: NIODeadline
    }

    struct Terminal {
        let config: SwitchLoad.Terminal
        let cards: [SwitchLoad.Terminal.Card]
        let session: TerminalProtocol
        let address: SwitchAddress
        var link: LoadChannelHandler?
        var phase = Phase.connecting
        var schedule: LoadSchedule
        var generator: SplitMix64
        var transfers = 0
        var sent = 0
        /// The PIN the next request carries: nil while the card session's token serves.
        var pin: String?
        var pending: Pending?
        var outcome = SwitchLoad.TerminalOutcome()
    }

    /// How long a terminal waits for an answer before it gives its link up (as `SwitchLink`'s default).
    static let answerTimeout = TimeAmount.seconds(10)

    let load: SwitchLoad
    let loop: any EventLoop
    let recorder: LoadRecorder
    let started: EventLoopPromise<Void>
    let outcomes: EventLoopPromise<[SwitchLoad.TerminalOutcome]>
    var terminals: [Terminal]
    var start = NIODeadline.uptimeNanoseconds(0)
    let end: Duration
    var arrived = 0
    var finished = 0
    var failure: (any Error)?
    var watchdog: Scheduled<Void>?

    init(
        _ load: SwitchLoad,
        loop: any EventLoop,
        recorder: LoadRecorder,
        started: EventLoopPromise<Void>,
        outcomes: EventLoopPromise<[SwitchLoad.TerminalOutcome]>
    ) {
        self.load = load
        self.loop = loop
        self.recorder = recorder
        self.started = started
        self.outcomes = outcomes
        self.end = load.warmup + load.duration
        self.terminals = load.terminals.enumerated().map { index, terminal in
            Terminal(
                config: terminal,
                cards: terminal.cards,
                session: TerminalProtocol(terminal: terminal.id, masterKey: terminal.masterKey),
                address: load.switches[index % load.switches.count],
                schedule: LoadSchedule(
                    .forTerminal(index, of: load.terminals.count, rate: load.rate),
                    start: LoadSchedule.rampStart(index, of: load.terminals.count, over: load.ramp),
                    think: load.think
                ),
                generator: SplitMix64.stream(index, of: load.seed)
            )
        }
    }

    // MARK: Start-up

    /// Connects every terminal (on the loop); `outcomes` completes when the run is over.
    func run() {
        self.loop.assertInEventLoop()
        guard !self.terminals.isEmpty else {
            self.started.succeed()
            self.outcomes.succeed([])
            return
        }
        self.watchTimeouts()
        let bound = NIOLoopBound(self, eventLoop: self.loop)
        for index in self.terminals.indices {
            let address = self.terminals[index].address
            ClientBootstrap(group: self.loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(3))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addATM87Codec()
                        try channel.pipeline.syncOperations.addHandler(
                            LoadChannelHandler(driver: bound.value, index: index)
                        )
                    }
                }
                .connect(host: address.host, port: address.port)
                .assumeIsolated()
                .whenFailure { [self] error in
                    self.startUpFailed(
                        index,
                        LoadFailure(
                            .startUp,
                            "terminal \(self.terminals[index].config.id) could not start: cannot connect to "
                                + "\(address.host):\(address.port): \(error)"
                        )
                    )
                }
        }
    }

    /// The terminal's connection is up: it signs on.
    func connected(_ index: Int, link: LoadChannelHandler) {
        self.terminals[index].link = link
        self.terminals[index].phase = .signingOn
        do {
            let request = try self.terminals[index].session.signOnRequest()
            self.write(index, request, kind: .balance, card: 0, intended: .zero)
        } catch {
            self.startUpFailed(index, self.startUpError(index, error))
        }
    }

    func startUpError(_ index: Int, _ error: any Error) -> LoadFailure {
        if let failure = error as? LoadFailure { return failure }
        return LoadFailure(.startUp, "terminal \(self.terminals[index].config.id) could not start: \(error)")
    }

    /// A start-up answer: the sign-on's (then the card session is opened with the PIN) or the card
    /// session's (then the terminal waits for the others).
    func startUpAnswer(_ index: Int, _ answer: ATM87Message) throws {
        let terminal = self.terminals[index]
        guard let pending = terminal.pending else { return }
        self.terminals[index].pending = nil
        switch terminal.phase {
        case .signingOn:
            let signOn = try terminal.session.acceptSignOn(answer)
            guard signOn[39] == "00" else {
                throw LoadFailure(
                    .startUp,
                    "terminal \(terminal.config.id): the sign-on answered \(signOn[39] ?? "nothing")"
                )
            }
            self.terminals[index].phase = .openingCard
            let request = try terminal.session.build(
                CardRequest(
                    TransactionKind.balance.code,
                    pan: terminal.config.pan,
                    from: terminal.config.accounts.first,
                    pin: terminal.config.pin
                )
            )
            self.write(index, try terminal.session.signed(request), answering: request, kind: .balance, card: 0)
        case .openingCard:
            let opened = try terminal.session.checked(answer, answering: pending.request)
            terminal.session.acceptCardAnswer(opened)
            guard opened[39] == "00" else {
                throw LoadFailure(
                    .startUp,
                    "terminal \(terminal.config.id): the card session did not open, response code "
                        + "\(opened[39] ?? "none")"
                )
            }
            self.terminals[index].phase = .waiting
            self.arrive()
        default:
            break
        }
    }

    func startUpFailed(_ index: Int, _ error: LoadFailure) {
        guard self.terminals[index].phase != .waiting, self.terminals[index].phase != .finished else { return }
        self.failure = self.failure ?? error
        self.terminals[index].phase = .finished
        self.terminals[index].pending = nil
        self.terminals[index].link?.close()
        self.arrive()
    }

    /// One more terminal is ready (or could not start); once all are in, the run starts, or ends at once
    /// when any could not start.
    func arrive() {
        self.arrived += 1
        guard self.arrived == self.terminals.count else { return }
        if let failure = self.failure {
            for index in self.terminals.indices {
                self.terminals[index].phase = .finished
                self.terminals[index].link?.close()
            }
            self.watchdog?.cancel()
            self.started.fail(failure)
            self.outcomes.fail(failure)
            return
        }
        self.start = .now()
        self.started.succeed()
        for index in self.terminals.indices where self.terminals[index].phase == .waiting {
            self.terminals[index].phase = .running
            self.next(index)
        }
    }

    // MARK: The run

    /// The time since the run's start.
    func elapsed() -> Duration {
        .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds &- self.start.uptimeNanoseconds))
    }

    /// Sends the terminal's next request now or at its intended time, or ends the terminal's run.
    func next(_ index: Int) {
        let now = self.elapsed()
        guard now < self.end else { return self.finish(index) }
        let intended = self.terminals[index].schedule.next(now: now)
        guard intended < self.end else { return self.finish(index) }
        guard intended > now else { return self.send(index, intended: intended) }
        self.loop.assumeIsolated().scheduleTask(deadline: self.start + TimeAmount(intended)) { [self] in
            guard self.terminals[index].phase == .running else { return }
            self.send(index, intended: intended)
        }
    }

    /// The next request of the mix, built, signed and sent. One card: its session goes on with the
    /// token. Several: each request is the next card's, a new card session with its PIN.
    func send(_ index: Int, intended: Duration) {
        let kind = self.load.mix.draw(using: &self.terminals[index].generator)
        let cards = self.terminals[index].cards
        let cardIndex = self.terminals[index].sent % cards.count
        let card = cards[cardIndex]
        self.terminals[index].sent += 1
        if cards.count > 1 { self.terminals[index].pin = card.pin }
        if kind == .transfer { self.terminals[index].transfers += 1 }
        let request = self.load.cardRequest(
            kind,
            card: card,
            pin: self.terminals[index].pin,
            reversed: self.terminals[index].transfers.isMultiple(of: 2)
        )
        let session = self.terminals[index].session
        do {
            let built = try session.build(request)
            self.write(
                index,
                try session.signed(built),
                answering: built,
                kind: kind,
                card: cardIndex,
                intended: intended
            )
        } catch {
            self.lost(index, measured: intended >= self.load.warmup)
        }
    }

    func write(
        _ index: Int,
        _ message: ATM87Message,
        answering request: ATM87Message? = nil,
        kind: LoadKind,
        card: Int,
        intended: Duration = .zero
    ) {
        self.terminals[index].pending = Pending(
            request: request ?? message,
            kind: kind,
            card: card,
            intended: intended,
            sentAt: .now()
        )
        self.terminals[index].link?.write(message)
    }

    /// What came in on a terminal's connection.
    func received(_ index: Int, _ inbound: ATM87Inbound) {
        switch self.terminals[index].phase {
        case .signingOn, .openingCard:
            do {
                guard case .message(let answer) = inbound else {
                    throw LoadFailure(
                        .startUp,
                        "terminal \(self.terminals[index].config.id) could not start: the switch's answer "
                            + "does not decode"
                    )
                }
                try self.startUpAnswer(index, answer)
            } catch {
                self.startUpFailed(index, self.startUpError(index, error))
            }
        case .running:
            guard let pending = self.terminals[index].pending else { return }
            let session = self.terminals[index].session
            guard case .message(let answer) = inbound,
                let checked = try? session.checked(answer, answering: pending.request)
            else { return self.lost(index, measured: pending.intended >= self.load.warmup) }
            session.acceptCardAnswer(checked)
            self.terminals[index].pending = nil
            let code = checked[39] ?? "--"
            self.recorder.record(
                pending.kind,
                code: code,
                latency: self.elapsed() - pending.intended,
                measured: pending.intended >= self.load.warmup
            )
            // 63: the card session's token was refused (it expired, after at most two minutes): the
            // terminal opens a new card session with the PIN, as an ATM asks for the card again.
            let card = self.terminals[index].cards[pending.card]
            self.terminals[index].pin = code == ResponseCode.securityViolation.rawValue ? card.pin : nil
            self.next(index)
        case .connecting, .waiting, .finished:
            break
        }
    }

    /// The connection closed.
    func closed(_ index: Int) {
        switch self.terminals[index].phase {
        case .connecting, .signingOn, .openingCard:
            self.startUpFailed(
                index,
                LoadFailure(
                    .startUp,
                    "terminal \(self.terminals[index].config.id) could not start: the switch closed the connection"
                )
            )
        case .waiting, .running:
            self.lost(index, measured: self.terminals[index].pending.map { $0.intended >= self.load.warmup })
        case .finished:
            break
        }
    }

    /// A request got no usable answer (none in time, a closed link, an answer that does not check): it
    /// counts as an error and the terminal stops, as a terminal must not act on such an answer.
    /// `measured`: whether the request was in the measured window; nil when none was on its way.
    func lost(_ index: Int, measured: Bool?) {
        guard self.terminals[index].phase == .running || self.terminals[index].phase == .waiting else { return }
        if let measured { self.recorder.recordError(measured: measured) }
        self.terminals[index].outcome.lost = true
        self.finish(index)
    }

    func finish(_ index: Int) {
        guard self.terminals[index].phase != .finished else { return }
        self.terminals[index].phase = .finished
        self.terminals[index].pending = nil
        self.terminals[index].outcome.unsent = self.terminals[index].schedule.unsent(before: self.end)
        self.terminals[index].link?.close()
        self.finished += 1
        if self.finished == self.terminals.count {
            self.watchdog?.cancel()
            self.outcomes.succeed(self.terminals.map(\.outcome))
        }
    }

    /// Once a second until the run ends: a terminal whose answer is late by more than `answerTimeout`
    /// gives its link up.
    func watchTimeouts() {
        self.watchdog = self.loop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            self.checkTimeouts()
            if self.finished < self.terminals.count { self.watchTimeouts() }
        }
    }

    func checkTimeouts() {
        let now = NIODeadline.now()
        for index in self.terminals.indices {
            guard let pending = self.terminals[index].pending, now - pending.sentAt > Self.answerTimeout else {
                continue
            }
            switch self.terminals[index].phase {
            case .signingOn, .openingCard:
                self.startUpFailed(
                    index,
                    LoadFailure(
                        .startUp,
                        "terminal \(self.terminals[index].config.id) could not start: no answer within "
                            + "\(Self.answerTimeout.nanoseconds / 1_000_000_000) s"
                    )
                )
            case .running:
                self.lost(index, measured: pending.intended >= self.load.warmup)
            default:
                break
            }
        }
    }
}

/// A load terminal's connection: hands what comes in to the driver, writes what it sends.
final class LoadChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ATM87Inbound
    typealias OutboundOut = ATM87Message

    let driver: LoadDriver
    let index: Int
    var context: ChannelHandlerContext?

    init(driver: LoadDriver, index: Int) {
        self.driver = driver
        self.index = index
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        self.driver.connected(self.index, link: self)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.driver.received(self.index, Self.unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.driver.closed(self.index)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func write(_ message: ATM87Message) {
        guard let context = self.context else { return }
        context.writeAndFlush(Self.wrapOutboundOut(message), promise: nil)
    }

    func close() {
        self.context?.close(promise: nil)
    }
}

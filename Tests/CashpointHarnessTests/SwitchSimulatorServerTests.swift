import ATM87
import CashpointHarness
import CashpointSecurity
import CashpointTerminal
import NIOCore
import NIOPosix
import Testing

/// The simulator's shell over TCP, against a real NIO client speaking ATM-87 (the codec the ATM uses):
/// sign-on, a rule answering 51, an answer under a wrong MAC, a dropped connection, garbage, the end.
@Suite("The switch simulator over TCP", .serialized, .timeLimit(.minutes(1)))
struct SwitchSimulatorServerTests {
    /// A client connection: what arrives is queued; nil when the connection is closed.
    final class Inbox: ChannelInboundHandler, Sendable {
        typealias InboundIn = ATM87Inbound
        let continuation: AsyncStream<ATM87Message?>.Continuation

        init(_ continuation: AsyncStream<ATM87Message?>.Continuation) { self.continuation = continuation }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .message(let message) = Self.unwrapInboundIn(data) { self.continuation.yield(message) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.continuation.yield(nil)
            self.continuation.finish()
            context.fireChannelInactive()
        }
    }

    struct Client {
        let channel: any Channel
        var inbox: AsyncStream<ATM87Message?>.AsyncIterator

        static func connect(port: Int) async throws -> Client {
            let (stream, continuation) = AsyncStream.makeStream(of: ATM87Message?.self)
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addATM87Codec()
                        try channel.pipeline.syncOperations.addHandler(Inbox(continuation))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .get()
            return Client(channel: channel, inbox: stream.makeAsyncIterator())
        }

        func send(_ message: ATM87Message) async throws { try await self.channel.writeAndFlush(message) }

        /// The next message, or nil once the connection is closed.
        mutating func next() async -> ATM87Message? { (await self.inbox.next()) ?? nil }
    }

    static func start(_ text: String, untilPassed: Bool = false) async throws -> (SwitchSimulatorServer, SimulatedBank) {
        let bank = try SwitchSimulatorTests.bank()
        let server = try await SwitchSimulatorServer.start(
            SwitchSimulator(script: try HostScript.parse(text, file: "host.yaml"), bank: bank),
            host: "127.0.0.1",
            port: 0,
            untilPassed: untilPassed,
            settle: .milliseconds(50),
            say: { _ in }
        )
        return (server, bank)
    }

    @Test("sign-on, a rule's 51, a wrong MAC the terminal refuses, a dropped connection; then the record")
    func rules() async throws {
        let (server, bank) = try await Self.start(
            """
            rules:
              - {name: big, when: {3: "01*", 4: {gt: 20000}}, code: "51"}
              - {name: spoiled, when: {3: "31*"}, mac: wrong}
              - {name: gone, when: {4: "000000001000"}, drop: true}
            """
        )
        var client = try await Client.connect(port: server.port)
        let terminal = try SwitchSimulatorTests.terminal(bank)
        try await client.send(try terminal.signOnRequest())
        let signOn = try terminal.acceptSignOn(try #require(await client.next()))
        #expect(signOn[39] == "00")

        let big = try SwitchSimulatorTests.withdrawal(terminal, 30_000)
        try await client.send(try terminal.signed(big))
        #expect(try terminal.checked(try #require(await client.next()), answering: big)[39] == "51")

        let balance = try terminal.build(
            CardRequest(ProcessingCode(.balanceInquiry), pan: SwitchSimulatorTests.bob, pin: "4321")
        )
        try await client.send(try terminal.signed(balance))
        let spoiled = try #require(await client.next())
        #expect(throws: LinkError.self) { try terminal.checked(spoiled, answering: balance) }

        let gone = try SwitchSimulatorTests.withdrawal(terminal, 1_000)
        try await client.send(try terminal.signed(gone))
        #expect(await client.next() == nil)

        server.stop("the test is over")
        let (reason, simulator) = await server.finished()
        #expect(reason == "the test is over")
        let requests = try #require(simulator).record.requests
        #expect(requests.map { $0.message?.mti } == [.networkManagementRequest, .financialRequest, .financialRequest, .financialRequest])
        #expect(requests.map(\.rule) == [nil, "big", "spoiled", "gone"])
    }

    @Test("a frame over the limit closes the connection; the simulator goes on and records it")
    func garbage() async throws {
        let (server, _) = try await Self.start("name: garbage")
        let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: server.port)
            .get()
        try await raw.writeAndFlush(ByteBuffer(bytes: [0x23, 0x28, 0x30, 0x38, 0x30, 0x30]))
        try await raw.closeFuture.get()
        // Still serving: a terminal signs on after it.
        let bank = try SwitchSimulatorTests.bank()
        var client = try await Client.connect(port: server.port)
        let terminal = try SwitchSimulatorTests.terminal(bank)
        try await client.send(try terminal.signOnRequest())
        #expect(try terminal.acceptSignOn(try #require(await client.next()))[39] == "00")
        server.stop("done")
        let simulator = try #require(await server.finished().simulator)
        #expect(simulator.record.entries.contains { $0.note?.contains("the connection is closed") == true })
    }

    @Test("--until passed: the run ends by itself once the expectations hold")
    func untilPassed() async throws {
        let (server, bank) = try await Self.start(
            "expect: [{name: signed on, mti: \"0800\", when: {70: \"001\"}, count: 1}]",
            untilPassed: true
        )
        var client = try await Client.connect(port: server.port)
        let terminal = try SwitchSimulatorTests.terminal(bank)
        try await client.send(try terminal.signOnRequest())
        _ = try terminal.acceptSignOn(try #require(await client.next()))
        let (reason, _) = await server.finished()
        #expect(reason == "every expectation held")
    }
}

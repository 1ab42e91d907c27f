import CashpointBank
import CashpointHarness
import CashpointStore
import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite struct BankCheckScheduleTests {
    @Test(arguments: [UInt64(1), 42, 123_456_789])
    func theSameSeedGivesTheSameScheduleWithEveryFault(seed: UInt64) {
        let schedule = ChaosSchedule(seed: seed, duration: .seconds(60))
        #expect(schedule == ChaosSchedule(seed: seed, duration: .seconds(60)))
        #expect(Set(schedule.events.map(\.fault)) == Set(ChaosFault.singleServer))
        let times = schedule.events.map(\.at)
        #expect(times == times.sorted())
        #expect(times.allSatisfy { $0 >= .seconds(3) && $0 <= .seconds(42) })
    }

    @Test func anotherSeedGivesAnotherSchedule() {
        #expect(ChaosSchedule(seed: 1, duration: .seconds(60)) != ChaosSchedule(seed: 2, duration: .seconds(60)))
    }

    @Test func aLongerRunHasMoreFaults() {
        #expect(ChaosSchedule(seed: 7, duration: .seconds(600)).events.count > ChaosFault.singleServer.count)
        #expect(ChaosSchedule(seed: 7, duration: .seconds(10)).events.count == ChaosFault.singleServer.count)
    }

    /// The cluster's run: the primary killed as often as asked, the rejoin never scheduled on its own (it
    /// is the kill's recovery), every other kind at least once.
    @Test(arguments: [UInt64(3), 99])
    func aClusterRunKillsThePrimaryAsOftenAsAsked(seed: UInt64) {
        let schedule = ChaosSchedule(
            seed: seed,
            duration: .seconds(60),
            faults: ChaosFault.highAvailability,
            atLeast: [.killPrimary: 5],
            slot: .seconds(15)
        )
        let faults = schedule.events.map(\.fault)
        #expect(faults.filter { $0 == .killPrimary }.count == 5)
        #expect(Set(faults) == [.killSwitch, .killPrimary, .cutConnections])
        #expect(faults.count == 7)
        #expect(schedule.events.map(\.at) == schedule.events.map(\.at).sorted())
    }
}

/// What a failover cost, from the requests' send and end times: from the first request in doubt after
/// the kill (the primary's death), the first 00 to a request sent after it, and the requests in doubt until then.
@Suite struct BankCheckFailoverTests {
    static func request(
        _ stan: Int,
        _ outcome: BankCheckOutcome,
        sent: Duration,
        ended: Duration
    ) -> BankCheckRequest {
        BankCheckRequest(
            key: BankCheckKey(terminal: "ATM00001", stan: String(format: "%06d", stan), transmitted: "1207120000"),
            operation: BankCheckOperation(.deposit, amount: 100, to: "A"),
            outcome: outcome,
            sent: sent,
            ended: ended
        )
    }

    @Test func theFirstAcknowledgementAfterTheKillEndsTheOutage() {
        let requests = [
            // Sent before the kill, answered after it: not the new primary's.
            Self.request(1, .acknowledged, sent: .seconds(9), ended: .seconds(10.5)),
            Self.request(2, .inDoubt(.connectionLost), sent: .seconds(9.5), ended: .seconds(10.2)),
            Self.request(3, .inDoubt(.issuerInoperative), sent: .seconds(12), ended: .seconds(12.1)),
            Self.request(4, .refused(code: "51"), sent: .seconds(20), ended: .seconds(21)),
            Self.request(5, .acknowledged, sent: .seconds(29), ended: .seconds(31)),
            Self.request(6, .acknowledged, sent: .seconds(30), ended: .seconds(30.5)),
            // In doubt after the bank had recovered: another fault's.
            Self.request(7, .inDoubt(.noAnswer), sent: .seconds(40), ended: .seconds(60)),
        ]
        let failovers = BankCheckFailover.measure(kills: [(at: .seconds(10), promotedAfter: .seconds(19))], requests: requests)
        #expect(
            failovers == [
                BankCheckFailover(
                    killedAt: .seconds(10),
                    promotedAfter: .seconds(19),
                    firstAcknowledgedAfter: .seconds(20.3),
                    inDoubt: 2
                )
            ]
        )
        #expect(
            failovers[0].text
                == "at 10.0 s: promoted after 19.0 s, first 00 20.3 s after the primary's death, 2 requests in doubt"
        )
    }

    @Test func aBankThatNeverAnswers00AgainFailsTheCheck() {
        let requests = [Self.request(1, .inDoubt(.issuerInoperative), sent: .seconds(12), ended: .seconds(12.1))]
        let failovers = BankCheckFailover.measure(kills: [(at: .seconds(10), promotedAfter: .seconds(19))], requests: requests)
        #expect(failovers[0].firstAcknowledgedAfter == nil && failovers[0].inDoubt == 1)
        let report = BankCheckReport(
            seed: 1,
            terminals: 1,
            seconds: 60,
            chaos: true,
            requests: requests,
            inquiries: [:],
            reconnects: 0,
            failedReads: 0,
            ledgerRows: 0,
            faults: [.killSwitch: 1, .killPrimary: 1, .rejoinPrimary: 1, .cutConnections: 1],
            faultKinds: ChaosFault.highAvailability,
            faultErrors: [],
            failovers: failovers,
            verdict: BankCheckChecker.check(
                requests: [],
                ledger: [],
                opening: BankCheckSnapshot([]),
                reads: [],
                final: BankCheckSnapshot([])
            )
        )
        #expect(report.faultsNotFired.isEmpty)
        #expect(!report.passed)
        #expect(report.text.contains("FAILED: no request answered 00 after it"))
    }
}

@Suite struct BankCheckBankTests {
    @Test func twoTerminalsShareEachCardAndEveryAccountOpensSmall() throws {
        let data = try BankCheckBank.fixtureJSON(terminals: 5)
        let fixture = try JSONDecoder().decode(BankFixture.self, from: data)
        #expect(fixture.terminals.count == 5)
        #expect(fixture.customers.count == 3)
        let terminals = try SwitchLoad.terminals(5, from: fixture)
        #expect(terminals[0].pan == terminals[3].pan)
        #expect(terminals[1].pan == terminals[4].pan)
        #expect(terminals[0].pan != terminals[1].pan)
    }
}

/// The chaos proxy over real sockets: bytes pass both ways, in order even under a delay, and a cut
/// closes the client's connection.
@Suite(.timeLimit(.minutes(1))) struct ChaosProxyTests {
    /// The tests' own event loops, shut down at the end of each test (the singleton's threads would
    /// outlive the test process's main thread).
    static func withGroup(_ body: (MultiThreadedEventLoopGroup) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await body(group)
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// An echo server on a free port.
    static func echoServer(_ group: MultiThreadedEventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
    }

    /// Connects to `port`, sends each chunk, and reads until `expected` bytes came back or the
    /// connection closed; returns what came.
    static func exchange(
        _ group: MultiThreadedEventLoopGroup,
        port: Int,
        chunks: [String],
        expected: Int,
        proxy: ChaosProxy? = nil
    ) async throws -> String {
        let client = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await client.executeThenClose { inbound, outbound in
            for chunk in chunks { try await outbound.write(ByteBuffer(string: chunk)) }
            var received = ""
            for try await var buffer in inbound {
                received += buffer.readString(length: buffer.readableBytes) ?? ""
                if received.utf8.count >= expected {
                    if let proxy {
                        #expect(proxy.cutAll() == 1)
                        continue
                    }
                    break
                }
            }
            return received
        }
    }

    @Test func bytesPassInOrderUnderADelay() async throws {
        try await Self.withGroup { group in
            let server = try await Self.echoServer(group)
            let proxy = ChaosProxy(upstreamHost: "127.0.0.1", upstreamPort: server.localAddress!.port!, group: group)
            try await proxy.start(port: 0)
            proxy.setDelay(.milliseconds(30))
            let chunks = (1...20).map { "chunk \($0);" }
            let expected = chunks.joined().utf8.count
            let received = try await Self.exchange(group, port: proxy.port, chunks: chunks, expected: expected)
            #expect(received == chunks.joined())
            await proxy.stop()
            try await server.close()
        }
    }

    @Test func aCutClosesTheClientsConnection() async throws {
        try await Self.withGroup { group in
            let server = try await Self.echoServer(group)
            let proxy = ChaosProxy(upstreamHost: "127.0.0.1", upstreamPort: server.localAddress!.port!, group: group)
            try await proxy.start(port: 0)
            // The echo arrives, the proxy cuts, and the client's stream ends (the loop returns).
            let received = try await Self.exchange(group, port: proxy.port, chunks: ["hello"], expected: 5, proxy: proxy)
            #expect(received == "hello")
            await proxy.stop()
            try await server.close()
        }
    }
}

import ATM87
import CashpointHarness
import CashpointSecurity
import CashpointTerminal
import Crypto
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The load client on its event loop against a switch of a few lines: it signs the terminal on with
/// fresh keys and approves every card request, MACed, with the card session's token. What the load
/// reports, and that it refuses an answer that does not check, need no bank behind the switch.
@Suite("The load client against a scripted switch")
struct SwitchLoadTests {
    /// What the scripted switch spoils in its answers to 0200s.
    enum Spoil: Sendable {
        case nothing
        /// The MAC of the `n`-th answer to a 0200 (1: the one that opens the card session).
        case mac(Int)
        /// The STAN of the `n`-th answer to a 0200.
        case stan(Int)
    }

    final class ScriptedSwitch: ChannelInboundHandler, Sendable {
        typealias InboundIn = ATM87Inbound
        typealias OutboundOut = ATM87Message

        let master: SymmetricKey
        let spoil: Spoil
        let state = Mutex((keys: SessionKeys?.none, cardAnswers: 0))

        init(master: SymmetricKey, spoil: Spoil) {
            self.master = master
            self.spoil = spoil
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .message(let request) = Self.unwrapInboundIn(data) else { return context.close(promise: nil) }
            do {
                var answer = ATM87Message(mti: MTI(rawValue: request.mti.rawValue + 10))
                try answer.set(11, request[11] ?? "000000")
                try answer.set(39, "00")
                let keys: SessionKeys
                if request.mti == .networkManagementRequest {
                    keys = SessionKeys.generate()
                    self.state.withLock { $0.keys = keys }
                    try answer.set(70, request[70] ?? "001")
                    try answer.set(120, try KeyMaterial.encode(keys, under: self.master))
                } else {
                    guard let current = self.state.withLock({ $0.keys }) else { return context.close(promise: nil) }
                    keys = current
                    try answer.set(62, "T0KEN")
                }
                let count = self.state.withLock { state in
                    if request.mti == .financialRequest { state.cardAnswers += 1 }
                    return state.cardAnswers
                }
                if case .stan(let n) = self.spoil, request.mti == .financialRequest, count == n {
                    try answer.set(11, "999999")
                }
                var signed = try MessageAuthentication.sign(answer, key: keys.mac)
                if case .mac(let n) = self.spoil, request.mti == .financialRequest, count == n {
                    signed = try MessageAuthentication.sign(answer, key: SessionKeys.generate().mac)
                }
                context.writeAndFlush(Self.wrapOutboundOut(signed), promise: nil)
            } catch {
                context.close(promise: nil)
            }
        }
    }

    static func run(spoil: Spoil, duration: Duration = .milliseconds(300)) async throws -> LoadReport {
        let master = SymmetricKey(size: .bits128)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addATM87Codec()
                    try channel.pipeline.syncOperations.addHandler(ScriptedSwitch(master: master, spoil: spoil))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let terminal = SwitchLoad.Terminal(
            id: "ATM00001",
            masterKey: master,
            pan: "4000001234567899",
            pin: "1234",
            accounts: ("ACC-1", "ACC-2")
        )
        let load = SwitchLoad(
            switches: [SwitchAddress(host: "127.0.0.1", port: server.localAddress!.port!)],
            terminals: [terminal],
            duration: duration,
            warmup: .zero
        )
        let report = try await load.run()
        try await server.close()
        try await group.shutdownGracefully()
        return report
    }

    @Test("every answer checked and counted: all 00, no error, no terminal lost")
    func answered() async throws {
        let report = try await Self.run(spoil: .nothing)
        #expect(report.requests > 0 && report.codes == ["00": report.requests])
        #expect(report.errors == 0 && report.terminalsLost == 0)
    }

    @Test(
        "an answer whose MAC or STAN does not check is an error, and its terminal stops",
        arguments: [Spoil.mac(4), Spoil.stan(4)]
    )
    func refused(spoil: Spoil) async throws {
        let report = try await Self.run(spoil: spoil, duration: .seconds(5))
        // The first 0200 opened the card session; the second and third were answered; the fourth did
        // not check, and the terminal sent nothing more.
        #expect(report.requests == 2 && report.codes == ["00": 2])
        #expect(report.errors == 1 && report.terminalsLost == 1)
    }
}

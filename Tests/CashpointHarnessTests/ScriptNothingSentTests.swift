import CashpointHarness
import Crypto
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// `atm-harness run` sends nothing when a script fails the check: a listening socket that records
/// every byte of every connection sees none of the script's, only the probe the test sends after the
/// run (connections are accepted in order, so an earlier one of the run's would come first).
@Suite("Harness scripts: a script that fails the check sends nothing", .serialized)
struct ScriptNothingSentTests {
    /// Every connection's bytes, in the order the connections were accepted.
    final class Recording: Sendable {
        let connections = Mutex<[[UInt8]]>([])
        let arrivals: AsyncStream<Void>
        let arrived: AsyncStream<Void>.Continuation

        init() {
            let (arrivals, arrived) = AsyncStream.makeStream(of: Void.self)
            self.arrivals = arrivals
            self.arrived = arrived
        }

        var bytes: [[UInt8]] { self.connections.withLock { $0 } }

        /// Waits until `condition` holds for the connections' bytes (at most 10 s).
        func wait(until condition: @escaping @Sendable ([[UInt8]]) -> Bool) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in self.arrivals where condition(self.bytes) { return }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    Issue.record("the listener did not receive what was expected: \(self.bytes)")
                }
                if condition(self.bytes) {
                    group.cancelAll()
                    return
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }

    final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let recording: Recording
        let index = Mutex(-1)

        init(recording: Recording) { self.recording = recording }

        func channelActive(context: ChannelHandlerContext) {
            let number = self.recording.connections.withLock { connections in
                connections.append([])
                return connections.count - 1
            }
            self.index.withLock { $0 = number }
            self.recording.arrived.yield()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = Self.unwrapInboundIn(data)
            let number = self.index.withLock { $0 }
            self.recording.connections.withLock { $0[number] += buffer.readableBytesView }
            self.recording.arrived.yield()
        }
    }

    static func listening(_ body: (Int, Recording) async throws -> Void) async throws {
        let recording = Recording()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Recorder(recording: recording))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        do {
            try await body(try #require(server.localAddress?.port), recording)
        } catch {
            try await server.close()
            try await group.shutdownGracefully()
            throw error
        }
        try await server.close()
        try await group.shutdownGracefully()
    }

    static func runner(_ port: Int) -> ScriptRunner {
        ScriptRunner(host: "127.0.0.1", port: port, masterKey: { _ in SymmetricKey(size: .bits256) }, say: { _ in })
    }

    static func script(_ steps: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("send-\(UUID().uuidString).yaml").path
        try "name: sends\nterminal: ATM00001\nsteps:\n\(steps)".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the control: a script that passes the check reaches the listener")
    func controlSends() async throws {
        try await Self.listening { port, recording in
            let path = try Self.script("  - {action: raw, hex: \"0102\"}\n")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let report = await Self.runner(port).run(files: [path])
            #expect(report.scripts.first?.steps.map(\.action) == ["raw"])
            try await recording.wait { $0.first == [0x01, 0x02] }
        }
    }

    @Test(
        "a misspelt key, an unknown action, an unset capture: the run is refused with file:line, nothing is sent",
        arguments: [
            (
                "  - {action: raw, hex: \"0102\"}\n  - {action: echo, expcet: {39: \"99\"}}\n", "5:20",
                "unknown key `expcet`"
            ),
            ("  - {action: raw, hex: \"0102\"}\n  - {action: echoo}\n", "5:14", "unknown action echoo"),
            (
                "  - {action: raw, hex: \"0102\"}\n  - {action: echo, expect: {37: \"${rrn}\"}}\n", "5:33",
                "${rrn} is not set"
            ),
        ]
    )
    func refused(steps: String, place: String, problem: String) async throws {
        try await Self.listening { port, recording in
            let path = try Self.script(steps)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let said = Mutex<[String]>([])
            let runner = ScriptRunner(
                host: "127.0.0.1",
                port: port,
                masterKey: { _ in SymmetricKey(size: .bits256) },
                say: { line in said.withLock { $0.append(line) } }
            )
            let report = await runner.run(files: [path])
            let step = try #require(report.scripts.first?.steps.first)
            #expect(report.scripts.count == 1 && step.action == "check" && step.status == .error)
            #expect(step.problems.first?.hasPrefix("\(path):\(place): error: \(problem)") == true, "\(step.problems)")
            #expect(report.failed == 1 && report.passed == 0)
            #expect(said.withLock { $0 }.contains { $0.contains("nothing was sent") })
            // The probe: the first connection the listener accepted is the probe's, with its bytes only.
            let probe = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port)
                .get()
            try await probe.writeAndFlush(ByteBuffer(string: "PROBE")).get()
            try await recording.wait { $0.first?.count == 5 }
            #expect(recording.bytes == [Array("PROBE".utf8)])
            try await probe.close()
        }
    }
}

import ATM87
import NIOCore
import NIOEmbedded
import NIOExtras
import NIOTestUtils
import Testing

@Suite("ATM-87 framing")
struct FrameDecoderTests {
    func frame(_ message: ATM87Message) -> ByteBuffer { message.framed() }

    func frame(raw text: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt16(text.utf8.count))
        buffer.writeString(text)
        return buffer
    }

    func malformedPair() throws -> (ByteBuffer, ATM87Inbound) {
        let text = "0800" + "0200000000000000" + "11250930X5"
        let error = #expect(throws: ATM87Error.self) { try decode(text) }
        return (self.frame(raw: text), .malformed(try #require(error)))
    }

    @Test("ByteToMessageDecoderVerifier: drip-fed, batched and whole frames give the same messages")
    func verifier() throws {
        var pairs: [(ByteBuffer, [ATM87Inbound])] = try exampleMessages().map {
            (self.frame($0.message), [.message($0.message)])
        }
        let (badFrame, badResult) = try self.malformedPair()
        pairs.append((badFrame, [badResult]))
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { ATM87FrameDecoder() }
    }

    @Test("random chunking of a stream of frames loses and invents nothing", arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomChunking(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        let messages = try exampleMessages().map(\.message)
        var expected: [ATM87Inbound] = []
        var stream = ByteBuffer()
        for _ in 0..<50 {
            if Int.random(in: 0..<10, using: &generator) == 0 {
                let (bad, result) = try self.malformedPair()
                stream.writeImmutableBuffer(bad)
                expected.append(result)
            } else {
                let message = messages.randomElement(using: &generator)!
                stream.writeImmutableBuffer(self.frame(message))
                expected.append(.message(message))
            }
        }
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ATM87FrameDecoder()))
        var received: [ATM87Inbound] = []
        while stream.readableBytes > 0 {
            let size = min(stream.readableBytes, Int.random(in: 1...300, using: &generator))
            try channel.writeInbound(stream.readSlice(length: size)!)
            while let inbound = try channel.readInbound(as: ATM87Inbound.self) { received.append(inbound) }
        }
        #expect(received == expected)
        #expect(try channel.finish().isClean)
    }

    @Test("a declared length over 8,192 is refused as soon as the two length bytes arrive")
    func oversizedFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ATM87FrameDecoder()))
        var header = ByteBuffer()
        header.writeInteger(UInt16(8193))
        let error = #expect(throws: ATM87FramingError.self) { try channel.writeInbound(header) }
        #expect(error == ATM87FramingError(declaredLength: 8193, limit: 8192))
        _ = try? channel.finish()
    }

    @Test("the limit is the decoder's parameter; a frame exactly at it passes")
    func limitIsInclusive() throws {
        let message = try typicalWithdrawal()
        let length = message.encodedLength
        let atLimit = EmbeddedChannel(handler: ByteToMessageHandler(ATM87FrameDecoder(maximumMessageLength: length)))
        try atLimit.writeInbound(message.framed())
        #expect(try atLimit.readInbound(as: ATM87Inbound.self) == .message(message))
        let belowLimit = EmbeddedChannel(
            handler: ByteToMessageHandler(ATM87FrameDecoder(maximumMessageLength: length - 1))
        )
        #expect(throws: ATM87FramingError.self) { try belowLimit.writeInbound(message.framed()) }
        _ = try? belowLimit.finish()
    }

    @Test("framing agrees with NIOExtras' LengthFieldBasedFrameDecoder on random streams", arguments: [11, 12, 13])
    func agreesWithNIOExtras(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var stream = ByteBuffer()
        var frames = 0
        for _ in 0..<200 {
            let length = Int.random(in: 0...600, using: &generator)
            stream.writeInteger(UInt16(length))
            stream.writeBytes((0..<length).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) })
            frames += 1
        }
        let ours = EmbeddedChannel(handler: ByteToMessageHandler(ATM87FrameDecoder()))
        let theirs = EmbeddedChannel(
            handler: ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes))
        )
        while stream.readableBytes > 0 {
            let chunk = stream.readSlice(length: min(stream.readableBytes, Int.random(in: 1...900, using: &generator)))!
            try ours.writeInbound(chunk)
            try theirs.writeInbound(chunk)
        }
        var count = 0
        while let frame = try theirs.readInbound(as: ByteBuffer.self) {
            let expected: ATM87Inbound
            do {
                expected = .message(try ATM87Message(decoding: frame))
            } catch {
                expected = .malformed(error)
            }
            #expect(try ours.readInbound(as: ATM87Inbound.self) == expected)
            count += 1
        }
        #expect(count == frames)
        #expect(try ours.readInbound(as: ATM87Inbound.self) == nil)
    }

    @Test("the outbound codec writes exactly the frame: LengthFieldPrepender's length, then the message")
    func outbound() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addATM87Codec()
        let message = try typicalWithdrawal()
        try channel.writeOutbound(message)
        var written: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += Array(buffer.readableBytesView) }
        #expect(written == message.framedBytes)
        // And what goes out comes back in.
        var frame = ByteBuffer()
        frame.writeBytes(written)
        try channel.writeInbound(frame)
        #expect(try channel.readInbound(as: ATM87Inbound.self) == .message(message))
        #expect(try channel.finish().isClean)
    }

    @Test("a message too long for a frame is refused on the way out")
    func outboundTooLong() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addATM87Codec(maximumMessageLength: 50)
        let message = try typicalWithdrawal()
        #expect(throws: ATM87Error.self) { try channel.writeOutbound(message) }
        _ = try? channel.finish()
    }
}

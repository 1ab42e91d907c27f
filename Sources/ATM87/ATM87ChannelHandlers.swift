public import NIOCore
import NIOExtras

/// What the frame decoder hands on: a message, or a frame that arrived whole but did not decode.
///
/// A malformed frame does not end the connection: the switch answers it (response code 30) when the
/// error carries the MTI and STAN, and closes the connection otherwise. Only framing errors (a length
/// over the limit) are thrown, which closes the connection.
public enum ATM87Inbound: Sendable, Equatable {
    case message(ATM87Message)
    case malformed(ATM87Error)
}

/// A framing error: the connection cannot stay in step with its peer and is closed.
public struct ATM87FramingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The length the peer declared.
    public var declaredLength: Int
    /// The largest length allowed.
    public var limit: Int

    public init(declaredLength: Int, limit: Int) {
        self.declaredLength = declaredLength
        self.limit = limit
    }

    public var description: String {
        "ATM-87 framing error: a frame declares \(self.declaredLength) bytes; at most \(self.limit) are allowed"
    }
}

/// Splits the byte stream into frames (2-byte big-endian length, then the message) and decodes each.
///
/// A declared length over the limit is refused as soon as the two length bytes arrive, before any of
/// the frame is buffered: NIOExtras' `LengthFieldBasedFrameDecoder` has no maximum and would buffer
/// any declared length up to 64 KiB first. The framing agrees with it byte for byte
/// (`Tests/ATM87Tests/FrameDecoderTests.swift` checks the two against each other); outbound frames are
/// NIOExtras' `LengthFieldPrepender`'s.
public struct ATM87FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ATM87Inbound

    public let maximumMessageLength: Int

    public init(maximumMessageLength: Int = ATM87Spec.maxMessageLength) {
        self.maximumMessageLength = maximumMessageLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ATM87Inbound? {
        guard let declared = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt16.self) else {
            return nil
        }
        let length = Int(declared)
        guard length <= self.maximumMessageLength else {
            throw ATM87FramingError(declaredLength: length, limit: self.maximumMessageLength)
        }
        guard buffer.readableBytes >= 2 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 2)
        let frame = buffer.readSlice(length: length)!
        do {
            return .message(try ATM87Message(decoding: frame))
        } catch {
            return .malformed(error)
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ATM87Inbound? {
        try self.decode(buffer: &buffer)
    }
}

/// Writes a message's bytes; `LengthFieldPrepender` in front of it adds the length.
public struct ATM87MessageEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ATM87Message

    public let maximumMessageLength: Int

    public init(maximumMessageLength: Int = ATM87Spec.maxMessageLength) {
        self.maximumMessageLength = maximumMessageLength
    }

    public func encode(data: ATM87Message, out: inout ByteBuffer) throws {
        let length = data.encodedLength
        guard length <= self.maximumMessageLength else {
            throw ATM87Error(
                code: .messageTooLong,
                detail: "message is \(length) bytes; at most \(self.maximumMessageLength) fit a frame",
                mti: data.mti,
                stan: data[11]
            )
        }
        data.encode(into: &out)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the ATM-87 codec: frames in and out, messages in and out.
    public func addATM87Codec(maximumMessageLength: Int = ATM87Spec.maxMessageLength) throws {
        try self.addHandler(ByteToMessageHandler(ATM87FrameDecoder(maximumMessageLength: maximumMessageLength)))
        try self.addHandler(LengthFieldPrepender(lengthFieldBitLength: .twoBytes, lengthFieldEndianness: .big))
        try self.addHandler(MessageToByteHandler(ATM87MessageEncoder(maximumMessageLength: maximumMessageLength)))
    }
}

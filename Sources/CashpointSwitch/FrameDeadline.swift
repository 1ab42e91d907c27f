import NIOCore

/// Closes a connection whose frame, once its first byte has come, has not arrived whole within
/// `deadline`. The idle timeout alone is reset by every byte, so a peer sending one byte a second
/// would hold its connection (and a place under `--max-connections`) for ever. Sits in front of the
/// frame decoder and reads only the 2-byte length prefixes to know where each frame ends.
final class FrameDeadlineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let deadline: TimeAmount
    /// Where the frame in progress is: the header bytes read so far (0, 1) and, once read, the body
    /// bytes still to come.
    var headerBytes = 0
    var firstLengthByte: UInt8 = 0
    var bodyLeft = 0
    var timer: Scheduled<Void>?

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    var inFrame: Bool { self.headerBytes > 0 || self.bodyLeft > 0 }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        var view = buffer.readableBytesView[...]
        var started = false
        while !view.isEmpty {
            if self.bodyLeft > 0 {
                let taken = min(self.bodyLeft, view.count)
                self.bodyLeft -= taken
                view = view.dropFirst(taken)
                continue
            }
            // A header byte: the first one starts a frame.
            if self.headerBytes == 0 {
                self.firstLengthByte = view.first!
                self.headerBytes = 1
                started = true
            } else {
                let length = Int(self.firstLengthByte) << 8 | Int(view.first!)
                self.headerBytes = 0
                self.bodyLeft = length
            }
            view = view.dropFirst()
        }
        // A frame that came whole in one read (the usual case) needs no timer at all.
        if !self.inFrame {
            self.timer?.cancel()
            self.timer = nil
        } else if started || self.timer == nil {
            self.startTimer(context: context)
        }
        context.fireChannelRead(data)
    }

    func startTimer(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: self.deadline) { [self] in
            guard self.inFrame else { return }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }
}

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard output or standard error that a reader going away cannot crash: SIGPIPE is ignored, and
/// once a write fails (EPIPE: `atm-harness run ... | head -1`) nothing more is written there and the
/// run goes on, so its reports (the JUnit file) are still written. Foundation's
/// `FileHandle.write(_:)` ends the process on such an error instead.
public final class HarnessOutput: Sendable {
    public static let standardOutput = HarnessOutput(descriptor: 1)
    public static let standardError = HarnessOutput(descriptor: 2)

    let descriptor: Int32
    /// True once a write failed: the reader is gone.
    let closed = Mutex(false)

    /// Ignores SIGPIPE for the process, once: a write to a closed pipe then fails with EPIPE.
    static let pipeSignalIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    public init(descriptor: Int32) {
        self.descriptor = descriptor
        _ = Self.pipeSignalIgnored
    }

    /// Whether a write has failed (nothing is written any more).
    public var isClosed: Bool { self.closed.withLock { $0 } }

    /// Writes the text and a line break, all of it; false if it could not (and from then on).
    @discardableResult
    public func line(_ text: String) -> Bool {
        self.write(text + "\n")
    }

    /// Writes the text, all of it; false if it could not (and from then on).
    @discardableResult
    public func write(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return self.closed.withLock { closed in
            guard !closed else { return false }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { buffer in
                    Self.systemWrite(self.descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    closed = true
                    return false
                }
                offset += written
            }
            return true
        }
    }

    static func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(descriptor, pointer, count)
        #elseif canImport(Musl)
        Musl.write(descriptor, pointer, count)
        #else
        Darwin.write(descriptor, pointer, count)
        #endif
    }
}

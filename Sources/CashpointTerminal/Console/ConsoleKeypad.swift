import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The console as a keypad: prompts on standard output, keys from standard input; a PIN or password
/// is read with echo off and shown as `*`. Reads run on a thread of their own, never on Swift's pool.
public final class ConsoleKeypad: KeypadIO {
    public init() {}

    public func show(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    public func ask(_ prompt: String) async -> String? {
        FileHandle.standardOutput.write(Data((prompt + " ").utf8))
        return await Self.onThread { readLine() }
    }

    public func askSecret(_ prompt: String) async -> String? {
        FileHandle.standardOutput.write(Data((prompt + " ").utf8))
        guard isatty(STDIN_FILENO) == 1 else { return await Self.onThread { readLine() } }
        return await Self.onThread { Self.readMasked() }
    }

    static func onThread(_ work: @escaping @Sendable () -> String?) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// Reads a line with echo off, printing `*` per key and honouring backspace (`MaskedLine`).
    static func readMasked() -> String? {
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
        var line = MaskedLine()
        while true {
            switch line.key(getchar()) {
            case .echo(let text): if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
            case .done(let typed): return typed
            }
        }
    }
}

/// A secret typed with echo off, key by key: what each key shows, and the line once it ends.
public struct MaskedLine: Sendable {
    public enum Step: Sendable, Hashable {
        /// Show this (a `*`, or the erasing of one), and read on.
        case echo(String)
        /// The line is over: what was typed, nil when input ended before anything was.
        case done(String?)
    }

    var typed: [UInt8] = []

    public init() {}

    /// One key as `getchar` returns it (`EOF` at the end of input).
    public mutating func key(_ key: Int32) -> Step {
        switch key {
        case EOF: return .done(self.typed.isEmpty ? nil : String(decoding: self.typed, as: UTF8.self))
        case 10, 13: return .done(String(decoding: self.typed, as: UTF8.self))
        case 8, 127:
            guard !self.typed.isEmpty else { return .echo("") }
            self.typed.removeLast()
            return .echo("\u{8} \u{8}")
        default:
            self.typed.append(UInt8(truncatingIfNeeded: key))
            return .echo("*")
        }
    }
}

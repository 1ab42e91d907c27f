import CashpointTerminal
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The console as a keypad: prompts on standard output, keys from standard input; a PIN or password
/// is read with echo off and shown as `*`. Reads run on a thread of their own, never on Swift's pool.
final class ConsoleKeypad: KeypadIO {
    func show(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    func ask(_ prompt: String) async -> String? {
        FileHandle.standardOutput.write(Data((prompt + " ").utf8))
        return await Self.onThread { readLine() }
    }

    func askSecret(_ prompt: String) async -> String? {
        FileHandle.standardOutput.write(Data((prompt + " ").utf8))
        guard isatty(STDIN_FILENO) == 1 else { return await Self.onThread { readLine() } }
        return await Self.onThread { Self.readMasked() }
    }

    static func onThread(_ work: @escaping @Sendable () -> String?) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// Reads a line with echo off, printing `*` per key and honouring backspace.
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
        var typed: [UInt8] = []
        while true {
            let key = getchar()
            switch key {
            case EOF: return typed.isEmpty ? nil : String(decoding: typed, as: UTF8.self)
            case 10, 13: return String(decoding: typed, as: UTF8.self)
            case 8, 127:
                if !typed.isEmpty {
                    typed.removeLast()
                    FileHandle.standardOutput.write(Data("\u{8} \u{8}".utf8))
                }
            default:
                typed.append(UInt8(truncatingIfNeeded: key))
                FileHandle.standardOutput.write(Data("*".utf8))
            }
        }
    }
}

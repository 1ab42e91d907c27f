public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ATM as text, one screen after another: for scripts, tmux and tests (`atm-terminal atm --plain`,
/// and whenever standard input is not a terminal). A screen is printed when it changes.
public final class PlainFrontEnd: ATMFrontEnd, @unchecked Sendable {
    let write: @Sendable (String) -> Void
    let lock = NSLock()
    var last: String?

    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    public func draw(_ display: ATMDisplay, status: ATMStatus) {
        let text = display.plainText
        let changed = self.lock.withLock {
            defer { self.last = text }
            return self.last != text
        }
        if changed { self.write("\n" + text + "\n") }
    }

    public func printReceipt(_ lines: [String]) {
        let rule = String(repeating: "-", count: Receipt.width)
        self.write((["  +" + rule + "+"] + lines.map { "  |" + $0.padding(toLength: Receipt.width, withPad: " ", startingAt: 0) + "|" } + ["  +" + rule + "+"]).joined(separator: "\n") + "\n")
    }

    public func device(_ event: String) {
        self.write("* \(event)\n")
    }

    public func discardTypeAhead() {}
}

/// What a line of plain input means.
///
/// | Line | Input |
/// |---|---|
/// | digits | typed, then Enter (a card number at the welcome screen) |
/// | empty, `enter` | Enter |
/// | `a`-`h`, `F1`-`F8` | a function key |
/// | `cancel`, `esc` | Cancel |
/// | `clear` | Clear |
/// | `take`, `t` | take the cash or the card |
/// | `card NUMBER` | insert a card |
/// | `q`, `quit` | stop the terminal |
public enum PlainInput {
    public static func parse(_ line: String) -> ATMInput? {
        let text = line.trimmingCharacters(in: .whitespaces)
        let lower = text.lowercased()
        switch lower {
        case "", "enter": return .key(.enter)
        case "cancel", "esc": return .key(.cancel)
        case "clear": return .key(.clear)
        case "take", "t": return .take
        case "q", "quit", "exit": return .quit
        default: break
        }
        if lower.count == 1, let key = FunctionKey(rawValue: lower.uppercased()) { return .key(.function(key)) }
        if lower.hasPrefix("f"), let number = Int(lower.dropFirst()), (1...8).contains(number) {
            return .key(.function(FunctionKey.allCases[number - 1]))
        }
        if lower.hasPrefix("card ") {
            let number = lower.dropFirst(5).trimmingCharacters(in: .whitespaces)
            return number.allSatisfy(\.isNumber) && !number.isEmpty ? .insertCard(number) : nil
        }
        if text.allSatisfy(\.isNumber) { return .typed(text) }
        return nil
    }

    /// Reads lines from a file descriptor on a thread of its own and hands each to the machine, one at a
    /// time; the end of input quits. A line that means nothing is answered on `complain`.
    public static func startReading(
        _ handle: FileHandle,
        into events: ATMEvents,
        complain: @escaping @Sendable (String) -> Void
    ) {
        let thread = Thread {
            var reader = LineReader(handle: handle)
            while let line = reader.next() {
                guard let input = parse(line) else {
                    complain("* not understood: type digits, a-h, enter, clear, cancel, take, card NUMBER or quit\n")
                    continue
                }
                events.submit(input)
                if input == .quit { return }
            }
            events.submit(.quit)
        }
        thread.start()
    }
}

/// Lines from a file handle, read in blocks (standard input of a pipe or a terminal).
struct LineReader {
    let handle: FileHandle
    var buffer: [UInt8] = []
    var ended = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let newline = self.buffer.firstIndex(of: 0x0A) {
                var line = Array(self.buffer[..<newline])
                self.buffer.removeSubrange(...newline)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            if self.ended {
                guard !self.buffer.isEmpty else { return nil }
                defer { self.buffer = [] }
                return String(decoding: self.buffer, as: UTF8.self)
            }
            var block = [UInt8](repeating: 0, count: 4_096)
            let count = block.withUnsafeMutableBytes { read(self.handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { self.ended = true } else { self.buffer += block[0..<count] }
        }
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal's settings before the full-screen ATM took it over: restored on every way out.
nonisolated(unsafe) private var savedTerminal = termios()
nonisolated(unsafe) private var terminalTaken = false

/// What puts the terminal back: cursor shown, main screen, the saved settings. Async-signal-safe
/// (write and tcsetattr only), so the signal handlers call it too.
private func restoreTerminal() {
    guard terminalTaken else { return }
    let reset = "\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l"
    _ = reset.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
    tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal)
    terminalTaken = false
}

/// Raw keys, the alternate screen, and the promise to give both back: at exit, on Ctrl-C (SIGINT),
/// SIGTERM and SIGHUP, and on a crash signal (the signal is then raised again, so the crash is
/// still reported).
public enum TerminalMode {
    public static func takeOver() {
        guard !terminalTaken else { return }
        tcgetattr(STDIN_FILENO, &savedTerminal)
        var raw = savedTerminal
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        raw.c_cc.6 = 1  // VMIN
        raw.c_cc.5 = 0  // VTIME
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        terminalTaken = true
        let enter = "\u{1B}[?1049h\u{1B}[?25l\u{1B}[2J"
        _ = enter.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
        atexit { restoreTerminal() }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { number in
                restoreTerminal()
                _exit(128 + number)
            }
        }
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] {
            signal(sig) { number in
                restoreTerminal()
                signal(number, SIG_DFL)
                raise(number)
            }
        }
    }

    public static func giveBack() { restoreTerminal() }

    /// Standard input with echo off and lines kept (plain mode at a terminal: PINs and card numbers are
    /// not echoed).
    public static func echoOff() {
        guard !terminalTaken, isatty(STDIN_FILENO) == 1 else { return }
        tcgetattr(STDIN_FILENO, &savedTerminal)
        var quiet = savedTerminal
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
        terminalTaken = true
        atexit { restoreTerminal() }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { number in
                restoreTerminal()
                _exit(128 + number)
            }
        }
    }
}

/// Bytes from a terminal in raw mode, as ATM keys: digits, Enter, Backspace (Clear), Esc (Cancel),
/// a-h or F1-F8 (function keys), t (take), Ctrl-D or q at the welcome screen (quit).
public enum KeyDecoder {
    public enum Key: Sendable, Hashable {
        case atm(ATMKey)
        case take
        case quit
        case letter(Character)
    }

    /// Decodes one key from the start of `bytes`; returns it and how many bytes it took, or nil when
    /// more bytes are needed (an escape sequence not yet complete). A lone Esc is Cancel.
    public static func decode(_ bytes: [UInt8], more: Bool) -> (Key?, Int)? {
        guard let first = bytes.first else { return nil }
        switch first {
        case 0x30...0x39: return (.atm(.digit(first - 0x30)), 1)
        case 0x0D, 0x0A: return (.atm(.enter), 1)
        case 0x7F, 0x08: return (.atm(.clear), 1)
        case 0x04: return (.quit, 1)
        case 0x1B:
            if bytes.count == 1 { return more ? nil : (.atm(.cancel), 1) }
            if bytes[1] == 0x4F {  // ESC O P..S: F1-F4
                guard bytes.count >= 3 else { return more ? nil : (.atm(.cancel), 1) }
                let index = Int(bytes[2]) - 0x50
                return ((0..<4).contains(index) ? .atm(.function(FunctionKey.allCases[index])) : nil, 3)
            }
            if bytes[1] == 0x5B {  // ESC [ digits ~ : F1-F8 (11~-15~, 17~-19~), others ignored
                var end = 2
                while end < bytes.count, !(0x40...0x7E).contains(bytes[end]) { end += 1 }
                guard end < bytes.count else { return more ? nil : (nil, bytes.count) }
                let body = String(decoding: bytes[2..<end], as: UTF8.self)
                let map: [String: Int] = ["11": 0, "12": 1, "13": 2, "14": 3, "15": 4, "17": 5, "18": 6, "19": 7]
                if bytes[end] == 0x7E, let index = map[body] {
                    return (.atm(.function(FunctionKey.allCases[index])), end + 1)
                }
                return (nil, end + 1)
            }
            return (.atm(.cancel), 1)
        default:
            let character = Character(UnicodeScalar(first))
            if let key = FunctionKey(rawValue: character.uppercased()) { return (.atm(.function(key)), 1) }
            if character == "t" || character == "T" { return (.take, 1) }
            return (.letter(character), 1)
        }
    }
}

/// The full-screen ATM: a framed display with the function-key labels beside it, the keypad below,
/// and beside them the machine's state (link, cassettes, card, what it holds out) and the current
/// customer's receipt. Rows are redrawn only where they changed; the frame never draws more rows or
/// columns than the terminal has, so nothing wraps or scrolls.
public final class FullScreenFrontEnd: ATMFrontEnd, @unchecked Sendable {
    let lock = NSLock()
    var drawn: [String] = []
    var drawnSize: TerminalSize?
    var display = ATMDisplay(title: "")
    var status: ATMStatus?
    var events: [String] = []
    /// Digits of a card number being typed at the welcome screen.
    var cardDigits = ""
    let notes: [String]
    /// The terminal's size now (rows, columns); a test gives a fixed one.
    let size: @Sendable () -> TerminalSize
    /// Where the escapes go: standard output (a test keeps them).
    let output: @Sendable (String) -> Void

    /// `notes`: lines shown under the side panel (a demo's test cards and PINs).
    public init(
        notes: [String] = [],
        size: @escaping @Sendable () -> TerminalSize = TerminalSize.current,
        output: @escaping @Sendable (String) -> Void = FullScreenFrontEnd.standardOutput
    ) {
        self.notes = notes
        self.size = size
        self.output = output
    }

    /// Writes to standard output.
    @Sendable public static func standardOutput(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    public func draw(_ display: ATMDisplay, status: ATMStatus) {
        self.lock.withLock {
            self.display = display
            self.status = status
            if display.title != "WELCOME" { self.cardDigits = "" }
            self.render()
        }
    }

    /// The receipt is drawn from the status (the current customer's, gone when the customer is).
    public func printReceipt(_ lines: [String]) {}

    public func device(_ event: String) {
        self.lock.withLock {
            self.events = Array((self.events + [event]).suffix(3))
            self.render()
        }
    }

    public func discardTypeAhead() {
        tcflush(STDIN_FILENO, TCIFLUSH)
    }

    /// Reads keys on a thread of its own and hands them to the machine one at a time.
    public func startReading(into events: ATMEvents) {
        let thread = Thread {
            var pending: [UInt8] = []
            var byte: UInt8 = 0
            while true {
                let more = pending.isEmpty ? true : Self.waitForInput(milliseconds: 40)
                if pending.isEmpty || more {
                    let count = read(STDIN_FILENO, &byte, 1)
                    if count <= 0 {
                        events.submit(.quit)
                        return
                    }
                    pending.append(byte)
                }
                while let (key, used) = KeyDecoder.decode(pending, more: Self.waitForInput(milliseconds: 0)) {
                    pending.removeFirst(used)
                    if let key, let input = self.input(for: key) {
                        events.submit(input)
                        if input == .quit { return }
                    }
                    if pending.isEmpty { break }
                }
            }
        }
        thread.start()
    }

    static func waitForInput(milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// At the welcome screen digits make a card number (never shown in full); elsewhere keys are keys.
    func input(for key: KeyDecoder.Key) -> ATMInput? {
        self.lock.withLock {
            let welcome = self.display.title == "WELCOME"
            switch key {
            case .quit: return .quit
            case .take: return .take
            case .letter(let character):
                return welcome && (character == "q" || character == "Q") ? .quit : nil
            case .atm(let atmKey):
                guard welcome else { return .key(atmKey) }
                switch atmKey {
                case .digit(let digit):
                    if self.cardDigits.count < 19 { self.cardDigits += String(digit) }
                    self.render()
                    return nil
                case .clear:
                    self.cardDigits = String(self.cardDigits.dropLast())
                    self.render()
                    return nil
                case .cancel:
                    self.cardDigits = ""
                    self.render()
                    return nil
                case .enter:
                    defer { self.cardDigits = "" }
                    return self.cardDigits.isEmpty ? nil : .typed(self.cardDigits)
                case .function:
                    return .key(atmKey)
                }
            }
        }
    }

    // MARK: Drawing

    /// The machine's column: the frame and the keypad.
    static let machineWidth = 46
    /// The side panel's column: the status, the receipt (32 wide, indented) and the notes.
    static let sideWidth = 34
    /// 80 columns: the whole machine fits a terminal of the classic size.
    static let width = machineWidth + sideWidth
    static let inner = 34
    /// Rows beside the machine: the frame's 14 and the keypad's 4.
    static let sideRows = 18

    func render() {
        let size = self.size()
        var out = ""
        if size != self.drawnSize {
            // A new size: everything is drawn again on a clear screen.
            self.drawn = []
            self.drawnSize = size
            out += "\u{1B}[2J"
        }
        let rows = self.frame(size)
        for (index, row) in rows.enumerated() where index >= self.drawn.count || self.drawn[index] != row {
            out += "\u{1B}[\(index + 1);1H" + row + "\u{1B}[K"
        }
        for index in rows.count..<max(rows.count, self.drawn.count) { out += "\u{1B}[\(index + 1);1H\u{1B}[K" }
        self.drawn = rows
        if !out.isEmpty { self.output(out) }
    }

    /// The whole screen as rows of text, at most `size.rows` rows of at most `size.columns` characters
    /// (a pure function of what was drawn, so a test can read it).
    public func frame(_ size: TerminalSize = TerminalSize(rows: 24, columns: 80)) -> [String] {
        let display = self.display
        var rows: [String] = []
        let online = self.status?.online ?? false
        let head = " CASHPOINT  \(self.status?.terminal ?? "")  \(self.status?.location ?? "")"
        rows.append(Self.pad(head, Self.width - 12) + (online ? "[ ONLINE ]" : "[ OFFLINE ]"))
        rows.append("")
        // The display: 12 rows inside a frame; labels of A-D on the left rows 3,5,7,9, E-H on the right.
        var body: [String] = [" " + display.title, ""] + display.lines.map { " " + $0 }
        if display.title == "WELCOME", !self.cardDigits.isEmpty {
            body.append(" Card: " + Self.maskedTyping(self.cardDigits))
        }
        // Rows 3, 5, 7 and 9 belong to the function keys beside them when either key has a label; the
        // body's lines take the other rows in order, and the entry line the last.
        let labelRows = [3, 5, 7, 9]
        let left = Array(FunctionKey.allCases.prefix(4))
        let right = Array(FunctionKey.allCases.suffix(4))
        var screen = Array(repeating: "", count: 12)
        var keyRows: [Int: (left: String?, right: String?, leftKey: FunctionKey, rightKey: FunctionKey)] = [:]
        for slot in 0..<4 where display.keys[left[slot]] != nil || display.keys[right[slot]] != nil {
            keyRows[labelRows[slot]] = (display.keys[left[slot]], display.keys[right[slot]], left[slot], right[slot])
        }
        let entryRow = display.entry == nil ? nil : 11
        var free = (0..<12).filter { keyRows[$0] == nil && $0 != entryRow }[...]
        for line in body {
            guard let row = free.popFirst() else { break }
            screen[row] = line
        }
        if let entryRow, let entry = display.entry { screen[entryRow] = " " + entry }
        var machine = ["     ┌" + String(repeating: "─", count: Self.inner) + "┐"]
        for row in 0..<12 {
            var content = Self.pad(screen[row], Self.inner)
            var leftMark = "     "
            var rightMark = "     "
            if let keys = keyRows[row] {
                let rightText = keys.right.map { $0 + " >" } ?? ""
                let leftText = keys.left.map { "< " + $0 } ?? ""
                let room = Self.inner - rightText.count - (rightText.isEmpty ? 0 : 1)
                content = Self.pad(leftText, room) + (rightText.isEmpty ? "" : " " + rightText)
                if keys.left != nil { leftMark = " [\(keys.leftKey.rawValue)]>" }
                if keys.right != nil { rightMark = "<[\(keys.rightKey.rawValue)] " }
            }
            machine.append(leftMark + "│" + content + "│" + rightMark)
        }
        machine.append("     └" + String(repeating: "─", count: Self.inner) + "┘")
        machine += [
            "        [1] [2] [3]    [Esc]  CANCEL",
            "        [4] [5] [6]    [Bksp] CLEAR",
            "        [7] [8] [9]    [Enter] ENTER",
            "            [0]        [T] take cash or card",
        ]
        let side = self.sidePanel()
        for (index, line) in machine.enumerated() {
            rows.append(Self.pad(line, Self.machineWidth) + (index < side.count ? side[index] : ""))
        }
        rows.append(" " + (self.events.last ?? ""))
        rows.append(" Keys: digits Enter Bksp=Clear Esc=Cancel A-H/F1-F8 T=take; q (welcome), Ctrl-C quit")
        return rows.prefix(max(0, size.rows)).map { String(Self.pad($0, Self.width).prefix(max(0, size.columns))) }
    }

    /// Beside the machine, in `sideRows` rows: the status first, the notes last, and between them as
    /// much of the receipt as fits (its header lines go first when it does not).
    func sidePanel() -> [String] {
        var status: [String] = []
        if let state = self.status {
            status.append("CASSETTES")
            for cassette in state.cassettes {
                status.append(
                    "  \(ScreenText.cash(cassette.denomination, currency: cassette.currency)) x \(cassette.count) \(cassette.state.rawValue)"
                )
            }
            status.append("CARD  " + (state.cardInReader ?? "-"))
            if state.cardOut { status.append("  out of the reader: T takes it") }
            if let cash = state.cashPresented {
                status.append("CASH  \(ScreenText.cash(cash, currency: state.currency)) out: T takes it")
            }
        }
        var receipt: [String] = []
        if let lines = self.status?.receipt, !lines.isEmpty {
            let room = Self.sideRows - status.count - self.notes.count - 1
            var shown = lines
            // The bank, terminal and date lines (and the blank after them) give way first.
            while shown.count > room, let first = shown.first, !first.hasPrefix("CARD") { shown.removeFirst() }
            receipt = ["RECEIPT"] + shown.prefix(max(0, room)).map { "  " + $0 }
        }
        let free = max(0, Self.sideRows - status.count - receipt.count)
        return (status + receipt + self.notes.prefix(free)).map { Self.pad($0, Self.sideWidth) }
    }

    /// A card number as it is typed: one `*` a digit, never a digit itself.
    static func maskedTyping(_ digits: String) -> String {
        String(repeating: "*", count: digits.count)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
    }
}

/// A terminal's size in character cells.
public struct TerminalSize: Sendable, Hashable {
    public var rows: Int
    public var columns: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }

    /// Standard output's window size (TIOCGWINSZ); 24 x 80 when it has none.
    @Sendable public static func current() -> TerminalSize {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else {
            return TerminalSize(rows: 24, columns: 80)
        }
        return TerminalSize(rows: Int(size.ws_row), columns: Int(size.ws_col))
    }
}

public import CashpointSecurity
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TerminalConfiguration {
    /// Why a terminal cannot start: one sentence to act on.
    public struct StartError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The terminal's master key: from its key file, or the TEST key of a demo bank fixture.
    public func loadMasterKey() throws(StartError) -> SecretKey {
        do {
            if let file = self.masterKeyFile {
                return try SecretKey(contentsOfFile: file, name: "master key")
            }
            guard let fixture = self.fixture else {
                throw StartError("no master key: set masterKeyFile (or, for a demo, fixture) in the configuration")
            }
            struct Fixture: Decodable {
                struct Terminal: Decodable {
                    var id: String
                    var masterKey: String?
                }
                var terminals: [Terminal]
            }
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: fixture))
            } catch {
                throw StartError("\(fixture) cannot be read: \(error.localizedDescription)")
            }
            guard let parsed = try? JSONDecoder().decode(Fixture.self, from: data) else {
                throw StartError("\(fixture) is not a bank fixture (no terminals list)")
            }
            guard let hex = parsed.terminals.first(where: { $0.id == self.terminal })?.masterKey else {
                throw StartError("\(fixture) has no master key for \(self.terminal): set masterKeyFile")
            }
            return try SecretKey(hex: hex, name: "master key of \(self.terminal)")
        } catch let error as SecretKey.LoadError {
            throw StartError(error.description)
        } catch let error as StartError {
            throw error
        } catch {
            throw StartError("\(error)")
        }
    }
}

/// The ATM at the console: the full-screen ATM at a terminal, the plain text one otherwise (or when
/// asked). `atm-terminal atm` calls this and nothing else.
public enum ATMConsole {
    public static func run(
        configuration: TerminalConfiguration,
        plain: Bool,
        dispenser: EmulatedDispenser = EmulatedDispenser(),
        notes: [String] = []
    ) async throws(TerminalConfiguration.StartError) {
        let key = try configuration.loadMasterKey()
        let folder = configuration.dataFolderPath
        let lock = try TerminalLock.take(folder: folder)
        defer { lock.release() }
        let journal: ElectronicJournal
        do {
            journal = try ElectronicJournal(path: folder + "/journal.sqlite", masterKey: key.key)
        } catch {
            throw TerminalConfiguration.StartError("\(error)")
        }
        let events = ATMEvents()
        let fullScreen = !plain && isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let frontEnd: any ATMFrontEnd
        if fullScreen {
            let screen = FullScreenFrontEnd(notes: notes)
            TerminalMode.takeOver()
            screen.startReading(into: events)
            frontEnd = screen
        } else {
            let write: @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
            TerminalMode.echoOff()
            if !notes.isEmpty { write(notes.joined(separator: "\n") + "\n") }
            PlainInput.startReading(FileHandle.standardInput, into: events, complain: write)
            frontEnd = PlainFrontEnd(write: write)
        }
        let controller = ATMController(
            configuration: configuration,
            masterKey: key.key,
            frontEnd: frontEnd,
            events: events,
            dispenser: dispenser,
            journal: journal,
            forwarding: configuration.forwarding
        )
        await controller.run()
        TerminalMode.giveBack()
    }
}

extension TerminalConfiguration {
    /// The terminal's data folder: the configuration's, else `.data/terminals/ID`.
    public var dataFolderPath: String { self.dataFolder ?? ".data/terminals/\(self.terminal)" }

    /// Opens the terminal's journal (for the operator's commands).
    public func openJournal() throws(StartError) -> ElectronicJournal {
        let key = try self.loadMasterKey()
        do {
            return try ElectronicJournal(path: self.dataFolderPath + "/journal.sqlite", masterKey: key.key)
        } catch {
            throw StartError("\(error)")
        }
    }
}

/// One process at a time serves customers (or changes the cash) from a data folder: an exclusive
/// `flock` on `atm.lock` there, let go when the process ends, however it ends.
public struct TerminalLock: Sendable {
    let descriptor: Int32

    public static func take(folder: String) throws(TerminalConfiguration.StartError) -> TerminalLock {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw TerminalConfiguration.StartError("cannot make the data folder \(folder): \(error.localizedDescription)")
        }
        let path = folder + "/atm.lock"
        let descriptor = open(path, O_CREAT | O_RDWR, 0o600)
        guard descriptor >= 0 else { throw TerminalConfiguration.StartError("cannot open \(path)") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw TerminalConfiguration.StartError(
                "the terminal in \(folder) is in use (atm-terminal atm runs there): stop it first"
            )
        }
        return TerminalLock(descriptor: descriptor)
    }

    public func release() {
        flock(self.descriptor, LOCK_UN)
        close(self.descriptor)
    }
}

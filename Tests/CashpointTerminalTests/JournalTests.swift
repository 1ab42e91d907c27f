import ATM87
import CashpointTerminal
import Crypto
import Foundation
import Testing

/// A journal in a temporary folder, removed afterwards.
func withJournal<T>(
    now: @escaping @Sendable () -> Date = { Date(timeIntervalSince1970: 1_796_139_127) },
    _ body: (ElectronicJournal, String) throws -> T
) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cashpoint-journal-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = folder.appendingPathComponent("journal.sqlite").path
    let journal = try ElectronicJournal(path: path, masterKey: SymmetricKey(data: Data(repeating: 7, count: 32)), now: now)
    return try body(journal, path)
}

@Suite("electronic journal")
struct JournalTests {
    static func request(stan: String = "000042", code: String = "010000", amount: Int = 5_000) throws -> ATM87Message {
        try ATM87Message(
            mti: .financialRequest,
            fields: [2: "4761739001010119", 3: code, 4: String(amount).leftPadded(12), 7: "1201153207", 11: stan, 41: "ATM00001", 49: "978"]
        )
    }

    @Test("records are numbered, timed and chained; verify finds the chain intact")
    func chain() throws {
        try withJournal { journal, _ in
            let first = try journal.append(JournalEntry("terminal.start"))
            let second = try journal.append(JournalEntry("card.inserted", session: 2, ["pan": "476173******0119"]))
            #expect((first, second) == (1, 2))
            let records = try journal.records()
            #expect(records.map(\.kind) == ["terminal.start", "card.inserted"])
            #expect(records[1].time == "2026-12-01T15:32:07.000Z")
            #expect(records[1].detail == ["pan": "476173******0119"])
            #expect(records[0].hash != records[1].hash)
            let verification = try journal.verify()
            #expect(verification.records == 2)
            #expect(verification.isIntact)
            #expect(try journal.records(session: 2).count == 1)
        }
    }

    @Test("the journal refuses to change or remove a record", .enabled(if: SQLite.available))
    func appendOnly() throws {
        try withJournal { journal, path in
            try journal.append(JournalEntry("terminal.start"))
            let update = try SQLite.run(path, "UPDATE journal SET kind = 'x' WHERE seq = 1")
            #expect(update.status != 0)
            #expect(update.output.contains("append-only"))
            let delete = try SQLite.run(path, "DELETE FROM journal")
            #expect(delete.status != 0)
            #expect(try journal.records().count == 1)
        }
    }

    @Test(
        "verify finds a record edited, removed or inserted with the sqlite3 command line",
        .enabled(if: SQLite.available)
    )
    func tampering() throws {
        try withJournal { journal, path in
            for index in 1...5 { try journal.append(JournalEntry("screen", ["screen": "S\(index)"])) }
            #expect(try SQLite.run(path, "DROP TRIGGER journal_no_update; UPDATE journal SET detail = '{\"screen\":\"X\"}' WHERE seq = 3").status == 0)
            #expect(try journal.verify().problems == ["record 3 does not match its hash: altered, or the chain before it was changed"])
        }
        try withJournal { journal, path in
            for index in 1...5 { try journal.append(JournalEntry("screen", ["screen": "S\(index)"])) }
            #expect(try SQLite.run(path, "DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE seq = 2").status == 0)
            let problems = try journal.verify().problems
            #expect(problems.first == "records 2-2 are missing (removed)")
            #expect(problems.contains { $0.hasPrefix("record 3 does not match") })
        }
        try withJournal { journal, path in
            for index in 1...3 { try journal.append(JournalEntry("screen", ["screen": "S\(index)"])) }
            // The tail can be extended by hand only with a hash the key makes.
            #expect(
                try SQLite.run(path, "INSERT INTO journal VALUES (4, 0, NULL, NULL, 'screen', '{}', '\(String(repeating: "a", count: 64))')")
                    .status == 0
            )
            #expect(try journal.verify().problems == ["record 4 does not match its hash: altered, or the chain before it was changed"])
        }
    }

    @Test("no PIN and no full card number reach the journal; the queue keeps the card number sealed")
    func noSecrets() throws {
        try withJournal { journal, path in
            let request = try Self.request()
            try journal.write { tx in
                let seq = try tx.append(JournalEntry("request.sent", stan: "000042", ["pan": "476173******0119"]))
                _ = try tx.arm(requestSeq: seq, request: request, pan: "4761739001010119")
            }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data()
            #expect(bytes.range(of: Data("4761739001010119".utf8)) == nil)
            #expect(wal.range(of: Data("4761739001010119".utf8)) == nil)
            let entry = try #require(try journal.safEntries(states: [.armed]).first)
            #expect(entry.maskedPAN == "476173******0119")
            #expect(entry.originalSTAN == "000042")
            #expect(entry.amount == 5_000)
        }
    }

    @Test("a queue entry is armed before sending, settled or queued after, and kept across a reopen")
    func queueLifecycle() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cashpoint-journal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        let key = SymmetricKey(data: Data(repeating: 9, count: 32))
        do {
            let journal = try ElectronicJournal(path: path, masterKey: key)
            try journal.write { tx in
                let first = try tx.arm(requestSeq: try tx.append(JournalEntry("request.sent")), request: try Self.request(stan: "000001"), pan: "4761739001010119")
                let second = try tx.arm(requestSeq: try tx.append(JournalEntry("request.sent")), request: try Self.request(stan: "000002"), pan: "4761739001010119")
                try tx.answered(first, code: "00")
                try tx.settle(first)
                try tx.dispensed(second, amount: 2_000)
            }
        }
        let reopened = try ElectronicJournal(path: path, masterKey: key)
        #expect(try reopened.safEntries(states: [.settled]).map(\.originalSTAN) == ["000001"])
        let armed = try #require(try reopened.safEntries(states: [.armed]).first)
        #expect(armed.dispensed == 2_000)
        #expect(armed.answerCode == nil)
        try reopened.write { tx in try tx.queue(armed.id, dispensed: 2_000, reason: "timeout", due: 0) }
        #expect(try reopened.safEntries(states: [.queued]).map(\.reason) == ["timeout"])
        #expect(try reopened.verify().isIntact)
    }

    @Test("a journal opened with another master key finds every record's hash wrong")
    func otherKey() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cashpoint-journal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("journal.sqlite").path
        try ElectronicJournal(path: path, masterKey: SymmetricKey(data: Data(repeating: 1, count: 32))).append(JournalEntry("x"))
        let other = try ElectronicJournal(path: path, masterKey: SymmetricKey(data: Data(repeating: 2, count: 32)))
        #expect(try other.verify().problems.count == 1)
    }

    @Test("totals since the last cutover, counted as both sides count them (docs/protocol.md)")
    func totals() throws {
        try withJournal { journal, _ in
            func answer(_ stan: String, _ code: String, _ processing: String, _ amount: String) throws {
                try journal.append(JournalEntry("answer.received", session: 1, stan: stan, ["code": code, "processingCode": processing, "amount": amount]))
            }
            func reversal(_ original: String, _ amount: String, dispensed: String, answered: String, code: String = "00") throws {
                try journal.append(
                    JournalEntry(
                        "reversal.answered",
                        ["code": code, "processingCode": "010000", "original": original, "amount": amount, "dispensed": dispensed, "originalAnswer": answered]
                    )
                )
            }
            try answer("000001", "00", "010000", "7000")  // before the cutover: not in this period
            try journal.append(JournalEntry("cutover"))
            try answer("000002", "00", "010000", "5000")  // partly dispensed: 20.00 given, 30.00 back
            try answer("000003", "51", "010000", "9000")  // refused: nowhere
            try answer("000004", "00", "210000", "3550")
            try answer("000005", "00", "400000", "1000")
            try answer("000006", "00", "310000", "0")  // an inquiry: nowhere
            try answer("000007", "00", "010000", "4000")  // cash not taken: reversed in full, neither counts
            try reversal("000002", "5000", dispensed: "2000", answered: "00")
            try reversal("000007", "4000", dispensed: "0", answered: "00")
            try reversal("000001", "7000", dispensed: "0", answered: "00")  // its original in the last period
            try reversal("000009", "6000", dispensed: "0", answered: "")  // never answered: nowhere
            try reversal("000008", "6000", dispensed: "0", answered: "00", code: "12")  // refused: nowhere
            let totals = TerminalTotals.since(lastCutoverIn: try journal.records())
            #expect(totals.withdrawals == .init(count: 1, amount: 5_000))
            #expect(totals.withdrawalReversals == .init(count: 2, amount: 10_000))
            #expect(totals.deposits == .init(count: 1, amount: 3_550))
            #expect(totals.transfers == .init(count: 1, amount: 1_000))
            #expect(totals.net == 3_550 - (5_000 - 10_000))
            let figures = totals.reconciliation
            #expect(figures.debits == 1 && figures.debitReversalsAmount == 10_000 && figures.net == 8_550)
            #expect(TerminalTotals(figures) == totals)
            var other = totals
            other.withdrawals = .init(count: 2, amount: 9_500)
            #expect(totals.differences(from: other) == ["withdrawals: 1 for 50.00 here, 2 for 95.00 at the switch"])
        }
    }
}

/// The sqlite3 command line (Debian's), which scripts/test installs.
enum SQLite {
    static let path = "/usr/bin/sqlite3"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: Self.path) }

    static func run(_ database: String, _ sql: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = [database, sql]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
    }
}

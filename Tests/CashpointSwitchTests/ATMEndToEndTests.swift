import ATM87
import CashpointSecurity
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Testing

/// `atm-terminal atm --plain`, the real program, driven line by line against a switch over a fresh
/// demo bank: what a customer sees, what the receipt says, what the ledger holds afterwards.
@Suite("The ATM program against the switch", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(3)))
struct ATMEndToEndTests {
    /// Runs the program with the lines as its input; returns everything it printed.
    static func atm(port: Int, _ lines: [String], arguments: [String] = [], dataFolder: String? = nil) async throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("atm-terminal")
        let products = FileManager.default.fileExists(atPath: binary.path)
            ? binary.deletingLastPathComponent()
            : URL(fileURLWithPath: repositoryRoot.appendingPathComponent(".build/debug").path)
        let folder = try dataFolder ?? temporaryFolder()
        defer { if dataFolder == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let process = Process()
        process.executableURL = products.appendingPathComponent("atm-terminal")
        process.arguments =
            [
                "atm", "--plain", "--config", repositoryRoot.appendingPathComponent("fixtures/terminals/ATM00001.json").path,
                "--port", String(port), "--data-folder", folder,
            ] + arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try input.fileHandleForWriting.close()
        let data = await withCheckedContinuation { continuation in
            Thread {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: data)
            }.start()
        }
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "atm-terminal exited \(process.terminationStatus):\n\(text)")
        return text
    }

    @Test("fast cash: account choice, 50 from the cassettes, cash taken, receipt with RRN, card back")
    func fastCash() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [alice.pan, alice.pin, "a", "b", "a", "take", "h", "take", "q"])
            #expect(screen.contains("[CHOOSE AN ACCOUNT]") || screen.contains("[CASH WITHDRAWAL]"))
            #expect(screen.contains("[TAKE YOUR CASH]"))
            #expect(screen.contains("CASH WITHDRAWAL"))
            #expect(screen.contains("CARD            476173******0119"))
            #expect(screen.contains("AMOUNT                 50.00 EUR"))
            #expect(screen.contains("BALANCE             2,450.00 EUR"))
            #expect(screen.contains("Station Square"))
            let rrn = try #require(screen.split(separator: "\n").first { $0.contains("|RRN ") })
            #expect(rrn.filter(\.isNumber).count == 12)
            #expect(screen.contains("AUTH CODE"))
            #expect(screen.contains("cassettes: 20.00 EUR x 500 ok, 50.00 EUR x 199 ok"))
            #expect(screen.contains("[PLEASE TAKE YOUR CARD]"))
            #expect(!screen.contains(alice.pan))
            #expect(try await under.bank.balance(alice.current) == 245_000)
            #expect(try await under.auditCount("session.end") == 1)
        }
    }

    @Test("a wrong PIN, then the right one in the same session; the balance")
    func wrongThenRight() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [bob.pan, "9999", bob.pin, "c", "h", "take", "q"])
            #expect(screen.contains("Incorrect PIN. Please try again."))
            #expect(screen.contains("[MAIN MENU]"))
            #expect(screen.contains("Balance: 800.00 EUR"))
            #expect(screen.components(separatedBy: "* card ejected").count == 2)
        }
    }

    @Test("three wrong PINs: the card is retained")
    func threeWrong() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [bob.pan, "0000", "0001", "0002", "q"])
            #expect(screen.contains("[CARD RETAINED]"))
            #expect(screen.contains("* card captured"))
            #expect(!screen.contains("* card ejected"))
        }
    }

    @Test("a deposit, and the new balance on screen and receipt")
    func deposit() async throws {
        try await SwitchUnderTest.with { under in
            let screen = try await Self.atm(port: under.port, [bob.pan, bob.pin, "e", "3550", "h", "take", "q"])
            #expect(screen.contains("Deposited 35.50 EUR."))
            #expect(screen.contains("Balance: 835.50 EUR"))
            #expect(screen.contains("BALANCE               835.50 EUR"))
            #expect(try await under.bank.balance(bob.current) == 83_550)
        }
    }

    @Test("a jam: part of the cash given, the rest reversed, the account charged only for what was given")
    func jam() async throws {
        try await SwitchUnderTest.with { under in
            // 100.00 is two 50s; the dispenser stops after one.
            let screen = try await Self.atm(
                port: under.port,
                [bob.pan, bob.pin, "a", "c", "take", "h", "take", "q"],
                arguments: ["--fault", "jam:1"]
            )
            #expect(screen.contains("the dispenser jammed after 1 of 2 notes"))
            #expect(screen.contains("Only 50.00 EUR of"))
            #expect(screen.contains("DISPENSED              50.00 EUR"))
            #expect(screen.contains("reversal sent (partialDispense): answered 00"))
            #expect(screen.contains("50.00 EUR x 199"))
            #expect(try await under.bank.balance(bob.current) == 75_000)
        }
    }

    @Test("a teller creates a customer; the bank allocates the account and a Luhn-valid card, which works at the ATM")
    func newCustomerAtTheATM() async throws {
        try await SwitchUnderTest.with { under in
            let (pan, pin) = try await under.terminal("BRANCH01") { branch in
                #expect(try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password")[39] == "00")
                let created = try await branch.administrative(.createCustomer, [(.userName, "gil"), (.customerName, "Gil Grey")])
                #expect(created[39] == "00")
                let pan = try #require(created[2])
                #expect(Luhn.isValidPAN(pan))
                let tlv = try ATM87TLV(parsing: try #require(created[48]))
                let block = try #require(tlv[.pinBlock].flatMap(Hex.decode))
                let pin = try PINBlock.decipher(block, pan: pan, key: try #require(branch.keys).pin)
                let deposit = try await branch.administrative(
                    .deposit,
                    fields: [4: "000000010000", 102: try #require(created.trimmed(102))]
                )
                #expect(deposit[39] == "00")
                return (pan, pin)
            }
            let screen = try await Self.atm(port: under.port, [pan, pin, "a", "a", "take", "h", "take", "q"])
            #expect(screen.contains("[TAKE YOUR CASH]"))
            #expect(screen.contains("BALANCE                80.00 EUR"))
        }
    }
}

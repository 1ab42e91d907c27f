import ArgumentParser
import CashpointSwitch
import CashpointTestSupport
import Foundation
import Testing

/// `atm-switch sanctions load|screen` refuse bad input before anything connects (no database here:
/// the URL points nowhere, and each check must come first). SanctionListTests covers the store.
@Suite("atm-switch sanctions: input checked before the database")
struct SanctionsCommandTests {
    static let nowhere = ["--database-url", "postgres://nobody@127.0.0.1:1/none"]

    static func message(_ body: () async throws -> String) async -> String? {
        do {
            _ = try await body()
            return nil
        } catch let error as ValidationError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func aMalformedListLoadsNothingAndSaysWhere() async throws {
        let database = try DatabaseOptions.parse(Self.nowhere)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sanctions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let sdn = folder.appendingPathComponent("sdn.csv")
        let alt = folder.appendingPathComponent("alt.csv")
        try Data("1,\"A\",-0- \n".utf8).write(to: sdn)
        try Data(contentsOf: repositoryRoot.appendingPathComponent("fixtures/sanctions/ofac/alt.csv")).write(to: alt)
        let refused = await Self.message {
            try await SwitchCommands.loadSanctions(files: [sdn.path, alt.path], database: database)
        }
        #expect(refused == "nothing loaded: \(sdn.path):1: 3 fields, expected 12 (wrongFieldCount)")
        let missing = await Self.message {
            try await SwitchCommands.loadSanctions(files: [sdn.path], database: database)
        }
        #expect(missing?.hasPrefix("nothing loaded: \(sdn.path): OFAC's sdn.csv needs its alt.csv") == true)
        let none = await Self.message { try await SwitchCommands.loadSanctions(files: [], database: database) }
        #expect(none == "give the list's files: sdn.csv alt.csv [add.csv], or the EU CSV")
        let unreadable = await Self.message {
            try await SwitchCommands.loadSanctions(
                files: [folder.appendingPathComponent("no.csv").path],
                database: database
            )
        }
        #expect(unreadable == "cannot read \(folder.appendingPathComponent("no.csv").path)")
    }

    @Test func screenChecksItsOptions() async throws {
        let database = try DatabaseOptions.parse(Self.nowhere)
        func screen(dob: String? = nil, nationality: [String] = [], threshold: Double = 0.88) async -> String? {
            await Self.message {
                try await SwitchCommands.screenSanctions(
                    name: "Anna Example",
                    dateOfBirth: dob,
                    nationalities: nationality,
                    organisation: false,
                    threshold: threshold,
                    database: database
                )
            }
        }
        #expect(await screen(dob: "12.01.1970") == "--dob must be YYYY-MM-DD, YYYY-MM or YYYY")
        #expect(await screen(dob: "1968..1970") == "--dob must be YYYY-MM-DD, YYYY-MM or YYYY")
        #expect(
            await screen(nationality: ["Atlantis"]) == "--nationality Atlantis: not an ISO 3166 country code or name"
        )
        #expect(await screen(threshold: 0.2) == "--threshold must be 0.5 to 1.0")
    }
}

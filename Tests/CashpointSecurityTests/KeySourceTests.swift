import CashpointSecurity
import Foundation
import Testing

@Suite("Where a command finds a key: its file option, the file variable, the value variable")
struct KeySourceTests {
    static let hexA = String(repeating: "a1", count: 32)
    static let hexB = String(repeating: "b2", count: 32)

    /// A folder of key files for one test, removed by `remove()`.
    struct Folder {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")

        init() throws {
            try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
        }

        /// A key file holding `hex` (after a comment line).
        func keyFile(_ name: String, _ hex: String) throws -> String {
            let path = self.url.appendingPathComponent(name).path
            try Data(("# a test key\n" + hex + "\n").utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        func remove() { try? FileManager.default.removeItem(at: self.url) }
    }

    static func hex(_ key: SecretKey) -> String { key.hexForKeyFile }

    @Test("given: by the option, by either variable; not given: nothing of it anywhere")
    func detection() {
        let source = KeySource.auditKey
        #expect(source.isGiven(file: "/some/file", environment: [:]))
        #expect(source.isGiven(file: nil, environment: ["CASHPOINT_AUDIT_KEY_FILE": "/k"]))
        #expect(source.isGiven(file: nil, environment: ["CASHPOINT_AUDIT_KEY": Self.hexA]))
        #expect(!source.isGiven(file: nil, environment: ["CASHPOINT_PEPPER": Self.hexA]))
    }

    @Test("the option's file first, then the file variable's, then the value variable")
    func precedence() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let fileA = try folder.keyFile("a.key", Self.hexA)
        let fileB = try folder.keyFile("b.key", Self.hexB)
        let source = KeySource.switchKey
        let all = ["CASHPOINT_SWITCH_KEY_FILE": fileB, "CASHPOINT_SWITCH_KEY": Self.hexB]
        #expect(Self.hex(try source.load(file: fileA, environment: all)) == Self.hexA)
        let variables = ["CASHPOINT_SWITCH_KEY_FILE": fileA, "CASHPOINT_SWITCH_KEY": Self.hexB]
        #expect(Self.hex(try source.load(file: nil, environment: variables)) == Self.hexA)
        #expect(Self.hex(try source.load(file: nil, environment: ["CASHPOINT_SWITCH_KEY": Self.hexB])) == Self.hexB)
    }

    @Test("no key: the reason names both variables; a key the command can do without is nil")
    func missing() throws {
        let error = #expect(throws: SecretKey.LoadError.self) { try KeySource.pepper.load(file: nil, environment: [:]) }
        #expect(error?.reason == "no pepper: pass its key file, or set CASHPOINT_PEPPER_FILE or CASHPOINT_PEPPER")
        #expect(try KeySource.auditKey.loadIfGiven(file: nil, environment: [:]) == nil)
        #expect(throws: SecretKey.LoadError.self) {
            try KeySource.auditKey.loadIfGiven(file: nil, environment: ["CASHPOINT_AUDIT_KEY": "not hex"])
        }
    }

    @Test("a new key file: 64 hex characters, readable by its owner only, and never overwritten")
    func newKeyFile() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = folder.url.appendingPathComponent("audit.key").path
        try SecretKey.createKeyFile(atPath: path)
        let key = try SecretKey(contentsOfFile: path, name: "audit key")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let error = #expect(throws: SecretKey.LoadError.self) { try SecretKey.createKeyFile(atPath: path) }
        #expect(error?.reason == "\(path) exists: keys are never overwritten")
        #expect(Self.hex(try SecretKey(contentsOfFile: path, name: "audit key")) == Self.hex(key))
    }
}

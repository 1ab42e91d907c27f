import Foundation
import Testing

/// The bank knows no PostgreSQL: it depends on CashpointDatabase only for `DatabaseUnavailable`, the one
/// "no database now" error, and none of its files imports PostgresNIO (docs/architecture.md).
@Suite("the bank's module boundary")
struct ModuleBoundaryTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/CashpointBank")

    @Test("no file of CashpointBank imports PostgresNIO")
    func noPostgresNIO() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.sources.path).filter { $0.hasSuffix(".swift") }
        #expect(files.contains("Bank.swift"), "the test reads \(Self.sources.path)")
        for file in files {
            let text = try String(contentsOf: Self.sources.appendingPathComponent(file), encoding: .utf8)
            let imports = text.split(whereSeparator: \.isNewline).filter { line in
                line.split(separator: " ").contains("import") && line.hasSuffix(" PostgresNIO")
            }
            #expect(imports.isEmpty, "\(file): \(imports)")
        }
    }
}

import ATM87
import CashpointHarness
import Foundation

/// The repository root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func repositoryFile(_ path: String) -> String {
    repositoryRoot.appendingPathComponent(path).path
}

/// The examples of fixtures/protocol-examples.json, as the harness reads them for docs/protocol.md.
func exampleMessages() throws -> [(id: String, message: ATM87Message)] {
    try ProtocolExamples.load(repositoryFile("fixtures/protocol-examples.json")).map { ($0.id, try $0.message()) }
}

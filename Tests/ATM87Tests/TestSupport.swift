import ATM87
import Foundation
import NIOCore
import Testing

/// The repository root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func repositoryFile(_ path: String) -> String {
    repositoryRoot.appendingPathComponent(path).path
}

/// The messages of fixtures/protocol-examples.json, one per documented example: read here, as data,
/// so the codec's tests need nothing but the codec (the harness renders the same file for the docs).
func exampleMessages() throws -> [(id: String, message: ATM87Message)] {
    struct File: Decodable {
        struct Example: Decodable {
            var id: String
            var mti: String
            var fields: [String: String]
        }
        var examples: [Example]
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: repositoryFile("fixtures/protocol-examples.json")))
    return try JSONDecoder().decode(File.self, from: data).examples.map { example in
        let mti = try #require(MTI(example.mti), "example \(example.id): MTI \(example.mti)")
        let fields = try example.fields.map { key, value in
            (try #require(Int(key), "example \(example.id): field \(key)"), value)
        }
        return (example.id, try ATM87Message(mti: mti, fields: Dictionary(uniqueKeysWithValues: fields)))
    }
}

/// A typical 0200 withdrawal, as the benchmark and docs use it.
func typicalWithdrawal() throws -> ATM87Message {
    try ATM87Message(
        mti: .financialRequest,
        fields: [
            2: "4761739001010119", 3: "010000", 4: "000000010000", 7: "1125093112", 11: "000002",
            12: "093112", 13: "1125", 22: "051", 41: "ATM00001", 49: "978",
            52: "3A6C29F05BE1D47C8892AB10FE4C6D21", 102: "CP0000000001", 128: "9C41E07A55D2B318",
        ]
    )
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func decode(_ text: String) throws(ATM87Error) -> ATM87Message {
    try ATM87Message(decoding: Array(text.utf8))
}

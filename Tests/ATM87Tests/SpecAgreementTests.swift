import ATM87
import Foundation
import Testing

/// protocols/atm87.json is the specification; the codec's tables are generated from it
/// (scripts/generate-spec). These tests prove the two agree field by field.
@Suite("spec JSON and Swift tables agree")
struct SpecAgreementTests {
    struct SpecFile: Decodable {
        struct Framing: Decodable { var maxMessageLength: Int }
        struct Field: Decodable {
            var number: Int
            var name: String
            var format: String
            var lengthType: String
            var length: Int
            var sensitivity: String
        }
        struct Message: Decodable {
            var mti: String
            var name: String
            var response: String?
            var request: String?
            var mandatory: [Int]
            var conditional: [Int]
            var echo: [Int]
            var oneOf: [[Int]]
            var allowedPrefixes: [String: [String]]?
            var allowedValues: [String: [String]]?
        }
        var specVersion: Int
        var framing: Framing
        var fields: [Field]
        var messages: [Message]
        var processingCodes: [String: String]
        var networkManagementCodes: [String: String]
        var responseCodes: [String: String]
    }

    func load() throws -> SpecFile {
        let data = try Data(contentsOf: URL(fileURLWithPath: repositoryFile("protocols/atm87.json")))
        return try JSONDecoder().decode(SpecFile.self, from: data)
    }

    @Test("every field: number, name, format, length type, length, sensitivity")
    func fields() throws {
        let spec = try self.load()
        #expect(spec.specVersion == ATM87Spec.specVersion)
        #expect(spec.framing.maxMessageLength == ATM87Spec.maxMessageLength)
        #expect(spec.fields.count == ATM87Spec.fields.count)
        for field in spec.fields {
            let swift = try #require(ATM87Spec.field(field.number), "field \(field.number) missing in Swift")
            #expect(swift.name == field.name)
            #expect(swift.format.rawValue == field.format)
            #expect(swift.lengthType.rawValue == field.lengthType)
            #expect(swift.length == field.length)
            #expect(swift.sensitivity.rawValue == field.sensitivity)
        }
        for number in 0...130 {
            let inJSON = spec.fields.contains { $0.number == number }
            #expect((ATM87Spec.field(number) != nil) == inJSON, "field \(number)")
        }
    }

    @Test("every message type: its rules")
    func messages() throws {
        let spec = try self.load()
        #expect(spec.messages.count == ATM87Spec.messages.count)
        for message in spec.messages {
            let mti = try #require(MTI(message.mti))
            let swift = try #require(ATM87Spec.message(mti), "\(message.mti) missing in Swift")
            #expect(swift.name == message.name)
            #expect(swift.response == message.response.flatMap(MTI.init))
            #expect(swift.request == message.request.flatMap(MTI.init))
            #expect(swift.mandatory == message.mandatory)
            #expect(swift.conditional == message.conditional)
            #expect(swift.echo == message.echo)
            #expect(swift.oneOf == message.oneOf)
            let prefixes = (message.allowedPrefixes ?? [:]).reduce(into: [Int: [String]]()) {
                $0[Int($1.key)!] = $1.value
            }
            let values = (message.allowedValues ?? [:]).reduce(into: [Int: [String]]()) { $0[Int($1.key)!] = $1.value }
            #expect(swift.allowedPrefixes == prefixes)
            #expect(swift.allowedValues == values)
            for field in swift.allowedFields {
                #expect(ATM87Spec.field(field) != nil, "\(message.mti) names undefined field \(field)")
            }
            if let response = swift.response {
                #expect(ATM87Spec.message(response)?.request != nil, "\(response) is not a response")
            }
        }
    }

    @Test("code tables")
    func codes() throws {
        let spec = try self.load()
        #expect(spec.processingCodes == ATM87Spec.processingCodes)
        #expect(spec.networkManagementCodes == ATM87Spec.networkManagementCodes)
        #expect(spec.responseCodes == ATM87Spec.responseCodes)
    }

    @Test("the field list covers what the foundation issue names")
    func requiredFields() {
        for field in [
            2, 3, 4, 7, 11, 12, 13, 14, 22, 32, 35, 37, 38, 39, 41, 42, 43, 48, 49, 52, 54, 64, 70, 90, 95, 102, 103,
            128,
        ] {
            #expect(ATM87Spec.field(field) != nil, "field \(field)")
        }
        #expect(ATM87Spec.field(52)?.maxWireLength == 32)
    }
}

import CashpointSecurity
import Testing

@Suite("bcrypt through libcrypt")
struct BcryptTests {
    @Test("a hash is $2b$ at the cost asked and verifies only its own secret")
    func hashAndVerify() throws {
        let hash = try Bcrypt.hash(Array("1234".utf8), cost: 4)
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(hash.count == 60)
        #expect(Bcrypt.verify(Array("1234".utf8), against: hash))
        #expect(!Bcrypt.verify(Array("1235".utf8), against: hash))
        #expect(!Bcrypt.verify(Array("".utf8), against: hash))
    }

    @Test("two hashes of one secret differ: each has its own salt")
    func freshSalt() throws {
        let first = try Bcrypt.hash(Array("secret".utf8), cost: 4)
        let second = try Bcrypt.hash(Array("secret".utf8), cost: 4)
        #expect(first != second)
        #expect(Bcrypt.verify(Array("secret".utf8), against: first))
        #expect(Bcrypt.verify(Array("secret".utf8), against: second))
    }

    @Test("the default cost is 10")
    func defaultCost() throws {
        #expect(try Bcrypt.hash(Array("x".utf8)).hasPrefix("$2b$10$"))
    }

    @Test("a known OpenBSD test vector verifies")
    func knownVector() {
        // From the OpenBSD bcrypt test vectors ("U*U", cost 5).
        #expect(
            Bcrypt.verify(Array("U*U".utf8), against: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
        )
    }

    @Test(
        "malformed hashes never match",
        arguments: [
            "", "plain", "$1$abc$def", "$2b$04$short", "*0",
            "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        ]
    )
    func malformed(hash: String) {
        #expect(!Bcrypt.verify(Array("U*U".utf8), against: hash))
    }

    @Test("bad inputs are refused with a reason")
    func refused() {
        #expect(throws: Bcrypt.Error.self) { try Bcrypt.hash(Array("x".utf8), cost: 3) }
        #expect(throws: Bcrypt.Error.self) { try Bcrypt.hash(Array("x".utf8), cost: 32) }
        #expect(throws: Bcrypt.Error.self) { try Bcrypt.hash([UInt8](repeating: 0x41, count: 73), cost: 4) }
        #expect(throws: Bcrypt.Error.self) { try Bcrypt.hash([0x41, 0x00, 0x42], cost: 4) }
    }

    @Test("constant-time comparison compares whole strings")
    func constantTime() {
        #expect(Bcrypt.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Bcrypt.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Bcrypt.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(Bcrypt.constantTimeEqual([], []))
    }
}

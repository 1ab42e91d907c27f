import Foundation

/// What a load terminal's card session asks for, one request at a time.
public enum LoadKind: String, Sendable, CaseIterable, Codable, Comparable {
    case withdrawal
    case balance
    case transfer
    case deposit

    public static func < (lhs: Self, rhs: Self) -> Bool {
        Self.allCases.firstIndex(of: lhs)! < Self.allCases.firstIndex(of: rhs)!
    }
}

/// The shares of each kind of request in a load, as `--mix withdrawal=40,balance=30,transfer=20,deposit=10`
/// gives them: integer weights, not necessarily summing to 100. A kind left out is never sent.
public struct LoadMix: Sendable, Hashable, CustomStringConvertible {
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The kinds with a weight above zero, in `LoadKind` order, with their weights.
    public private(set) var weights: [(kind: LoadKind, weight: Int)]
    public var total: Int { self.weights.reduce(0) { $0 + $1.weight } }

    /// The mix a bank's ATMs see (and the default): withdrawals, balance inquiries, transfers, deposits.
    public static let atm = try! LoadMix(parsing: "withdrawal=40,balance=30,transfer=20,deposit=10")

    public init(_ weights: [LoadKind: Int]) throws(ParseError) {
        guard weights.values.allSatisfy({ $0 >= 0 }) else { throw ParseError(description: "a weight is negative") }
        self.weights = LoadKind.allCases.compactMap { kind -> (kind: LoadKind, weight: Int)? in
            guard let weight = weights[kind], weight > 0 else { return nil }
            return (kind, weight)
        }
        guard !self.weights.isEmpty else {
            throw ParseError(description: "the mix sends nothing: give at least one kind a weight above 0")
        }
    }

    /// Parses `kind=weight,kind=weight,...` (kinds: withdrawal, balance, transfer, deposit).
    public init(parsing text: String) throws(ParseError) {
        var weights: [LoadKind: Int] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            let names = LoadKind.allCases.map(\.rawValue).joined(separator: ", ")
            guard parts.count == 2 else {
                throw ParseError(description: "\"\(item)\" is not kind=weight (kinds: \(names))")
            }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            guard let kind = LoadKind(rawValue: name) else {
                throw ParseError(description: "\"\(name)\" is not a kind of request (kinds: \(names))")
            }
            guard let weight = Int(parts[1].trimmingCharacters(in: .whitespaces)), weight >= 0 else {
                throw ParseError(description: "the weight of \(name), \"\(parts[1])\", is not a whole number from 0")
            }
            guard weights.updateValue(weight, forKey: kind) == nil else {
                throw ParseError(description: "\(name) is given twice")
            }
        }
        try self.init(weights)
    }

    /// The kind for a ticket in `0..<total`: the first `weight` tickets are the first kind's, and so on.
    public func kind(forTicket ticket: Int) -> LoadKind {
        var remaining = ticket
        for (kind, weight) in self.weights {
            if remaining < weight { return kind }
            remaining -= weight
        }
        return self.weights[self.weights.count - 1].kind
    }

    /// A kind drawn with the mix's shares.
    public func draw(using generator: inout some RandomNumberGenerator) -> LoadKind {
        self.kind(forTicket: Int.random(in: 0..<self.total, using: &generator))
    }

    public var description: String { self.weights.map { "\($0.kind.rawValue)=\($0.weight)" }.joined(separator: ",") }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.description) }
}

/// One broken rule of the per-MTI specification, named so a log or a test can say which.
public struct ATM87RuleViolation: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The MTI is not one the dialect defines.
        case unknownMessageType
        /// A mandatory field is absent.
        case mandatoryFieldMissing
        /// A field the message type does not allow is present.
        case fieldNotAllowed
        /// None of a group of alternative fields is present.
        case oneOfMissing
        /// A field's value is not one of the allowed values or prefixes.
        case valueNotAllowed
        /// The MAC is in field 64 while a secondary bitmap is present, or both 64 and 128 are present.
        case macInWrongField
        /// A response is not the response type of the request.
        case unexpectedResponseType
        /// A response's echoed field differs from the request's, or is missing or extra.
        case echoMismatch
    }

    public var kind: Kind
    /// The fields concerned (empty for the MTI).
    public var fields: [Int]
    public var detail: String

    public init(_ kind: Kind, fields: [Int] = [], detail: String) {
        self.kind = kind
        self.fields = fields
        self.detail = detail
    }

    public var description: String { "\(self.kind.rawValue): \(self.detail)" }
}

/// Checks messages against the per-MTI rules of `protocols/atm87.json`.
public enum ATM87Rules {
    /// Every rule the message breaks on its own; empty when it is valid.
    public static func check(_ message: ATM87Message) -> [ATM87RuleViolation] {
        guard let rule = ATM87Spec.message(message.mti) else {
            return [ATM87RuleViolation(.unknownMessageType, detail: "MTI \(message.mti) is not an ATM-87 message type")]
        }
        var violations: [ATM87RuleViolation] = []
        let present = message.fieldNumbers
        for field in rule.mandatory where !message.contains(field) {
            violations.append(
                ATM87RuleViolation(
                    .mandatoryFieldMissing,
                    fields: [field],
                    detail: "\(rule.mti) \(rule.name) needs field \(field) (\(fieldName(field)))"
                )
            )
        }
        let allowed = rule.allowedFields
        for field in present where !allowed.contains(field) {
            violations.append(
                ATM87RuleViolation(
                    .fieldNotAllowed,
                    fields: [field],
                    detail: "\(rule.mti) \(rule.name) does not carry field \(field) (\(fieldName(field)))"
                )
            )
        }
        for group in rule.oneOf where !group.contains(where: message.contains) {
            violations.append(
                ATM87RuleViolation(
                    .oneOfMissing,
                    fields: group,
                    detail: "\(rule.mti) needs one of fields \(group.map(String.init).joined(separator: ", "))"
                )
            )
        }
        for (field, prefixes) in rule.allowedPrefixes.sorted(by: { $0.key < $1.key }) {
            if let value = message[field], !prefixes.contains(where: { value.hasPrefix($0) }) {
                violations.append(
                    ATM87RuleViolation(
                        .valueNotAllowed,
                        fields: [field],
                        detail:
                            "field \(field) of \(rule.mti) must start with one of \(prefixes.joined(separator: ", "))"
                    )
                )
            }
        }
        for (field, values) in rule.allowedValues.sorted(by: { $0.key < $1.key }) {
            if let value = message[field], !values.contains(value) {
                violations.append(
                    ATM87RuleViolation(
                        .valueNotAllowed,
                        fields: [field],
                        detail: "field \(field) of \(rule.mti) must be one of \(values.joined(separator: ", "))"
                    )
                )
            }
        }
        if message.contains(64) && message.contains(128) {
            violations.append(
                ATM87RuleViolation(.macInWrongField, fields: [64, 128], detail: "a message carries one MAC, not two")
            )
        } else if message.contains(64) && message.hasSecondaryBitmap {
            violations.append(
                ATM87RuleViolation(
                    .macInWrongField,
                    fields: [64],
                    detail: "with a secondary bitmap the MAC goes in field 128, not 64"
                )
            )
        }
        return violations
    }

    /// Every rule a response breaks, on its own and against its request (type, echoed fields).
    public static func check(response: ATM87Message, to request: ATM87Message) -> [ATM87RuleViolation] {
        var violations = check(response)
        guard let requestRule = ATM87Spec.message(request.mti), let expected = requestRule.response else {
            violations.append(
                ATM87RuleViolation(
                    .unexpectedResponseType,
                    detail: "\(request.mti) is not a request of the ATM-87 spec"
                )
            )
            return violations
        }
        guard response.mti == expected else {
            violations.append(
                ATM87RuleViolation(
                    .unexpectedResponseType,
                    detail: "a \(request.mti) is answered by \(expected), not \(response.mti)"
                )
            )
            return violations
        }
        guard let rule = ATM87Spec.message(response.mti) else { return violations }
        for field in rule.echo {
            let asked = request[field]
            let answered = response[field]
            if asked != answered {
                let what: String
                switch (asked, answered) {
                case (nil, _): what = "the request has no field \(field) but the response carries one"
                case (_, nil): what = "the response does not echo field \(field)"
                default: what = "the response's field \(field) differs from the request's"
                }
                violations.append(ATM87RuleViolation(.echoMismatch, fields: [field], detail: what))
            }
        }
        return violations
    }

    static func fieldName(_ field: Int) -> String {
        ATM87Spec.field(field)?.name ?? "undefined"
    }
}

extension ATM87Message {
    /// Starts the response to this request: the response MTI and every field the response echoes.
    /// The caller adds field 39 and whatever else the answer carries.
    public func makeResponse() throws(ATM87Error) -> ATM87Message {
        guard let rule = ATM87Spec.message(self.mti), let responseMTI = rule.response,
            let responseRule = ATM87Spec.message(responseMTI)
        else {
            throw ATM87Error(
                code: .invalidMTI,
                detail: "\(self.mti) is not a request of the ATM-87 spec",
                mti: self.mti
            )
        }
        var response = ATM87Message(mti: responseMTI)
        for field in responseRule.echo {
            if let value = self[field] {
                try response.set(field, value)
            }
        }
        return response
    }
}

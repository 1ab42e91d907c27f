public import Foundation

// The compliance desk's records (cases, their files, the daily cash report's rows) and the reports made
// from them: pure functions from records to text (docs/compliance.md, "Cases and reports").

/// One row of the daily cash transaction report (`bank.cash_transaction_report`): a customer whose cash
/// in or out on the day reaches the reporting threshold.
public struct CashReportRow: Sendable, Hashable {
    public var customerID: Int64
    public var userName: String
    public var fullName: String
    /// The customer's accounts with cash movements that day, space-separated.
    public var accounts: String
    public var cashIn: Int64
    public var deposits: Int
    public var cashOut: Int64
    public var withdrawals: Int
    public var firstAt: Date
    public var lastAt: Date
    public var transactionIDs: [Int64]

    public init(
        customerID: Int64,
        userName: String,
        fullName: String,
        accounts: String,
        cashIn: Int64,
        deposits: Int,
        cashOut: Int64,
        withdrawals: Int,
        firstAt: Date,
        lastAt: Date,
        transactionIDs: [Int64]
    ) {
        self.customerID = customerID
        self.userName = userName
        self.fullName = fullName
        self.accounts = accounts
        self.cashIn = cashIn
        self.deposits = deposits
        self.cashOut = cashOut
        self.withdrawals = withdrawals
        self.firstAt = firstAt
        self.lastAt = lastAt
        self.transactionIDs = transactionIDs
    }
}

/// A case in the desk's queue (`bank.list_cases`).
public struct CaseSummary: Sendable, Hashable {
    public var id: Int64
    public var subject: String
    /// The customer's user name, or the terminal's id.
    public var name: String
    public var severity: AlertSeverity
    public var status: String
    public var assignee: String?
    public var openedAt: Date
    public var alerts: Int64
    public var lastEventAt: Date?
    /// The rules behind the case's alerts (none for a case opened at the desk without one).
    public var rules: [String]

    public init(
        id: Int64,
        subject: String,
        name: String,
        severity: AlertSeverity,
        status: String,
        assignee: String?,
        openedAt: Date,
        alerts: Int64,
        lastEventAt: Date?,
        rules: [String] = []
    ) {
        self.id = id
        self.subject = subject
        self.name = name
        self.severity = severity
        self.status = status
        self.assignee = assignee
        self.openedAt = openedAt
        self.alerts = alerts
        self.lastEventAt = lastEventAt
        self.rules = rules
    }
}

/// A step in a case's life (`bank.work_case`).
public enum CaseStep: String, Sendable, Hashable, CaseIterable {
    case assign, escalate, note, close

    /// Whether the step is a decision, which needs a second factor checked within the step-up window
    /// (assign, escalate, close); a note does not.
    public var isDecision: Bool { self != .note }
}

/// A closed case's disposition (`bank.work_case`'s close).
public enum CaseDisposition: String, Sendable, Hashable, CaseIterable {
    case falsePositive = "false_positive"
    case customerContacted = "customer_contacted"
    case reportFiled = "report_filed"
}

/// The answer to a case step: 00, 12 (the case's status does not allow it, or bad input) or 58.
public struct CaseAnswer: Sendable, Hashable {
    public var code: ResponseCode
    public var detail: String?
    public var status: String?

    public init(code: ResponseCode, detail: String?, status: String?) {
        self.code = code
        self.detail = detail
        self.status = status
    }
}

/// Everything about one case (`bank.case_file`'s JSON).
public struct CaseFile: Sendable, Hashable, Decodable {
    public struct Case: Sendable, Hashable, Decodable {
        public var id: Int64
        public var subject: String
        public var severity: AlertSeverity
        public var status: String
        public var opened_by: String
        public var opened_at: String
        public var assignee: String?
        public var assigned_by: String?
        public var closed_by: String?
        public var closed_at: String?
        public var disposition: String?
    }

    public struct Customer: Sendable, Hashable, Decodable {
        public struct Account: Sendable, Hashable, Decodable {
            public var account_no: String
            public var name: String
            public var opened: String
            public var balance: Int64
        }

        /// What know your customer holds (never the document number); nil for a customer made before it.
        public struct Identity: Sendable, Hashable, Decodable {
            public var legal_name: String
            public var date_of_birth: String
            public var nationality: String
            public var address: String
            public var document_type: String
            public var document_country: String
            public var document_last4: String
            public var politically_exposed: Bool
            public var kyc_status: String
            public var risk_rating: String
            public var risk_reasons: [String]
            public var screening: String
            public var screening_detail: String?
            public var screened_at: String?
        }

        public var id: Int64
        public var user_name: String
        public var full_name: String
        public var since: String
        public var accounts: [Account]
        public var cards: [String]
        public var identity: Identity?
    }

    public struct Terminal: Sendable, Hashable, Decodable {
        public var id: String
        public var location: String?
    }

    public struct Alert: Sendable, Hashable, Decodable {
        public var id: Int64
        public var rule: String
        public var rule_version: Int
        public var kind: String
        public var severity: AlertSeverity
        public var score: Double
        public var amount: Int64
        public var detail: String
        public var window_start: String
        public var window_end: String
        public var raised_at: String
        public var transactions: [Int64]
    }

    public struct Transaction: Sendable, Hashable, Decodable {
        public var id: Int64
        public var at: String
        public var kind: String
        public var amount: Int64
        public var response_code: String
        public var terminal: String
        public var account: String?
        public var card: String?
        public var reversed: Bool
    }

    public struct Event: Sendable, Hashable, Decodable {
        public var at: String
        public var actor: String
        public var event: String
        public var status: String
        public var detail: String?
    }

    public var `case`: Case
    public var customer: Customer?
    public var terminal: Terminal?
    public var alerts: [Alert]
    public var transactions: [Transaction]
    public var events: [Event]
    public var currency: String

    public static func decode(_ json: String) throws -> CaseFile {
        try JSONDecoder().decode(CaseFile.self, from: Data(json.utf8))
    }
}

public enum ComplianceReports {
    /// The daily cash transaction report's CSV header (docs/compliance.md explains each column).
    public static let cashReportHeader =
        "report_date,customer_id,user_name,full_name,accounts,cash_in,deposits,cash_out,withdrawals,"
        + "first_utc,last_utc,transaction_ids"

    /// The daily cash transaction report as CSV (RFC 4180: a field with a comma, a quote or a line break
    /// is quoted), amounts with two decimals, times in UTC (ISO 8601).
    public static func cashReportCSV(day: String, rows: [CashReportRow]) -> String {
        var lines = [Self.cashReportHeader]
        for row in rows {
            let fields = [
                day, String(row.customerID), row.userName, row.fullName, row.accounts, Self.amount(row.cashIn),
                String(row.deposits), Self.amount(row.cashOut), String(row.withdrawals), Self.utc(row.firstAt),
                Self.utc(row.lastAt), row.transactionIDs.map(String.init).joined(separator: " "),
            ]
            lines.append(fields.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Minor units as "1234.56" (a minus sign first when negative).
    public static func amount(_ minor: Int64) -> String {
        let sign = minor < 0 ? "-" : ""
        let magnitude = minor.magnitude
        let cents = magnitude % 100
        return "\(sign)\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    static func utc(_ date: Date) -> String {
        var formatter = Date.ISO8601FormatStyle()
        formatter.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(formatter)
    }

    /// The FinCEN SAR category a rule kind's pattern suggests (the filer decides).
    static func category(_ kind: String) -> String {
        switch kind {
        case "structuring": "Item 32 Structuring (transactions below the CTR threshold)"
        case "velocity": "Item 34 Fraud: credit/debit card (withdrawals at a rate the card's rules refuse)"
        case "cash_out_ring": "Item 34 Fraud: credit/debit card; item 38 Other: many cards cashed out at one ATM"
        case "pass_through": "Item 36 Money laundering: funds moved in and out rapidly (pass-through account)"
        case "dormant_reactivated": "Item 38 Other suspicious activities: a dormant account suddenly used"
        case "risky_counterparty": "Item 38 Other suspicious activities: transfers with a sanctioned or high-risk party"
        default: "Item 38 Other suspicious activities: \(kind)"
        }
    }

    /// The instrument a movement is (SAR item 46 / 45).
    static func instrument(_ kind: String) -> String {
        switch kind {
        case "deposit", "withdrawal": "U.S. currency / cash (ATM or branch)"
        case "transfer": "Funds transfer (between accounts at the bank)"
        default: kind
        }
    }

    /// A suspicious activity report DRAFT for a case, with the fields FinCEN's SAR asks (Part I subject,
    /// Part II suspicious activity: date range, amount, categories, instruments; Part III the institution
    /// where it occurred; Part V the narrative), the subject's identity from know your customer. What the
    /// bank does not hold (occupation, TIN, the document's full number) is marked "[to complete]".
    /// `institution`: the filing bank's name.
    public static func suspiciousActivityDraft(_ file: CaseFile, institution: String, preparedAt: Date) -> String {
        let missing = "[to complete]"
        let approved = file.transactions.filter { $0.response_code == "00" && !$0.reversed }
        let total = approved.reduce(Int64(0)) { $0 + $1.amount }
        let dates = file.transactions.map { String($0.at.prefix(10)) }.sorted()
        let kinds = Set(file.alerts.map(\.kind)).sorted()
        let instruments = Set(file.transactions.map { Self.instrument($0.kind) }).sorted()
        var lines: [String] = [
            "SUSPICIOUS ACTIVITY REPORT - DRAFT (FinCEN SAR), not filed",
            "Case \(file.case.id) (\(file.case.severity.rawValue), \(file.case.status)); prepared \(Self.utc(preparedAt))",
            "",
            "Part I - Subject information",
        ]
        if let customer = file.customer {
            let identity = customer.identity
            let names = (identity?.legal_name ?? customer.full_name).split(separator: " ")
            let document = identity.map {
                "\($0.document_type.replacingOccurrences(of: "_", with: " ")) issued by \($0.document_country), "
                    + "number ending \($0.document_last4) (the full number: from the customer file)"
            }
            lines += [
                "  Item 4  Individual's last name: \(names.last.map(String.init) ?? missing)",
                "  Item 5  First name: \(names.count > 1 ? names.dropLast().joined(separator: " ") : missing)",
                "  Item 7  Occupation: \(missing)",
                "  Items 11-15 Address: \(identity?.address ?? missing)",
                "  Item 16 TIN: \(missing)",
                "  Item 18 Form of identification: \(document ?? missing)",
                "  Item 19 Date of birth: \(identity?.date_of_birth ?? missing)",
                "  Nationality: \(identity?.nationality ?? missing)"
                    + (identity?.politically_exposed == true ? " (politically exposed person)" : ""),
                "  KYC: \(identity.map { "\($0.kyc_status), risk \($0.risk_rating) (\($0.risk_reasons.joined(separator: "; ")))" } ?? "no identity recorded")",
                "  Sanctions screening: \(identity.map { $0.screening + ($0.screening_detail.map { ": \($0)" } ?? "") } ?? missing)",
                "  Item 24 Relationship to the institution: customer since \(customer.since.prefix(10)) (user \(customer.user_name))",
                "  Item 27 Accounts affected:",
            ]
            lines += customer.accounts.map {
                "    \($0.account_no) (\($0.name), opened \($0.opened.prefix(10)), balance \(Self.amount($0.balance)) \(file.currency))"
            }
            if !customer.cards.isEmpty { lines.append("  Cards: \(customer.cards.joined(separator: ", "))") }
        } else if let terminal = file.terminal {
            lines += [
                "  Item 2  Subject information unavailable: the pattern is at terminal \(terminal.id) (\(terminal.location ?? "no location")), across the cards below",
                "  Cards involved: \(Set(file.transactions.compactMap(\.card)).sorted().joined(separator: ", "))",
            ]
        }
        lines += [
            "",
            "Part II - Suspicious activity information",
            "  Item 29 Amount involved: \(Self.amount(total)) \(file.currency) (\(approved.count) approved movements)",
            "  Item 30 Date or date range: \(dates.first ?? missing) to \(dates.last ?? missing)",
            "  Items 32-38 Categories (suggested by the rules that alerted):",
        ]
        lines += kinds.map { "    \(Self.category($0))" }
        lines.append("  Items 45-46 Product and instrument types:")
        lines += instruments.map { "    \($0)" }
        let terminals = Set(file.transactions.map(\.terminal)).sorted()
        lines += [
            "",
            "Part III - Information about the financial institution where the activity occurred",
            "  Item 51 Type of institution: depository institution",
            "  Item 52 Name: \(institution)",
            "  Items 53-65 TIN, address, primary regulator: \(missing)",
            "  Branch or ATM locations: \(terminals.joined(separator: ", "))",
            "",
            "Part IV - Filing institution contact information: \(missing)",
            "",
            "Part V - Narrative",
        ]
        var narrative = [
            "Transaction monitoring raised \(file.alerts.count) alert(s) for this subject:"
        ]
        narrative += file.alerts.map {
            "- \($0.raised_at.prefix(19)) rule \($0.rule) (\($0.kind), \($0.severity.rawValue), score \($0.score)): \($0.detail)"
        }
        narrative.append("The movements behind them (time UTC, kind, amount, response, terminal, account, card):")
        narrative += file.transactions.map {
            "- \($0.at.prefix(19)) \($0.kind) \(Self.amount($0.amount)) \(file.currency) \($0.response_code) at \($0.terminal)"
                + "\($0.account.map { ", account \($0)" } ?? "")\($0.card.map { ", card \($0)" } ?? "")"
                + ($0.reversed ? " (reversed)" : "")
        }
        narrative.append("The case's history:")
        narrative += file.events.map { "- \($0.at.prefix(19)) \($0.actor): \($0.event)\($0.detail.map { " - \($0)" } ?? "")" }
        narrative.append("[The investigator completes the narrative: who, what, when, where, why it is suspicious, how.]")
        lines += narrative.map { "  " + $0 }
        return lines.joined(separator: "\n") + "\n"
    }
}

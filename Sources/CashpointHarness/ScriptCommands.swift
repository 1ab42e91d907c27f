public import ArgumentParser
import Foundation

// `atm-harness run`, `atm-harness check` and `atm-harness decode`: scripts and messages (docs/harness.md).
extension HarnessCommands {
    /// Plays the scripts and prints each step (with `json`, progress on standard error and the report
    /// as JSON on standard output); with `junit`, writes a JUnit report there, whatever happened to
    /// standard output (a closed pipe stops the printing, not the run). If any script fails the check,
    /// none runs: nothing is sent, and the report has each one's problems.
    public static func run(
        files: [String],
        address: SwitchAddressOptions,
        junit: String?,
        json: Bool
    ) async throws(ValidationError) -> HarnessVerdict {
        let printer: @Sendable (String) -> Void = json ? sayToStandardError : say
        let report = await self.runner(address, say: printer).run(files: files)
        if let junit {
            do {
                try report.junitXML().write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                throw ValidationError("cannot write the JUnit report \(junit): \(error.localizedDescription)")
            }
        }
        if json { HarnessOutput.standardOutput.line(report.json()) }
        printer(report.summary)
        return report.failed > 0 ? .failed : .passed
    }

    /// Only the check of `atm-harness run`, without a switch: every problem of every file as
    /// `file:line:column: error: message`, then a closing line; failed when any file has one.
    public static func check(files: [String], output: (String) -> Void = say) -> HarnessVerdict {
        var failing = 0
        for file in files {
            let issues = ScriptPlan.check([file])
            for issue in issues { output(issue.description) }
            if !issues.isEmpty { failing += 1 }
        }
        let scripts = files.count == 1 ? "1 script" : "\(files.count) scripts"
        output("checked \(scripts): \(files.count - failing) ok, \(failing) with problems")
        return failing == 0 ? .passed : .failed
    }
}

/// `atm-harness check`, defined with the library so that the executable only names it.
public struct CheckScripts: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check scripts without a switch: unknown keys, actions and fields, unset variables, bad regexes.",
        discussion: """
            What `run` checks before it sends anything, without a switch (for editors and CI): every \
            problem of every file and of the files it includes, as FILE:LINE:COLUMN: error: MESSAGE. \
            Exits 1 if any script has a problem.
            """
    )

    @Argument(help: "Script files (YAML or JSON).") public var files: [String]

    public init() {}

    public func run() throws {
        let verdict = HarnessCommands.check(files: self.files)
        if verdict != .passed { throw ExitCode(verdict.rawValue) }
    }
}

/// `atm-harness decode`, defined with the library so that the executable only names it.
public struct Decode: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Decode an ATM-87 message or frame and check it against the spec.",
        discussion: """
            Reads hex (plain, or a hex dump as docs/protocol.md shows, with or without its ``` fence lines) \
            from the argument or, with no argument, from standard input. Says which prefix it assumed (a \
            2-byte length header or none), then prints the message through the masking printer (PAN as first \
            6 and last 4 digits; PIN block, track 2, MAC, keys and tokens never shown) and every broken \
            rule. Exits 1 if the input does not decode or breaks a rule.
            """
    )

    @Argument(help: "The message or frame in hex.") public var hex: String?
    @Flag(help: "The input starts with the 2-byte length prefix (auto-detected when omitted).") public var framed = false

    public init() {}

    public func run() throws {
        let text = self.hex ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let decoded = try HarnessCommands.decode(text, framed: self.framed)
        say(decoded.text)
        if !decoded.ok { throw ExitCode(HarnessVerdict.failed.rawValue) }
    }
}

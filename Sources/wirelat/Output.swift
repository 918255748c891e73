import ArgumentParser
import FoundationEssentials
import WirelatCore
import WirelatIO

/// Writes straight to standard output, unbuffered, so lines appear as they happen.
/// A reader that has gone (`wirelat ... | head`) loses the rest; the command goes on,
/// so that its files are still written.
func emit(_ text: String) {
    var text = text
    let _: Bool = text.withUTF8 { writeStandardOutput(UnsafeRawBufferPointer($0)) }
}

/// Writes to standard error as it is, unbuffered (progress text, content that could
/// not be saved). Standard error is the last place to report to: a failure there is
/// not reported.
func emitError(_ text: String) {
    var text = text
    let _: Bool = text.withUTF8 { writeStandardError(UnsafeRawBufferPointer($0)) }
}

/// One line on standard error.
func complain(_ line: String) {
    emitError("wirelat: \(line)\n")
}

/// `--json FILE`, the same option and check for every command that writes a JSON report.
struct JSONOutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Write the JSON report to FILE (- for standard output).", valueName: "FILE"))
    var json: String?

    /// ``checkOutputPaths(_:)`` for `--json` and the command's other outputs.
    func checkPaths(with others: [(option: String, path: String?)] = []) throws {
        try checkOutputPaths([("--json", json)] + others)
    }
}

/// Refuses, before anything is measured, an output path that cannot be written (empty,
/// a directory, a missing directory, a read-only file system, `/proc`): one line naming
/// the option, the path and the reason, then exit 2, as for any file wirelat cannot use
/// (`capture -w` included). `-` (standard output) passes. Every command calls this with
/// all its output options first thing in `run()`.
func checkOutputPaths(_ outputs: [(option: String, path: String?)]) throws {
    for case let (option, path?) in outputs where path != "-" {
        if let problem = outputFileProblem(path) {
            throw CommandFailure("cannot write \(option) \"\(path)\": \(problem)", .badInput)
        }
    }
}

/// Writes `bytes` to `path` (`-`: standard output). If that fails after all (the disk
/// filled, the directory went away), what was measured is not lost: one line says why,
/// then the content follows on standard error. Returns false then, so the command can
/// finish its other outputs before it exits 2.
@discardableResult
func saveOutput(_ bytes: [UInt8], to path: String, option: String) -> Bool {
    if path == "-" {
        // As for `emit`: a reader of standard output that has gone is not a failure to save.
        let _: Bool = bytes.withUnsafeBytes { writeStandardOutput($0) }
        return true
    }
    let written = bytes.withUnsafeBytes { b in Result { () throws(SystemError) in try writeFile(b, to: path) } }
    switch written {
    case .success:
        return true
    case .failure(let error):
        complain("cannot write \(option) \"\(path)\": \(error.reason); here it is instead:")
        // Standard error is the last resort; nothing is left to report its failure to.
        let _: Bool = bytes.withUnsafeBytes { writeStandardError($0) }
        return false
    }
}

/// A report as pretty-printed JSON with a final newline.
func jsonBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    var data = [UInt8](try encoder.encode(value))
    data.append(0x0A)
    return data
}

/// Writes a report as JSON to a file, or to standard output for `-`; exit 2 (after the
/// JSON on standard error) when the file cannot be written.
func writeJSON<T: Encodable>(_ value: T, to path: String, option: String = "--json") throws {
    guard saveOutput(try jsonBytes(value), to: path, option: option) else { throw ExitCode.badInput }
}

/// Parses a byte-count option, turning a bad value into a usage error that names the option.
func byteOption(_ text: String, _ option: String) throws -> Int {
    do {
        return try parseByteCount(text)
    } catch {
        throw ValidationError("\(option): \(error.description)")
    }
}


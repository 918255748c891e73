import ArgumentParser
import Foundation
import WirelatCore
import WirelatIO

/// Writes straight to standard output, unbuffered, so lines appear as they happen.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// One line on standard error.
func complain(_ line: String) {
    FileHandle.standardError.write(Data("wirelat: \(line)\n".utf8))
}

/// Refuses, before anything is measured, an output path that cannot be written (empty,
/// a directory, a missing directory, a read-only file system, `/proc`): one line naming
/// the option, the path and the reason, then exit 2, as for any file wirelat cannot use
/// (`capture -w` included). `-` (standard output) passes. Every command calls this with
/// all its output options first thing in `run()`.
func checkOutputPaths(_ outputs: [(option: String, path: String?)]) throws {
    for case let (option, path?) in outputs where path != "-" {
        if let problem = outputFileProblem(path) {
            complain("cannot write \(option) \"\(path)\": \(problem)")
            throw ExitCode(2)
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
        FileHandle.standardOutput.write(Data(bytes))
        return true
    }
    let written = bytes.withUnsafeBytes { b in Result { () throws(SystemError) in try writeFile(b, to: path) } }
    switch written {
    case .success:
        return true
    case .failure(let error):
        complain("cannot write \(option) \"\(path)\": \(error.reason); here it is instead:")
        FileHandle.standardError.write(Data(bytes))
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
    guard saveOutput(try jsonBytes(value), to: path, option: option) else { throw ExitCode(2) }
}

/// Parses a duration option, turning a bad value into a usage error that names the option.
func durationOption(_ text: String, _ option: String, bareUnit: DurationUnit) throws -> UInt64 {
    do {
        let d = try parseDuration(text, bareUnit: bareUnit)
        return UInt64(max(0, d.nanoseconds))
    } catch {
        throw ValidationError("\(option): \(error.description)")
    }
}

func byteOption(_ text: String, _ option: String) throws -> Int {
    do {
        return try parseByteCount(text)
    } catch {
        throw ValidationError("\(option): \(error.description)")
    }
}

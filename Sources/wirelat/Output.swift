import ArgumentParser
import Foundation
import WirelatCore

/// Writes straight to standard output, unbuffered, so lines appear as they happen.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// One line on standard error.
func complain(_ line: String) {
    FileHandle.standardError.write(Data("wirelat: \(line)\n".utf8))
}

/// Writes a report as JSON to a file, or to standard output for `-`.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    var data = try encoder.encode(value)
    data.append(0x0A)
    if path == "-" {
        FileHandle.standardOutput.write(data)
    } else {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            complain("cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(2)
        }
    }
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

import ArgumentParser
import WirelatCore
import WirelatIO
import WirelatKit

// The one place where failures become exit codes (README, "Exit codes").

extension ExitCode {
    /// 1: the measurement ran but failed (the peer vanished, nothing answered).
    static let measurementFailed = ExitCode(1)
    /// 2: a bad input file, or an output file that cannot be written.
    static let badInput = ExitCode(2)
    /// 3: a missing privilege (the line names the capability) or system component.
    static let missingPrivilege = ExitCode(3)
    /// 64: bad usage, ArgumentParser's own code for a validation error (EX_USAGE).
    static let usage = ExitCode(64)
}

/// A failure the command itself words: one line on standard error, then its exit code.
struct CommandFailure: Error {
    let line: String
    let exitCode: ExitCode

    init(_ line: String, _ exitCode: ExitCode) {
        self.line = line
        self.exitCode = exitCode
    }
}

/// The line to print and the exit code for an error that ends a command, or nil for
/// ArgumentParser's own (usage errors, `--help`, an `ExitCode` thrown after its line
/// was printed), which `exit(withError:)` handles.
func failure(for error: any Error) -> (line: String, exitCode: ExitCode)? {
    switch error {
    case let e as CommandFailure:
        return (e.line, e.exitCode)
    case let e as ProbeSetupError:
        if case .privilege = e { return (e.description, .missingPrivilege) }
        return (e.description, .measurementFailed)
    case let e as PcapError:
        return (e.message, captureExitCode(for: e))
    case let e as CapturePipelineError:
        switch e {
        case .capture(let pcap): return (pcap.message, captureExitCode(for: pcap))
        case .samplesFile, .undecodableLinkType: return (e.description, .badInput)
        }
    case let e as ServerError:
        if case .usage = e { return (e.description, .usage) }
        return (e.description, .measurementFailed)
    case let e as ModelError:
        return (e.message, .badInput)
    case let e as LabError:
        return (e.description, ExitCode(e.exitCode))
    case let e as SystemError:
        return (e.description, .measurementFailed)
    default:
        return nil
    }
}

/// A capture's error: an unreadable file is bad input, a missing CAP_NET_RAW a missing
/// privilege, a bad filter or interface bad usage.
func captureExitCode(for error: PcapError) -> ExitCode {
    switch error.kind {
    case .badFile: .badInput
    case .permission: .missingPrivilege
    case .filter, .device: .usage
    case .other: .measurementFailed
    }
}

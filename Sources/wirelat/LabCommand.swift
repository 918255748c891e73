import ArgumentParser
import WirelatCore
import WirelatIO
import WirelatKit

struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Two hosts on one machine: namespaces wirelat-a and wirelat-b joined by a link with delay, jitter, loss and rate.",
        discussion: """
        wirelat-a has 10.77.0.1/24 and fd00:77::1/64, wirelat-b 10.77.0.2/24 and fd00:77::2/64, each on a \
        TUN device; a wirelat delay-line process carries the packets between them. The settings apply to \
        each direction, so the round trip gets twice the delay. With --hosts N (2 to 16): wirelat-a, \
        wirelat-b, wirelat-c, … (10.77.0.1, .2, .3, …; fd00:77::1, ::2, ::3, …), each joined to the router \
        namespace wirelat-router by its own spoke with its own delay (--delay D1,D2,...), so the round \
        trip between hosts i and j gets 2 × (Di + Dj). Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN). \
        See docs/LAB.md.
        """,
        subcommands: [LabUp.self, LabExec.self, LabStatusCommand.self, LabDown.self, LabDelayLine.self]
    )
}

extension JitterDistribution: ExpressibleByArgument {}

/// One-way delays separated by commas (`0.2ms,0.4ms`), for `--delay`.
@Sendable func parseDelayList(_ text: String) throws -> [DurationArgument<BareMilliseconds>] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingWhitespace()) }
    guard !items.contains(where: \.isEmpty) else {
        throw ValidationError("expected a delay, or with --hosts delays separated by commas, e.g. 0.2ms,0.4ms")
    }
    return try items.map(DurationArgument.parse)
}

/// The link's settings, shared by `lab up` and the hidden `lab delay-line`.
struct LinkOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Hosts: wirelat-a, wirelat-b, … each joined to the router wirelat-router by its own spoke (2 to 16). Without it, two hosts joined directly.", valueName: "N"))
    var hosts: Int?

    @Option(help: ArgumentHelp("One-way delay added in each direction (e.g. 1ms, 250us; a bare number is milliseconds). With --hosts, one per host's spoke, comma-separated (D1,D2,...), or one for every spoke: the round trip between hosts i and j gets 2 × (Di + Dj). (default: 0)", valueName: "D[,D2,...]"), transform: parseDelayList)
    var delay: [DurationArgument<BareMilliseconds>] = ["0"]

    @Option(help: .withDefault("Jitter around the delay (uniform: ±jitter; normal: standard deviation). Packets keep their order unless --reorder. With --hosts, on every spoke in each direction (a packet between two hosts crosses two).", "0"), transform: DurationArgument.parse)
    var jitter: DurationArgument<BareMilliseconds> = "0"

    @Option(help: "How jitter is drawn: uniform or normal.")
    var distribution: JitterDistribution = .uniform

    @Flag(help: "Let jitter reorder packets (by default a packet never leaves before the one ahead of it).")
    var reorder = false

    @Option(help: "Percentage of packets lost in each direction, independently per packet (e.g. 1, 0.5, 10%). With --hosts, on every spoke in each direction.")
    var loss = "0"

    @Option(help: "Line rate in bits per second (e.g. 10000000, 10M, 1.5G; decimal prefixes). 0: unlimited. With --hosts, every spoke has its own transmitter of this rate in each direction.")
    var rate = "0"

    @Option(help: "Packets that may wait for the transmitter in each direction before new ones are dropped (with --rate).")
    var queue = 1000

    @Option(help: "Seed for loss and jitter, to replay a run (default: random, shown by `lab status`).")
    var seed: UInt64?

    @Option(name: .customLong("rt-priority"), help: "Run the delay line under SCHED_FIFO at this priority (1-99), so a busy machine does not delay its wake-ups; 0: ordinary scheduling.")
    var realtimePriority: Int32 = 20

    @Option(name: .customLong("wake-early"), help: .withDefault("Wake this long before a packet's deadline and wait for it awake, polling (0: sleep until the deadline).", "50us"), transform: DurationArgument.parse)
    var wakeEarly: DurationArgument<BareMicroseconds> = "50us"

    @Option(name: .customLong("poll-linger"), help: .withDefault("Keep polling the TUN devices (instead of sleeping until the next packet wakes the delay line) until none came for this long (0: never poll).", "20ms"), transform: DurationArgument.parse)
    var pollLinger: DurationArgument<BareMilliseconds> = "20ms"

    @Flag(name: .customLong("busy-poll"), help: "Poll all the time, even when the link is idle (90% of a CPU).")
    var busyPoll = false

    /// What `lab up` passes on to the delay line besides the link's settings.
    var daemonOptions: [String] {
        ["--rt-priority", "\(realtimePriority)", "--wake-early", wakeEarly.text, "--poll-linger", pollLinger.text] + (busyPoll ? ["--busy-poll"] : [])
    }

    /// `UInt64.max` for --busy-poll.
    var pollLingerNanoseconds: UInt64 {
        busyPoll ? .max : pollLinger.nanoseconds
    }

    /// With --hosts, each host's spoke delay (one --delay value stands for all); nil without.
    func spokeDelays() throws -> [UInt64]? {
        guard let hosts else {
            guard delay.count == 1 else {
                throw ValidationError("--delay: one value without --hosts (a list of \(delay.count) delays needs --hosts \(delay.count))")
            }
            return nil
        }
        guard (2...Lab.maximumHosts).contains(hosts) else {
            throw ValidationError("--hosts: from 2 to \(Lab.maximumHosts), not \(hosts)")
        }
        guard delay.count == 1 || delay.count == hosts else {
            throw ValidationError("--delay: \(delay.count) values for --hosts \(hosts): give one per host (\(hosts)) or one for all")
        }
        return delay.count == 1 ? Array(repeating: delay[0].nanoseconds, count: hosts) : delay.map(\.nanoseconds)
    }

    func settings() throws -> LinkSettings {
        var s = LinkSettings()
        s.delayNanoseconds = try spokeDelays()?.max() ?? delay[0].nanoseconds
        s.jitterNanoseconds = jitter.nanoseconds
        s.distribution = distribution
        s.reorder = reorder
        guard let l = parsePercent(loss) else { throw ValidationError("--loss: expected a percentage from 0 to 100, such as 1, 0.5 or 10%") }
        s.lossPercent = l
        guard let r = parseBitRate(rate) else { throw ValidationError("--rate: expected bits per second, such as 10000000, 10M or 1.5G") }
        guard r == 0 || r >= 8_000 else { throw ValidationError("--rate: at least 8000 bits/s (or 0 for unlimited)") }
        s.rateBitsPerSecond = r
        guard queue >= 1 else { throw ValidationError("--queue must be at least 1") }
        guard (0...99).contains(realtimePriority) else { throw ValidationError("--rt-priority must be from 0 to 99") }
        guard wakeEarly.nanoseconds <= 10_000_000 else {
            throw ValidationError("--wake-early: at most 10ms")
        }
        s.queueLimitPackets = queue
        return s
    }

    func validate() throws { _ = try settings() }
}

struct LabUp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Make the two namespaces (or with --hosts N, N and a router) and start the delay line between them."
    )

    @OptionGroup var link: LinkOptions

    func run() throws {
        let settings = try link.settings()
        let spokeDelays = try link.spokeDelays()
        let seed = link.seed ?? UInt64.random(in: 0...UInt64.max)
        let executable: String
        do {
            executable = try currentExecutablePath()
        } catch {
            throw CommandFailure("cannot find my own executable: \(error)", .measurementFailed)
        }
        let result = try Lab.up(settings: settings, spokeDelays: spokeDelays, seed: seed, daemonOptions: link.daemonOptions,
                                executable: executable)
        if let spokeDelays {
            emit(starText(result, spokeDelays))
            return
        }
        var text = "wirelat lab is up: delay line pid \(result.pid), log \(Lab.logFile)\n"
        text += "  link, each direction: \(settings.summary)\n"
        let rtt = 2 * settings.delayNanoseconds
        text += "  a↔b round trip adds \(formatDuration(.nanoseconds(Int64(clamping: rtt)))) (twice the one-way delay)"
        text += settings.rateBitsPerSecond > 0 ? ", plus serialization at \(formatBitRate(settings.rateBitsPerSecond))\n" : "\n"
        for side in Lab.sides {
            text += "  \(side.letter): namespace \(side.namespace), device \(Lab.deviceName) (TUN, MTU \(Lab.mtu)), "
            text += "\(side.ipv4)/\(LabSide.prefixLengthIPv4), \(side.ipv6)/\(LabSide.prefixLengthIPv6)\n"
        }
        text += "  seed \(result.seed)\n"
        text += "  try: wirelat lab exec a -- ping -c 5 \(Lab.sides[1].ipv4)\n"
        emit(text)
    }

    private func starText(_ result: Lab.UpResult, _ spokeDelays: [UInt64]) -> String {
        let router = Lab.router
        var text = "wirelat lab is up: \(result.hosts.count) hosts and a router, delay line pid \(result.pid), log \(Lab.logFile)\n"
        text += "  router: namespace \(router.namespace), \(router.ipv4), \(router.ipv6), forwarding IPv4 and IPv6; "
        text += "spoke devices \(Lab.spokeDeviceName(result.hosts[0])) … \(Lab.spokeDeviceName(result.hosts[result.hosts.count - 1]))\n"
        text += "  every spoke, each direction: \(result.settings.summaryWithoutDelay); delay per host below\n"
        let last = result.hosts[result.hosts.count - 1]
        let example = labRoundTripNanoseconds(spokeDelays[0], spokeDelays[spokeDelays.count - 1])
        text += "  round trip between hosts i and j adds 2 × (Di + Dj) (a ↔ \(last.letter): \(formatDuration(.nanoseconds(Int64(clamping: example)))))"
        text += result.settings.rateBitsPerSecond > 0 ? ", plus serialization at \(formatBitRate(result.settings.rateBitsPerSecond)) on each spoke\n" : "\n"
        for (side, delay) in zip(result.hosts, spokeDelays) {
            text += "  \(side.letter): namespace \(side.namespace), \(side.ipv4)/\(LabSide.prefixLengthIPv4), \(side.ipv6)/\(LabSide.prefixLengthIPv6), "
            text += "spoke delay \(formatDuration(.nanoseconds(Int64(clamping: delay))))\n"
        }
        text += "  seed \(result.seed)\n"
        text += "  try: wirelat lab exec a -- ping -c 5 \(last.ipv4)\n"
        return text
    }
}

struct LabExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a host's namespace (wirelat-a, wirelat-b, …) or the router's (as `ip netns exec`); its exit status is passed through.",
        discussion: "Example: wirelat lab exec b -- wirelat server --port 5555"
    )

    @Argument(help: "Which host: a (wirelat-a, 10.77.0.1), b (wirelat-b, 10.77.0.2), c, … up to p with --hosts; or router (wirelat-router).")
    var side: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after --.")
    var command: [String] = []

    var commandLine: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        guard Lab.side(side) != nil else {
            throw ValidationError("the host must be a letter from a to p (b is the last without --hosts) or router, not \(side)")
        }
        guard !commandLine.isEmpty else { throw ValidationError("give the command to run after --, e.g. wirelat lab exec a -- ping 10.77.0.2") }
    }

    func run() throws {
        let error = Lab.exec(side: Lab.side(side)!, command: commandLine)
        // The command could not be started: 127, as a shell says for a command not found.
        if case .failed = error { throw CommandFailure(error.description, commandLine.isEmpty ? .measurementFailed : ExitCode(127)) }
        throw error
    }
}

struct LabStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the link's settings and each direction's counters and the delay line's own latency."
    )

    @OptionGroup var outputs: JSONOutputOptions

    func run() throws {
        try outputs.checkPaths()
        switch Lab.status() {
        case .down:
            throw CommandFailure("the lab is not up: `wirelat lab up` starts it", .measurementFailed)
        case .died(let pid, let logTail):
            let who = pid.map { "the delay line (pid \($0))" } ?? "the delay line"
            var line = "\(who) is not running: it died or was killed, so nothing carries packets between the lab's namespaces; `wirelat lab down` cleans up"
            if !logTail.isEmpty { line += "\nlast lines of its log (\(Lab.logFile)):\n\(logTail)" }
            throw CommandFailure(line, .measurementFailed)
        case .running(let status, let age):
            if let path = outputs.json {
                if path == "-" {
                    emit(status.json)
                    return
                }
                guard saveOutput(Array(status.json.utf8), to: path, option: "--json") else { throw ExitCode.badInput }
            }
            emit(render(status, ageNanoseconds: age))
        }
    }

    func render(_ status: LabStatus, ageNanoseconds: Int64) -> String {
        let upSeconds = Double(status.updatedNanoseconds - status.startedNanoseconds) / 1e9
        var text = "wirelat lab: up \(formatFixed(upSeconds, 1)) s, delay line pid \(status.pid)"
        text += ", status written \(formatFixed(Double(max(ageNanoseconds, 0)) / 1e6, 0)) ms ago\n"
        if ageNanoseconds > 2_000_000_000 {
            text += "  warning: the status is \(formatFixed(Double(ageNanoseconds) / 1e9, 1)) s old: the delay line may be stuck\n"
        }
        if let hosts = status.hosts {
            text += "every spoke, each direction: \(status.settings.summaryWithoutDelay); seed \(status.seed)\n"
            text += "\(hosts.count) hosts, each joined to the router by its own spoke; the round trip between i and j adds 2 × (Di + Dj):\n"
            for h in hosts {
                text += "  \(h.letter)  \(h.namespace)  \(rightPad(h.ipv4, 11))  \(rightPad(h.ipv6, 14))  "
                text += "delay \(formatDuration(.nanoseconds(Int64(clamping: h.delayNanoseconds))))\n"
            }
            if let router = status.router {
                text += "  router  \(router.namespace)  \(router.ipv4)  \(router.ipv6)  (forwarding IPv4 and IPv6)\n"
            }
        } else {
            text += "link, each direction: \(status.settings.summary); seed \(status.seed)\n"
        }
        text += "delay line scheduling: " + (status.realtimePriority > 0 ? "SCHED_FIFO priority \(status.realtimePriority)" : "ordinary")
        text += ", wakes \(formatDuration(.nanoseconds(Int64(clamping: status.wakeEarlyNanoseconds)))) before a deadline, "
        switch status.pollLingerNanoseconds {
        case 0: text += "never polls\n"
        case .max: text += "polls all the time (--busy-poll)\n"
        case let linger: text += "polls until the link is idle for \(formatDuration(.nanoseconds(Int64(clamping: linger))))\n"
        }
        let header = ["direction", "read", "sent", "bytes sent", "lost", "queue drops", "held", "backlog", "max held"]
        let widths = [status.hosts == nil ? 9 : 12, 10, 10, 13, 8, 11, 6, 7, 8]
        text += zip(header, widths).map { leftPad($0, $1) }.joined(separator: " ") + "\n"
        for d in status.directions {
            let cells = [arrow(d.direction), "\(d.readPackets)", "\(d.sentPackets)", "\(d.sentBytes)", "\(d.droppedLoss)",
                         "\(d.droppedQueue)", "\(d.depth)", "\(d.backlog)", "\(d.maxDepth)"]
            text += zip(cells, widths).map { leftPad($0, $1) }.joined(separator: " ") + "\n"
        }
        text += "delay line's own added latency, one-way per packet (write issued − deadline; − read done when forwarded at once):\n"
        for d in status.directions {
            let l = d.ownLatency
            func us(_ ns: Double) -> String { formatFixed(ns / 1000, 1) }
            text += "  \(arrow(d.direction)): mean \(us(l.meanNanoseconds)) µs, p50 \(us(Double(l.p50Nanoseconds))) µs, "
            text += "p99 \(us(Double(l.p99Nanoseconds))) µs, max \(us(Double(l.maxNanoseconds))) µs over \(l.samples) packets"
            text += " (\(d.forwardedAtOnce) at once, \(d.forwardedByTimer) by timer)"
            if d.writeErrors > 0 {
                text += ", \(d.writeErrors) write errors"
                if let why = d.lastWriteError { text += " (the latest: \(why))" }
            }
            text += "\n"
        }
        return text
    }

    private func arrow(_ direction: String) -> String {
        direction.replacing(">", with: " → ")
    }
}

struct LabDown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the delay line, delete the lab's namespaces and remove its files (nothing up: nothing to do)."
    )

    func run() throws {
        let result = try Lab.down()
        if !result.foreignNamespaces.isEmpty {
            complain("left alone: \(Lab.foreignNamespaceText(result.foreignNamespaces))")
        }
        if result.nothingWasUp {
            emit("wirelat lab: nothing was up\n")
            return
        }
        var parts: [String] = []
        if !result.killed.isEmpty { parts.append("stopped the delay line (pid \(result.killed.map(String.init).joined(separator: ", ")))") }
        if !result.namespaces.isEmpty {
            let names = result.namespaces
            parts.append("deleted " + (names.count <= 2 ? names.joined(separator: " and ") : names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]))
        }
        parts.append("removed \(Lab.stateDirectory)")
        emit("wirelat lab is down: \(parts.joined(separator: ", "))\n")
    }
}

/// The delay line itself, started detached by `lab up`.
struct LabDelayLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delay-line",
        abstract: "The lab's delay-line process (started by `wirelat lab up`).",
        shouldDisplay: false
    )

    @OptionGroup var link: LinkOptions

    @Option(name: .customLong("ready-fd"), help: "Write `ready` or `error: …` to this descriptor once running, then close it.")
    var readyFD: Int32?

    func run() throws {
        var settings = try link.settings()
        let spokeDelays = try link.spokeDelays()
        settings.heldLimitPackets = LinkSettings().heldLimitPackets
        let seed = link.seed ?? UInt64.random(in: 0...UInt64.max)
        // Its own session, and none of its parent's descriptors: `lab up`, its terminal and
        // whoever waits for `lab up` to finish must not wait for the delay line. setsid
        // fails only for a process that already leads a process group; it then runs on.
        try? startNewSession()
        closeInheritedDescriptors(keeping: readyFD.map { [$0] } ?? [])
        // Best effort: without it, timers may only fire later (the default slack is 50 µs).
        try? setTimerSlack(nanoseconds: 1)
        var scheduling = "ordinary scheduling"
        var priority: Int32 = 0
        if link.realtimePriority > 0 {
            do {
                try setRealtimePriority(link.realtimePriority)
                priority = link.realtimePriority
                scheduling = "SCHED_FIFO priority \(priority)"
            } catch {
                scheduling = "ordinary scheduling (\(error))"
            }
        }
        let shape = spokeDelays.map { delays in
            "\(delays.count) spokes (delays \(delays.map { formatDuration(.nanoseconds(Int64(clamping: $0))) }.joined(separator: ", "))), each direction: \(settings.summaryWithoutDelay)"
        } ?? settings.summary
        log("delay line pid \(currentProcessID()) starting: \(shape), seed \(seed), \(scheduling)")
        let wakeEarly = link.wakeEarly.nanoseconds
        let pollLinger = link.pollLingerNanoseconds
        let daemon: DelayLineDaemon
        do {
            daemon = try DelayLineDaemon(settings: settings, spokeDelays: spokeDelays, seed: seed, realtimePriority: priority, wakeEarlyNanoseconds: wakeEarly,
                                         pollLingerNanoseconds: pollLinger)
        } catch {
            log("cannot create the TUN devices: \(error)")
            tell("error: cannot create the TUN devices: \(error)")
            throw ExitCode.measurementFailed
        }
        do {
            try daemon.run {
                log("running")
                tell("ready")
            }
        } catch {
            log("stopped on an error: \(error)")
            throw ExitCode.measurementFailed
        }
        for d in daemon.counters {
            log("\(d.direction): read \(d.readPackets), sent \(d.sentPackets), lost \(d.droppedLoss), queue drops \(d.droppedQueue), own latency mean \(formatFixed(d.ownLatency.meanNanoseconds / 1000, 1)) µs p99 \(formatFixed(Double(d.ownLatency.p99Nanoseconds) / 1000, 1)) µs")
        }
        log("stopped")
    }

    private func log(_ line: String) {
        emit("\(localTimeOfDay()) \(line)\n")
    }

    private func tell(_ line: String) {
        guard let fd = readyFD else { return }
        // A parent that has gone hears nothing; the line is in the log all the same.
        try? FileDescriptor(owning: fd).writeAll(Array("\(line)\n".utf8))
    }
}

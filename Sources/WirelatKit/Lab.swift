import FoundationEssentials
import WirelatCore
import WirelatIO

// `wirelat lab`: two network namespaces joined by a TUN device in each and a delay-line
// process that carries the packets between them with a given delay, jitter, loss and rate.
// With `--hosts N`, N namespaces, each joined to a router namespace by its own delay line
// (a spoke): the same process carries every spoke, each with its own delay.

/// One end of the lab's link: a host, or the router of a lab with `--hosts`.
public struct LabSide: Sendable, Equatable {
    /// `a`, `b`, `c`, … or `router`, as `wirelat lab exec` takes it.
    public let letter: String
    public let namespace: String
    public let ipv4: String
    public let ipv6: String
    public static let prefixLengthIPv4 = 24
    public static let prefixLengthIPv6 = 64
}

/// Why a lab command could not do what it was asked.
public enum LabError: Error, CustomStringConvertible, Sendable {
    /// A capability is missing (exit 3).
    case missingPrivilege(String)
    /// A system component (iproute2, /dev/net/tun) is missing (exit 3).
    case missingComponent(String)
    /// The lab is up already, or was left behind half-made (exit 1).
    case alreadyUp(String)
    /// Nothing is up (exit 1).
    case notUp(String)
    /// Something else went wrong (exit 1).
    case failed(String)

    public var description: String {
        switch self {
        case .missingPrivilege(let s), .missingComponent(let s), .alreadyUp(let s), .notUp(let s), .failed(let s): s
        }
    }

    /// The exit code INTERFACE.md gives it.
    public var exitCode: Int32 {
        switch self {
        case .missingPrivilege, .missingComponent: 3
        case .alreadyUp, .notUp, .failed: 1
        }
    }
}

/// Where the lab lives, and what it is called.
public enum Lab {
    public static let sides = [
        LabSide(letter: "a", namespace: "wirelat-a", ipv4: "10.77.0.1", ipv6: "fd00:77::1"),
        LabSide(letter: "b", namespace: "wirelat-b", ipv4: "10.77.0.2", ipv6: "fd00:77::2"),
    ]
    /// The most hosts `lab up --hosts` makes.
    public static let maximumHosts = 16
    /// The router namespace of a lab with `--hosts`: every spoke ends there, and it forwards
    /// IPv4 and IPv6 between them. Its addresses sit on its loopback device.
    public static let router = LabSide(letter: "router", namespace: "wirelat-router", ipv4: "10.77.0.254", ipv6: "fd00:77::254")

    /// The hosts of a lab with `--hosts count`: host k (counting from 1) is namespace
    /// `wirelat-<k-th letter>` with 10.77.0.k and fd00:77::k (k's decimal digits, so the two
    /// addresses read alike). `hosts(2)` are ``sides``.
    public static func hosts(_ count: Int) -> [LabSide] {
        "abcdefghijklmnop".prefix(count).enumerated().map { index, character in
            LabSide(letter: String(character), namespace: "wirelat-\(character)", ipv4: "10.77.0.\(index + 1)", ipv6: "fd00:77::\(index + 1)")
        }
    }

    /// Every namespace a lab may make, whatever its size: the names `lab up` refuses to
    /// share with a namespace it did not make, and `lab down` looks for.
    public static let allNamespaces: [String] = hosts(maximumHosts).map(\.namespace) + [router.namespace]

    /// The namespaces a lab makes: ``sides`` without `--hosts`, else its hosts and the router.
    public static func namespaces(hosts count: Int?) -> [String] {
        guard let count else { return sides.map(\.namespace) }
        return hosts(count).map(\.namespace) + [router.namespace]
    }

    /// The TUN device's name in each namespace.
    public static let deviceName = "wirelat0"
    /// The name of the router's TUN device at the end of `host`'s spoke.
    public static func spokeDeviceName(_ host: LabSide) -> String { "spoke-\(host.letter)" }
    public static let mtu = 1500

    /// `/run/wirelat-lab` where /run is writable, else `/tmp/wirelat-lab`.
    public static let stateDirectory: String = isWritableDirectory("/run") ? "/run/wirelat-lab" : "/tmp/wirelat-lab"
    public static var pidFile: String { "\(stateDirectory)/delay-line.pid" }
    public static var statusFile: String { "\(stateDirectory)/status.json" }
    public static var logFile: String { "\(stateDirectory)/delay-line.log" }
    /// One line per namespace `lab up` made: its name and its `NetworkNamespace.identity`.
    /// The mark that lets `lab down` tell the lab's namespaces from others of the same name.
    static var namespacesFile: String { "\(stateDirectory)/namespaces" }
    static var lockFile: String { "\(stateDirectory)/lock" }

    /// How often the delay line rewrites its status file.
    public static let statusIntervalNanoseconds: UInt64 = 100_000_000

    /// The host (`a` to `p`) or the router (`router`) that `letter` names, whether or not it
    /// is up.
    public static func side(_ letter: String) -> LabSide? {
        letter == router.letter ? router : hosts(maximumHosts).first { $0.letter == letter }
    }

    static let capNetAdmin = 12
    static let capSysAdmin = 21

    /// iproute2's `ip`.
    static func ipPath() throws(LabError) -> String {
        for p in ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"] where isAccessible(p, .execute) { return p }
        throw .missingComponent("iproute2's `ip` is not installed (apt-get install iproute2)")
    }

    static func requireAdmin(_ command: String) throws(LabError) {
        guard hasCapability(capNetAdmin) else {
            throw .missingPrivilege("wirelat lab \(command) needs CAP_NET_ADMIN (and CAP_SYS_ADMIN, for network namespaces): run it as root")
        }
        guard hasCapability(capSysAdmin) else {
            throw .missingPrivilege("wirelat lab \(command) needs CAP_SYS_ADMIN besides CAP_NET_ADMIN (network namespaces): run it as root")
        }
    }

    @discardableResult
    static func ip(_ arguments: [String]) throws(LabError) -> String {
        let path = try ipPath()
        let result: ChildResult
        do {
            result = try runProcess(path, arguments)
        } catch {
            throw .failed("cannot run ip: \(error)")
        }
        guard result.status == 0 else {
            let why = result.output.split(separator: "\n").first.map(String.init) ?? "exit \(result.status)"
            throw .failed("ip \(arguments.joined(separator: " ")) failed: \(why)")
        }
        return result.output
    }

    // MARK: What is there

    /// What of a lab exists on this machine.
    public struct Inventory: Sendable {
        /// The pid in the pid file, if any.
        public var recordedPid: ProcessID?
        /// Delay-line processes running (the recorded one and any stray).
        public var runningDaemons: [ProcessID] = []
        /// The lab's namespaces that exist and are the ones `lab up` made.
        public var namespaces: [String] = []
        /// Namespaces with the lab's names that `lab up` did not make (or no longer has a
        /// record of): never used, never deleted.
        public var foreignNamespaces: [String] = []
        public var hasFiles = false

        public var isEmpty: Bool { recordedPid == nil && runningDaemons.isEmpty && namespaces.isEmpty && !hasFiles }
        public var recordedDaemonAlive: Bool { recordedPid.map { runningDaemons.contains($0) } ?? false }
    }

    /// True when `pid` is a live `wirelat lab delay-line`.
    static func isDelayLine(_ pid: ProcessID) -> Bool {
        guard processIsAlive(pid), let argv = processArguments(pid), argv.count >= 3 else { return false }
        return argv[1] == "lab" && argv[2] == "delay-line"
    }

    public static func inventory() -> Inventory {
        var inventory = Inventory()
        if let text = readSmallFile(pidFile), let pid = ProcessID(text.trimmingWhitespace(newlines: true)) {
            inventory.recordedPid = pid
        }
        inventory.runningDaemons = allProcessIDs().filter { $0 != currentProcessID() && isDelayLine($0) }
        let made = namespacesMade()
        for name in allNamespaces {
            guard let identity = NetworkNamespace.identity(name) else { continue }
            if made[name] == identity {
                inventory.namespaces.append(name)
            } else {
                inventory.foreignNamespaces.append(name)
            }
        }
        inventory.hasFiles = fileExists(stateDirectory)
        return inventory
    }

    /// The namespaces `lab up` recorded as made, by name, with their identities.
    static func namespacesMade() -> [String: String] {
        var made: [String: String] = [:]
        for line in (readSmallFile(namespacesFile) ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2 { made[String(fields[0])] = String(fields[1]) }
        }
        return made
    }

    /// The line `lab up` and `lab down` give for namespaces they leave alone.
    public static func foreignNamespaceText(_ names: [String]) -> String {
        let list = names.joined(separator: " and ")
        let one = names.count == 1
        return "\(one ? "namespace" : "namespaces") \(list) \(one ? "exists" : "exist") but `wirelat lab up` did not make \(one ? "it" : "them") "
            + "(no record in \(namespacesFile)): wirelat lab neither uses nor deletes \(one ? "it" : "them"); "
            + "if \(one ? "it is" : "they are") yours to remove, `ip netns del \(names[0])`"
    }

    // MARK: up

    /// What `lab up` made.
    public struct UpResult: Sendable {
        public var pid: ProcessID
        public var settings: LinkSettings
        public var seed: UInt64
        /// The hosts: ``Lab/sides``, or those of `--hosts`.
        public var hosts: [LabSide]
        /// With `--hosts`: each host's spoke delay, in the order of ``hosts``.
        public var spokeDelays: [UInt64]?
    }

    /// Makes the namespaces, starts the delay line (`executable lab delay-line …`, detached)
    /// and gives each TUN device its addresses. Without `spokeDelays`, the two-host lab:
    /// ``sides`` joined by one link. With them, one host per delay (2 to ``maximumHosts``),
    /// each joined to ``router`` by its own spoke, whose one-way delay is its entry and whose
    /// other settings are `settings`. On any failure, removes what it made.
    public static func up(settings: LinkSettings, spokeDelays: [UInt64]? = nil, seed: UInt64, daemonOptions: [String],
                          executable: String) throws(LabError) -> UpResult {
        if let spokeDelays, !(2...maximumHosts).contains(spokeDelays.count) {
            throw .failed("a lab has from 2 to \(maximumHosts) hosts, not \(spokeDelays.count)")
        }
        let names = namespaces(hosts: spokeDelays?.count)
        let hostSides = spokeDelays.map { hosts($0.count) } ?? sides
        try requireAdmin("up")
        _ = try ipPath()
        guard isAccessible("/dev/net/tun", [.read, .write]) else {
            throw .missingComponent("/dev/net/tun is missing or not usable (the kernel needs CONFIG_TUN; try `modprobe tun`)")
        }
        do {
            try createDirectories(stateDirectory)
        } catch {
            throw .failed("cannot create \(stateDirectory): \(error)")
        }
        let lock: FileLock
        do { lock = try FileLock(lockFile) } catch { throw .failed("\(error)") }
        defer { withExtendedLifetime(lock) {} }

        let existing = inventory()
        if let pid = existing.runningDaemons.first {
            throw .alreadyUp("the lab is already up (delay line pid \(pid)): `wirelat lab status` shows it, `wirelat lab down` removes it")
        }
        let foreign = existing.foreignNamespaces.filter(names.contains)
        if !foreign.isEmpty {
            throw .failed(foreignNamespaceText(foreign))
        }
        if !existing.namespaces.isEmpty || existing.recordedPid != nil {
            let what = (existing.namespaces.map { "namespace \($0)" } + (existing.recordedPid.map { ["a dead delay line (pid \($0))"] } ?? []))
            throw .alreadyUp("a previous lab was left behind (\(what.joined(separator: ", "))): run `wirelat lab down` first")
        }

        var pid: ProcessID = 0
        var made: [String] = []
        do throws(LabError) {
            var record = ""
            for name in names {
                try ip(["netns", "add", name])
                made.append(name)
                guard let identity = NetworkNamespace.identity(name) else {
                    throw .failed("namespace \(name) vanished right after `ip netns add`")
                }
                record += "\(name) \(identity)\n"
                do { try replaceFile(namespacesFile, with: record) } catch { throw LabError.failed("cannot write \(namespacesFile): \(error)") }
            }
            pid = try startDelayLine(settings: settings, spokeDelays: spokeDelays, seed: seed, daemonOptions: daemonOptions,
                                     executable: executable)
            for side in hostSides { try configure(side) }
            if spokeDelays != nil { try configureRouter(hostSides) }
        } catch {
            teardown(pids: pid > 0 ? [pid] : [], namespaces: made)
            throw error
        }
        return UpResult(pid: pid, settings: settings, seed: seed, hosts: hostSides, spokeDelays: spokeDelays)
    }

    private static func startDelayLine(settings: LinkSettings, spokeDelays: [UInt64]?, seed: UInt64, daemonOptions: [String],
                                       executable: String) throws(LabError) -> ProcessID {
        let pipe: Pipe
        do { pipe = try Pipe() } catch { throw .failed("pipe: \(error.reason)") }
        let readEnd = pipe.readEnd
        var arguments = [
            "lab", "delay-line",
            "--delay", spokeDelays.map { $0.map { "\($0)ns" }.joined(separator: ",") } ?? "\(settings.delayNanoseconds)ns",
            "--jitter", "\(settings.jitterNanoseconds)ns",
            "--distribution", settings.distribution.rawValue,
            "--loss", "\(settings.lossPercent)",
            "--rate", "\(settings.rateBitsPerSecond)",
            "--queue", "\(settings.queueLimitPackets)",
            "--seed", "\(seed)",
            "--ready-fd", "3",
        ] + daemonOptions
        if let spokeDelays { arguments += ["--hosts", "\(spokeDelays.count)"] }
        if settings.reorder { arguments.append("--reorder") }
        let pid: ProcessID
        do {
            // Our copy of the write end closes at the end of this block, so the read
            // below sees the end of the stream if the delay line dies before it answers.
            let writeEnd = pipe.writeEnd
            pid = try spawnProcess(executable, arguments, streams: ChildStreams(outputPath: logFile, extraDescriptor: writeEnd.rawValue))
        } catch {
            throw .failed("cannot start the delay line: \(error)")
        }
        do {
            try replaceFile(pidFile, with: "\(pid)\n")
        } catch {
            throw .failed("cannot write \(pidFile): \(error)")
        }
        // The delay line answers `ready` or `error: …` on descriptor 3 once all its TUN
        // devices exist, or closes it by dying.
        var reply: [UInt8] = []
        let deadline = monotonicNanoseconds() + 10_000_000_000
        while !reply.contains(UInt8(ascii: "\n")) {
            let now = monotonicNanoseconds()
            guard now < deadline else { throw .failed("the delay line did not start within 10 s (see \(logFile))") }
            let readable = (try? readEnd.waitReadable(timeoutMilliseconds: Int((deadline - now) / 1_000_000) + 1)) ?? false
            guard readable else { continue }
            guard let chunk = try? readEnd.read(upTo: 512), !chunk.isEmpty else { break }
            reply.append(contentsOf: chunk)
        }
        let line = String(String(decoding: reply, as: UTF8.self).trimmingWhitespace(newlines: true))
        guard line == "ready" else {
            let status = pollChild(pid)
            if line.hasPrefix("error: ") { throw .failed("the delay line could not start: \(line.dropFirst(7))") }
            let tail = readSmallFile(logFile).map { lastLines($0, 5) } ?? ""
            throw .failed("the delay line exited\(status.map { " (status \($0))" } ?? "") before it was ready\(tail.isEmpty ? "" : ":\n\(tail)")")
        }
        return pid
    }

    private static func configure(_ side: LabSide) throws(LabError) {
        let n = ["-n", side.namespace]
        let dev = deviceName
        try ip(n + ["link", "set", "lo", "up"])
        try ip(n + ["link", "set", "dev", dev, "mtu", "\(mtu)"])
        // No link-local address: the link is point to point with no neighbour discovery,
        // and without one the kernel sends no housekeeping packets (MLD reports, router
        // solicitations) into a link whose other end may not be up yet.
        try ip(n + ["link", "set", "dev", dev, "addrgenmode", "none"])
        try ip(n + ["addr", "add", "\(side.ipv4)/\(LabSide.prefixLengthIPv4)", "dev", dev])
        try ip(n + ["-6", "addr", "add", "\(side.ipv6)/\(LabSide.prefixLengthIPv6)", "dev", dev, "nodad"])
        try ip(n + ["link", "set", "dev", dev, "up"])
    }

    /// Brings up the router's end of every spoke, routes each host's addresses to its
    /// spoke, gives the router its own addresses (on its loopback device) and turns
    /// forwarding on. The hosts see one /24 (and /64) on their TUN device, so everything
    /// for another host goes into their spoke with no neighbour discovery; the router
    /// forwards it into the other host's spoke.
    private static func configureRouter(_ hosts: [LabSide]) throws(LabError) {
        let n = ["-n", router.namespace]
        try ip(n + ["link", "set", "lo", "up"])
        try ip(n + ["addr", "add", "\(router.ipv4)/32", "dev", "lo"])
        try ip(n + ["-6", "addr", "add", "\(router.ipv6)/128", "dev", "lo"])
        for host in hosts {
            let dev = spokeDeviceName(host)
            try ip(n + ["link", "set", "dev", dev, "mtu", "\(mtu)"])
            try ip(n + ["link", "set", "dev", dev, "addrgenmode", "none"])
            try ip(n + ["link", "set", "dev", dev, "up"])
            try ip(n + ["route", "add", "\(host.ipv4)/32", "dev", dev, "src", router.ipv4])
            try ip(n + ["-6", "route", "add", "\(host.ipv6)/128", "dev", dev, "src", router.ipv6])
        }
        for key in ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"] {
            do {
                try NetworkNamespace.setSysctl(key, "1", in: router.namespace)
            } catch {
                throw .failed("cannot turn on forwarding (\(key)) in \(router.namespace): \(error)")
            }
        }
    }

    // MARK: down

    /// What `lab down` removed.
    public struct DownResult: Sendable {
        public var killed: [ProcessID] = []
        public var namespaces: [String] = []
        /// Namespaces with the lab's names that it did not make, left as they were.
        public var foreignNamespaces: [String] = []
        public var nothingWasUp = false
    }

    /// Stops the delay line, deletes the namespaces `lab up` made and removes the state
    /// directory. A namespace of the same name that it did not make is left alone and
    /// reported. With nothing up it does nothing and succeeds.
    public static func down() throws(LabError) -> DownResult {
        var found = inventory()
        if found.isEmpty { return DownResult(foreignNamespaces: found.foreignNamespaces, nothingWasUp: true) }
        try requireAdmin("down")
        let lock: FileLock?
        do { lock = try FileLock(lockFile) } catch { lock = nil }
        defer { withExtendedLifetime(lock) {} }
        found = inventory()
        var result = DownResult()
        result.killed = found.runningDaemons
        result.namespaces = found.namespaces
        result.foreignNamespaces = found.foreignNamespaces
        let failures = teardown(pids: found.runningDaemons, namespaces: found.namespaces)
        if !failures.isEmpty { throw .failed(failures.joined(separator: "; ")) }
        return result
    }

    /// Kills `pids` (SIGTERM, then SIGKILL after 2 s), deletes `namespaces` (those the
    /// lab made, never others) and, when that worked, the state directory with its record
    /// of them. Returns what could not be undone.
    @discardableResult
    static func teardown(pids: [ProcessID], namespaces: [String]) -> [String] {
        var failures: [String] = []
        for pid in pids where processIsAlive(pid) { sendSignal(.terminate, to: pid) }
        let deadline = monotonicNanoseconds() + 2_000_000_000
        while pids.contains(where: { processIsAlive($0) }) && monotonicNanoseconds() < deadline {
            _ = pollChildren(pids)
            sleep(nanoseconds: 5_000_000)
        }
        for pid in pids where processIsAlive(pid) {
            sendSignal(.kill, to: pid)
            let until = monotonicNanoseconds() + 1_000_000_000
            while processIsAlive(pid) && monotonicNanoseconds() < until {
                _ = pollChildren([pid])
                sleep(nanoseconds: 5_000_000)
            }
            if processIsAlive(pid) { failures.append("the delay line (pid \(pid)) did not die") }
        }
        for name in namespaces where NetworkNamespace.exists(name) {
            do { try ip(["netns", "del", name]) } catch { failures.append(error.description) }
        }
        guard failures.isEmpty else { return failures }
        do {
            try removeTree(stateDirectory)
        } catch {
            failures.append("cannot remove \(stateDirectory): \(error)")
        }
        return failures
    }

    /// Reaps those of `pids` that are our own ended children, so they stop being zombies.
    private static func pollChildren(_ pids: [ProcessID]) -> Int {
        pids.reduce(0) { $0 + (pollChild($1) == nil ? 0 : 1) }
    }

    // MARK: status

    /// The delay line's status, or why there is none.
    public enum StatusOutcome: Sendable {
        case running(LabStatus, ageNanoseconds: Int64)
        case died(pid: ProcessID?, logTail: String)
        case down
    }

    public static func status() -> StatusOutcome {
        let found = inventory()
        if found.isEmpty { return .down }
        let logTail = readSmallFile(logFile).map { lastLines($0, 5) } ?? ""
        guard found.recordedDaemonAlive, let pid = found.recordedPid else {
            return .died(pid: found.recordedPid, logTail: logTail)
        }
        var decoded: LabStatus?
        for _ in 0..<20 {
            if let text = readSmallFile(statusFile), let status = LabStatus.decode(text) {
                decoded = status
                break
            }
            sleep(nanoseconds: 5_000_000)
        }
        guard let status = decoded, status.pid == pid else {
            return .died(pid: pid, logTail: logTail)
        }
        return .running(status, ageNanoseconds: realtimeNanoseconds() - status.updatedNanoseconds)
    }

    // MARK: exec

    /// Replaces this process with `command` running in side `side`'s namespace. Returns
    /// only on failure.
    public static func exec(side: LabSide, command: [String]) -> LabError {
        let found = inventory()
        if found.foreignNamespaces.contains(side.namespace) {
            return .notUp(foreignNamespaceText([side.namespace]))
        }
        guard found.namespaces.contains(side.namespace) else {
            if found.namespaces.isEmpty {
                return .notUp("the lab is not up (no namespace \(side.namespace)): run `wirelat lab up` first")
            }
            let what = side == router ? "no router" : "no host \(side.letter)"
            return .notUp("the lab that is up has \(what) (no namespace \(side.namespace)): `wirelat lab status` lists its hosts")
        }
        let error = NetworkNamespace.exec(in: side.namespace, command)
        if error.isPermission && error.call.hasPrefix("setns") || error.call.hasPrefix("open") && error.isPermission {
            return .missingPrivilege("wirelat lab exec needs CAP_SYS_ADMIN (setns into \(side.namespace)) besides CAP_NET_ADMIN: run it as root")
        }
        return .failed("cannot run \(command[0]) in \(side.namespace): \(error)")
    }
}

func lastLines(_ text: String, _ n: Int) -> String {
    text.split(separator: "\n").suffix(n).joined(separator: "\n")
}

// MARK: - The delay line

/// One direction of the link: reads packets from `input`, holds them in a ``DelayLine``
/// and writes them to `output` at their deadline.
final class LinkDirection {
    let input: TunDevice
    let output: TunDevice
    var line: DelayLine
    var status: LabDirectionStatus
    var ownLatency = CompactHistogram()
    /// Buffers of held packets, by handle, and the handles free for reuse.
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var freeHandles: [Int] = []

    static let initialBufferBytes = 2048

    init(label: String, input: TunDevice, output: TunDevice, settings: LinkSettings, seed: UInt64) {
        self.input = input
        self.output = output
        line = DelayLine(settings: settings, seed: seed)
        status = LabDirectionStatus(direction: label)
    }

    deinit {
        for b in buffers { b.deallocate() }
    }

    /// A free handle (allocating one if none), without taking it.
    @inline(__always)
    func peekFreeHandle() -> Int {
        if let h = freeHandles.last { return h }
        buffers.append(.allocate(byteCount: Self.initialBufferBytes, alignment: 16))
        freeHandles.append(buffers.count - 1)
        return buffers.count - 1
    }

    /// Takes `handle` (from ``peekFreeHandle()``) and copies the packet into its buffer.
    @inline(__always)
    func hold(_ handle: Int, _ packet: UnsafeRawBufferPointer) {
        _ = freeHandles.popLast()
        if buffers[handle].count < packet.count {
            buffers[handle].deallocate()
            buffers[handle] = .allocate(byteCount: packet.count, alignment: 16)
        }
        buffers[handle].baseAddress!.copyMemory(from: packet.baseAddress!, byteCount: packet.count)
    }

    @inline(__always)
    func send(_ packet: UnsafeRawBufferPointer) {
        do {
            if case .processed = try output.write(packet) {
                status.sentPackets &+= 1
                status.sentBytes &+= UInt64(packet.count)
                return
            }
            status.lastWriteError = "the device's queue is full (EAGAIN)"
        } catch {
            status.lastWriteError = "\(error)"
        }
        status.writeErrors &+= 1
    }

    /// Writes the held packet `handle` and frees it.
    @inline(__always)
    func sendHeld(_ packet: HeldPacket) {
        send(UnsafeRawBufferPointer(rebasing: buffers[packet.handle][0..<packet.bytes]))
        freeHandles.append(packet.handle)
    }
}

/// The delay-line process: two TUN devices, one in each namespace, and one event loop
/// moving packets between them through a ``DelayLine`` per direction. With `--hosts`, a
/// TUN device in each host and one per host in the router, and a ``DelayLine`` for each
/// direction of each spoke.
public final class DelayLineDaemon {
    let settings: LinkSettings
    let seed: UInt64
    let realtimePriority: Int32
    let loop: EventLoop
    /// Every direction; with `--hosts`, every host→router direction first, so that a packet
    /// the router forwards is read in the same sweep over the devices.
    let directions: [LinkDirection]
    let hosts: [LabHostStatus]?
    /// With `--hosts`, every direction's input device, in the order of ``directions``: one
    /// poll(2) over them tells which to read. Nil in the two-host lab, which reads both.
    private let poller: TunPoller?
    let started = realtimeNanoseconds()
    /// How long before a deadline the delay line wakes up to wait for it awake.
    let wakeEarlyNanoseconds: UInt64
    /// How long to keep polling after the last packet (see ``poll()``); `.max`: always.
    let pollLingerNanoseconds: UInt64
    private var polling = false
    private var lastActivity: UInt64 = 0
    private var readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    private var failure: String?
    /// When the armed timer fires, `.max` if none is armed.
    private var timerArmedFor: UInt64 = .max
    private let statusFile: InPlaceFile?
    private var statusSequence: UInt64 = 0

    /// Packets read from one device per wake-up before the other gets its turn.
    static let readBatch = 64

    /// Creates the TUN device `Lab.deviceName` inside each side's namespace (setns(2) into
    /// it, open /dev/net/tun, TUNSETIFF, setns back). With `spokeDelays`, the same in each
    /// of their hosts, and one device per host in the router (``Lab/spokeDeviceName(_:)``);
    /// each spoke delays both its directions by its entry.
    public init(settings: LinkSettings, spokeDelays: [UInt64]? = nil, seed: UInt64, realtimePriority: Int32,
                wakeEarlyNanoseconds: UInt64, pollLingerNanoseconds: UInt64) throws(SystemError) {
        var base = settings
        // With spokes, the status's `delay_ns` is the largest spoke's delay.
        if let spokeDelays { base.delayNanoseconds = spokeDelays.max() ?? 0 }
        self.settings = base
        self.seed = seed
        self.realtimePriority = realtimePriority
        self.wakeEarlyNanoseconds = wakeEarlyNanoseconds
        self.pollLingerNanoseconds = pollLingerNanoseconds
        loop = try EventLoop()
        statusFile = try InPlaceFile(path: Lab.statusFile)
        func device(_ name: String, in namespace: String) throws(SystemError) -> TunDevice {
            try NetworkNamespace.within(namespace) { () throws(SystemError) in try TunDevice(name: name) }
        }
        /// Each direction's generator starts from its own seed.
        func directionSeed(_ index: Int) -> UInt64 { seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 }
        guard let spokeDelays else {
            let a = try device(Lab.deviceName, in: Lab.sides[0].namespace)
            let b = try device(Lab.deviceName, in: Lab.sides[1].namespace)
            directions = [
                LinkDirection(label: "a>b", input: a, output: b, settings: settings, seed: directionSeed(0)),
                LinkDirection(label: "b>a", input: b, output: a, settings: settings, seed: directionSeed(1)),
            ]
            hosts = nil
            poller = nil
            return
        }
        let sides = Lab.hosts(spokeDelays.count)
        var up: [LinkDirection] = [], down: [LinkDirection] = []
        for (index, (side, delay)) in zip(sides, spokeDelays).enumerated() {
            let host = try device(Lab.deviceName, in: side.namespace)
            let spoke = try device(Lab.spokeDeviceName(side), in: Lab.router.namespace)
            var spokeSettings = settings
            spokeSettings.delayNanoseconds = delay
            up.append(LinkDirection(label: "\(side.letter)>\(Lab.router.letter)", input: host, output: spoke,
                                    settings: spokeSettings, seed: directionSeed(2 * index)))
            down.append(LinkDirection(label: "\(Lab.router.letter)>\(side.letter)", input: spoke, output: host,
                                      settings: spokeSettings, seed: directionSeed(2 * index + 1)))
        }
        directions = up + down
        poller = try TunPoller(directions.map(\.input))
        for d in directions { d.status.delayNanoseconds = d.line.settings.delayNanoseconds }
        hosts = zip(sides, spokeDelays).map { side, delay in
            LabHostStatus(letter: side.letter, namespace: side.namespace, ipv4: side.ipv4, ipv6: side.ipv6, delayNanoseconds: delay)
        }
    }

    deinit { readBuffer.deallocate() }

    /// Runs until SIGINT or SIGTERM (or a device fails), rewriting the status file every
    /// ``Lab/statusIntervalNanoseconds``. `ready` is called once everything is registered.
    public func run(ready: () -> Void) throws(SystemError) {
        for d in directions {
            try loop.register(d.input.rawValue, interest: .readable) { [unowned self] _ in
                if self.readable(d) > 0 { self.startPolling() }
                self.armTimer()
            }
        }
        try loop.onInterrupt { [unowned self] _ in self.loop.stop() }
        writeStatus()
        scheduleStatus()
        if pollLingerNanoseconds == .max { startPolling() }
        ready()
        try loop.run()
        for d in directions { loop.deregister(d.input.rawValue) }
        writeStatus(stopped: true)
        if let failure { throw SystemError(call: failure, errno: Errno.ioError) }
    }

    public var counters: [LabDirectionStatus] { directions.map(snapshot) }

    /// Reads what `d`'s device has (at most ``readBatch`` packets) and forwards, holds or
    /// drops each. Returns how many it read.
    @discardableResult
    private func readable(_ d: LinkDirection) -> Int {
        for count in 0..<Self.readBatch {
            let result: IOResult<Int>
            do {
                result = try d.input.read(into: readBuffer)
            } catch {
                failure = "read(\(d.status.direction)): \(error)"
                loop.stop()
                return count
            }
            guard case .processed(let n) = result else { return count }
            let readAt = monotonicNanoseconds()
            d.status.readPackets &+= 1
            d.status.readBytes &+= UInt64(n)
            let packet = UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])
            let handle = d.peekFreeHandle()
            switch d.line.offer(handle: handle, bytes: n, at: readAt) {
            case .forwardNow:
                d.ownLatency.record(monotonicNanoseconds() &- readAt)
                d.send(packet)
                d.status.forwardedAtOnce &+= 1
            case .queued:
                d.hold(handle, packet)
                if d.line.depth > d.status.maxDepth { d.status.maxDepth = d.line.depth }
            case .lost:
                d.status.droppedLoss &+= 1
            case .queueFull:
                d.status.droppedQueue &+= 1
            }
        }
        return Self.readBatch
    }

    /// Reads every device that has packets (``readable(_:)``); how many it read. In the
    /// two-host lab a read on each device; with `--hosts`, it asks the ``TunPoller`` which
    /// of the 2 × N devices have a packet and reads only those. A packet forwarded at once
    /// into the router comes out of another spoke's device within the write, after the
    /// poller was asked: when a host→router direction moved one, it asks once more, so
    /// that packet goes on now rather than in the next sweep.
    @discardableResult
    private func readAll() -> Int {
        guard let poller else { return directions.reduce(0) { $0 + readable($1) } }
        let hostCount = directions.count / 2
        var count = 0
        for _ in 0..<2 {
            var towardRouter = false
            do {
                try poller.forEachReadable { index in
                    let read = readable(directions[index])
                    count += read
                    if index < hostCount && read > 0 { towardRouter = true }
                }
            } catch {
                failure = "\(error)"
                loop.stop()
                return count
            }
            if !towardRouter { break }
        }
        return count
    }

    /// The earliest deadline held in any direction.
    private var nextDeadline: UInt64? {
        var earliest: UInt64?
        for d in directions {
            if let head = d.line.headDeadline, head < (earliest ?? .max) { earliest = head }
        }
        return earliest
    }

    /// Arms the loop's timer (a timerfd, timerfd_create(2)) ``wakeEarlyNanoseconds`` before
    /// the earliest held deadline, unless it is armed at or before that already.
    private func armTimer() {
        guard let next = nextDeadline else { return }
        let at = next > wakeEarlyNanoseconds ? next - wakeEarlyNanoseconds : 0
        guard at < timerArmedFor else { return }
        timerArmedFor = at
        loop.schedule(at: at) { [unowned self] in
            if at == self.timerArmedFor { self.timerArmedFor = .max }
            self.serviceDeadlines()
            self.armTimer()
        }
    }

    /// Writes every packet of `d` whose deadline has come; how many.
    @inline(__always)
    @discardableResult
    private func sendDue(_ d: LinkDirection) -> Int {
        var sent = 0
        while let p = d.line.popDue(at: monotonicNanoseconds()) {
            d.ownLatency.record(monotonicNanoseconds() &- p.deadline)
            d.sendHeld(p)
            d.status.forwardedByTimer &+= 1
            sent += 1
        }
        return sent
    }

    /// Writes every packet whose deadline has come. When the next deadline is less than
    /// ``wakeEarlyNanoseconds`` away, polls the clock and all devices until it comes
    /// rather than sleeping: a wake-up from the timer takes several microseconds, more on a
    /// busy machine, and every one of them would be added to the packet's delay.
    private func serviceDeadlines() {
        while true {
            for d in directions { sendDue(d) }
            guard let next = nextDeadline else { return }
            let now = monotonicNanoseconds()
            if next <= now { continue }
            if next - now > wakeEarlyNanoseconds || loop.isStopped { return }
            while monotonicNanoseconds() < next, !loop.isStopped {
                readAll()
                if let n = nextDeadline, n < next { break }
            }
        }
    }

    /// Starts polling (see ``poll()``) unless polling is off or under way.
    private func startPolling() {
        lastActivity = monotonicNanoseconds()
        guard pollLingerNanoseconds > 0, !polling else { return }
        polling = true
        poll()
    }

    /// Polls all devices and the deadlines in a tight loop instead of sleeping, for as
    /// long as packets keep coming (until none came for ``pollLingerNanoseconds``). A
    /// sleeping delay line must be woken for each packet, which costs tens of microseconds
    /// on an idle VM, where an idle virtual CPU halts. Polls in slices of 9 ms with 1 ms of
    /// ordinary event-loop time between them (status, signals): that also keeps a SCHED_FIFO
    /// poller under the kernel's RT throttling limit (sched_rt_runtime_us, 95 %).
    private func poll() {
        let sliceEnd = monotonicNanoseconds() + 9_000_000
        var now = monotonicNanoseconds()
        while now < sliceEnd, !loop.isStopped, !loop.interruptPending {
            var moved = 0
            if poller == nil {
                for d in directions { moved += readable(d) + sendDue(d) }
            } else {
                moved = readAll()
                for d in directions { moved += sendDue(d) }
            }
            now = monotonicNanoseconds()
            if moved > 0 {
                lastActivity = now
            } else if pollLingerNanoseconds != .max && now - lastActivity > pollLingerNanoseconds {
                polling = false
                armTimer()
                return
            }
        }
        armTimer()
        loop.schedule(after: 1_000_000) { [unowned self] in self.poll() }
    }

    private func scheduleStatus() {
        loop.schedule(after: Lab.statusIntervalNanoseconds) { [unowned self] in self.statusDue(deferrals: 0) }
    }

    /// Writes the status, unless a packet is due within a millisecond: then just after it
    /// (at most 20 times in a row), so the write never holds a packet back.
    private func statusDue(deferrals: Int) {
        let now = monotonicNanoseconds()
        if deferrals < 20, let next = nextDeadline, next > now, next - now < 1_000_000 {
            loop.schedule(at: next + 20_000) { [unowned self] in self.statusDue(deferrals: deferrals + 1) }
            return
        }
        writeStatus()
        scheduleStatus()
    }

    private func snapshot(_ d: LinkDirection) -> LabDirectionStatus {
        var s = d.status
        s.depth = d.line.depth
        s.backlog = d.line.backlog(at: monotonicNanoseconds())
        s.ownLatency.samples = d.ownLatency.count
        s.ownLatency.meanNanoseconds = d.ownLatency.mean
        s.ownLatency.p50Nanoseconds = d.ownLatency.percentile(50)
        s.ownLatency.p99Nanoseconds = d.ownLatency.percentile(99)
        s.ownLatency.maxNanoseconds = d.ownLatency.max
        return s
    }

    private func writeStatus(stopped: Bool = false) {
        var status = LabStatus(
            pid: currentProcessID(), startedNanoseconds: started, updatedNanoseconds: realtimeNanoseconds(),
            delayNanoseconds: settings.delayNanoseconds, jitterNanoseconds: settings.jitterNanoseconds,
            distribution: settings.distribution.rawValue, reorder: settings.reorder,
            lossPercent: settings.lossPercent, rateBitsPerSecond: settings.rateBitsPerSecond,
            queueLimitPackets: settings.queueLimitPackets, seed: seed, realtimePriority: realtimePriority,
            wakeEarlyNanoseconds: wakeEarlyNanoseconds, pollLingerNanoseconds: pollLingerNanoseconds, stopped: stopped,
            directions: directions.map(snapshot), hosts: hosts,
            router: hosts == nil ? nil : LabRouterStatus(namespace: Lab.router.namespace, ipv4: Lab.router.ipv4, ipv6: Lab.router.ipv6))
        statusSequence &+= 1
        status.sequence = statusSequence
        try? statusFile?.overwrite(status.json)
    }
}

/// How `wirelat agent` times a target: the agent's names for the active methods.
public enum AgentMethod: String, CaseIterable, Sendable {
    /// A wirelat request/response exchange on a kept connection (needs a wirelat server).
    case reqresp
    /// A raw SYN → SYN-ACK or RST, as `probe --method tcp-syn`.
    case syn
    /// A full TCP connect, as `probe --method tcp-connect`.
    case connect
    /// ICMP echo, as ping.
    case icmp
    /// The listener's own protocol, without a login, as `probe redis|http|pg|mysql|tns`
    /// (and `compare --app`): PING, HEAD /, SSLRequest, the greeting, a TNS CONNECT.
    case redis, http, pg, mysql, tns

    /// The methods a target gets when neither it nor `defaults` names any.
    public static let standard: [AgentMethod] = [.reqresp, .syn, .connect, .icmp]

    /// Every method but ICMP talks to a TCP port.
    public var needsPort: Bool { self != .icmp }
}

/// One host the agent probes, with every setting resolved (the target's own, else the
/// `defaults` block's, else the built-in ones).
public struct AgentTarget: Equatable, Sendable {
    /// The `target` label; defaults to the host as written.
    public var name: String
    public var host: String
    /// Nil only when every method is ICMP.
    public var port: UInt16?
    public var methods: [AgentMethod]
    public var intervalNanoseconds: UInt64
    /// Probes per method per round, spread evenly over the interval.
    public var samples: Int
    public var timeoutNanoseconds: UInt64
    /// Request/response payload bytes (the ICMP payload too).
    public var length: Int
    /// Whether the target came from `peers` (another agent) rather than `targets`.
    public var isPeer: Bool

    public init(
        name: String, host: String, port: UInt16? = nil,
        methods: [AgentMethod] = AgentMethod.standard,
        intervalNanoseconds: UInt64 = 10_000_000_000, samples: Int = 20,
        timeoutNanoseconds: UInt64 = 1_000_000_000, length: Int = 0, isPeer: Bool = false
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.methods = methods
        self.intervalNanoseconds = intervalNanoseconds
        self.samples = samples
        self.timeoutNanoseconds = timeoutNanoseconds
        self.length = length
        self.isPeer = isPeer
    }

    /// The time between two probes of one method: interval ÷ samples.
    public var probeSpacingNanoseconds: UInt64 { intervalNanoseconds / UInt64(max(samples, 1)) }
}

/// One passive capture the agent runs (`capture --rtt` on a live interface).
public struct AgentCaptureSpec: Equatable, Sendable {
    public var interface: String
    /// BPF filter text; may be empty.
    public var filter: String
    /// `capture --rtt` method names: handshake, reqresp, ack, tsecr, icmp.
    public var methods: [String]

    public init(interface: String, filter: String = "", methods: [String] = RTTMethod.allCases.map(\.rawValue)) {
        self.interface = interface
        self.filter = filter
        self.methods = methods
    }
}

/// Why a configuration was refused: the 1-based line of the configuration file the
/// problem is on, when there is one, and one sentence.
public struct AgentConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public var line: Int?
    public var message: String

    public init(line: Int?, message: String) {
        self.line = line
        self.message = message
    }

    /// `line 7: unknown key ...`, or the bare message when no line applies.
    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// The `wirelat agent --config FILE` configuration (INTERFACE.md, "agent").
public struct AgentConfig: Equatable, Sendable {
    /// Where /metrics is served: `listen: "HOST:PORT"`, `"[v6]:PORT"` or `":PORT"`
    /// (host without brackets).
    public var listenHost: String
    public var listenPort: UInt16
    /// `responder: {port: P}`: the port of the wirelat server the agent runs, so that
    /// peers can time request/response against it. Nil: no responder.
    public var responderPort: UInt16?
    /// The explicit `targets`, settings resolved.
    public var targets: [AgentTarget]
    /// The peers, as written in `peers.hosts` or in the `peers.file`.
    public var peerHosts: [String]
    /// How many peers probe each peer; 0 = every peer probes every other one.
    public var peerFanout: Int
    /// `peers.port`, else the responder's port.
    public var peerPort: UInt16?
    /// The settings every peer is probed with (name and host empty, `isPeer` true).
    public var peerDefaults: AgentTarget
    public var captures: [AgentCaptureSpec]
    /// The sliding window of the RTT summaries: `summary_window`, default 60 s.
    public var summaryWindowNanoseconds: UInt64
    /// The peers file as read (relative paths joined to the base directory); nil when
    /// the peers come from `peers.hosts` or there are none.
    public var peerFile: String?

    public init(
        listenHost: String = "0.0.0.0", listenPort: UInt16 = AgentConfig.defaultListenPort,
        responderPort: UInt16? = nil, targets: [AgentTarget] = [], peerHosts: [String] = [],
        peerFanout: Int = 0, peerPort: UInt16? = nil,
        peerDefaults: AgentTarget = AgentTarget(name: "", host: "", isPeer: true),
        captures: [AgentCaptureSpec] = [],
        summaryWindowNanoseconds: UInt64 = AgentConfig.defaultSummaryWindowNanoseconds,
        peerFile: String? = nil
    ) {
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.responderPort = responderPort
        self.targets = targets
        self.peerHosts = peerHosts
        self.peerFanout = peerFanout
        self.peerPort = peerPort
        self.peerDefaults = peerDefaults
        self.captures = captures
        self.summaryWindowNanoseconds = summaryWindowNanoseconds
        self.peerFile = peerFile
    }

    public static let defaultListenPort: UInt16 = 9155
    public static let defaultSummaryWindowNanoseconds: UInt64 = 60_000_000_000

    /// Accepted interval: 100 ms to 1 h.
    public static let intervalRange: ClosedRange<UInt64> = 100_000_000...3_600_000_000_000
    /// Accepted probes per method per round.
    public static let samplesRange: ClosedRange<Int> = 1...1000
    /// The shortest interval ÷ samples: 1 ms between two probes of one method.
    public static let minimumProbeSpacingNanoseconds: UInt64 = 1_000_000
    /// Accepted timeout: 1 ms to 60 s (and at most the interval).
    public static let timeoutRange: ClosedRange<UInt64> = 1_000_000...60_000_000_000
    /// Accepted payload: an ICMP echo of 65000 bytes still fits an IPv4 datagram.
    public static let lengthRange: ClosedRange<Int> = 0...65000
    /// Accepted summary window: 1 s to 1 h.
    public static let summaryWindowRange: ClosedRange<UInt64> = 1_000_000_000...3_600_000_000_000

    /// Parses and validates a configuration. `readFile` loads `peers.file`, with the path
    /// as written (relative to the working directory). Every error names the line it is
    /// about.
    public static func parse(_ text: String, readFile: (String) throws -> String) throws(AgentConfigError) -> AgentConfig {
        try parse(text, baseDirectory: "", readFile: readFile)
    }

    /// As ``parse(_:readFile:)``, with a relative `peers.file` joined to `baseDirectory`
    /// (the configuration file's directory) before `readFile` loads it.
    public static func parse(
        _ text: String, baseDirectory: String, readFile: (String) throws -> String
    ) throws(AgentConfigError) -> AgentConfig {
        let root: YAMLNode
        do {
            root = try YAML.parse(text)
        } catch {
            throw AgentConfigError(line: error.line, message: error.message)
        }
        let reader = ConfigReader(baseDirectory: baseDirectory)
        return try reader.read(root, readFile: readFile)
    }

    /// The targets this agent probes: the explicit targets, then the peers it is assigned.
    /// A peer equal to one of `localAddresses` (this host's own addresses, numeric text;
    /// IPv6 compared by value) is skipped. With a fanout K > 0, ``Rendezvous`` picks the
    /// peers, seen from `me` = the first peer that is local, else the first local address
    /// in sorted order.
    public func probeTargets(localAddresses: Set<String>) -> [AgentTarget] {
        let local = Set(localAddresses.map(hostIdentity))
        let isLocal = { (host: String) in local.contains(hostIdentity(host)) }
        var assigned = peerHosts
        if peerFanout > 0 {
            let me = peerHosts.first(where: isLocal) ?? localAddresses.sorted().first ?? ""
            assigned = Rendezvous.targets(of: me, among: peerHosts, fanout: peerFanout)
        }
        let peers = assigned.filter { !isLocal($0) }.map { host -> AgentTarget in
            var target = peerDefaults
            target.name = host
            target.host = host
            return target
        }
        return targets + peers
    }
}

/// A value from the configuration and where it was written: its line, and how specific
/// the block that set it is (built-in 0, `defaults` 1, the target or `peers` 2).
private struct Located<Value> {
    var value: Value
    var line: Int
    var rank: Int
}

/// The probe settings a block may set; nil where it leaves them to a broader block.
private struct ProbeSettings {
    var interval: Located<UInt64>?
    var samples: Located<Int>?
    var timeout: Located<UInt64>?
    var length: Located<Int>?
    var methods: Located<[AgentMethod]>?
    var port: Located<UInt16>?

    /// `self` where set, else `base`.
    func over(_ base: ProbeSettings) -> ProbeSettings {
        ProbeSettings(
            interval: interval ?? base.interval, samples: samples ?? base.samples,
            timeout: timeout ?? base.timeout, length: length ?? base.length,
            methods: methods ?? base.methods, port: port ?? base.port
        )
    }
}

private let settingKeys = ["interval", "samples", "timeout", "length", "methods", "port"]

/// Reads the configuration tree into an ``AgentConfig``, checking every value.
private struct ConfigReader {
    let baseDirectory: String

    func read(_ root: YAMLNode, readFile: (String) throws -> String) throws(AgentConfigError) -> AgentConfig {
        if root.isNull {
            throw AgentConfigError(line: nil, message: "the configuration is empty; it needs at least `targets`, `peers` or `capture` (see INTERFACE.md, agent)")
        }
        let top = try fields(root, in: "the top level", allowed: ["listen", "responder", "defaults", "targets", "peers", "capture", "summary_window"])
        var config = AgentConfig()

        if let (node, _) = top["listen"] {
            (config.listenHost, config.listenPort) = try listenAddress(node)
        }
        if let (node, _) = top["responder"], !node.isNull {
            let responder = try fields(node, in: "responder", allowed: ["port"])
            guard let (portNode, _) = responder["port"] else {
                throw AgentConfigError(line: node.line, message: "responder needs a `port`, e.g. `responder: {port: 5555}`")
            }
            config.responderPort = try port(portNode, "port")
        }
        if let (node, _) = top["summary_window"] {
            config.summaryWindowNanoseconds = try duration(node, "summary_window", range: AgentConfig.summaryWindowRange, rangeText: "1s and 1h")
        }

        let builtIn = AgentTarget(name: "", host: "")
        var defaults = ProbeSettings()
        var defaultsLine = 1
        if let (node, line) = top["defaults"], !node.isNull {
            defaultsLine = line
            let block = try fields(node, in: "defaults", allowed: settingKeys)
            defaults = try settings(block, rank: 1)
        }
        // The defaults on their own (every combination check), and as the peer template
        // until a `peers` block refines it.
        var peerTemplate = defaults
        peerTemplate.port = nil
        config.peerDefaults = try resolve(peerTemplate, builtIn: builtIn, line: defaultsLine, name: "", host: "", isPeer: true, requirePort: false)
        config.peerDefaults.port = config.responderPort

        var firstName: [String: Int] = [:]
        if let (node, _) = top["targets"], !node.isNull {
            guard case .sequence(let items, _) = node else {
                throw AgentConfigError(line: node.line, message: "`targets` must be a list (`- {host: …}` lines or `[…]`)")
            }
            for (position, item) in items.enumerated() {
                let target = try self.target(item, number: position + 1, defaults: defaults, builtIn: builtIn)
                if let first = firstName[target.name] {
                    throw AgentConfigError(line: item.line, message: "duplicate target name `\(target.name)` (first on line \(first)); give one of them its own `name`")
                }
                firstName[target.name] = item.line
                config.targets.append(target)
            }
        }

        if let (node, _) = top["peers"], !node.isNull {
            try readPeers(node, into: &config, defaults: defaults, builtIn: builtIn, targetNames: firstName, readFile: readFile)
        }

        if let (node, _) = top["capture"], !node.isNull {
            guard case .sequence(let items, _) = node else {
                throw AgentConfigError(line: node.line, message: "`capture` must be a list (`- {interface: eth0, …}` lines or `[…]`)")
            }
            var firstInterface: [String: Int] = [:]
            for (position, item) in items.enumerated() {
                let spec = try capture(item, number: position + 1)
                if let first = firstInterface[spec.interface] {
                    throw AgentConfigError(line: item.line, message: "interface `\(spec.interface)` is captured twice (first on line \(first)); list its methods in one entry")
                }
                firstInterface[spec.interface] = item.line
                config.captures.append(spec)
            }
        }
        return config
    }

    // MARK: Sections

    func target(_ item: YAMLNode, number: Int, defaults: ProbeSettings, builtIn: AgentTarget) throws(AgentConfigError) -> AgentTarget {
        let context = "targets item \(number)"
        if case .scalar = item {
            let host = try hostName(item, "host")
            return try resolve(defaults, builtIn: builtIn, line: item.line, name: host, host: host, isPeer: false, requirePort: true)
        }
        let block = try fields(item, in: context, allowed: ["name", "host"] + settingKeys)
        guard let (hostNode, _) = block["host"] else {
            throw AgentConfigError(line: item.line, message: "\(context) needs a `host`")
        }
        let host = try hostName(hostNode, "host")
        var name = host
        if let (nameNode, _) = block["name"] {
            name = try text(nameNode, "name")
        }
        let own = try settings(block, rank: 2)
        return try resolve(own.over(defaults), builtIn: builtIn, line: item.line, name: name, host: host, isPeer: false, requirePort: true)
    }

    func readPeers(
        _ node: YAMLNode, into config: inout AgentConfig, defaults: ProbeSettings, builtIn: AgentTarget,
        targetNames: [String: Int], readFile: (String) throws -> String
    ) throws(AgentConfigError) {
        let block = try fields(node, in: "peers", allowed: ["hosts", "file", "fanout", "port"] + settingKeys.filter { $0 != "port" })
        var hosts: [(host: String, line: Int)] = []
        switch (block["hosts"], block["file"]) {
        case let (.some(h), .some(f)):
            throw AgentConfigError(line: max(h.1, f.1), message: "peers has both `hosts` and `file`; give one of them")
        case let (.some((hostsNode, _)), nil):
            guard case .sequence(let items, _) = hostsNode else {
                throw AgentConfigError(line: hostsNode.line, message: "`hosts` in peers must be a list, e.g. `hosts: [10.77.0.1, 10.77.0.2]`")
            }
            for item in items { hosts.append((try hostName(item, "peer"), item.line)) }
            if hosts.isEmpty {
                throw AgentConfigError(line: hostsNode.line, message: "`hosts` in peers lists no hosts")
            }
        case let (nil, .some((fileNode, _))):
            let written = try text(fileNode, "file")
            let path = written.hasPrefix("/") || baseDirectory.isEmpty
                ? written : (baseDirectory.hasSuffix("/") ? baseDirectory : baseDirectory + "/") + written
            config.peerFile = path
            hosts = try peerFileHosts(path: path, line: fileNode.line, readFile: readFile)
        case (nil, nil):
            throw AgentConfigError(line: node.line, message: "peers needs `hosts: [HOST, …]` or `file: PATH`")
        }

        var firstLine: [String: Int] = [:]
        for (host, line) in hosts {
            if let first = firstLine[host] {
                throw AgentConfigError(line: line, message: "peer `\(host)` is listed twice (first on line \(first))")
            }
            if let targetLine = targetNames[host] {
                throw AgentConfigError(line: line, message: "peer `\(host)` has the name of the target on line \(targetLine); give that target another `name`")
            }
            firstLine[host] = line
        }
        config.peerHosts = hosts.map(\.host)

        if let (fanoutNode, _) = block["fanout"] {
            config.peerFanout = try integer(fanoutNode, "fanout", range: 0...1_000_000, rangeText: "0 (every peer) and 1000000")
        }
        var own = try settings(block, rank: 2)
        if let (portNode, line) = block["port"] {
            own.port = Located(value: try port(portNode, "port"), line: line, rank: 2)
        } else if let responder = config.responderPort {
            own.port = Located(value: responder, line: node.line, rank: 2)
        }
        config.peerPort = own.port?.value
        var withoutPort = defaults
        withoutPort.port = nil
        config.peerDefaults = try resolve(own.over(withoutPort), builtIn: builtIn, line: node.line, name: "", host: "", isPeer: true, requirePort: false)
        let needing = config.peerDefaults.methods.filter(\.needsPort)
        if config.peerPort == nil, !needing.isEmpty {
            throw AgentConfigError(line: node.line, message: "peers are probed with \(needing.map(\.rawValue).joined(separator: ", ")), which need a port: run a `responder` or give `port` in peers (or `methods: [icmp]`)")
        }
    }

    /// The hosts of a peers file: one per line, `#` starts a comment.
    func peerFileHosts(path: String, line: Int, readFile: (String) throws -> String) throws(AgentConfigError) -> [(host: String, line: Int)] {
        let content: String
        do {
            content = try readFile(path)
        } catch {
            throw AgentConfigError(line: line, message: "cannot read the peers file \(path): \(error)")
        }
        var hosts: [(host: String, line: Int)] = []
        var firstLine: [String: Int] = [:]
        for (index, raw) in content.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var entry = Substring(raw)
            if let hash = entry.firstIndex(of: "#") { entry = entry[..<hash] }
            let host = entry.trimmingBlanks
            if host.isEmpty { continue }
            if host.contains(where: { $0 == " " || $0 == "\t" }) {
                throw AgentConfigError(line: line, message: "peers file \(path) line \(index + 1): one host per line (got \"\(host)\")")
            }
            if let first = firstLine[String(host)] {
                throw AgentConfigError(line: line, message: "peers file \(path) line \(index + 1): peer `\(host)` is listed twice (first on line \(first))")
            }
            firstLine[String(host)] = index + 1
            hosts.append((String(host), line))
        }
        if hosts.isEmpty {
            throw AgentConfigError(line: line, message: "the peers file \(path) lists no hosts (it is empty or all comments)")
        }
        return hosts
    }

    func capture(_ item: YAMLNode, number: Int) throws(AgentConfigError) -> AgentCaptureSpec {
        let context = "capture item \(number)"
        let block = try fields(item, in: context, allowed: ["interface", "filter", "methods"])
        guard let (interfaceNode, _) = block["interface"] else {
            throw AgentConfigError(line: item.line, message: "\(context) needs an `interface`")
        }
        var spec = AgentCaptureSpec(interface: try text(interfaceNode, "interface"))
        if let (filterNode, _) = block["filter"], !filterNode.isNull {
            spec.filter = try text(filterNode, "filter", allowEmpty: true)
        }
        if let (methodsNode, _) = block["methods"] {
            let known = RTTMethod.allCases.map(\.rawValue)
            spec.methods = try names(methodsNode, "methods") { name, line throws(AgentConfigError) in
                guard known.contains(name) else {
                    throw AgentConfigError(line: line, message: "unknown capture method `\(name)`; expected one of \(known.joined(separator: ", "))")
                }
                return name
            }
        }
        return spec
    }

    func listenAddress(_ node: YAMLNode) throws(AgentConfigError) -> (String, UInt16) {
        let value = try text(node, "listen")
        let usage = "`listen` must be \"HOST:PORT\", \"[IPv6]:PORT\" or \":PORT\" (got \"\(value)\")"
        var host: Substring
        var portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { throw AgentConfigError(line: node.line, message: usage) }
            host = value[value.index(after: value.startIndex)..<close]
            let rest = value[value.index(after: close)...]
            guard rest.hasPrefix(":") else { throw AgentConfigError(line: node.line, message: usage) }
            portText = rest.dropFirst()
        } else if let colon = value.lastIndex(of: ":") {
            host = value[..<colon]
            portText = value[value.index(after: colon)...]
            if host.contains(":") {
                throw AgentConfigError(line: node.line, message: "`listen`: write an IPv6 address in brackets, e.g. \"[::]:9155\" (got \"\(value)\")")
            }
        } else {
            host = ""
            portText = Substring(value)
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let number = Int(portText), (1...65535).contains(number) else {
            throw AgentConfigError(line: node.line, message: usage + "; the port is 1 to 65535")
        }
        return (String(host), UInt16(number))
    }

    // MARK: Probe settings

    func settings(_ block: [String: (YAMLNode, Int)], rank: Int) throws(AgentConfigError) -> ProbeSettings {
        var s = ProbeSettings()
        if let (node, line) = block["interval"] {
            s.interval = Located(value: try duration(node, "interval", range: AgentConfig.intervalRange, rangeText: "100ms and 1h"), line: line, rank: rank)
        }
        if let (node, line) = block["samples"] {
            s.samples = Located(value: try integer(node, "samples", range: AgentConfig.samplesRange, rangeText: "1 and 1000"), line: line, rank: rank)
        }
        if let (node, line) = block["timeout"] {
            s.timeout = Located(value: try duration(node, "timeout", range: AgentConfig.timeoutRange, rangeText: "1ms and 60s"), line: line, rank: rank)
        }
        if let (node, line) = block["length"] {
            s.length = Located(value: try length(node), line: line, rank: rank)
        }
        if let (node, line) = block["methods"] {
            let methods = try names(node, "methods") { name, line throws(AgentConfigError) in
                guard let method = AgentMethod(rawValue: name) else {
                    throw AgentConfigError(line: line, message: "unknown method `\(name)`; expected one of \(AgentMethod.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return method
            }
            s.methods = Located(value: methods, line: line, rank: rank)
        }
        if let (node, line) = block["port"] {
            s.port = Located(value: try port(node, "port"), line: line, rank: rank)
        }
        return s
    }

    /// The target with `settings` over the built-in values, after the checks that involve
    /// more than one value. Such an error names the line of the more specific value.
    func resolve(
        _ settings: ProbeSettings, builtIn: AgentTarget, line: Int, name: String, host: String,
        isPeer: Bool, requirePort: Bool
    ) throws(AgentConfigError) -> AgentTarget {
        let interval = settings.interval ?? Located(value: builtIn.intervalNanoseconds, line: line, rank: 0)
        let samples = settings.samples ?? Located(value: builtIn.samples, line: line, rank: 0)
        let timeout = settings.timeout ?? Located(value: builtIn.timeoutNanoseconds, line: line, rank: 0)
        let target = AgentTarget(
            name: name, host: host, port: settings.port?.value,
            methods: settings.methods?.value ?? builtIn.methods,
            intervalNanoseconds: interval.value, samples: samples.value,
            timeoutNanoseconds: timeout.value, length: settings.length?.value ?? builtIn.length,
            isPeer: isPeer
        )
        let intervalText = formatDuration(nanoseconds: interval.value)
        if target.probeSpacingNanoseconds < AgentConfig.minimumProbeSpacingNanoseconds {
            let at = samples.rank >= interval.rank ? samples.line : interval.line
            throw AgentConfigError(line: at, message: "\(samples.value) samples in an interval of \(intervalText) are less than 1ms apart; lower `samples` or raise `interval`")
        }
        if timeout.value > interval.value {
            let at = timeout.rank >= interval.rank ? timeout.line : interval.line
            throw AgentConfigError(line: at, message: "the timeout \(formatDuration(nanoseconds: timeout.value)) is longer than the interval \(intervalText); a probe must end before the next round")
        }
        if requirePort, target.port == nil {
            let needing = target.methods.filter(\.needsPort).map(\.rawValue)
            if !needing.isEmpty {
                let at = settings.methods?.line ?? line
                throw AgentConfigError(line: at, message: "target `\(name)` needs a `port` for \(needing.joined(separator: ", ")) (only icmp works without one)")
            }
        }
        return target
    }

    // MARK: Values

    /// The entries of a mapping by key, with the line of each key, after refusing keys
    /// outside `allowed`.
    func fields(_ node: YAMLNode, in context: String, allowed: [String]) throws(AgentConfigError) -> [String: (YAMLNode, Int)] {
        guard case .mapping(let entries, _) = node else {
            throw AgentConfigError(line: node.line, message: "\(context) must be a mapping (`key: value` lines or `{key: value, …}`)")
        }
        var result: [String: (YAMLNode, Int)] = [:]
        for entry in entries {
            guard allowed.contains(entry.key) else {
                throw AgentConfigError(line: entry.line, message: "unknown key `\(entry.key)` in \(context); expected one of \(allowed.joined(separator: ", "))")
            }
            result[entry.key] = (entry.value, entry.line)
        }
        return result
    }

    func text(_ node: YAMLNode, _ key: String, allowEmpty: Bool = false) throws(AgentConfigError) -> String {
        guard let value = node.scalarText else {
            throw AgentConfigError(line: node.line, message: "`\(key)` must be a single value, not a list or a mapping")
        }
        if value.isEmpty, !allowEmpty {
            throw AgentConfigError(line: node.line, message: "`\(key)` needs a value")
        }
        return value
    }

    func hostName(_ node: YAMLNode, _ key: String) throws(AgentConfigError) -> String {
        let value = try text(node, key)
        if value.contains(where: { $0 == " " || $0 == "\t" || $0 == "/" }) {
            throw AgentConfigError(line: node.line, message: "`\(key)` must be a host name or an address (got \"\(value)\")")
        }
        return value
    }

    func integer(_ node: YAMLNode, _ key: String, range: ClosedRange<Int>, rangeText: String) throws(AgentConfigError) -> Int {
        let value = try text(node, key)
        guard let number = Int(value), range.contains(number) else {
            throw AgentConfigError(line: node.line, message: "`\(key)` must be a whole number between \(rangeText) (got \"\(value)\")")
        }
        return number
    }

    func port(_ node: YAMLNode, _ key: String) throws(AgentConfigError) -> UInt16 {
        UInt16(try integer(node, key, range: 1...65535, rangeText: "1 and 65535"))
    }

    func length(_ node: YAMLNode) throws(AgentConfigError) -> Int {
        let value = try text(node, "length")
        let bytes: Int
        do {
            bytes = try parseByteCount(value)
        } catch {
            throw AgentConfigError(line: node.line, message: "`length`: \(error)")
        }
        guard AgentConfig.lengthRange.contains(bytes) else {
            throw AgentConfigError(line: node.line, message: "`length` must be between 0 and 65000 bytes (got \"\(value)\")")
        }
        return bytes
    }

    func duration(_ node: YAMLNode, _ key: String, range: ClosedRange<UInt64>, rangeText: String) throws(AgentConfigError) -> UInt64 {
        let value = try text(node, key)
        let parsed: Duration
        do {
            parsed = try parseDuration(value)
        } catch {
            throw AgentConfigError(line: node.line, message: "`\(key)`: \(error)")
        }
        let nanoseconds = UInt64(parsed.nanoseconds)
        guard range.contains(nanoseconds) else {
            throw AgentConfigError(line: node.line, message: "`\(key)` must be between \(rangeText) (got \(value))")
        }
        return nanoseconds
    }

    /// A list of names (a single name counts as a list of one), each checked by `check`,
    /// none twice, at least one.
    func names<T>(_ node: YAMLNode, _ key: String, _ check: (String, Int) throws(AgentConfigError) -> T) throws(AgentConfigError) -> [T] {
        let items: [YAMLNode]
        switch node {
        case .sequence(let list, _): items = list
        case .scalar: items = node.isNull ? [] : [node]
        case .mapping: throw AgentConfigError(line: node.line, message: "`\(key)` must be a list, e.g. [reqresp, icmp]")
        }
        guard !items.isEmpty else {
            throw AgentConfigError(line: node.line, message: "`\(key)` must name at least one method")
        }
        var seen: [String: Int] = [:]
        var result: [T] = []
        for item in items {
            let name = try text(item, key)
            if let first = seen[name] {
                throw AgentConfigError(line: item.line, message: "method `\(name)` is listed twice (first on line \(first))")
            }
            seen[name] = item.line
            result.append(try check(name, item.line))
        }
        return result
    }
}

private extension Substring {
    var trimmingBlanks: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return s
    }
}

/// What decides that two spellings name the same host: an IPv6 address by its 128-bit
/// value (brackets and a `%zone` dropped, any case, any `::` compression), anything else
/// by its lowercased text.
private func hostIdentity(_ host: String) -> String {
    var text = Substring(host)
    if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
    if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
    let lower = text.lowercased()
    guard lower.contains(":"), let bytes = ipv6Bytes(lower) else { return lower }
    return "v6:" + bytes.map { String($0, radix: 16) }.joined(separator: ".")
}

/// The 16 bytes of IPv6 text (RFC 4291 §2.2: hex groups, one `::`, an optional dotted
/// IPv4 tail); nil when it is not IPv6 text.
private func ipv6Bytes(_ text: String) -> [UInt8]? {
    var halves = [text]
    if let range = text.firstRange(of: "::") {
        halves = [String(text[..<range.lowerBound]), String(text[range.upperBound...])]
        if halves[1].contains("::") { return nil }
    }
    func groups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
        if part.isEmpty { return [] }
        var result: [UInt16] = []
        let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
        for (i, piece) in pieces.enumerated() {
            if allowIPv4Tail, i == pieces.count - 1, piece.contains(".") {
                let octets = piece.split(separator: ".", omittingEmptySubsequences: false)
                guard octets.count == 4 else { return nil }
                var values: [UInt16] = []
                for o in octets {
                    guard !o.isEmpty, o.count <= 3, o.allSatisfy(\.isASCII), let v = UInt16(o), v <= 255 else { return nil }
                    values.append(v)
                }
                result.append(values[0] << 8 | values[1])
                result.append(values[2] << 8 | values[3])
                continue
            }
            guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit), let v = UInt16(piece, radix: 16) else { return nil }
            result.append(v)
        }
        return result
    }
    let head: [UInt16]
    var tail: [UInt16] = []
    if halves.count == 2 {
        guard let h = groups(halves[0], allowIPv4Tail: false), let t = groups(halves[1], allowIPv4Tail: true),
              h.count + t.count <= 7 else { return nil }
        head = h
        tail = t
    } else {
        guard let h = groups(halves[0], allowIPv4Tail: true), h.count == 8 else { return nil }
        head = h
    }
    let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
}

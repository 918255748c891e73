import Testing
import WirelatCore

/// `wirelat agent --config FILE`: what a configuration means once defaults are applied,
/// and every mistake refused with the line it is on.
@Suite("Agent configuration")
struct AgentConfigTests {
    struct NoFile: Error, CustomStringConvertible {
        var description: String { "no such file" }
    }

    static func parse(_ text: String, files: [String: String] = [:], baseDirectory: String? = nil) throws(AgentConfigError) -> AgentConfig {
        let read = { (path: String) throws -> String in
            guard let content = files[path] else { throw NoFile() }
            return content
        }
        if let baseDirectory { return try AgentConfig.parse(text, baseDirectory: baseDirectory, readFile: read) }
        return try AgentConfig.parse(text, readFile: read)
    }

    static let interfaceExample = """
    listen: "0.0.0.0:9155"        # /metrics, /-/healthy, / (status page)
    responder: {port: 5555}       # a wirelat server, so peers can time request/response here
    defaults: {interval: 10s, samples: 20, timeout: 1s, length: 0,
               methods: [reqresp, syn, connect, icmp]}
    targets:
      - {name: db01, host: 10.0.0.5, port: 1521, methods: [syn, connect, icmp]}
    peers: {hosts: [10.77.0.1, 10.77.0.2], fanout: 0}   # or file: PATH; 0 = all
    capture:
      - {interface: eth0, filter: "tcp port 1521", methods: [reqresp, handshake]}
    """

    @Test("the INTERFACE.md example")
    func interfaceExample() throws {
        let config = try Self.parse(Self.interfaceExample)
        #expect(config.listenHost == "0.0.0.0")
        #expect(config.listenPort == 9155)
        #expect(config.responderPort == 5555)
        #expect(config.targets == [AgentTarget(
            name: "db01", host: "10.0.0.5", port: 1521, methods: [.syn, .connect, .icmp],
            intervalNanoseconds: 10_000_000_000, samples: 20, timeoutNanoseconds: 1_000_000_000, length: 0
        )])
        #expect(config.peerHosts == ["10.77.0.1", "10.77.0.2"])
        #expect(config.peerFanout == 0)
        #expect(config.peerPort == 5555)
        #expect(config.peerDefaults == AgentTarget(name: "", host: "", port: 5555, isPeer: true))
        #expect(config.captures == [AgentCaptureSpec(interface: "eth0", filter: "tcp port 1521", methods: ["reqresp", "handshake"])])
        #expect(config.summaryWindowNanoseconds == 60_000_000_000)

        let probed = config.probeTargets(localAddresses: ["127.0.0.1", "::1", "10.77.0.1"])
        #expect(probed.map(\.name) == ["db01", "10.77.0.2"])
        #expect(probed[1] == AgentTarget(name: "10.77.0.2", host: "10.77.0.2", port: 5555, isPeer: true))
    }

    @Test("built-in defaults, the defaults block, and a target's own settings, in that order")
    func defaultsApplied() throws {
        let config = try Self.parse("""
        defaults:
          interval: 30s
          samples: 10
          port: 8080
        targets:
          - host: web01                  # everything from defaults and the built-ins
          - host: web02
            name: second
            samples: 5
            timeout: 250ms
            length: 1k
            methods: connect
          - host: 10.1.1.1
            methods: [icmp]
            port: 1                      # its own port wins
          - 10.2.2.2                     # a bare host
        summary_window: 5m
        listen: ":9999"
        """)
        #expect(config.listenHost == "0.0.0.0")
        #expect(config.listenPort == 9999)
        #expect(config.responderPort == nil)
        #expect(config.summaryWindowNanoseconds == 300_000_000_000)
        #expect(config.targets == [
            AgentTarget(name: "web01", host: "web01", port: 8080, methods: AgentMethod.standard,
                        intervalNanoseconds: 30_000_000_000, samples: 10, timeoutNanoseconds: 1_000_000_000, length: 0),
            AgentTarget(name: "second", host: "web02", port: 8080, methods: [.connect],
                        intervalNanoseconds: 30_000_000_000, samples: 5, timeoutNanoseconds: 250_000_000, length: 1024),
            AgentTarget(name: "10.1.1.1", host: "10.1.1.1", port: 1, methods: [.icmp],
                        intervalNanoseconds: 30_000_000_000, samples: 10, timeoutNanoseconds: 1_000_000_000, length: 0),
            AgentTarget(name: "10.2.2.2", host: "10.2.2.2", port: 8080, methods: AgentMethod.standard,
                        intervalNanoseconds: 30_000_000_000, samples: 10, timeoutNanoseconds: 1_000_000_000, length: 0),
        ])
        #expect(config.targets[0].probeSpacingNanoseconds == 3_000_000_000)
        #expect(config.peerHosts.isEmpty)
        #expect(config.peerDefaults == AgentTarget(name: "", host: "", intervalNanoseconds: 30_000_000_000, samples: 10, isPeer: true))
        #expect(config.probeTargets(localAddresses: []).count == 4)

        let icmpOnly = try Self.parse("targets:\n  - {host: gw, methods: [icmp]}\n")
        #expect(icmpOnly.targets[0].port == nil)
        #expect(icmpOnly.targets[0].intervalNanoseconds == 10_000_000_000)
        #expect(icmpOnly.targets[0].samples == 20)
    }

    @Test("listen spellings", arguments: [
        ("\"0.0.0.0:9155\"", "0.0.0.0", 9155),
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("\"[::]:9155\"", "::", 9155),
        ("\"[fd00:77::1]:80\"", "fd00:77::1", 80),
        ("\":9100\"", "0.0.0.0", 9100),
        ("9200", "0.0.0.0", 9200),
        ("localhost:9155", "localhost", 9155),
    ])
    func listen(text: String, host: String, port: Int) throws {
        let config = try Self.parse("listen: \(text)\ntargets: [{host: a, methods: [icmp]}]")
        #expect(config.listenHost == host)
        #expect(Int(config.listenPort) == port)
    }

    @Test("peers from a file: relative to the configuration's directory, comments and blank lines skipped")
    func peersFile() throws {
        let files = ["/etc/wirelat/peers.txt": """
        # the lab
        10.77.0.1
          10.77.0.2   # b

        fd00:77::3
        """]
        let config = try Self.parse("""
        responder: {port: 5555}
        peers:
          file: peers.txt
          fanout: 2
          port: 6000
          methods: [reqresp, icmp]
          interval: 5s
        """, files: files, baseDirectory: "/etc/wirelat")
        #expect(config.peerHosts == ["10.77.0.1", "10.77.0.2", "fd00:77::3"])
        #expect(config.peerFile == "/etc/wirelat/peers.txt")
        #expect(config.peerFanout == 2)
        #expect(config.peerPort == 6000)
        #expect(config.peerDefaults == AgentTarget(name: "", host: "", port: 6000, methods: [.reqresp, .icmp],
                                                   intervalNanoseconds: 5_000_000_000, isPeer: true))

        let absolute = try Self.parse("peers: {file: /etc/wirelat/peers.txt, methods: [icmp]}", files: files, baseDirectory: "/elsewhere")
        #expect(absolute.peerHosts.count == 3)
        #expect(absolute.peerPort == nil)
    }

    @Test("peers equal to this host's own addresses are skipped, IPv6 compared by value")
    func selfSkipped() throws {
        let config = try Self.parse("""
        responder: {port: 5555}
        peers: {hosts: [10.77.0.1, "[FD00:77:0::2]", 10.77.0.3, fd00:77::4]}
        """)
        let fromA = config.probeTargets(localAddresses: ["127.0.0.1", "10.77.0.1", "::1"])
        #expect(fromA.map(\.host) == ["[FD00:77:0::2]", "10.77.0.3", "fd00:77::4"])
        let fromB = config.probeTargets(localAddresses: ["127.0.0.1", "fd00:77::2", "fe80::1"])
        #expect(fromB.map(\.host) == ["10.77.0.1", "10.77.0.3", "fd00:77::4"])
        let fromD = config.probeTargets(localAddresses: ["FD00:0077:0000:0000:0000:0000:0000:0004"])
        #expect(fromD.map(\.host) == ["10.77.0.1", "[FD00:77:0::2]", "10.77.0.3"])
        let outside = config.probeTargets(localAddresses: ["192.0.2.9"])
        #expect(outside.count == 4)
        #expect(outside.allSatisfy { $0.isPeer && $0.port == 5555 && $0.name == $0.host })
    }

    @Test("with a fanout, each agent probes the peers Rendezvous gives it and every peer is probed K times")
    func fanoutSelection() throws {
        let hosts = (1...12).map { "10.77.0.\($0)" }
        let config = try Self.parse("""
        responder: {port: 5555}
        targets: [{name: db, host: 10.0.0.5, port: 1521}]
        peers: {hosts: [\(hosts.joined(separator: ", "))], fanout: 3}
        """)
        var probedBy: [String: Int] = [:]
        for me in hosts {
            let probed = config.probeTargets(localAddresses: ["127.0.0.1", me])
            #expect(probed.first?.name == "db")
            let peers = probed.filter(\.isPeer).map(\.host)
            #expect(peers == Rendezvous.targets(of: me, among: hosts, fanout: 3))
            #expect(!peers.contains(me))
            for p in peers { probedBy[p, default: 0] += 1 }
        }
        #expect(hosts.allSatisfy { probedBy[$0] == 3 }, "\(probedBy)")
        // An agent whose addresses are not in the list ranks itself by its first address.
        let outsider = config.probeTargets(localAddresses: ["192.0.2.9", "127.0.0.1"])
        #expect(outsider.filter(\.isPeer).map(\.host) == Rendezvous.targets(of: "127.0.0.1", among: hosts, fanout: 3))
    }

    @Test("every validation rule names its line", arguments: [
        // unknown keys, everywhere
        ("listen: \":9155\"\ntargts: []", 2, "unknown key `targts` in the top level; expected one of listen, responder, defaults, targets, peers, capture, summary_window"),
        ("defaults:\n  interval: 10s\n  intervall: 5s", 3, "unknown key `intervall` in defaults; expected one of interval, samples, timeout, length, methods, port"),
        ("targets:\n  - host: a\n    prot: 1", 3, "unknown key `prot` in targets item 1"),
        ("responder: {port: 1, host: x}", 1, "unknown key `host` in responder"),
        ("peers: {hosts: [a], fanuot: 2}", 1, "unknown key `fanuot` in peers"),
        ("capture:\n  - {interface: eth0, filters: x}", 2, "unknown key `filters` in capture item 1"),
        // methods
        ("targets:\n  - {host: a, port: 1, methods: [syn, ping]}", 2, "unknown method `ping`; expected one of reqresp, syn, connect, icmp"),
        ("defaults:\n  methods:\n    - syn\n    - syn", 4, "method `syn` is listed twice (first on line 3)"),
        ("targets: [{host: a, port: 1, methods: []}]", 1, "`methods` must name at least one method"),
        ("capture: [{interface: eth0, methods: [handshake, rtt]}]", 1, "unknown capture method `rtt`; expected one of handshake, reqresp, ack, tsecr, icmp"),
        // ports
        ("targets:\n  - {host: a, port: 0}", 2, "`port` must be a whole number between 1 and 65535 (got \"0\")"),
        ("responder:\n  port: 70000", 2, "`port` must be a whole number between 1 and 65535"),
        ("listen: \"0.0.0.0:0\"", 1, "the port is 1 to 65535"),
        ("listen: \"::1:9155\"", 1, "write an IPv6 address in brackets"),
        // interval, samples, timeout, length
        ("defaults: {interval: 50ms}", 1, "`interval` must be between 100ms and 1h (got 50ms)"),
        ("defaults: {interval: 2h}", 1, "`interval` must be between 100ms and 1h"),
        ("defaults: {interval: soon}", 1, "`interval`: invalid duration \"soon\""),
        ("targets:\n  - {host: a, port: 1, samples: 0}", 2, "`samples` must be a whole number between 1 and 1000 (got \"0\")"),
        ("targets:\n  - {host: a, port: 1, samples: 1001}", 2, "between 1 and 1000"),
        ("defaults:\n  interval: 100ms\n  samples: 200", 3, "200 samples in an interval of 100ms are less than 1ms apart"),
        ("defaults: {timeout: 500us}", 1, "`timeout` must be between 1ms and 60s"),
        ("defaults: {timeout: 61s, interval: 1h}", 1, "`timeout` must be between 1ms and 60s"),
        ("defaults:\n  interval: 1s\n  timeout: 2s", 3, "the timeout 2s is longer than the interval 1s"),
        ("defaults:\n  timeout: 5s\ntargets:\n  - {host: a, port: 1, interval: 1s}", 4, "the timeout 5s is longer than the interval 1s"),
        ("defaults: {length: 65001}", 1, "`length` must be between 0 and 65000 bytes"),
        ("defaults: {length: -1}", 1, "a byte count cannot be negative"),
        // ports needed, names unique
        ("targets:\n  - {host: a, methods: [icmp]}\n  - host: b\n    methods: [syn, icmp]", 4, "target `b` needs a `port` for syn"),
        ("targets:\n  - {host: 10.0.0.1, port: 1}\n  - {host: 10.0.0.1, port: 2}", 3, "duplicate target name `10.0.0.1` (first on line 2)"),
        ("targets:\n  - host: a\n", 2, "target `a` needs a `port` for reqresp, syn, connect (only icmp works without one)"),
        ("targets:\n  - {name: x, host: a, port: 1}\n  - {name: x, host: b, port: 1}", 3, "duplicate target name `x`"),
        ("responder: {port: 5555}\ntargets: [{host: 10.77.0.2, port: 1}]\npeers:\n  hosts:\n    - 10.77.0.1\n    - 10.77.0.2", 6, "peer `10.77.0.2` has the name of the target on line 2"),
        ("responder: {port: 5555}\npeers: {hosts: [a, b,\n  a]}", 3, "peer `a` is listed twice (first on line 2)"),
        // peers
        ("peers: {hosts: [a]}", 1, "peers are probed with reqresp, syn, connect, which need a port"),
        ("responder: {port: 1}\npeers:\n  hosts: [a]\n  fanout: -1", 4, "`fanout` must be a whole number between 0 (every peer) and 1000000"),
        ("responder: {port: 1}\npeers:\n  hosts: [a]\n  file: p.txt", 4, "peers has both `hosts` and `file`"),
        ("responder: {port: 1}\npeers: {fanout: 2}", 2, "peers needs `hosts: [HOST, …]` or `file: PATH`"),
        ("responder: {port: 1}\npeers: {hosts: []}", 2, "`hosts` in peers lists no hosts"),
        ("responder: {port: 1}\npeers:\n  file: empty.txt", 3, "the peers file empty.txt lists no hosts"),
        ("responder: {port: 1}\npeers:\n  file: missing.txt", 3, "cannot read the peers file missing.txt: no such file"),
        ("responder: {port: 1}\npeers:\n  file: two.txt", 3, "peers file two.txt line 2: one host per line"),
        ("responder: {port: 1}\npeers:\n  file: dup.txt", 3, "peers file dup.txt line 3: peer `a` is listed twice (first on line 1)"),
        // shapes
        ("targets: {host: a}", 1, "`targets` must be a list"),
        ("targets:\n  - {name: x}", 2, "targets item 1 needs a `host`"),
        ("capture:\n  - {filter: tcp}", 2, "capture item 1 needs an `interface`"),
        ("capture:\n  - {interface: eth0}\n  - {interface: eth0, filter: udp}", 3, "interface `eth0` is captured twice"),
        ("responder: {}", 1, "responder needs a `port`"),
        ("defaults: [interval, 10s]", 1, "defaults must be a mapping"),
        ("targets:\n  - {host: [a, b], port: 1}", 2, "`host` must be a single value"),
        ("summary_window: 100ms", 1, "`summary_window` must be between 1s and 1h"),
        // YAML errors come through with their line
        ("targets:\n  - {host: a,\n\tport: 1}", 3, "tab in indentation"),
    ])
    func rejections(text: String, line: Int, fragment: String) {
        let files = ["empty.txt": "# nobody yet\n\n", "two.txt": "a\nb c\n", "dup.txt": "a\nb\na\n"]
        do {
            let config = try Self.parse(text, files: files)
            Issue.record("accepted \(text.debugDescription) as \(config)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description == "line \(line): \(error.message)")
        }
    }

    @Test("an empty configuration is refused without a line")
    func empty() {
        for text in ["", "# nothing\n", "---\n"] {
            #expect(throws: AgentConfigError(line: nil, message: "the configuration is empty; it needs at least `targets`, `peers` or `capture` (see INTERFACE.md, agent)")) {
                try Self.parse(text)
            }
        }
        #expect(AgentConfigError(line: nil, message: "m").description == "m")
    }
}

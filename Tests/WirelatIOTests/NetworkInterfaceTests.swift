import Testing
@preconcurrency import Glibc
import WirelatIO

extension InProcess {
    /// The agent skips the peers that are this host; it learns the host's addresses here.
    @Suite("Local interface addresses")
    struct NetworkInterfaceTests {
        @Test("every address `ip addr` lists, as numeric text without a zone, each once")
        func matchesIPAddr() throws {
            let addresses = localInterfaceAddresses()
            #expect(addresses.contains("127.0.0.1"))
            #expect(Set(addresses).count == addresses.count, "\(addresses)")
            for text in addresses {
                #expect(!text.contains("%"), "\(text)")
                var v4 = in_addr()
                var v6 = in6_addr()
                let numeric = inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
                #expect(numeric, "\(text) is not numeric address text")
            }

            // iproute2's view of the same interfaces: "2: eth0    inet 10.0.0.1/24 brd ...".
            let ip = try runProcess("/usr/sbin/ip", ["-o", "addr", "show"])
            try #require(ip.status == 0, "ip -o addr show: \(ip.output)")
            var listed = Set<String>()
            for line in ip.output.split(separator: "\n") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard let family = fields.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), family + 1 < fields.count else { continue }
                listed.insert(String(fields[family + 1].split(separator: "/")[0]))
            }
            #expect(!listed.isEmpty)
            #expect(Set(addresses) == listed)
        }
    }
}

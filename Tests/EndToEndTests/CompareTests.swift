import Foundation
import Testing

@Suite("compare: ICMP versus TCP against a wirelat server in another namespace", .serialized, .timeLimit(.minutes(3)))
struct CompareEndToEnd {
    @Test("four rows (icmp-echo, tcp-syn, tcp-connect, tcp-reqresp), a sentence, JSON, and a self-contained HTML page; --from merges it back",
          .enabled(if: ProbeLab.available, "needs root and iproute2"))
    func fourRows() async throws {
        let lab = try ProbeLab("compare")
        var server: Spawned?
        defer { server?.kill() }
        do {
            try await lab.up()
            server = try await lab.startServer(port: 7001)
            let jsonPath = lab.dir.file("compare.json"), htmlPath = lab.dir.file("compare.html")
            let r = try await lab.wirelat(in: lab.client, ["compare", lab.server4, "--port", "7001", "--count", "40",
                                                          "--interval", "5ms", "--json", jsonPath, "--html", htmlPath])
            #expect(r.status == 0, "\(r)")
            let methods = ["icmp-echo", "tcp-syn", "tcp-connect", "tcp-reqresp"]
            let tableLines = r.stdout.split(separator: "\n")
            for m in methods {
                #expect(tableLines.contains { $0.hasPrefix(m + " ") }, "no \(m) row in\n\(r.stdout)")
            }
            #expect(r.stdout.contains("ICMP's p50 is"), "the sentence: \(r.stdout)")

            let json = try readJSON(jsonPath)
            #expect(json["command"] as? String == "compare")
            let rows = try #require(json["methods"] as? [[String: Any]])
            #expect(rows.compactMap { $0["method"] as? String } == methods)
            for row in rows {
                #expect(integer(row["samples"]) == 40, "\(row["method"] ?? "?"): \(row["samples"] ?? "-") samples")
                let rtt = try #require(row["rtt_ns"] as? [String: Any])
                for key in ["min", "p50", "p90", "p99", "p999", "max", "mean", "stddev"] { #expect(rtt[key] != nil, "\(key)") }
                #expect(row["target"] as? String != nil)
            }

            let html = try String(contentsOfFile: htmlPath, encoding: .utf8)
            #expect(html.contains("<svg"))
            for scheme in ["http://", "https://"] {
                for attribute in ["src=\"", "href=\"", "src='", "href='", "url("] {
                    #expect(!html.contains(attribute + scheme), "\(attribute)\(scheme) in the page")
                }
            }
            #expect(!html.contains("<script") && !html.contains("<link"))
            for m in methods { #expect(html.contains(m)) }

            // The saved report merges back into the same table, beside a probe report.
            let probePath = lab.dir.file("probe.json")
            let probe = try await lab.wirelat(in: lab.client, ["probe", "icmp", lab.server4, "--count", "5", "--interval", "5ms", "--json", probePath])
            #expect(probe.status == 0, "\(probe)")
            let mergedHTML = lab.dir.file("merged.html")
            let merged = try await lab.wirelat(in: lab.client, ["compare", "--from", jsonPath, probePath, "--html", mergedHTML, "--json", lab.dir.file("merged.json")])
            #expect(merged.status == 0, "\(merged)")
            #expect(merged.stdout.contains("tcp-reqresp (compare.json)") && merged.stdout.contains("icmp-echo (probe.json)"), "\(merged.stdout)")
            let mergedRows = try #require(try readJSON(lab.dir.file("merged.json"))["methods"] as? [[String: Any]])
            #expect(mergedRows.count == 5)
            #expect(try String(contentsOfFile: mergedHTML, encoding: .utf8).contains("<svg"))

            let bad = lab.dir.file("bad.json")
            try Data("{\"command\":\"model\"}".utf8).write(to: URL(fileURLWithPath: bad))
            let refused = try await lab.wirelat(in: lab.client, ["compare", "--from", bad])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.stderr.contains("bad.json"), "\(refused.stderr)")
        } catch {
            await lab.down()
            throw error
        }
        await lab.down()
    }

    @Test("no wirelat server on the port: the request/response row is skipped with a note, the others stay",
          .enabled(if: ProbeLab.available, "needs root and iproute2"))
    func withoutServer() async throws {
        let lab = try ProbeLab("compare-noserver")
        do {
            try await lab.up()
            let jsonPath = lab.dir.file("c.json")
            let r = try await lab.wirelat(in: lab.client, ["compare", lab.server4, "--port", "7009", "--count", "5", "--interval", "5ms", "--json", jsonPath])
            #expect(r.status == 0, "ICMP answered: \(r)")
            #expect(r.stdout.contains("tcp-reqresp skipped"), "\(r.stdout)")
            let json = try readJSON(jsonPath)
            let rows = try #require(json["methods"] as? [[String: Any]])
            #expect(rows.compactMap { $0["method"] as? String } == ["icmp-echo", "tcp-syn", "tcp-connect"])
            let notes = json["notes"] as? [String] ?? []
            #expect(notes.contains { $0.hasPrefix("tcp-reqresp skipped") })
        } catch {
            await lab.down()
            throw error
        }
        await lab.down()
    }
}

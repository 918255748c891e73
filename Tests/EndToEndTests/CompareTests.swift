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

    @Test("like with like: every row has the wire and app clocks in JSON (ICMP also ping's), each table's p50 column is one clock's, --clock app puts app first, --hgrm parses back to the JSON",
          .enabled(if: ProbeLab.available, "needs root and iproute2"))
    func twoClocks() async throws {
        let lab = try ProbeLab("compare-clocks")
        var server: Spawned?
        defer { server?.kill() }
        do {
            try await lab.up()
            server = try await lab.startServer(port: 7001)
            for primary in ["wire", "app"] {
                let jsonPath = lab.dir.file("c-\(primary).json"), hgrmPath = lab.dir.file("c-\(primary).hgrm")
                var argv = ["compare", lab.server4, "--port", "7001", "--count", "30", "--interval", "5ms", "--json", jsonPath, "--hgrm", hgrmPath]
                if primary == "app" { argv += ["--clock", "app"] }
                let r = try await lab.wirelat(in: lab.client, argv)
                #expect(r.status == 0, "\(r)")
                let json = try readJSON(jsonPath)
                #expect(json["clock"] as? String == primary)
                let rows = try #require(json["methods"] as? [[String: Any]])
                #expect(rows.count == 4)
                var byMethod: [String: [String: Any]] = [:]
                for row in rows {
                    let method = row["method"] as? String ?? "?"
                    byMethod[method] = row
                    let keys = Set((row["rtt_ns"] as? [String: Any] ?? [:]).keys)
                    for clock in ["wire", "app"] + (method == "icmp-echo" ? ["ping"] : []) {
                        let summary = row["\(clock)_rtt_ns"] as? [String: Any]
                        #expect(summary.map { Set($0.keys) } == keys, "\(method): \(clock)_rtt_ns \(summary ?? [:]); \(clock)_clock_missing: \(row["\(clock)_clock_missing"] ?? "-")")
                    }
                    #expect(row["clock"] as? String == "wire", "\(method): rtt_ns is the wire clock where it was measured")
                }

                // Each table: the heading names its clock, and every p50 cell is that clock's p50 in the JSON.
                let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                let headings = lines.filter { $0.hasPrefix("wire clock:") || $0.hasPrefix("app clock:") || $0.hasPrefix("ping's clock:") }
                #expect(headings.first?.hasPrefix(primary + " clock:") == true, "\(r.stdout)")
                for (prefix, clock) in [("wire clock:", "wire"), ("app clock:", "app"), ("ping's clock:", "ping")] {
                    guard let start = lines.firstIndex(where: { $0.hasPrefix(prefix) }) else {
                        Issue.record("no \(clock) table in\n\(r.stdout)")
                        continue
                    }
                    var seen = 0
                    for line in lines[(start + 2)...] {
                        if line.isEmpty || line.hasPrefix("(") { break }
                        let fields = line.split(separator: " ")
                        let method = String(fields[0])
                        let p50 = (byMethod[method]?["\(clock)_rtt_ns"] as? [String: Any])?["p50"] as? Double
                        let cell = Double(fields[fields.count - 6])
                        // The cell is the p50 in µs to one decimal.
                        #expect(p50 != nil && cell != nil && abs(cell! - p50! / 1000) <= 0.0501,
                                "\(clock) table, \(method): \(line); JSON \(clock)_rtt_ns.p50 \(p50 ?? -1)")
                        seen += 1
                    }
                    #expect(seen == (clock == "ping" ? 1 : 4), "\(clock) table rows: \(seen)\n\(r.stdout)")
                }
                #expect(r.stdout.contains("host overhead (app − wire) p50 "), "\(r.stdout)")
                #expect(r.stdout.contains("By the wire clock, ICMP's p50") && r.stdout.contains("By the app clock, ICMP's p50"), "\(r.stdout)")

                let sections = try readHgrmSections(hgrmPath)
                #expect(sections.count == 9, "\(sections.map { "\($0.method)/\($0.clock)" })")
                for section in sections {
                    let row = byMethod[section.method]
                    #expect(section.totalCount == integer(row?["\(section.clock)_samples"]), "\(section.method)/\(section.clock) total count")
                    expectHgrm(section, matches: row?["\(section.clock)_rtt_ns"] as? [String: Any], "\(section.method)/\(section.clock)")
                }
            }
            let bad = try await lab.wirelat(in: lab.client, ["compare", lab.server4, "--port", "7001", "--clock", "kernel"])
            #expect(bad.status == 64 && bad.stderr.contains("wire or app"), "\(bad)")
        } catch {
            await lab.down()
            throw error
        }
        await lab.down()
    }
}

import Testing
import WirelatCore

/// The agent's configuration language: the YAML a user writes by hand parses to the tree
/// they meant, and what the subset leaves out is refused with the line named.
@Suite("YAML subset")
struct YAMLTests {
    private func s(_ text: String, _ line: Int, quoted: Bool = false) -> YAMLNode {
        .scalar(text, line: line, quoted: quoted)
    }

    @Test("the INTERFACE.md agent example parses to the expected tree")
    func interfaceExample() throws {
        let text = """
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
        let expected = YAMLNode.mapping([
            (key: "listen", value: s("0.0.0.0:9155", 1, quoted: true), line: 1),
            (key: "responder", value: .mapping([(key: "port", value: s("5555", 2), line: 2)], line: 2), line: 2),
            (key: "defaults", value: .mapping([
                (key: "interval", value: s("10s", 3), line: 3),
                (key: "samples", value: s("20", 3), line: 3),
                (key: "timeout", value: s("1s", 3), line: 3),
                (key: "length", value: s("0", 3), line: 3),
                (key: "methods", value: .sequence([s("reqresp", 4), s("syn", 4), s("connect", 4), s("icmp", 4)], line: 4), line: 4),
            ], line: 3), line: 3),
            (key: "targets", value: .sequence([
                .mapping([
                    (key: "name", value: s("db01", 6), line: 6),
                    (key: "host", value: s("10.0.0.5", 6), line: 6),
                    (key: "port", value: s("1521", 6), line: 6),
                    (key: "methods", value: .sequence([s("syn", 6), s("connect", 6), s("icmp", 6)], line: 6), line: 6),
                ], line: 6),
            ], line: 6), line: 5),
            (key: "peers", value: .mapping([
                (key: "hosts", value: .sequence([s("10.77.0.1", 7), s("10.77.0.2", 7)], line: 7), line: 7),
                (key: "fanout", value: s("0", 7), line: 7),
            ], line: 7), line: 7),
            (key: "capture", value: .sequence([
                .mapping([
                    (key: "interface", value: s("eth0", 9), line: 9),
                    (key: "filter", value: s("tcp port 1521", 9, quoted: true), line: 9),
                    (key: "methods", value: .sequence([s("reqresp", 9), s("handshake", 9)], line: 9), line: 9),
                ], line: 9),
            ], line: 9), line: 8),
        ], line: 1)
        let parsed = try YAML.parse(text)
        #expect(parsed == expected, "\(parsed)")
    }

    @Test("block mappings and sequences, `- key: v` with more keys below, a list at its key's indent")
    func blockForms() throws {
        let text = """
        ---
        targets:
        - host: a
          port: 1
          methods:
            - syn
            - icmp
        - {host: b}
        - c
        nested:
          deeper:
            deepest: x
        lists:
          - - 1
            - 2
          - []
        empty:
        last: y
        """
        let parsed = try YAML.parse(text)
        let expected = YAMLNode.mapping([
            (key: "targets", value: .sequence([
                .mapping([
                    (key: "host", value: s("a", 3), line: 3),
                    (key: "port", value: s("1", 4), line: 4),
                    (key: "methods", value: .sequence([s("syn", 6), s("icmp", 7)], line: 6), line: 5),
                ], line: 3),
                .mapping([(key: "host", value: s("b", 8), line: 8)], line: 8),
                s("c", 9),
            ], line: 3), line: 2),
            (key: "nested", value: .mapping([
                (key: "deeper", value: .mapping([(key: "deepest", value: s("x", 12), line: 12)], line: 12), line: 11),
            ], line: 11), line: 10),
            (key: "lists", value: .sequence([
                .sequence([s("1", 14), s("2", 15)], line: 14),
                .sequence([], line: 16),
            ], line: 14), line: 13),
            (key: "empty", value: s("", 17), line: 17),
            (key: "last", value: s("y", 18), line: 18),
        ], line: 2)
        #expect(parsed == expected, "\(parsed)")
        #expect(parsed["empty"]?.isNull == true)
        #expect(parsed["last"]?.scalarText == "y")

        // A list at its key's indent inside a list item's mapping, then the next item.
        let items = try YAML.parse("""
        - host: a
          methods:
          - syn
          - icmp
        - host: b
        -
          host: c
        """)
        #expect(items == .sequence([
            .mapping([
                (key: "host", value: s("a", 1), line: 1),
                (key: "methods", value: .sequence([s("syn", 3), s("icmp", 4)], line: 3), line: 2),
            ], line: 1),
            .mapping([(key: "host", value: s("b", 5), line: 5)], line: 5),
            .mapping([(key: "host", value: s("c", 7), line: 7)], line: 7),
        ], line: 1), "\(items)")
    }

    @Test("nested flow collections, over several lines, with trailing commas and IPv6 addresses")
    func flowForms() throws {
        let text = """
        a: {x: [1, [2, 3], {y: z}], e: [], f: {}, g: , }
        hosts: [fd00:77::1, ::1, 10.0.0.1:80,
          "quoted, with comma",   # a comment inside the list
          'it''s'
        ]
        url: http://example.com:8080/path
        """
        let parsed = try YAML.parse(text)
        #expect(parsed["a"] == .mapping([
            (key: "x", value: .sequence([s("1", 1), .sequence([s("2", 1), s("3", 1)], line: 1),
                                         .mapping([(key: "y", value: s("z", 1), line: 1)], line: 1)], line: 1), line: 1),
            (key: "e", value: .sequence([], line: 1), line: 1),
            (key: "f", value: .mapping([], line: 1), line: 1),
            (key: "g", value: s("", 1), line: 1),
        ], line: 1))
        #expect(parsed["hosts"] == .sequence([
            s("fd00:77::1", 2), s("::1", 2), s("10.0.0.1:80", 2),
            s("quoted, with comma", 3, quoted: true), s("it's", 4, quoted: true),
        ], line: 2))
        #expect(parsed["url"] == s("http://example.com:8080/path", 6))
    }

    @Test("quoted scalars: escapes, quotes, `#` and `: ` inside, quoted keys")
    func quoted() throws {
        let text = #"""
        a: "tab\there \"q\" back\\slash\nnew # not a comment"
        b: 'single ''q'' # still text: yes'
        "quoted key": 1
        'other key' : 2
        c: "" # empty
        d: don't # a plain value may hold an apostrophe
        e: value#hash
        """#
        let parsed = try YAML.parse(text)
        #expect(parsed["a"] == s("tab\there \"q\" back\\slash\nnew # not a comment", 1, quoted: true))
        #expect(parsed["b"] == s("single 'q' # still text: yes", 2, quoted: true))
        #expect(parsed["quoted key"] == s("1", 3))
        #expect(parsed["other key"] == s("2", 4))
        #expect(parsed["c"] == s("", 5, quoted: true))
        #expect(parsed["c"]?.isNull == false)
        #expect(parsed["d"] == s("don't", 6))
        #expect(parsed["e"] == s("value#hash", 7))
    }

    @Test("comments in odd places: before the document, between items, under a key, dedented, at the end")
    func comments() throws {
        let text = """
        # leading comment
        --- # the document marker may carry one
        # another
        top:   # a comment after a key with a block value
            # indented comment before the first child
          child: 1    # trailing
        # a comment at column 1 inside the nested block
          other: 2
        list:
          # before the first item
          - a   # after an item

          -   b
        #
        flow: { k: v ,   # after a comma
                # on its own line inside braces
                j: [ 1 , # mid-list
                     2 ] }
        # final comment
        """
        let parsed = try YAML.parse(text)
        #expect(parsed == .mapping([
            (key: "top", value: .mapping([
                (key: "child", value: s("1", 6), line: 6),
                (key: "other", value: s("2", 8), line: 8),
            ], line: 6), line: 4),
            (key: "list", value: .sequence([s("a", 11), s("b", 13)], line: 11), line: 9),
            (key: "flow", value: .mapping([
                (key: "k", value: s("v", 15), line: 15),
                (key: "j", value: .sequence([s("1", 17), s("2", 18)], line: 17), line: 17),
            ], line: 15), line: 15),
        ], line: 4), "\(parsed)")
    }

    @Test("empty documents, CRLF line endings, a byte order mark")
    func edges() throws {
        #expect(try YAML.parse("") == s("", 1))
        #expect(try YAML.parse("# only a comment\n\n") == s("", 1))
        #expect(try YAML.parse("---\n") == s("", 1))
        #expect(try YAML.parse("a: 1\r\nb:\r\n  - x\r\n") == .mapping([
            (key: "a", value: s("1", 1), line: 1),
            (key: "b", value: .sequence([s("x", 3)], line: 3), line: 2),
        ], line: 1))
        #expect(try YAML.parse("\u{FEFF}a: 1") == .mapping([(key: "a", value: s("1", 1), line: 1)], line: 1))
    }

    @Test("every prefix of a configuration either parses or names a line inside the text")
    func truncatedAnywhere() throws {
        let text = """
        listen: "[::]:9155"   # comment
        defaults: {interval: 10s, methods: [reqresp, 'syn'],
                   timeout: "1s"}
        targets:
          - name: db01
            host: 10.0.0.5
          - {host: "a\\tb", port: 1}
        peers:
          hosts:
            - 10.77.0.1
        """
        let characters = Array(text)
        var refused = 0
        for end in 0...characters.count {
            let prefix = String(characters[0..<end])
            do {
                _ = try YAML.parse(prefix)
            } catch {
                refused += 1
                let lines = prefix.split(separator: "\n", omittingEmptySubsequences: false).count
                #expect((1...lines).contains(error.line), "\(prefix.debugDescription): \(error)")
            }
        }
        #expect(refused > 0)
        #expect(try YAML.parse(text)["targets"]?.line == 5)
    }

    @Test("what the subset refuses names its line", arguments: [
        ("a:\n\tb: 1", 2, "tab in indentation"),
        ("a:\n  \tb: 1", 2, "tab in indentation"),
        ("a: &anchor 1", 1, "anchors"),
        ("a: 1\nb: *anchor", 2, "aliases"),
        ("a: !!str 1", 1, "tags"),
        ("a:\n  - !tag x", 2, "tags"),
        ("a: |\n  text", 1, "block scalars"),
        ("a: >-\n  text", 1, "block scalars"),
        ("a: 1\n---\nb: 2", 2, "only one document"),
        ("a: 1\n...\n", 2, "only one document"),
        ("a: 1\nb: 2\na: 3", 3, "duplicate key `a` (first on line 1)"),
        ("a: {x: 1,\n    x: 2}", 2, "duplicate key `x`"),
        ("a: 1\n   b: 2", 2, "bad indentation"),
        ("a:\n  b: 1\n c: 2", 3, "bad indentation"),
        ("- a\n  - b", 2, "bad indentation"),
        ("  a: 1\nb: 2", 2, "bad indentation"),
        ("a: 'open", 1, "unclosed single quote"),
        ("a: \"open\nb: 2", 1, "unclosed double quote"),
        ("a: [1, 2,\n\n  3\nb: 4", 4, "expected `,` or `]` in the list opened on line 1"),
        ("a: [1, 2,\n  3", 1, "unclosed `[`"),
        ("a:\n  - {x: 1", 2, "unclosed `{`"),
        ("a: b: c", 1, "a mapping cannot start"),
        ("? complex\n: key", 1, "complex keys"),
        ("a: - b", 1, "list item cannot start"),
        ("a: \"\\q\"", 1, "unknown escape"),
        ("a: [1, 2] extra", 1, "unexpected text after"),
        ("a: 'x' extra", 1, "unexpected text after the closing quote"),
        ("a: [1 2\n 3]", 2, "expected `,` or `]`"),
        ("a: {x 1}", 1, "expected `:` after the key `x 1`"),
        ("a: [x: 1]", 1, "pairs inside `[…]`"),
        ("a:\n  b: 1\n  - c", 3, "found a list item"),
        ("%YAML 1.2\n---\na: 1", 1, "directives"),
        ("a: 1\njust text", 2, "expected `key: value`"),
    ])
    func rejections(text: String, line: Int, fragment: String) {
        do {
            let node = try YAML.parse(text)
            Issue.record("accepted \(text.debugDescription) as \(node)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
            #expect(error.description == "line \(line): \(error.message)")
        }
    }
}

/// A node of a YAML document, as ``YAML/parse(_:)`` reads it: every value is text (no
/// numbers, booleans or nulls are guessed), and every node remembers the 1-based line it
/// starts on so that a configuration error can name it.
public indirect enum YAMLNode: Equatable, Sendable, CustomStringConvertible {
    /// A plain or quoted scalar. An absent value (`key:` with nothing after it) is the
    /// empty plain scalar.
    case scalar(String, line: Int, quoted: Bool)
    /// A mapping, keys in the order written; the line of its first key (or of its `{`).
    case mapping([(key: String, value: YAMLNode, line: Int)], line: Int)
    /// A sequence; the line of its first `-` (or of its `[`).
    case sequence([YAMLNode], line: Int)

    /// The line the node starts on.
    public var line: Int {
        switch self {
        case .scalar(_, let line, _), .mapping(_, let line), .sequence(_, let line): line
        }
    }

    /// The text of a scalar; nil for a mapping or a sequence.
    public var scalarText: String? {
        if case .scalar(let text, _, _) = self { return text }
        return nil
    }

    /// True for an absent value: `key:` followed by nothing (the empty plain scalar).
    public var isNull: Bool {
        if case .scalar("", _, false) = self { return true }
        return false
    }

    /// The value of `key` in a mapping; nil when absent or when the node is no mapping.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries, _) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool {
        switch (a, b) {
        case let (.scalar(t1, l1, q1), .scalar(t2, l2, q2)):
            return t1 == t2 && l1 == l2 && q1 == q2
        case let (.sequence(i1, l1), .sequence(i2, l2)):
            return l1 == l2 && i1 == i2
        case let (.mapping(e1, l1), .mapping(e2, l2)):
            guard l1 == l2, e1.count == e2.count else { return false }
            for (x, y) in zip(e1, e2) where x.key != y.key || x.line != y.line || x.value != y.value {
                return false
            }
            return true
        default:
            return false
        }
    }

    /// Flow-style text with lines: `{a@1: [x@2, 'y'@2]@2}@1`, for test failures.
    public var description: String {
        switch self {
        case let .scalar(text, line, quoted):
            return (quoted ? "'\(text)'" : text) + "@\(line)"
        case let .sequence(items, line):
            return "[" + items.map(\.description).joined(separator: ", ") + "]@\(line)"
        case let .mapping(entries, line):
            return "{" + entries.map { "\($0.key)@\($0.line): \($0.value)" }.joined(separator: ", ") + "}@\(line)"
        }
    }
}

/// Why a YAML text was refused: the 1-based line and what is wrong there.
public struct YAMLError: Error, CustomStringConvertible, Equatable, Sendable {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    /// `line 7: tab in indentation; indent with spaces`.
    public var description: String { "line \(line): \(message)" }
}

/// A parser for the subset of YAML 1.2 a hand-written configuration uses.
///
/// Supported: block mappings and block sequences (`- item`, `- key: v` with more keys
/// below at the same indent, `- {flow map}`), flow mappings `{a: b, c: [x, y]}` and flow
/// sequences `[a, b]` (nested, across lines), plain scalars, `'single'` (`''` is a quote)
/// and `"double"` quoted scalars (escapes `\"`, `\\`, `\/`, `\n`, `\t`, `\r`, `\0`),
/// comments (`#` at the start of a line or after whitespace, outside quotes), blank lines
/// and one leading `---`.
///
/// Refused with the line named: tabs in indentation, anchors and aliases (`&`, `*`), tags
/// (`!`), block scalars (`|`, `>`), complex keys (`?`), directives (`%`), more than one
/// document, duplicate keys, bad indentation, multi-line plain scalars, and quotes or
/// brackets left open.
public enum YAML {
    /// Parses one document. An empty document (nothing but blank lines and comments) is
    /// the empty plain scalar on line 1.
    public static func parse(_ text: String) throws(YAMLError) -> YAMLNode {
        var parser = try YAMLParser(text: text)
        return try parser.parseDocument()
    }
}

private extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let hash = UInt8(ascii: "#")
    static let colon = UInt8(ascii: ":")
    static let dash = UInt8(ascii: "-")
    static let comma = UInt8(ascii: ",")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let singleQuote = UInt8(ascii: "'")
    static let doubleQuote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")

    var isBlank: Bool { self == .space || self == .tab }
    var isFlowIndicator: Bool {
        self == .comma || self == .openBrace || self == .closeBrace || self == .openBracket || self == .closeBracket
    }
}

/// One physical line: its bytes (without the line break), where its content starts and
/// the indent it counts as. A block sequence item `- x` is re-read in place as a line
/// whose content starts at `x`, indented to that column.
private struct SourceLine {
    let number: Int
    let bytes: [UInt8]
    var column: Int
    var indent: Int
    /// Nothing but whitespace, or a comment.
    var isBlank: Bool

    func byte(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }
}

private struct YAMLParser {
    var lines: [SourceLine] = []
    var index = 0

    init(text: String) throws(YAMLError) {
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var number = 0
        var sawContent = false
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            var lineBytes = Array(raw)
            if lineBytes.last == UInt8(ascii: "\r") { lineBytes.removeLast() }
            var indent = 0
            while indent < lineBytes.count, lineBytes[indent] == .space { indent += 1 }
            var first = indent
            while first < lineBytes.count, lineBytes[first].isBlank { first += 1 }
            let blank = first == lineBytes.count || lineBytes[first] == .hash
            if !blank, first != indent {
                throw YAMLError(line: number, message: "tab in indentation; indent with spaces")
            }
            var line = SourceLine(number: number, bytes: lineBytes, column: indent, indent: indent, isBlank: blank)
            if !blank, indent == 0, lineBytes[0] == UInt8(ascii: "%") {
                throw YAMLError(line: number, message: "directives (`%`) are not supported")
            }
            if !blank, indent == 0, Self.isDocumentMarker(lineBytes) {
                let isStart = lineBytes[0] == .dash
                if sawContent || !isStart {
                    throw YAMLError(line: number, message: "a second document (`---` or `...`); only one document is supported")
                }
                line.isBlank = true
            }
            if !blank { sawContent = true }
            lines.append(line)
        }
    }

    /// `---` or `...` alone on a line (a comment may follow).
    static func isDocumentMarker(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 3 else { return false }
        let head = Array(bytes[0..<3])
        guard head == Array("---".utf8) || head == Array("...".utf8) else { return false }
        var i = 3
        while i < bytes.count, bytes[i].isBlank { i += 1 }
        if i == bytes.count { return true }
        if bytes[i] == .hash, i > 3 { return true }
        return false
    }

    // MARK: Block structure

    mutating func parseDocument() throws(YAMLError) -> YAMLNode {
        skipBlankLines()
        guard index < lines.count else { return .scalar("", line: 1, quoted: false) }
        let root = try parseBlockNode()
        skipBlankLines()
        if index < lines.count {
            throw YAMLError(line: lines[index].number, message: "bad indentation: this line does not belong to any block above it")
        }
        return root
    }

    mutating func skipBlankLines() {
        while index < lines.count, lines[index].isBlank { index += 1 }
    }

    /// A `-` followed by whitespace or the end of the line, at the content start of `line`.
    static func startsItem(_ line: SourceLine) -> Bool {
        guard line.byte(line.column) == .dash else { return false }
        guard let next = line.byte(line.column + 1) else { return true }
        return next.isBlank
    }

    /// The node whose first line is the current (non-blank) line.
    mutating func parseBlockNode() throws(YAMLError) -> YAMLNode {
        let line = lines[index]
        if Self.startsItem(line) { return try parseSequence(indent: line.indent) }
        if try mappingKey(in: line) != nil { return try parseMapping(indent: line.indent) }
        return try parseInlineValue(column: line.column)
    }

    mutating func parseSequence(indent: Int) throws(YAMLError) -> YAMLNode {
        var items: [YAMLNode] = []
        let startLine = lines[index].number
        while true {
            skipBlankLines()
            guard index < lines.count else { break }
            let line = lines[index]
            if line.indent < indent { break }
            if line.indent > indent {
                throw YAMLError(line: line.number, message: "bad indentation: expected a list item at column \(indent + 1)")
            }
            guard Self.startsItem(line) else { break }
            var column = line.column + 1
            while let b = line.byte(column), b.isBlank { column += 1 }
            if Self.isEndOrComment(line, column) {
                index += 1
                skipBlankLines()
                if index < lines.count, lines[index].indent > indent {
                    items.append(try parseBlockNode())
                } else {
                    items.append(.scalar("", line: line.number, quoted: false))
                }
            } else {
                lines[index].column = column
                lines[index].indent = column
                items.append(try parseBlockNode())
            }
        }
        return .sequence(items, line: startLine)
    }

    mutating func parseMapping(indent: Int) throws(YAMLError) -> YAMLNode {
        var entries: [(key: String, value: YAMLNode, line: Int)] = []
        var firstLine: [String: Int] = [:]
        let startLine = lines[index].number
        while true {
            skipBlankLines()
            guard index < lines.count else { break }
            let line = lines[index]
            if line.indent < indent { break }
            if line.indent > indent {
                throw YAMLError(line: line.number, message: "bad indentation: expected a key at column \(indent + 1)")
            }
            if Self.startsItem(line) {
                throw YAMLError(line: line.number, message: "expected `key: value`, found a list item")
            }
            guard let (key, afterColon) = try mappingKey(in: line) else {
                throw YAMLError(line: line.number, message: "expected `key: value`")
            }
            if let first = firstLine[key] {
                throw YAMLError(line: line.number, message: "duplicate key `\(key)` (first on line \(first))")
            }
            firstLine[key] = line.number
            var column = afterColon
            while let b = line.byte(column), b.isBlank { column += 1 }
            let value: YAMLNode
            if Self.isEndOrComment(line, column) {
                index += 1
                skipBlankLines()
                if index < lines.count, lines[index].indent > indent {
                    value = try parseBlockNode()
                } else if index < lines.count, lines[index].indent == indent, Self.startsItem(lines[index]) {
                    value = try parseSequence(indent: indent)
                } else {
                    value = .scalar("", line: line.number, quoted: false)
                }
            } else {
                value = try parseInlineValue(column: column)
            }
            entries.append((key: key, value: value, line: line.number))
        }
        return .mapping(entries, line: startLine)
    }

    /// Whether only whitespace or a comment remains from `column` (a `#` counts as a
    /// comment at the start of the content or after whitespace).
    static func isEndOrComment(_ line: SourceLine, _ column: Int) -> Bool {
        var i = column
        while let b = line.byte(i), b.isBlank { i += 1 }
        guard let b = line.byte(i) else { return true }
        return b == .hash && (i == 0 || line.bytes[i - 1].isBlank)
    }

    /// When the line's content is `key: …`, the key and the column just after its colon.
    func mappingKey(in line: SourceLine) throws(YAMLError) -> (String, Int)? {
        let start = line.column
        guard let first = line.byte(start) else { return nil }
        if first == .singleQuote || first == .doubleQuote {
            let (text, end) = try Self.quotedScalar(line, start)
            var i = end
            while let b = line.byte(i), b.isBlank { i += 1 }
            guard line.byte(i) == .colon else { return nil }
            let next = line.byte(i + 1)
            guard next == nil || next!.isBlank else { return nil }
            return (text, i + 1)
        }
        if first == .openBrace || first == .openBracket { return nil }
        if first == UInt8(ascii: "?"), line.byte(start + 1).map({ $0.isBlank }) ?? true {
            throw YAMLError(line: line.number, message: "complex keys (`?`) are not supported")
        }
        var i = start
        while let b = line.byte(i) {
            if b == .hash, i > start, line.bytes[i - 1].isBlank { return nil }
            if b == .colon {
                let next = line.byte(i + 1)
                if next == nil || next!.isBlank {
                    var end = i
                    while end > start, line.bytes[end - 1].isBlank { end -= 1 }
                    guard end > start else { return nil }
                    try Self.checkPlainStart(line, start)
                    return (String(decoding: line.bytes[start..<end], as: UTF8.self), i + 1)
                }
            }
            i += 1
        }
        return nil
    }

    /// A value written on the line of its key or list item: a flow collection (which may
    /// run over more lines), a quoted scalar or a plain scalar. Consumes its lines.
    mutating func parseInlineValue(column: Int) throws(YAMLError) -> YAMLNode {
        let line = lines[index]
        let first = line.bytes[column]
        if first == .openBrace || first == .openBracket {
            var cursor = FlowCursor(line: index, column: column)
            let node = try parseFlowNode(&cursor)
            let last = lines[cursor.line]
            if !Self.isEndOrComment(last, cursor.column) {
                throw YAMLError(line: last.number, message: "unexpected text after the closing `\(Character(UnicodeScalar(last.bytes[cursor.column - 1])))`")
            }
            index = cursor.line + 1
            return node
        }
        if first == .singleQuote || first == .doubleQuote {
            let (text, end) = try Self.quotedScalar(line, column)
            if !Self.isEndOrComment(line, end) {
                throw YAMLError(line: line.number, message: "unexpected text after the closing quote")
            }
            index += 1
            return .scalar(text, line: line.number, quoted: true)
        }
        try Self.checkPlainStart(line, column)
        var end = column
        while let b = line.byte(end) {
            if b == .hash, end > column, line.bytes[end - 1].isBlank { break }
            if b == .colon, line.byte(end + 1).map({ $0.isBlank }) ?? true {
                throw YAMLError(line: line.number, message: "a mapping cannot start on the line of its key or list item here; quote the value if the `:` belongs to it")
            }
            end += 1
        }
        while end > column, line.bytes[end - 1].isBlank { end -= 1 }
        index += 1
        return .scalar(String(decoding: line.bytes[column..<end], as: UTF8.self), line: line.number, quoted: false)
    }

    /// Refuses the YAML features this subset leaves out where a plain scalar would start.
    static func checkPlainStart(_ line: SourceLine, _ column: Int) throws(YAMLError) {
        guard let b = line.byte(column) else { return }
        let message: String?
        switch b {
        case UInt8(ascii: "&"): message = "anchors (`&`) are not supported"
        case UInt8(ascii: "*"): message = "aliases (`*`) are not supported"
        case UInt8(ascii: "!"): message = "tags (`!`) are not supported"
        case UInt8(ascii: "|"), UInt8(ascii: ">"): message = "block scalars (`|`, `>`) are not supported; write the value on one line, quoted if needed"
        case UInt8(ascii: "%"): message = "directives (`%`) are not supported"
        case .hash: message = "`#` starts a comment only after whitespace; quote a value that begins with `#`"
        case UInt8(ascii: "@"), UInt8(ascii: "`"): message = "`\(Character(UnicodeScalar(b)))` cannot start a plain value; quote it"
        case .dash where line.byte(column + 1).map({ $0.isBlank }) ?? true:
            message = "a list item cannot start on the line of its key; put it on the next line"
        case .closeBrace, .closeBracket, .comma:
            message = "unexpected `\(Character(UnicodeScalar(b)))`"
        default: message = nil
        }
        if let message { throw YAMLError(line: line.number, message: message) }
    }

    /// A quoted scalar starting at `column` (at its quote): its text and the column after
    /// the closing quote. Quoted scalars end on the line they start on.
    static func quotedScalar(_ line: SourceLine, _ column: Int) throws(YAMLError) -> (String, Int) {
        let quote = line.bytes[column]
        var out: [UInt8] = []
        var i = column + 1
        while let b = line.byte(i) {
            if quote == .singleQuote, b == .singleQuote {
                if line.byte(i + 1) == .singleQuote {
                    out.append(.singleQuote)
                    i += 2
                    continue
                }
                return (String(decoding: out, as: UTF8.self), i + 1)
            }
            if quote == .doubleQuote, b == .doubleQuote {
                return (String(decoding: out, as: UTF8.self), i + 1)
            }
            if quote == .doubleQuote, b == .backslash {
                guard let e = line.byte(i + 1) else { break }
                switch e {
                case .doubleQuote, .backslash, UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "0"): out.append(0x00)
                default:
                    throw YAMLError(line: line.number, message: "unknown escape `\\\(Character(UnicodeScalar(e)))` in a double-quoted string")
                }
                i += 2
                continue
            }
            out.append(b)
            i += 1
        }
        let kind = quote == .singleQuote ? "single" : "double"
        throw YAMLError(line: line.number, message: "unclosed \(kind) quote (a quoted value must end on the line it starts on)")
    }

    // MARK: Flow collections

    struct FlowCursor {
        var line: Int
        var column: Int
    }

    /// Skips whitespace, comments and line ends inside a flow collection opened on
    /// `openLine`; at the end of the text, the collection was never closed.
    func skipFlowSpace(_ c: inout FlowCursor, opener: UInt8, openLine: Int) throws(YAMLError) {
        while true {
            let line = lines[c.line]
            while let b = line.byte(c.column), b.isBlank { c.column += 1 }
            if Self.isEndOrComment(line, c.column) {
                c.line += 1
                guard c.line < lines.count else {
                    throw YAMLError(line: openLine, message: "unclosed `\(Character(UnicodeScalar(opener)))` (opened here, never closed)")
                }
                c.column = 0
                continue
            }
            return
        }
    }

    func parseFlowNode(_ c: inout FlowCursor) throws(YAMLError) -> YAMLNode {
        let line = lines[c.line]
        let b = line.bytes[c.column]
        switch b {
        case .openBrace: return try parseFlowMapping(&c)
        case .openBracket: return try parseFlowSequence(&c)
        case .singleQuote, .doubleQuote:
            let (text, end) = try Self.quotedScalar(line, c.column)
            c.column = end
            return .scalar(text, line: line.number, quoted: true)
        default:
            return try parseFlowPlain(&c, isKey: false)
        }
    }

    /// A plain scalar inside a flow collection: it ends at `,`, a bracket, a comment, the
    /// end of the line, or a `:` followed by whitespace or a flow indicator.
    func parseFlowPlain(_ c: inout FlowCursor, isKey: Bool) throws(YAMLError) -> YAMLNode {
        let line = lines[c.line]
        try Self.checkPlainStart(line, c.column)
        let start = c.column
        var end = start
        while let b = line.byte(end) {
            if b.isFlowIndicator { break }
            if b == .hash, end > start, line.bytes[end - 1].isBlank { break }
            if b == .colon {
                let next = line.byte(end + 1)
                if next == nil || next!.isBlank || next!.isFlowIndicator { break }
            }
            end += 1
        }
        c.column = end
        while end > start, line.bytes[end - 1].isBlank { end -= 1 }
        guard end > start else {
            throw YAMLError(line: line.number, message: isKey ? "expected a key" : "expected a value")
        }
        return .scalar(String(decoding: line.bytes[start..<end], as: UTF8.self), line: line.number, quoted: false)
    }

    func parseFlowSequence(_ c: inout FlowCursor) throws(YAMLError) -> YAMLNode {
        let openLine = lines[c.line].number
        c.column += 1
        var items: [YAMLNode] = []
        while true {
            try skipFlowSpace(&c, opener: .openBracket, openLine: openLine)
            if lines[c.line].bytes[c.column] == .closeBracket {
                c.column += 1
                return .sequence(items, line: openLine)
            }
            items.append(try parseFlowNode(&c))
            try skipFlowSpace(&c, opener: .openBracket, openLine: openLine)
            let line = lines[c.line]
            switch line.bytes[c.column] {
            case .comma: c.column += 1
            case .closeBracket:
                c.column += 1
                return .sequence(items, line: openLine)
            case .colon:
                throw YAMLError(line: line.number, message: "`key: value` pairs inside `[…]` are not supported; use `{…}`")
            default:
                throw YAMLError(line: line.number, message: "expected `,` or `]` in the list opened on line \(openLine)")
            }
        }
    }

    func parseFlowMapping(_ c: inout FlowCursor) throws(YAMLError) -> YAMLNode {
        let openLine = lines[c.line].number
        c.column += 1
        var entries: [(key: String, value: YAMLNode, line: Int)] = []
        var firstLine: [String: Int] = [:]
        while true {
            try skipFlowSpace(&c, opener: .openBrace, openLine: openLine)
            if lines[c.line].bytes[c.column] == .closeBrace {
                c.column += 1
                return .mapping(entries, line: openLine)
            }
            let keyLine = lines[c.line]
            let keyNode: YAMLNode
            switch keyLine.bytes[c.column] {
            case .singleQuote, .doubleQuote:
                let (text, end) = try Self.quotedScalar(keyLine, c.column)
                c.column = end
                keyNode = .scalar(text, line: keyLine.number, quoted: true)
            case .openBrace, .openBracket:
                throw YAMLError(line: keyLine.number, message: "a key must be a scalar")
            default:
                keyNode = try parseFlowPlain(&c, isKey: true)
            }
            let key = keyNode.scalarText ?? ""
            if let first = firstLine[key] {
                throw YAMLError(line: keyLine.number, message: "duplicate key `\(key)` (first on line \(first))")
            }
            firstLine[key] = keyLine.number
            try skipFlowSpace(&c, opener: .openBrace, openLine: openLine)
            guard lines[c.line].bytes[c.column] == .colon else {
                throw YAMLError(line: lines[c.line].number, message: "expected `:` after the key `\(key)`")
            }
            c.column += 1
            try skipFlowSpace(&c, opener: .openBrace, openLine: openLine)
            let value: YAMLNode
            switch lines[c.line].bytes[c.column] {
            case .comma, .closeBrace: value = .scalar("", line: lines[c.line].number, quoted: false)
            default: value = try parseFlowNode(&c)
            }
            entries.append((key: key, value: value, line: keyLine.number))
            try skipFlowSpace(&c, opener: .openBrace, openLine: openLine)
            let line = lines[c.line]
            switch line.bytes[c.column] {
            case .comma: c.column += 1
            case .closeBrace:
                c.column += 1
                return .mapping(entries, line: openLine)
            default:
                throw YAMLError(line: line.number, message: "expected `,` or `}` in the mapping opened on line \(openLine)")
            }
        }
    }
}

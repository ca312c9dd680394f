// The lexer of GraphIR's text format.
//
// It works on UTF-8 bytes, not on `String`, so that any file (binary garbage, NUL bytes, invalid UTF-8) gives
// a positioned diagnostic instead of a crash, and so that every step is O(1) per byte: a file of any size
// lexes in linear time. Columns are 1-based and counted in UTF-8 bytes from the start of the line (a tab is
// one column), as clang and MLIR do.

/// One lexical token of the text format.
enum TokenKind: Equatable {
    /// `[A-Za-z_][A-Za-z0-9_.]*`: keywords, op, attribute, dtype and graph/output names, bare string values.
    case identifier(String)
    /// `%name` or `%"any name"`: an argument reference.
    case valueName(String)
    /// `%123`: a node result.
    case valueNumber(Int)
    case integer(Int)
    case float(Double)
    /// `"…"`, escapes already decoded.
    case string(String)
    case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket, comma, equal, colon
    case endOfFile
}

struct Token: Equatable {
    var kind: TokenKind
    var location: SourceLocation
    /// Byte range in the source, for "found …" messages.
    var range: Range<Int>

    func isIdentifier(_ keyword: String) -> Bool { kind == .identifier(keyword) }
}

/// Splits source bytes into tokens on demand, so that a lexical error late in a file never hides an earlier
/// syntax error.
struct Lexer {
    let bytes: [UInt8]
    private(set) var offset = 0
    private var line = 1
    private var lineStart = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
        // A UTF-8 byte-order mark is not part of the text (editors do not count it as a column).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            offset = 3
            lineStart = 3
        }
    }

    /// The position of byte `offset`, which must be on the current line.
    func location(at offset: Int) -> SourceLocation { SourceLocation(line: line, column: offset - lineStart + 1) }

    /// The source text of `range`, shortened for messages.
    func excerpt(_ range: Range<Int>) -> String { TextSyntax.shorten(String(decoding: bytes[range], as: UTF8.self)) }

    /// How a token is named in "found …" messages.
    func describe(_ token: Token) -> String {
        switch token.kind {
        case .endOfFile: return "end of file"
        case .string: return "string \(excerpt(token.range))"
        default: return "'\(excerpt(token.range))'"
        }
    }

    private func error(_ message: String, at offset: Int) -> Diagnostic {
        Diagnostic(message, at: location(at: offset))
    }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        offset + ahead < bytes.count ? bytes[offset + ahead] : nil
    }

    mutating func next() throws(Diagnostic) -> Token {
        try skipTrivia()
        let start = offset
        let loc = location(at: start)
        func token(_ kind: TokenKind) -> Token { Token(kind: kind, location: loc, range: start..<offset) }
        guard let c = peek() else { return token(.endOfFile) }

        if let kind = Lexer.punctuation(c) {
            offset += 1
            return token(kind)
        }
        if TextSyntax.isIdentifierStart(c) {
            return token(.identifier(lexIdentifier()))
        }
        if TextSyntax.isDigit(c) || c == UInt8(ascii: "-") {
            return token(try lexNumber())
        }
        if c == UInt8(ascii: "\"") {
            return token(.string(try lexString()))
        }
        if c == UInt8(ascii: "%") {
            offset += 1
            guard let d = peek() else { throw error("expected a name or number after '%', found end of file", at: offset) }
            if TextSyntax.isDigit(d) {
                let digitsStart = offset
                while let x = peek(), TextSyntax.isDigit(x) { offset += 1 }
                guard let n = TextSyntax.decimal(bytes[digitsStart..<offset], negative: false) else {
                    throw error("value number '\(excerpt(start..<offset))' is too large", at: start)
                }
                if let x = peek(), TextSyntax.isIdentifierContinue(x) {
                    var end = offset
                    while end < bytes.count && TextSyntax.isIdentifierContinue(bytes[end]) { end += 1 }
                    throw error("unexpected \(describeByte(at: offset)) after value number '%\(n)' "
                        + "(quote a name that starts with a digit: %\"\(excerpt(digitsStart..<end))\")", at: offset)
                }
                return token(.valueNumber(n))
            }
            if TextSyntax.isIdentifierStart(d) { return token(.valueName(lexIdentifier())) }
            if d == UInt8(ascii: "\"") { return token(.valueName(try lexString())) }
            throw error("expected a name or number after '%', found \(describeByte(at: offset))", at: offset)
        }
        if c == UInt8(ascii: "."), let d = peek(1), TextSyntax.isDigit(d) {
            throw error("a number needs a digit before '.' (write 0.5, not .5)", at: start)
        }
        if c == UInt8(ascii: "/") {
            throw error("unexpected character '/' (comments start with '//')", at: start)
        }
        if c >= 0x80 && TextSyntax.decodeUTF8(bytes, at: start) == nil {
            throw error("invalid UTF-8 byte 0x\(TextSyntax.hex(c))", at: start)
        }
        throw error("unexpected \(describeByte(at: start))", at: start)
    }

    /// Skips spaces, tabs, carriage returns, newlines and `//` comments (whose UTF-8 is validated so that the
    /// whole file is text).
    private mutating func skipTrivia() throws(Diagnostic) {
        while let c = peek() {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                offset += 1
            case UInt8(ascii: "\n"):
                offset += 1
                line += 1
                lineStart = offset
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "/"):
                offset += 2
                while let x = peek(), x != UInt8(ascii: "\n") {
                    if x < 0x80 {
                        offset += 1
                    } else if let (_, length) = TextSyntax.decodeUTF8(bytes, at: offset) {
                        offset += length
                    } else {
                        throw error("invalid UTF-8 byte 0x\(TextSyntax.hex(x)) in comment", at: offset)
                    }
                }
            default:
                return
            }
        }
    }

    private mutating func lexIdentifier() -> String {
        let start = offset
        offset += 1
        while let c = peek(), TextSyntax.isIdentifierContinue(c) { offset += 1 }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    /// `-?[0-9]+` is an integer; `-?[0-9]+(.[0-9]+)?([eE][+-]?[0-9]+)?` with a fraction or an exponent is a
    /// float. No `+` sign, no leading or trailing `.`, no hex, inf or nan (attributes must be finite).
    private mutating func lexNumber() throws(Diagnostic) -> TokenKind {
        let start = offset
        let negative = peek() == UInt8(ascii: "-")
        if negative {
            offset += 1
            guard let d = peek(), TextSyntax.isDigit(d) else {
                throw error("expected a digit after '-'", at: offset)
            }
        }
        let digitsStart = offset
        skipDigits()
        let digitsEnd = offset
        var isFloat = false
        if peek() == UInt8(ascii: ".") {
            offset += 1
            guard let d = peek(), TextSyntax.isDigit(d) else {
                throw error("expected a digit after '.' in number (write 1.0, not 1.)", at: offset)
            }
            skipDigits()
            isFloat = true
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            offset += 1
            if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { offset += 1 }
            guard let d = peek(), TextSyntax.isDigit(d) else {
                throw error("expected exponent digits in number", at: offset)
            }
            skipDigits()
            isFloat = true
        }
        if let x = peek(), TextSyntax.isIdentifierContinue(x) {
            throw error("unexpected \(describeByte(at: offset)) after number '\(excerpt(start..<offset))'", at: offset)
        }
        if isFloat {
            // Swift's parser rounds correctly, so the shortest round-trip spelling the printer emits comes back
            // as the same Double.
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                throw error("float literal '\(TextSyntax.shorten(text))' is out of range", at: start)
            }
            return .float(value)
        }
        guard let value = TextSyntax.decimal(bytes[digitsStart..<digitsEnd], negative: negative) else {
            throw error("integer literal '\(excerpt(start..<offset))' does not fit in 64 bits", at: start)
        }
        return .integer(value)
    }

    private static func punctuation(_ c: UInt8) -> TokenKind? {
        switch c {
        case UInt8(ascii: "("): return .leftParen
        case UInt8(ascii: ")"): return .rightParen
        case UInt8(ascii: "{"): return .leftBrace
        case UInt8(ascii: "}"): return .rightBrace
        case UInt8(ascii: "["): return .leftBracket
        case UInt8(ascii: "]"): return .rightBracket
        case UInt8(ascii: ","): return .comma
        case UInt8(ascii: "="): return .equal
        case UInt8(ascii: ":"): return .colon
        default: return nil
        }
    }

    private mutating func skipDigits() {
        while let c = peek(), TextSyntax.isDigit(c) { offset += 1 }
    }

    /// A `"…"` string with escapes `\\ \" \n \t \r \u{1-6 hex digits}`. It must end on its line: a raw newline
    /// means the closing quote is missing, which is reported at the opening quote.
    private mutating func lexString() throws(Diagnostic) -> String {
        let open = offset
        offset += 1
        var utf8: [UInt8] = []
        while true {
            guard let c = peek(), c != UInt8(ascii: "\n") else {
                throw error("unterminated string (missing closing '\"' on this line)", at: open)
            }
            switch c {
            case UInt8(ascii: "\""):
                offset += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                appendUTF8(try lexEscape(), to: &utf8)
            case 0..<0x20 where c != UInt8(ascii: "\t"), 0x7F:
                throw error("control character U+\(TextSyntax.hex(c, width: 4)) in string "
                    + "(write it as \\u{\(TextSyntax.hex(c, width: 1))})", at: offset)
            case 0..<0x80:
                utf8.append(c)
                offset += 1
            default:
                guard let (_, length) = TextSyntax.decodeUTF8(bytes, at: offset) else {
                    throw error("invalid UTF-8 byte 0x\(TextSyntax.hex(c)) in string", at: offset)
                }
                utf8.append(contentsOf: bytes[offset..<offset + length])
                offset += length
            }
        }
    }

    private mutating func lexEscape() throws(Diagnostic) -> Unicode.Scalar {
        let backslash = offset
        offset += 1
        guard let c = peek(), c != UInt8(ascii: "\n") else {
            throw error("unterminated string (missing closing '\"' on this line)", at: backslash)
        }
        offset += 1
        switch c {
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "u"):
            guard peek() == UInt8(ascii: "{") else {
                throw error("expected '{' after '\\u' (write \\u{41})", at: offset)
            }
            offset += 1
            var value: UInt32 = 0, count = 0
            while let h = peek(), let digit = TextSyntax.hexValue(h) {
                count += 1
                if count > 6 { throw error("too many hex digits in '\\u{…}' (at most 6)", at: offset) }
                value = value << 4 | UInt32(digit)
                offset += 1
            }
            guard count > 0, peek() == UInt8(ascii: "}") else {
                throw error("expected hex digits and '}' in '\\u{…}', found \(describeByte(at: offset))", at: offset)
            }
            offset += 1
            guard let scalar = Unicode.Scalar(value) else {
                throw error("'\\u{\(String(value, radix: 16, uppercase: true))}' is not a Unicode scalar value", at: backslash)
            }
            return scalar
        default:
            throw error("unknown escape '\\\(TextSyntax.printable(c))' in string "
                + "(use \\\\, \\\", \\n, \\t, \\r or \\u{…})", at: backslash)
        }
    }

    private func appendUTF8(_ scalar: Unicode.Scalar, to utf8: inout [UInt8]) {
        UTF8.encode(scalar) { utf8.append($0) }
    }

    /// Names the (possibly multi-byte, possibly invalid) character at `offset` for a message.
    private func describeByte(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of file" }
        let c = bytes[offset]
        if c >= 0x21 && c < 0x7F { return "character '\(TextSyntax.printable(c))'" }
        if c < 0x80 { return "character U+\(TextSyntax.hex(c, width: 4))" }
        guard let (scalar, _) = TextSyntax.decodeUTF8(bytes, at: offset) else {
            return "invalid UTF-8 byte 0x\(TextSyntax.hex(c))"
        }
        let code = String(scalar.value, radix: 16, uppercase: true)
        let padded = String(repeating: "0", count: max(0, 4 - code.count)) + code
        return "character '\(scalar)' (U+\(padded))"
    }
}

/// Spelling rules shared by the lexer, the printer and the DOT exporter.
enum TextSyntax {
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    static func isIdentifierStart(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || c == UInt8(ascii: "_")
    }

    static func isIdentifierContinue(_ c: UInt8) -> Bool {
        isIdentifierStart(c) || isDigit(c) || c == UInt8(ascii: ".")
    }

    /// Whether `name` can be written bare: `[A-Za-z_][A-Za-z0-9_.]*`.
    static func isIdentifier(_ name: String) -> Bool {
        var utf8 = name.utf8.makeIterator()
        guard let first = utf8.next(), isIdentifierStart(first) else { return false }
        while let c = utf8.next() { if !isIdentifierContinue(c) { return false } }
        return true
    }

    /// `name` bare when it is an identifier, else quoted.
    static func name(_ name: String) -> String { isIdentifier(name) ? name : quoted(name) }

    /// A string literal that the lexer reads back as `text`: `"` and `\` escaped, control characters as
    /// `\n`, `\t`, `\r` or `\u{…}`, everything else verbatim UTF-8.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "\u{0}"..."\u{1F}", "\u{7F}": result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// The value of the decimal digits `digits` (negated when `negative`), or nil when it overflows `Int`.
    /// Accumulating negatively for negative literals makes `Int.min` representable.
    static func decimal(_ digits: ArraySlice<UInt8>, negative: Bool) -> Int? {
        var value = 0
        for c in digits {
            let digit = Int(c &- UInt8(ascii: "0"))
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func hex(_ c: UInt8, width: Int = 2) -> String {
        let digits = String(c, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// A printable ASCII byte as itself.
    static func printable(_ c: UInt8) -> String { String(UnicodeScalar(c)) }

    /// Decodes one well-formed UTF-8 sequence at `offset` (no overlong forms, surrogates or values past
    /// U+10FFFF), returning the scalar and its length, or nil.
    static func decodeUTF8(_ bytes: [UInt8], at offset: Int) -> (Unicode.Scalar, Int)? {
        let b0 = bytes[offset]
        let length: Int, minimum: UInt32
        var value: UInt32
        switch b0 {
        case 0x00..<0x80: return (Unicode.Scalar(b0), 1)
        case 0xC2..<0xE0: length = 2; minimum = 0x80; value = UInt32(b0 & 0x1F)
        case 0xE0..<0xF0: length = 3; minimum = 0x800; value = UInt32(b0 & 0x0F)
        case 0xF0..<0xF5: length = 4; minimum = 0x10000; value = UInt32(b0 & 0x07)
        default: return nil
        }
        guard offset + length <= bytes.count else { return nil }
        for i in 1..<length {
            let b = bytes[offset + i]
            guard b & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(b & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }

    /// `text` cut to a length a message can show.
    static func shorten(_ text: String, limit: Int = 40) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    /// The candidate closest to `name` by edit distance, if it is close enough to be a plausible typo.
    static func suggestion(for name: String, among candidates: [String]) -> String? {
        let source = Array(name.unicodeScalars)
        // One character is too little to guess from; long garbage is never a typo of a short keyword (and
        // skipping it bounds the quadratic distance).
        guard source.count >= 2, source.count <= 64 else { return nil }
        let threshold = max(1, min(3, source.count / 3))
        var best: (distance: Int, name: String)?
        for candidate in candidates.sorted() where candidate != name {
            let d = editDistance(source, Array(candidate.unicodeScalars))
            if d <= threshold && d < (best?.distance ?? Int.max) { best = (d, candidate) }
        }
        return best?.name
    }

    /// " (did you mean 'x'?)", or `otherwise` when nothing is close.
    static func didYouMean(_ name: String, among candidates: [String], otherwise: String = "") -> String {
        suggestion(for: name, among: candidates).map { " (did you mean '\(TextSyntax.shorten($0))'?)" } ?? otherwise
    }

    /// Edit distance counting insertions, deletions, substitutions and swaps of adjacent characters (the
    /// optimal-string-alignment variant of Damerau–Levenshtein), so "inptu" is one edit from "input".
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], beforePrevious[j - 2] + 1)
                }
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }
}

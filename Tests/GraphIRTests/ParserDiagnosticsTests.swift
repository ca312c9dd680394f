import Foundation
import Testing

@testable import GraphIR

/// Malformed text gives exactly one diagnostic, pinned to the token where it went wrong, and no input (truncated,
/// random, deeply nested, huge) crashes the parser.
@Suite struct ParserDiagnosticsTests {
    /// Lines 1–4 of most cases; the case's own lines start at line 5.
    static let prelude = """
        graph g {
          input %x : f32[2, 3]
          input %y : f32[3]
          input %img : f32[1, 1, 4, 4]

        """

    static func body(_ lines: String) -> String { prelude + lines + "\n}\n" }

    /// "LINE:COL: error: message" of the one diagnostic, or "ok".
    static func diagnose(_ bytes: [UInt8]) -> String {
        do {
            _ = try parseGraph(utf8: bytes)
            return "ok"
        } catch {
            guard error.diagnostics.count == 1, let location = error.diagnostics[0].location else {
                return "malformed diagnostics: \(error.diagnostics)"
            }
            return "\(location.line):\(location.column): error: \(error.diagnostics[0].message)"
        }
    }

    static func diagnose(_ text: String) -> String { diagnose(Array(text.utf8)) }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var text: String
        var expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Ops and operands.
        Case(name: "unknown op with a close name", text: body("  %0 = ad(%x, %y) : f32[2, 3]"),
             expected: "5:8: error: unknown op 'ad' (did you mean 'add'?)"),
        Case(name: "unknown op", text: body("  %0 = frobnicate(%x) : f32[2, 3]"),
             expected: "5:8: error: unknown op 'frobnicate'"),
        Case(name: "too many operands", text: body("  %0 = neg(%x, %y) : f32[2, 3]"),
             expected: "5:16: error: 'neg' takes 1 operand (x), got 2"),
        Case(name: "too few operands", text: body("  %0 = add(%x) : f32[2, 3]"),
             expected: "5:14: error: 'add' takes 2 operands (lhs, rhs), got 1"),
        Case(name: "operand is not a value", text: body("  %0 = neg(x) : f32[2, 3]"),
             expected: "5:12: error: expected a value such as '%0' or '%x', found 'x'"),
        Case(name: "missing comma between operands", text: body("  %0 = add(%x %y) : f32[2, 3]"),
             expected: "5:15: error: expected ',' or ')' after operand, found '%y'"),
        Case(name: "shape rule rejects operands", text: body("  %0 = add(%x, %img) : f32[2, 3]"),
             expected: "5:8: error: 'add' cannot broadcast [2, 3] with [1, 1, 4, 4]"),

        // Attributes.
        Case(name: "unknown attribute", text: body("  %0 = scale(%x) {factr = 2.0} : f32[2, 3]"),
             expected: "5:19: error: 'scale' has no attribute 'factr' (did you mean 'factor'?)"),
        Case(name: "unknown attribute, none close", text: body("  %0 = scale(%x) {alpha = 2.0} : f32[2, 3]"),
             expected: "5:19: error: 'scale' has no attribute 'alpha' (it takes factor)"),
        Case(name: "attribute on an op that takes none", text: body("  %0 = neg(%x) {alpha = 1} : f32[2, 3]"),
             expected: "5:17: error: 'neg' has no attribute 'alpha' (it takes none)"),
        Case(name: "wrong attribute kind", text: body("  %0 = scale(%x) {factor = true} : f32[2, 3]"),
             expected: "5:28: error: attribute 'factor' of 'scale' must be a float, found bool true"),
        Case(name: "list for a scalar attribute", text: body("  %0 = scale(%x) {factor = [1.0]} : f32[2, 3]"),
             expected: "5:28: error: attribute 'factor' of 'scale' must be a float, found list of floats"),
        Case(name: "bare true for a string attribute",
             text: body("  %0 = pad(%img) {mode = true, pad = [1, 1, 1, 1]} : f32[1, 1, 6, 6]"),
             expected: "5:26: error: attribute 'mode' of 'pad' must be a string, found bool true (quote it for a string: \"true\")"),
        Case(name: "missing required attribute", text: body("  %0 = scale(%x) : f32[2, 3]"),
             expected: "5:8: error: 'scale' needs attribute 'factor' (a float)"),
        Case(name: "out-of-range list attribute",
             text: body("  %0 = pad(%img) {mode = reflect, pad = [1, 1, 1]} : f32[1, 1, 6, 6]"),
             expected: "5:41: error: attribute 'pad' of 'pad': expected 4 values, got 3"),
        Case(name: "out-of-range symbol attribute",
             text: body("  %0 = pad(%img) {mode = wrap, pad = [1, 1, 1, 1]} : f32[1, 1, 6, 6]"),
             expected: "5:26: error: attribute 'mode' of 'pad': 'wrap' is not one of reflect, replicate, zero"),
        Case(name: "duplicate attribute", text: body("  %0 = scale(%x) {factor = 1.0, factor = 2.0} : f32[2, 3]"),
             expected: "5:33: error: duplicate attribute 'factor' (first given at 5:19)"),
        Case(name: "attribute without '='", text: body("  %0 = scale(%x) {factor 2.0} : f32[2, 3]"),
             expected: "5:26: error: expected '=' after attribute name 'factor', found '2.0'"),
        Case(name: "attribute without value", text: body("  %0 = scale(%x) {factor = } : f32[2, 3]"),
             expected: "5:28: error: expected an attribute value (a number, true, false, a name, a string or a list), found '}'"),
        Case(name: "unclosed attribute dict", text: body("  %0 = scale(%x) {factor = 2.0 : f32[2, 3]"),
             expected: "5:32: error: expected ',' or '}' after the value of attribute 'factor', found ':'"),
        Case(name: "nested list", text: body("  %0 = pad(%img) {mode = zero, pad = [[1]]} : f32[1, 1, 6, 6]"),
             expected: "5:39: error: expected a number, found '[' (attribute lists cannot be nested)"),
        Case(name: "name in a list", text: body("  %0 = pad(%img) {mode = zero, pad = [1, a]} : f32[1, 1, 6, 6]"),
             expected: "5:42: error: expected a number in list, found 'a'"),

        // Results and their types.
        Case(name: "result type mismatch", text: body("  %0 = add(%x, %y) : f32[3, 2]"),
             expected: "5:22: error: result type f32[3, 2] does not match the type 'add' infers: f32[2, 3]"),
        Case(name: "result dtype mismatch", text: body("  %0 = neg(%x) : f64[2, 3]"),
             expected: "5:18: error: result type f64[2, 3] does not match the type 'neg' infers: f32[2, 3]"),
        Case(name: "more named results than the op has", text: body("  %0, %1 = neg(%x) : f32[2, 3], f32[2, 3]"),
             expected: "5:3: error: 'neg' produces 1 result, but 2 are named"),
        Case(name: "too many result types", text: body("  %0 = neg(%x) : f32[2, 3], f32[2, 3]"),
             expected: "5:29: error: too many result types (1 result is named)"),
        Case(name: "too few result types", text: body("  %0, %1 = neg(%x) : f32[2, 3]"),
             expected: "6:1: error: expected ',' and the type of result '%1', found '}'"),
        Case(name: "missing result type", text: body("  %0 = neg(%x)\n  %1 = neg(%x) : f32[2, 3]"),
             expected: "6:3: error: expected ':' and the result type of 'neg', found '%1'"),
        Case(name: "missing '='", text: body("  %0 neg(%x) : f32[2, 3]"),
             expected: "5:6: error: expected ',' or '=' after result '%0', found 'neg'"),
        Case(name: "missing op name", text: body("  %0 = (%x) : f32[2, 3]"),
             expected: "5:8: error: expected an op name after '=', found '('"),
        Case(name: "named result", text: body("  %a = neg(%x) : f32[2, 3]"),
             expected: "5:3: error: node results are numbered ('%0', '%1', …), not named: '%a' cannot be a result (declare names with 'input' or 'param')"),

        // Definitions and uses.
        Case(name: "undefined value", text: body("  %0 = neg(%w) : f32[2, 3]"),
             expected: "5:12: error: use of undefined value '%w'"),
        Case(name: "undefined value with a close name", text: body("  %0 = neg(%imgg) : f32[1, 1, 4, 4]"),
             expected: "5:12: error: use of undefined value '%imgg' (did you mean '%img'?)"),
        Case(name: "undefined quoted name", text: body("  input %\"my input\" : f32[2]\n  %0 = neg(%\"my inptu\") : f32[2]"),
             expected: "6:12: error: use of undefined value '%\"my inptu\"' (did you mean '%\"my input\"'?)"),
        Case(name: "undefined result", text: body("  %0 = neg(%7) : f32[2, 3]"),
             expected: "5:12: error: use of undefined value '%7'"),
        Case(name: "use before definition", text: body("  %0 = neg(%1) : f32[2, 3]\n  %1 = neg(%x) : f32[2, 3]"),
             expected: "5:12: error: '%1' is used before its definition at 6:3"),
        Case(name: "use before definition of a second result",
             text: body("  %0 = neg(%4) : f32[2, 3]\n  %3, %4 = neg(%x) : f32[2, 3]"),
             expected: "5:12: error: '%4' is used before its definition at 6:7"),
        Case(name: "use before declaration", text: body("  %0 = neg(%late) : f32[2]\n  input %late : f32[2]"),
             expected: "5:12: error: '%late' is used before its declaration at 6:9"),
        Case(name: "output before definition", text: body("  output y = %0\n  %0 = neg(%x) : f32[2, 3]"),
             expected: "5:14: error: '%0' is used before its definition at 6:3"),
        Case(name: "self use (a cycle)", text: body("  %0 = neg(%0) : f32[2, 3]"),
             expected: "5:12: error: '%0' is used by the node that defines it (a value must be defined before its use)"),
        Case(name: "redefinition", text: body("  %0 = neg(%x) : f32[2, 3]\n  %0 = neg(%x) : f32[2, 3]"),
             expected: "6:3: error: redefinition of '%0' (first defined at 5:3)"),
        Case(name: "redefinition in one statement", text: body("  %0, %0 = neg(%x) : f32[2, 3], f32[2, 3]"),
             expected: "5:7: error: redefinition of '%0' (first defined at 5:3)"),
        Case(name: "duplicate argument", text: body("  param %x : f32[2]"),
             expected: "5:9: error: redefinition of argument '%x' (first declared at 2:9)"),
        Case(name: "duplicate output", text: body("  output y = %x\n  loss y = %y"),
             expected: "6:8: error: duplicate output name 'y' (first used at 5:10)"),
        Case(name: "numbered argument", text: body("  input %3 : f32[2]"),
             expected: "5:9: error: expected an argument name such as '%x' after 'input', found '%3' (numbers are for node results; quote a numeric name: %\"3\")"),
        Case(name: "trainable input", text: body("  input %z : f32[2] trainable"),
             expected: "5:21: error: 'trainable' must follow the type of a 'param'"),
        Case(name: "misspelt statement", text: body("  inptu %z : f32[2]"),
             expected: "5:3: error: expected a statement ('input', 'param', 'output', 'loss' or '%N = op(…)') or '}', found 'inptu' (did you mean 'input'?)"),

        // Types.
        Case(name: "bad dtype", text: body("  input %z : f16[2]"),
             expected: "5:14: error: unknown element type 'f16' (expected f32 or f64)"),
        Case(name: "misspelt dtype", text: body("  input %z : f33[2]"),
             expected: "5:14: error: unknown element type 'f33' (did you mean 'f32'?)"),
        Case(name: "missing type", text: body("  input %z : [2]"),
             expected: "5:14: error: expected a tensor type such as 'f32[2, 3]', found '['"),
        Case(name: "negative dimension", text: body("  input %z : f32[2, -1]"),
             expected: "5:21: error: dimension -1 must be positive"),
        Case(name: "zero dimension", text: body("  input %z : f32[0]"),
             expected: "5:18: error: dimension 0 must be positive"),
        Case(name: "overflowing dimension", text: body("  input %z : f32[99999999999999999999]"),
             expected: "5:18: error: integer literal '99999999999999999999' does not fit in 64 bits"),
        Case(name: "too many elements", text: body("  input %z : f32[1048576, 1048576, 2]"),
             expected: "5:14: error: shape [1048576, 1048576, 2] has more than 1099511627776 elements"),
        Case(name: "float dimension", text: body("  input %z : f32[2.0]"),
             expected: "5:18: error: expected a dimension (a positive integer), found '2.0'"),
        Case(name: "unclosed shape", text: body("  input %z : f32[2, 3\n  input %w : f32[2]"),
             expected: "6:3: error: expected ',' or ']' in shape, found 'input'"),

        // Literals and characters.
        Case(name: "integer overflow", text: body("  %0 = scale(%x) {factor = -9223372036854775809} : f32[2, 3]"),
             expected: "5:28: error: integer literal '-9223372036854775809' does not fit in 64 bits"),
        Case(name: "value number overflow", text: body("  %0 = neg(%99999999999999999999) : f32[2, 3]"),
             expected: "5:12: error: value number '%99999999999999999999' is too large"),
        Case(name: "float out of range", text: body("  %0 = scale(%x) {factor = 1e999} : f32[2, 3]"),
             expected: "5:28: error: float literal '1e999' is out of range"),
        Case(name: "leading '.'", text: body("  %0 = scale(%x) {factor = .5} : f32[2, 3]"),
             expected: "5:28: error: a number needs a digit before '.' (write 0.5, not .5)"),
        Case(name: "trailing '.'", text: body("  %0 = scale(%x) {factor = 1.} : f32[2, 3]"),
             expected: "5:30: error: expected a digit after '.' in number (write 1.0, not 1.)"),
        Case(name: "empty exponent", text: body("  %0 = scale(%x) {factor = 1e} : f32[2, 3]"),
             expected: "5:30: error: expected exponent digits in number"),
        Case(name: "letter after number", text: body("  %0 = scale(%x) {factor = 3x} : f32[2, 3]"),
             expected: "5:29: error: unexpected character 'x' after number '3'"),
        Case(name: "lone minus", text: body("  %0 = scale(%x) {factor = -x} : f32[2, 3]"),
             expected: "5:29: error: expected a digit after '-'"),
        Case(name: "letter after value number", text: body("  %0 = neg(%12abc) : f32[2, 3]"),
             expected: "5:15: error: unexpected character 'a' after value number '%12' (quote a name that starts with a digit: %\"12abc\")"),
        Case(name: "lone percent", text: body("  %0 = neg(% x) : f32[2, 3]"),
             expected: "5:13: error: expected a name or number after '%', found character U+0020"),
        Case(name: "unterminated string", text: body("  output \"y = %x"),
             expected: "5:10: error: unterminated string (missing closing '\"' on this line)"),
        Case(name: "unterminated string at end of file", text: "graph \"g",
             expected: "1:7: error: unterminated string (missing closing '\"' on this line)"),
        Case(name: "unknown escape", text: body("  output \"a\\qb\" = %x"),
             expected: "5:12: error: unknown escape '\\q' in string (use \\\\, \\\", \\n, \\t, \\r or \\u{…})"),
        Case(name: "bad unicode escape", text: body("  output \"\\u{D800}\" = %x"),
             expected: "5:11: error: '\\u{D800}' is not a Unicode scalar value"),
        Case(name: "raw control character in string", text: body("  output \"a\u{1}\" = %x"),
             expected: "5:12: error: control character U+0001 in string (write it as \\u{1})"),
        Case(name: "unexpected character", text: body("  %0 = neg(%x) ; f32[2, 3]"),
             expected: "5:16: error: unexpected character ';'"),
        Case(name: "NUL byte", text: body("  \u{0}"),
             expected: "5:3: error: unexpected character U+0000"),
        Case(name: "non-ASCII character", text: body("  %0 = neg(%x) : f32[2 × 3]"),
             expected: "5:24: error: unexpected character '×' (U+00D7)"),
        Case(name: "single slash", text: body("  / comment"),
             expected: "5:3: error: unexpected character '/' (comments start with '//')"),

        // File structure.
        Case(name: "empty file", text: "", expected: "1:1: error: expected 'graph' at the start of the file, found end of file"),
        Case(name: "only a comment", text: "// nothing here\n",
             expected: "2:1: error: expected 'graph' at the start of the file, found end of file"),
        Case(name: "missing header", text: "  input %x : f32[2]\n",
             expected: "1:3: error: expected 'graph' at the start of the file, found 'input'"),
        Case(name: "misspelt header", text: "grahp g {\n}\n",
             expected: "1:1: error: expected 'graph' at the start of the file, found 'grahp' (did you mean 'graph'?)"),
        Case(name: "missing graph name", text: "graph {\n}\n",
             expected: "1:7: error: expected a graph name after 'graph' (an identifier or a quoted string), found '{'"),
        Case(name: "missing '{'", text: "graph g\n  input %x : f32[2]\n}\n",
             expected: "2:3: error: expected '{' after the graph name, found 'input'"),
        Case(name: "missing closing brace", text: prelude,
             expected: "5:1: error: expected '}' to close graph 'g' (opened at 1:9), found end of file"),
        Case(name: "trailing garbage", text: prelude + "}\n}\n",
             expected: "6:1: error: unexpected '}' after the closing '}' of graph 'g'"),
        Case(name: "second graph", text: "graph a {}\ngraph b {}\n",
             expected: "2:1: error: unexpected 'graph' after the closing '}' of graph 'a'"),
        Case(name: "stray brace", text: body("  {"),
             expected: "5:3: error: expected a statement ('input', 'param', 'output', 'loss' or '%N = op(…)') or '}', found '{'"),
        Case(name: "output without '='", text: body("  output y %x"),
             expected: "5:12: error: expected '=' after output name 'y', found '%x'"),
    ]

    @Test(arguments: cases) func goldenDiagnostic(_ c: Case) {
        #expect(Self.diagnose(c.text) == c.expected)
    }

    @Test func diagnosticsFormatWithTheFileName() throws {
        do {
            _ = try parseGraph("graph g {\n  %0 = nope() : f32[]\n}\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.formatted(file: "model.graph") == "model.graph:2:8: error: unknown op 'nope'")
        }
    }

    @Test func invalidUTF8IsAPositionedError() {
        let prefix = Array(Self.prelude.utf8)
        #expect(Self.diagnose(prefix + [0x20, 0x20, 0xFF]) == "5:3: error: invalid UTF-8 byte 0xFF")
        #expect(Self.diagnose(prefix + Array("  // caf".utf8) + [0xC3, 0x28]) == "5:9: error: invalid UTF-8 byte 0xC3 in comment")
        #expect(Self.diagnose(prefix + Array("  output \"".utf8) + [0xED, 0xA0, 0x80, 0x22])
            == "5:11: error: invalid UTF-8 byte 0xED in string")  // an encoded surrogate
        #expect(Self.diagnose(prefix + Array("  output \"".utf8) + [0xC0, 0x80, 0x22])
            == "5:11: error: invalid UTF-8 byte 0xC0 in string")  // an overlong NUL
        #expect(Self.diagnose(prefix + Array("  output \"é".utf8) + [0xE2, 0x82])
            == "5:13: error: invalid UTF-8 byte 0xE2 in string")  // truncated at end of file
        let data = Data(prefix + [0xF8, 0x88, 0x80, 0x80, 0x80])
        #expect(throws: DiagnosticError.self) { try parseGraph(data) }
    }

    // MARK: Robustness

    /// A valid graph touching every part of the syntax, with multi-byte characters so prefixes split them.
    static let validGraph = """
        // résumé: comments may hold any UTF-8 ✓
        graph "naïve graph" {
          input %x : f32[2, 3]
          param %"poids é" : f32[3] trainable
          param %stats.mean : f64[]
          %0 = mul(%x, %"poids é") : f32[2, 3]
          %7 = scale(%0) {factor = -1.5e-3} : f32[2, 3]
          %8 = constant() {value = 2, shape = [2, 3], dtype = "f32"} : f32[2, 3]
          %9 = maximum(%7, %8) : f32[2, 3]
          output "sortie ✓" = %9
          loss total = %0
        }

        """

    @Test func everyPrefixFailsCleanlyOrParses() {
        let bytes = Array(Self.validGraph.utf8)
        let closing = bytes.lastIndex(of: UInt8(ascii: "}")) ?? bytes.count
        for length in 0...bytes.count {
            let prefix = Array(bytes[..<length])
            let result = Self.diagnose(prefix)
            if length > closing {
                #expect(result == "ok", "prefix of \(length) bytes")
            } else {
                #expect(result != "ok" && !result.hasPrefix("malformed"), "prefix of \(length) bytes: \(result)")
                Self.checkPosition(result, in: prefix)
            }
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED)
        let alphabet = Array("graph g{}()[],=:%\"\\ \n\t.-+e0123456789xyzf32f64inputparamoutputlossadd//é".utf8)
        for _ in 0..<400 {
            let length = Int(rng.next() % 160)
            let bytes = (0..<length).map { _ -> UInt8 in
                rng.next() % 2 == 0 ? alphabet[Int(rng.next() % UInt64(alphabet.count))] : UInt8(truncatingIfNeeded: rng.next())
            }
            Self.checkNoCrash(bytes)
        }
    }

    @Test func randomMutationsOfAValidGraphNeverCrash() {
        var rng = SplitMix64(seed: 42)
        let original = Array(Self.validGraph.utf8)
        let interesting = Array("{}()[],=:%\" \n.-e09%0%x#\u{0}".utf8) + [0xFF, 0xC3]
        var successes = 0
        for _ in 0..<500 {
            var bytes = original
            for _ in 0...(rng.next() % 4) {
                let at = Int(rng.next() % UInt64(bytes.count + 1))
                let byte = rng.next() % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : interesting[Int(rng.next() % UInt64(interesting.count))]
                switch rng.next() % 4 {
                case 0 where at < bytes.count: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                case 2 where at < bytes.count: bytes.remove(at: at)
                default:
                    // Duplicate a short span somewhere else (repeats tokens, statements, definitions).
                    let start = Int(rng.next() % UInt64(bytes.count)), length = Int(rng.next() % 24)
                    let span = bytes[start..<min(bytes.count, start + length)]
                    bytes.insert(contentsOf: span, at: Int(rng.next() % UInt64(bytes.count + 1)))
                }
            }
            let result = Self.checkNoCrash(bytes)
            if result == "ok" { successes += 1 }
        }
        // Some mutations (inside comments, names, whitespace) stay valid; those must round-trip (checked above).
        #expect(successes > 0)
    }

    @Test func deepNestingDoesNotRecurse() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(Self.diagnose(Self.body("  %0 = scale(%x) {factor = \(deep)} : f32[2, 3]"))
            == "5:29: error: expected a number, found '[' (attribute lists cannot be nested)")
        #expect(Self.diagnose(Self.body("  input %z : f32\(deep)"))
            == "5:18: error: expected a dimension (a positive integer), found '['")
        #expect(Self.diagnose(Self.body("  %0 = neg" + String(repeating: "(", count: 100_000)))
            == "5:12: error: expected a value such as '%0' or '%x', found '('")
        #expect(Self.diagnose(Self.body(String(repeating: "{", count: 100_000))).hasPrefix("5:1: error: expected a statement"))
    }

    @Test func megabyteLines() throws {
        let megabyte = 1 << 20
        // A long comment is skipped.
        #expect(Self.diagnose(Self.body("  // " + String(repeating: "x", count: megabyte))) == "ok")
        // A long identifier is named briefly, at its start.
        #expect(Self.diagnose(Self.body("  %0 = " + String(repeating: "a", count: megabyte) + "(%x) : f32[2, 3]"))
            == "5:8: error: unknown op '" + String(repeating: "a", count: 40) + "…'")
        // A long name survives the round trip.
        let name = String(repeating: "n", count: megabyte) + " ✓"
        let graph = try parseGraph("graph \(TextSyntax.quoted(name)) {\n}\n")
        #expect(graph.name == name)
        #expect(printGraph(graph) == "graph \(TextSyntax.quoted(name)) {\n}\n")
        // A long list is read (then rejected by the op's range check, at the list).
        let list = "[" + Array(repeating: "0", count: megabyte / 3).joined(separator: ", ") + "]"
        #expect(Self.diagnose(Self.body("  %0 = pad(%img) {mode = zero, pad = \(list)} : f32[1, 1, 4, 4]"))
            == "5:38: error: attribute 'pad' of 'pad': expected 4 values, got \(megabyte / 3)")
        // Long numbers: an integer overflows, a float rounds.
        #expect(Self.diagnose(Self.body("  %0 = scale(%x) {factor = " + String(repeating: "9", count: megabyte) + "} : f32[2, 3]"))
            == "5:28: error: integer literal '" + String(repeating: "9", count: 40) + "…' does not fit in 64 bits")
        let float = "1." + String(repeating: "0", count: megabyte) + "1"
        let scaled = try parseGraph(Self.body("  %0 = scale(%x) {factor = \(float)} : f32[2, 3]"))
        #expect(scaled.nodes[0].attributes["factor"] == .float(1))
    }

    // MARK: Helpers

    /// Parses `bytes`; on success checks the print → parse fixed point, on failure that the position is
    /// inside the text. Returns the `diagnose` string.
    @discardableResult
    static func checkNoCrash(_ bytes: [UInt8]) -> String {
        let result = diagnose(bytes)
        if result == "ok" {
            do {
                let printed = printGraph(try parseGraph(utf8: bytes))
                #expect(printGraph(try parseGraph(printed)) == printed)
            } catch {
                Issue.record("printed text does not parse: \(error)")
            }
        } else {
            #expect(!result.hasPrefix("malformed"), "\(result)")
            checkPosition(result, in: bytes)
        }
        return result
    }

    /// The "LINE:COL" of `result` is a position in `bytes` (at most one past the end of its line).
    static func checkPosition(_ result: String, in bytes: [UInt8]) {
        let parts = result.split(separator: ":", maxSplits: 2)
        guard parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]) else {
            Issue.record("unpositioned: \(result)")
            return
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        #expect(line >= 1 && line <= lines.count, "\(result)")
        if line >= 1 && line <= lines.count {
            #expect(column >= 1 && column <= lines[line - 1].count + 1, "\(result)")
        }
    }
}

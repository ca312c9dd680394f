import Foundation
import Testing

@testable import GraphIR

/// Golden tests of the text format: parse → canonical print → parse again gives the same text, and graphs
/// built in Swift survive print → parse unchanged.
@Suite struct TextFormatTests {
    /// Parses `text`, checks that it prints as `expected` and that the printed text is a fixed point.
    private func checkRoundTrip(_ text: String, prints expected: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let graph = try parseGraph(text)
        let printed = printGraph(graph)
        #expect(printed == expected, sourceLocation: sourceLocation)
        let reparsed = try parseGraph(printed)
        #expect(printGraph(reparsed) == printed, sourceLocation: sourceLocation)
        #expect(withoutLocations(reparsed) == withoutLocations(graph), sourceLocation: sourceLocation)
    }

    @Test func elementwiseBlockIsRenumberedAndDefaultsFilled() throws {
        try checkRoundTrip("""
            // A residual block in miniature: numbering starts at 10 and skips, types are spaced loosely.
            graph tiny_block {
              input %x : f32[2,3]
              param %gen_a.enc_content.model.0.conv.weight : f32[ 3 ] trainable
              param %running_mean : f32[3]   // not trainable
              %10 = mul(%x, %gen_a.enc_content.model.0.conv.weight) : f32[2, 3]
              %12 = sub(%10, %running_mean) : f32[2, 3]
              %13 = scale(%12) {factor = 2} : f32[2, 3]
              %20 = add(%13, %x) : f32[2, 3]
              %21 = constant() {shape = [], value = 1e-5} : f32[]
              output y = %20
              loss loss.total = %21
            }
            """, prints: """
            graph tiny_block {
              input %x : f32[2, 3]
              param %gen_a.enc_content.model.0.conv.weight : f32[3] trainable
              param %running_mean : f32[3]
              %0 = mul(%x, %gen_a.enc_content.model.0.conv.weight) : f32[2, 3]
              %1 = sub(%0, %running_mean) : f32[2, 3]
              %2 = scale(%1) {factor = 2.0} : f32[2, 3]
              %3 = add(%2, %x) : f32[2, 3]
              %4 = constant() {value = 1e-05, shape = [], dtype = f32} : f32[]
              output y = %3
              loss loss.total = %4
            }

            """)
    }

    @Test func quotedNamesAndStrings() throws {
        try checkRoundTrip("""
            graph "my graph" {
              input %"weird name" : f64[4]
              input %"0" : f64[4]
              input %_ok.name_2 : f64[]
              %0 = add(%"weird name", %"0") : f64[4]
              %1 = maximum(%0, %_ok.name_2) : f64[4]
              %2 = constant() {value = -3, shape = [4], dtype = "f64"} : f64[4]
              output "out put" = %1
              output "tab\\there \\"q\\" \\\\ é \\u{1}" = %2
              output ok.name = %"0"
            }
            """, prints: """
            graph "my graph" {
              input %"weird name" : f64[4]
              input %"0" : f64[4]
              input %_ok.name_2 : f64[]
              %0 = add(%"weird name", %"0") : f64[4]
              %1 = maximum(%0, %_ok.name_2) : f64[4]
              %2 = constant() {value = -3.0, shape = [4], dtype = f64} : f64[4]
              output "out put" = %1
              output "tab\\there \\"q\\" \\\\ é \\u{1}" = %2
              output ok.name = %"0"
            }

            """)
        let graph = try parseGraph(printGraph(try parseGraph("graph g { input %x : f32[] output \"a\\u{1F600}\\n\" = %x }")))
        #expect(graph.outputs.map(\.name) == ["a😀\n"])
    }

    @Test func floatSpellingsReadBackBitForBit() throws {
        let cases: [(written: String, printed: String)] = [
            ("2", "2.0"), ("-3", "-3.0"), ("0.1", "0.1"), ("1e-5", "1e-05"), ("1E5", "100000.0"),
            ("2.5E+3", "2500.0"), ("1e16", "1e+16"), ("-0.0", "-0.0"), ("0.30000000000000004", "0.30000000000000004"),
            ("9223372036854775807", "9.223372036854776e+18"), ("1e-320", "1e-320"), ("007.50", "7.5"),
        ]
        for (written, printed) in cases {
            let text = "graph g {\n  input %x : f32[]\n  %0 = scale(%x) {factor = \(written)} : f32[]\n}\n"
            let graph = try parseGraph(text)
            let line = printGraph(graph).split(separator: "\n")[2]
            #expect(line == "  %0 = scale(%x) {factor = \(printed)} : f32[]", "\(written)")
            let again = try parseGraph(printGraph(graph))
            #expect(again.nodes[0].attributes["factor"] == graph.nodes[0].attributes["factor"])
        }
    }

    @Test func integerAndListLiterals() throws {
        var lexer = Lexer(bytes: Array("-9223372036854775808 9223372036854775807 [] [1, 2.5] -0".utf8))
        var kinds: [TokenKind] = []
        while true {
            let token = try lexer.next()
            if token.kind == .endOfFile { break }
            kinds.append(token.kind)
        }
        #expect(kinds == [
            .integer(Int.min), .integer(Int.max), .leftBracket, .rightBracket,
            .leftBracket, .integer(1), .comma, .float(2.5), .rightBracket, .integer(0),
        ])
        #expect(attributeText(.floats([])) == "[]")
        #expect(attributeText(.ints([1, -2])) == "[1, -2]")
        #expect(attributeText(.floats([1, 0.5])) == "[1.0, 0.5]")
        #expect(attributeText(.string("true")) == "\"true\"")
        #expect(attributeText(.string("reflect")) == "reflect")
        #expect(attributeText(.string("a b")) == "\"a b\"")
        #expect(attributeText(.bool(false)) == "false")
    }

    @Test func listAttributesRoundTrip() throws {
        try checkRoundTrip("""
            graph padded {
              input %img : f32[1, 2, 4, 4]
              %0 = pad(%img) {pad = [1, 1, 2, 0], mode = reflect} : f32[1, 2, 6, 6]
              %1 = pad(%0) {mode = "zero", pad = [0, 0, 0, 0]} : f32[1, 2, 6, 6]
              output out = %1
            }
            """, prints: """
            graph padded {
              input %img : f32[1, 2, 4, 4]
              %0 = pad(%img) {mode = reflect, pad = [1, 1, 2, 0]} : f32[1, 2, 6, 6]
              %1 = pad(%0) {mode = zero, pad = [0, 0, 0, 0]} : f32[1, 2, 6, 6]
              output out = %1
            }

            """)
    }

    @Test func layoutIsFreeFormAndStatementsMayInterleave() throws {
        // One line, CRLF, a byte-order mark, an argument declared after a node, an empty attribute dict.
        let text = "\u{FEFF}graph g{input %a:f32[2]\r\n%5=neg(%a){}:f32[2] param %b:f32[2] trainable %6=add(%5,%b):f32[2] output o=%6}"
        try checkRoundTrip(text, prints: """
            graph g {
              input %a : f32[2]
              %0 = neg(%a) : f32[2]
              param %b : f32[2] trainable
              %1 = add(%0, %b) : f32[2]
              output o = %1
            }

            """)
        #expect(try parseGraph("graph g {}") == Graph(name: "g"))
        #expect(printGraph(Graph(name: "g")) == "graph g {\n}\n")
        #expect(printGraph(Graph(name: "")) == "graph \"\" {\n}\n")
    }

    @Test func parsedEntitiesCarryTheirLocations() throws {
        let graph = try parseGraph("""
            graph g {
              input %x : f32[2]
              %0 = neg(%x) : f32[2]
              output y = %0
            }
            """)
        #expect(graph.arguments[0].location == GraphIR.SourceLocation(line: 2, column: 9))
        #expect(graph.nodes[0].location == GraphIR.SourceLocation(line: 3, column: 8))
        #expect(graph.outputs[0].location == GraphIR.SourceLocation(line: 4, column: 10))
        // Columns count UTF-8 bytes: "é" is two.
        let accented = try parseGraph("graph g {\n  input %\"é\" : f32[2] input %z : f32[]\n}")
        #expect(accented.arguments[1].location == GraphIR.SourceLocation(line: 2, column: 30))
    }

    @Test func dataAndBytesOverloads() throws {
        let text = "graph g {\n  input %x : f32[2]\n  output y = %x\n}\n"
        #expect(printGraph(try parseGraph(Data(text.utf8))) == text)
        #expect(printGraph(try parseGraph(utf8: Array(text.utf8))) == text)
    }

    @Test func builtGraphsPrintAndParseBackEqual() throws {
        // Parameters created between nodes, as layer-by-layer builders do, keep their place.
        let b = GraphBuilder(name: "built")
        let x = b.input("x", TensorType(.f32, [2, 3]))
        let w = b.parameter("layer1.weight", TensorType(.f32, [3]))
        let h = try b.mul(x, w)
        let bias = b.parameter("layer1.bias", TensorType(.f32, [3]), trainable: false)
        let y = try b.add(b.exp(b.scale(h, by: 0.125)), bias)
        let z = try b.div(b.sqrt(b.abs(y)), b.reciprocal(b.shift(b.square(y), by: -1e-3)))
        let total = try b.neg(b.log(b.minimum(b.maximum(z, y), b.sub(z, y))))
        b.output("y", y)
        b.output("weird output", z)
        b.loss("total", total)
        let graph = b.graph

        let printed = printGraph(graph)
        let parsed = try parseGraph(printed)
        #expect(withoutLocations(parsed) == graph)
        #expect(printGraph(parsed) == printed)
        #expect(printed.hasPrefix("""
            graph built {
              input %x : f32[2, 3]
              param %layer1.weight : f32[3] trainable
              %0 = mul(%x, %layer1.weight) : f32[2, 3]
              param %layer1.bias : f32[3]
              %1 = scale(%0) {factor = 0.125} : f32[2, 3]
            """))
        #expect(printed.hasSuffix("""
              output y = %3
              output "weird output" = %9
              loss total = %14
            }

            """))
    }

    @Test func multiResultNodesPrintCommaSeparated() {
        // No op in the table has two results yet, so this one is local; the printer only reads the node.
        let split = OpDefinition(
            name: "split_halves", summary: "test op", operands: .fixed(["x"]),
            inferTypes: { types, _ throws(OpError) in [types[0], types[0]] },
            kernel: { inputs, _, _ in [inputs[0], inputs[0]] })
        var graph = Graph(name: "g")
        let x = graph.addArgument(name: "x", kind: .input, type: TensorType(.f32, [2]))
        let r = graph.appendNode(op: split, operands: [x], attributes: [:], resultTypes: [TensorType(.f32, [2]), TensorType(.f32, [2])])
        graph.addOutput(name: "b", value: r[1])
        #expect(printGraph(graph) == """
            graph g {
              input %x : f32[2]
              %0, %1 = split_halves(%x) : f32[2], f32[2]
              output b = %1
            }

            """)
        #expect(dotGraph(graph).contains("n0 -> o0 [label=\"#1 f32[2]\"];"))
    }

    @Test func malformedGraphsStillPrint() {
        var graph = Graph(name: "g")
        graph.appendNode(op: Ops.neg, operands: [ValueID(7)], attributes: [:], resultTypes: [TensorType(.f32, [])])
        graph.addOutput(name: "y", value: ValueID(-1))
        let printed = printGraph(graph)
        #expect(printed.contains("%0 = neg(%<invalid v7>) : f32[]"))
        #expect(throws: DiagnosticError.self) { try parseGraph(printed) }
        _ = dotGraph(graph)
    }

    @Test func largeGraphsParseInLinearTime() throws {
        var text = "graph chain {\n  input %x : f32[4]\n  %0 = neg(%x) : f32[4]\n"
        let count = 20_000
        for i in 1..<count { text += "  %\(i) = add(%\(i - 1), %x) : f32[4]\n" }
        text += "  output y = %\(count - 1)\n}\n"
        let start = ContinuousClock.now
        let graph = try parseGraph(text)
        #expect(graph.nodes.count == count)
        #expect(printGraph(graph) == text)
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    @Test func dotSnapshot() throws {
        let graph = try parseGraph("""
            graph "dot \\"demo\\"" {
              input %x : f32[2]
              param %w : f32[2] trainable
              param %"stats&mean" : f32[2]
              %0 = mul(%x, %w) : f32[2]
              %1 = sub(%0, %"stats&mean") : f32[2]
              output y = %1
              loss "l\\\\1" = %0
            }
            """)
        #expect(dotGraph(graph) == #"""
            digraph "dot \"demo\"" {
              rankdir=TB;
              node [fontname="Helvetica", fontsize=10];
              edge [fontname="Helvetica", fontsize=9];
              a0 [shape=ellipse, label="x\nf32[2]"];
              a1 [shape=ellipse, style=filled, fillcolor="#cfe2ff", label="w\nf32[2]\ntrainable"];
              a2 [shape=ellipse, style=filled, fillcolor="#e6e6e6", label="stats&amp;mean\nf32[2]"];
              n0 [shape=box, label="mul\nf32[2]"];
              n1 [shape=box, label="sub\nf32[2]"];
              o0 [shape=doubleoctagon, label="y"];
              o1 [shape=doubleoctagon, label="loss l\\1"];
              a0 -> n0 [label="f32[2]"];
              a1 -> n0 [label="f32[2]"];
              n0 -> n1 [label="f32[2]"];
              a2 -> n1 [label="f32[2]"];
              n1 -> o0 [label="f32[2]"];
              n0 -> o1 [label="f32[2]"];
            }

            """#)
    }
}

/// `graph` with every source location cleared, for comparing parsed graphs with built ones.
func withoutLocations(_ graph: Graph) -> Graph {
    var result = Graph(name: graph.name)
    var a = 0, n = 0
    // Rebuild in value order, as the graph was built.
    while a < graph.arguments.count || n < graph.nodes.count {
        let nodeKey = n < graph.nodes.count ? (graph.nodes[n].results.first?.index ?? -1) : Int.max
        if a < graph.arguments.count && graph.arguments[a].value.index < nodeKey {
            let arg = graph.arguments[a]
            result.addArgument(name: arg.name, kind: arg.kind, type: graph.type(of: arg.value))
            a += 1
        } else {
            let node = graph.nodes[n]
            result.appendNode(op: node.op, operands: node.operands, attributes: node.attributes,
                              resultTypes: node.results.map(graph.type(of:)))
            n += 1
        }
    }
    for output in graph.outputs {
        result.addOutput(name: output.name, value: output.value, isLoss: output.isLoss)
    }
    return result
}

/// Fused nodes print their region in braces and parse back; the verifier checks region against node.
@Suite struct FusedRegionTextTests {
    static let text = """
        graph g {
          input %x : f32[2, 3]
          input %s : f32[]
          %0, %1 = fused(%x, %s) {kind = elementwise} : f32[2, 3], f32[2, 3] {
            input %a0 : f32[2, 3]
            %0 = constant() {value = 0.5, shape = [], dtype = f32} : f32[]
            %1 = mul(%a0, %0) : f32[2, 3]
            input %a1 : f32[]
            %2 = add(%1, %a1) : f32[2, 3]
            output r0 = %1
            output r1 = %2
          }
          %2 = relu(%1) : f32[2, 3]
          output y = %2
          output z = %0
        }

        """

    @Test func roundTripsAndRuns() throws {
        let graph = try parseGraph(Self.text)
        try graph.verified()
        #expect(printGraph(graph) == Self.text)
        #expect(graph.nodes[0].region?.nodes.count == 3)
        let x = Tensor(.f32, shape: [2, 3], scalars: [-2, -1, 0, 1, 2, 3])
        let out = try Interpreter(graph: graph).run(["x": x, "s": Tensor(.f32, shape: [], scalars: [0.25])])
        #expect(out["z"]?.scalars == [-1, -0.5, 0, 0.5, 1, 1.5])
        #expect(out["y"]?.scalars == [0, 0, 0.25, 0.75, 1.25, 1.75])
    }

    @Test func regionMismatchesAreDiagnosed() throws {
        let wrongArgument = Self.text.replacingOccurrences(of: "input %a1 : f32[]", with: "input %a1 : f32[3]")
        #expect(throws: DiagnosticError.self) { _ = try parseGraph(wrongArgument) }
        let unclosed = Self.text.replacingOccurrences(of: "    output r1 = %2\n  }\n", with: "    output r1 = %2\n")
        let error = #expect(throws: DiagnosticError.self) { _ = try parseGraph(unclosed) }
        // The outer graph's statements now sit in the region: '%2' is defined twice there, at line 12.
        #expect(error.map { "\($0)" }?.contains("12:3: error: redefinition of '%2'") == true, "\(error.map { "\($0)" } ?? "")")
        var graph = try parseGraph(Self.text)
        graph.outputs.append(Output(name: "w", value: ValueID(99), isLoss: false))
        #expect(!verify(graph).isEmpty)
    }
}

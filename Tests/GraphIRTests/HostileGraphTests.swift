import Foundation
import Testing
@testable import GraphIR

/// The reproductions of issue 17 (items 1 and 2): attribute values whose shape arithmetic overflows, and fused
/// regions nested past any real graph. Each must end in one positioned diagnostic, quickly.
@Suite struct HostileGraphTests {
    static func diagnose(_ text: String) -> String { ParserDiagnosticsTests.diagnose(text) }

    static let overflows: [(String, String)] = [
        ("  %0 = pad(%img) {mode = zero, pad = [9223372036854775807, 1, 1, 1]} : f32[1, 1, 6, 6]",
         "5:8: error: 'pad' width W + left + right = 4 + 9223372036854775807 + 1 overflows a 64-bit integer"),
        ("  %0 = pad(%img) {mode = replicate, pad = [0, 0, 1, 9223372036854775807]} : f32[1, 1, 6, 6]",
         "5:8: error: 'pad' height H + top + bottom = 4 + 1 + 9223372036854775807 overflows a 64-bit integer"),
        ("  %0 = conv2d(%img, %w) {stride = [1, 1], pad = [9223372036854775807, 9223372036854775807, 0, 0]} : f32[1, 1, 2, 2]",
         "5:8: error: 'conv2d' padded width W + left + right = 4 + 9223372036854775807 + 9223372036854775807 overflows a 64-bit integer"),
        ("  %0 = upsample_nearest(%img) {scale = [4611686018427387904, 4611686018427387904]} : f32[1, 1, 8, 8]",
         "5:8: error: 'upsample_nearest' height H · sh = 4 · 4611686018427387904 overflows a 64-bit integer"),
        ("  %0 = pad_backward(%img) {mode = zero, pad = [9223372036854775807, 9223372036854775807, 0, 0]} : f32[1, 1, 4, 4]",
         "5:8: error: 'pad_backward' crop left + right = 9223372036854775807 + 9223372036854775807 overflows a 64-bit integer"),
        ("  %0 = avg_pool2d(%img) {kernel = [1, 1], stride = [1, 1], pad = [0, 0, 0, 9223372036854775807]} : f32[1, 1, 4, 4]",
         "5:8: error: 'avg_pool2d' pad [0, 0, 0, 9223372036854775807] ([left, right, top, bottom]) must be at most half the kernel [1, 1] on each axis"),
        ("  %0 = upsample_nearest(%img) {scale = [1099511627776, 2]} : f32[1, 1, 8, 8]",
         "5:8: error: 'upsample_nearest' result: shape [1, 1, 4398046511104, 8] has more than 1099511627776 elements"),
    ]

    @Test(arguments: 0..<overflows.count) func shapeArithmeticOverflowIsAPositionedError(_ i: Int) {
        let text = """
            graph g {
              input %img : f32[1, 1, 4, 4]
              param %w : f32[1, 1, 3, 3]

            \(Self.overflows[i].0)
            }

            """
        #expect(Self.diagnose(text) == Self.overflows[i].1)
    }

    /// The verifier (graphs built in code) reports the same overflow, at the node.
    @Test func verifierReportsOverflowToo() {
        var graph = Graph(name: "g")
        let x = graph.addArgument(name: "x", kind: .input, type: TensorType(.f32, [1, 1, 4, 4]))
        _ = graph.appendNode(op: Ops.pad, operands: [x], attributes: ["mode": .string("zero"), "pad": .ints([.max, 1, 1, 1])],
                             resultTypes: [TensorType(.f32, [1, 1, 6, 6])])
        #expect(verify(graph).map(\.message) == ["'pad' width W + left + right = 4 + 9223372036854775807 + 1 overflows a 64-bit integer"])
    }

    /// `depth` fused nodes, each holding the next in its region, around one relu.
    static func nested(depth: Int) -> String {
        var lines = ["graph g {", "  input %x : f32[2]"]
        for _ in 0..<depth { lines += ["%0 = fused(%x) {kind = elementwise} : f32[2] {", "input %x : f32[2]"] }
        lines.append("%0 = relu(%x) : f32[2]")
        for _ in 0..<depth { lines += ["output y = %0", "}"] }
        lines += ["output y = %0", "}", ""]
        return lines.joined(separator: "\n")
    }

    @Test func fusedRegionsNestUpToTheLimit() throws {
        let graph = try parseGraph(Self.nested(depth: maxFusedRegionDepth))
        var depth = 0, region: Graph? = graph
        while let inner = region?.nodes.first?.region { depth += 1; region = inner }
        #expect(depth == maxFusedRegionDepth)
    }

    @Test(arguments: [maxFusedRegionDepth + 1, 4_000, 100_000])
    func deeperRegionsAreAPositionedErrorInLinearTime(_ depth: Int) {
        let text = Self.nested(depth: depth)
        let start = Date()
        let line = 2 * maxFusedRegionDepth + 3, column = 46
        #expect(Self.diagnose(text) == "\(line):\(column): error: fused regions nest more than \(maxFusedRegionDepth) "
            + "levels deep (this region would be level \(maxFusedRegionDepth + 1))")
        #expect(Date().timeIntervalSince(start) < 5, "depth \(depth)")
    }

    /// Within the limit, a file of many regions parses in time proportional to its size.
    @Test func parsingNestedRegionsIsLinear() throws {
        func seconds(copies: Int) throws -> Double {
            var lines = ["graph g {", "  input %x : f32[2]"]
            for i in 0..<copies {
                let nest = Self.nested(depth: maxFusedRegionDepth).split(separator: "\n").dropFirst(2).dropLast(2)
                lines += nest.map { $0.replacingOccurrences(of: "%0", with: "%\(i)") }
            }
            lines += ["output y = %0", "}", ""]
            let text = lines.joined(separator: "\n")
            let start = Date()
            _ = try parseGraph(text)
            return Date().timeIntervalSince(start)
        }
        _ = try seconds(copies: 20)  // warm up
        let small = try seconds(copies: 100), large = try seconds(copies: 800)
        #expect(large < 8 * small * 2.5 + 0.05, "100 copies: \(small) s, 800 copies: \(large) s")
    }

    /// A graph built in code can nest deeper than text may: the verifier reports it instead of recursing on.
    @Test func verifierBoundsRegionDepth() {
        var inner = Graph(name: "region")
        let x = inner.addArgument(name: "x", kind: .input, type: TensorType(.f32, [2]))
        inner.addOutput(name: "y", value: inner.appendNode(op: Ops.relu, operands: [x], attributes: [:],
                                                            resultTypes: [TensorType(.f32, [2])])[0])
        for _ in 0..<(maxFusedRegionDepth + 4) {
            var outer = Graph(name: "region")
            let arg = outer.addArgument(name: "x", kind: .input, type: TensorType(.f32, [2]))
            outer.addOutput(name: "y", value: outer.appendFusedNode(kind: .elementwise, operands: [arg], region: inner)[0])
            inner = outer
        }
        #expect(verify(inner).contains { $0.message.contains("fused regions nest more than \(maxFusedRegionDepth) levels deep") })
    }
}

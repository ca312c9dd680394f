import Testing
@testable import GraphIR

/// Builds a one-output graph on the given input tensors, checks it verifies, and runs it in the interpreter.
/// Shared by the op test files of this folder.
enum OpHarness {
    static func tensor(_ shape: [Int], _ scalars: [Double], _ dtype: DType = .f64) -> Tensor {
        Tensor(dtype, shape: shape, scalars: scalars)
    }

    /// Runs `body` with one graph input per tensor (named in0, in1, …) and returns the value it produces.
    static func run(_ inputs: [Tensor], _ body: (GraphBuilder, [ValueID]) throws -> ValueID) throws -> Tensor {
        let b = GraphBuilder(name: "op_test")
        let ids = inputs.enumerated().map { b.input("in\($0.offset)", $0.element.type) }
        b.output("out", try body(b, ids))
        let problems = verify(b.graph)
        #expect(problems.isEmpty, "verifier: \(problems)")
        var arguments: [String: Tensor] = [:]
        for (i, t) in inputs.enumerated() { arguments["in\(i)"] = t }
        let outputs = try Interpreter(graph: b.graph).run(arguments)
        return try #require(outputs["out"])
    }

    /// Runs `body` and returns the OpError it throws, or nil (recording a failure) when it throws none.
    static func error(
        _ body: (GraphBuilder) throws -> Void, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> OpError? {
        let b = GraphBuilder(name: "op_error_test")
        return #expect(throws: OpError.self, sourceLocation: sourceLocation) { try body(b) }
    }

    /// Expects `actual` to have `shape` and values within `tolerance` of `expected`, relative to
    /// max(|expected|, 1); infinities must match exactly and NaN must match NaN.
    static func expectClose(
        _ actual: Tensor, _ expected: [Double], shape: [Int], tolerance: Double = 1e-15,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        #expect(actual.shape == shape, sourceLocation: sourceLocation)
        guard actual.scalars.count == expected.count else {
            Issue.record("\(actual.scalars.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
            return
        }
        for (i, (a, e)) in zip(actual.scalars, expected).enumerated() {
            let ok = a == e || (e.isNaN && a.isNaN) || Swift.abs(a - e) <= tolerance * Swift.max(Swift.abs(e), 1)
            #expect(ok, "element \(i): \(a), expected \(e)", sourceLocation: sourceLocation)
        }
    }

    /// Row-major index → multi-index for `shape` (for expected values written by definition).
    static func unravel(_ index: Int, _ shape: [Int]) -> [Int] {
        var rest = index
        var result = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            result[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return result
    }

    /// Multi-index → row-major index.
    static func ravel(_ index: [Int], _ shape: [Int]) -> Int {
        zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
    }

    /// `count` reproducible values in `range`.
    static func randomScalars(_ count: Int, in range: ClosedRange<Double> = -3...3, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Double.random(in: range, using: &rng) }
    }
}

@Suite struct ElementwiseOpsTests {
    typealias H = OpHarness

    /// Runs a binary builder method on two tensors.
    func binary(
        _ a: Tensor, _ b: Tensor, _ op: (GraphBuilder) -> (ValueID, ValueID) throws -> ValueID
    ) throws -> Tensor {
        try H.run([a, b]) { g, v in try op(g)(v[0], v[1]) }
    }

    @Test func arithmeticOnHandWorkedValues() throws {
        let a = H.tensor([4], [1, -2, 3.5, 0]), b = H.tensor([4], [2, 4, -0.5, 3])
        H.expectClose(try binary(a, b, GraphBuilder.add), [3, 2, 3, 3], shape: [4])
        H.expectClose(try binary(a, b, GraphBuilder.sub), [-1, -6, 4, -3], shape: [4])
        H.expectClose(try binary(a, b, GraphBuilder.mul), [2, -8, -1.75, 0], shape: [4])
        H.expectClose(try binary(a, b, GraphBuilder.div), [0.5, -0.5, -7, 0], shape: [4])
        H.expectClose(try binary(a, b, GraphBuilder.maximum), [2, 4, 3.5, 3], shape: [4])
        H.expectClose(try binary(a, b, GraphBuilder.minimum), [1, -2, -0.5, 0], shape: [4])
    }

    @Test func divisionByZeroFollowsIEEE() throws {
        let out = try binary(H.tensor([3], [1, -1, 0]), H.tensor([3], [0, 0, 0]), GraphBuilder.div)
        H.expectClose(out, [.infinity, -.infinity, .nan], shape: [3])
    }

    @Test func unaryOnHandWorkedValues() throws {
        func unary(_ xs: [Double], _ op: (GraphBuilder, ValueID) throws -> ValueID) throws -> Tensor {
            try H.run([H.tensor([xs.count], xs)]) { g, v in try op(g, v[0]) }
        }
        H.expectClose(try unary([2, -3, 0]) { try $0.neg($1) }, [-2, 3, 0], shape: [3])
        H.expectClose(try unary([2, -3, 0]) { try $0.abs($1) }, [2, 3, 0], shape: [3])
        H.expectClose(try unary([2, -3, 0.5]) { try $0.square($1) }, [4, 9, 0.25], shape: [3])
        H.expectClose(try unary([4, 2, 0]) { try $0.sqrt($1) }, [2, 1.4142135623730951, 0], shape: [3])
        H.expectClose(try unary([0, 1, -1]) { try $0.exp($1) }, [1, 2.718281828459045, 0.36787944117144233], shape: [3])
        H.expectClose(try unary([1, 2, 0]) { try $0.log($1) }, [0, 0.6931471805599453, -.infinity], shape: [3])
        H.expectClose(try unary([4, -0.5, 0]) { try $0.reciprocal($1) }, [0.25, -2, .infinity], shape: [3])
        H.expectClose(try unary([1, -2, 0.5]) { try $0.scale($1, by: -3) }, [-3, 6, -1.5], shape: [3])
        H.expectClose(try unary([1, -2, 0.5]) { try $0.shift($1, by: 0.25) }, [1.25, -1.75, 0.75], shape: [3])
        H.expectClose(try unary([-1]) { try $0.sqrt($1) }, [.nan], shape: [1])
    }

    @Test func broadcastingWithARankZeroScalar() throws {
        let x = H.tensor([2, 3], [1, 2, 3, 4, 5, 6]), s = H.tensor([], [10])
        H.expectClose(try binary(x, s, GraphBuilder.sub), [-9, -8, -7, -6, -5, -4], shape: [2, 3])
        H.expectClose(try binary(s, x, GraphBuilder.sub), [9, 8, 7, 6, 5, 4], shape: [2, 3])
        H.expectClose(try binary(s, s, GraphBuilder.mul), [100], shape: [])
    }

    @Test func broadcastingOuterProductOfSizeOneAxes() throws {
        let column = H.tensor([2, 1], [1, 2]), row = H.tensor([1, 3], [10, 20, 30])
        H.expectClose(try binary(column, row, GraphBuilder.mul), [10, 20, 30, 20, 40, 60], shape: [2, 3])
        H.expectClose(try binary(row, column, GraphBuilder.add), [11, 21, 31, 12, 22, 32], shape: [2, 3])
    }

    @Test func broadcastingMissingLeadingAxesAgainstRank3() throws {
        // [2, 1, 3] with [4, 1] gives [2, 4, 3]: out[i, j, k] = a[i, 0, k] − b[j, 0].
        let a = H.tensor([2, 1, 3], H.randomScalars(6, seed: 1)), b = H.tensor([4, 1], H.randomScalars(4, seed: 2))
        let shape = [2, 4, 3]
        let expected = (0..<24).map { i -> Double in
            let idx = H.unravel(i, shape)
            return a.scalars[H.ravel([idx[0], 0, idx[2]], [2, 1, 3])] - b.scalars[idx[1]]
        }
        H.expectClose(try binary(a, b, GraphBuilder.sub), expected, shape: shape)
    }

    @Test func float32AgreesWithFloat64() throws {
        let xs = H.randomScalars(12, in: 0.1...4, seed: 3), ys = H.randomScalars(12, in: 0.1...4, seed: 4)
        let x32 = H.tensor([3, 4], xs, .f32), y32 = H.tensor([3, 4], ys, .f32)
        // The same (f32-representable) inputs in f64: the f32 results are the f64 ones rounded.
        let x64 = x32.converted(to: .f64), y64 = y32.converted(to: .f64)
        let graphs: [(GraphBuilder, ValueID, ValueID) throws -> ValueID] = [
            { g, x, y in try g.div(x, y) }, { g, x, y in try g.log(g.mul(x, y)) }, { g, x, _ in try g.sqrt(g.exp(x)) },
        ]
        for graph in graphs {
            let low = try H.run([x32, y32]) { g, v in try graph(g, v[0], v[1]) }
            let high = try H.run([x64, y64]) { g, v in try graph(g, v[0], v[1]) }
            #expect(low.dtype == .f32 && high.dtype == .f64)
            H.expectClose(low, high.scalars, shape: [3, 4], tolerance: 1e-6)
            let representable = low.scalars.allSatisfy { Double(Float($0)) == $0 }
            #expect(representable)
        }
    }

    @Test func float32ResultsAreRoundedToFloat() throws {
        let out = try H.run([H.tensor([1], [1], .f32), H.tensor([1], [3], .f32)]) { g, v in try g.div(v[0], v[1]) }
        #expect(out.scalars == [Double(Float(1.0 / 3.0))])
    }

    @Test func rejectsIncompatibleBroadcast() {
        let e = H.error { g in
            _ = try g.add(g.input("a", TensorType(.f32, [2, 3])), g.input("b", TensorType(.f32, [4])))
        }
        #expect(e?.message.contains("cannot broadcast [2, 3] with [4]") == true)
    }

    @Test func rejectsMixedDTypes() {
        let e = H.error { g in
            _ = try g.mul(g.input("a", TensorType(.f32, [2])), g.input("b", TensorType(.f64, [2])))
        }
        #expect(e?.message.contains("mixes f32 and f64") == true)
    }

    @Test func rejectsMissingAndUnknownAttributes() {
        let missing = H.error { g in _ = try g.apply(Ops.scale, [g.input("x", TensorType(.f32, [2]))]) }
        #expect(missing?.message.contains("needs attribute 'factor'") == true)
        let unknown = H.error { g in
            _ = try g.apply(Ops.neg, [g.input("x", TensorType(.f32, [2]))], ["factor": .float(2)])
        }
        #expect(unknown?.message.contains("has no attribute 'factor'") == true)
        let wrongKind = H.error { g in
            _ = try g.apply(Ops.shift, [g.input("x", TensorType(.f32, [2]))], ["offset": .string("one")])
        }
        #expect(wrongKind?.message.contains("must be float") == true)
    }

    @Test func costCountsBroadcastResultAndOperandBytes() throws {
        let types = [TensorType(.f32, [2, 3]), TensorType(.f32, [])]
        let results = try Ops.add.inferTypes(types, [:])
        #expect(Ops.add.cost(types, results, [:]) == Cost(flops: 6, bytes: (6 + 1 + 6) * 4))
    }
}

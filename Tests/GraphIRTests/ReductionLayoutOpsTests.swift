import Testing
@testable import GraphIR

@Suite struct ReductionOpsTests {
    typealias H = OpHarness

    let matrix = OpHarness.tensor([2, 3], [1, 2, 3, 4, 5, 6])

    /// Σ (or mean) of x over `axes` by definition: every output cell sums the input cells that agree with it
    /// on the kept axes. Returned in the keepdims layout (same element order either way).
    func reference(_ x: Tensor, axes: Set<Int>, mean: Bool) -> [Double] {
        let kept = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var out = [Double](repeating: 0, count: kept.reduce(1, *))
        for i in x.scalars.indices {
            let idx = H.unravel(i, x.shape).enumerated().map { axes.contains($0.offset) ? 0 : $0.element }
            out[H.ravel(idx, kept)] += x.scalars[i]
        }
        let count = Double(axes.reduce(1) { $0 * x.shape[$1] })
        return mean ? out.map { $0 / count } : out
    }

    @Test func sumAndMeanOfAMatrixByHand() throws {
        H.expectClose(try H.run([matrix]) { g, v in try g.reduceSum(v[0], axes: [1]) }, [6, 15], shape: [2])
        H.expectClose(try H.run([matrix]) { g, v in try g.reduceSum(v[0], axes: [0]) }, [5, 7, 9], shape: [3])
        let rows = try H.run([matrix]) { g, v in try g.reduceMean(v[0], axes: [1], keepdims: true) }
        H.expectClose(rows, [2, 5], shape: [2, 1])
        let columns = try H.run([matrix]) { g, v in try g.reduceMean(v[0], axes: [0], keepdims: true) }
        H.expectClose(columns, [2.5, 3.5, 4.5], shape: [1, 3])
    }

    @Test func allAxesGiveARankZeroScalar() throws {
        H.expectClose(try H.run([matrix]) { g, v in try g.reduceSum(v[0], axes: [0, 1]) }, [21], shape: [])
        H.expectClose(try H.run([matrix]) { g, v in try g.reduceMean(v[0], axes: [0, 1]) }, [3.5], shape: [])
        let kept = try H.run([matrix]) { g, v in try g.reduceMean(v[0], axes: [0, 1], keepdims: true) }
        H.expectClose(kept, [3.5], shape: [1, 1])
        H.expectClose(try H.run([matrix]) { g, v in try g.meanAll(v[0]) }, [3.5], shape: [])
    }

    @Test(arguments: [[0, 2], [1, 3], [0, 1, 3], [2], [0, 1, 2, 3]])
    func severalAxesOfRank4(axes: [Int]) throws {
        let shape = [2, 3, 4, 2]
        let x = H.tensor(shape, H.randomScalars(48, seed: 31))
        for mean in [false, true] {
            let expected = reference(x, axes: Set(axes), mean: mean)
            let kept = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            let dropped = shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
            for keepdims in [false, true] {
                let out = try H.run([x]) { g, v in
                    mean ? try g.reduceMean(v[0], axes: axes, keepdims: keepdims)
                        : try g.reduceSum(v[0], axes: axes, keepdims: keepdims)
                }
                H.expectClose(out, expected, shape: keepdims ? kept : dropped, tolerance: 1e-14)
            }
        }
    }

    @Test func float32AgreesWithFloat64() throws {
        let xs = H.tensor([3, 5, 7], H.randomScalars(105, seed: 32), .f32).scalars
        let run = { (dtype: DType) in
            try H.run([H.tensor([3, 5, 7], xs, dtype)]) { g, v in try g.reduceMean(v[0], axes: [0, 2]) }
        }
        let low = try run(.f32), high = try run(.f64)
        #expect(low.dtype == .f32)
        H.expectClose(low, high.scalars, shape: [5], tolerance: 1e-6)
    }

    @Test func builderCanonicalisesAxes() throws {
        let g = GraphBuilder(name: "axes")
        let s = try g.reduceSum(g.input("x", TensorType(.f32, [2, 3, 4])), axes: [-1, 0])
        #expect(g.graph.definingNode(of: s)?.attributes["axes"] == .ints([0, 2]))
        #expect(g.shape(of: s) == [3])
    }

    @Test func rejectsBadAxes() {
        let x = TensorType(.f32, [2, 3, 4])
        let empty = H.error { g in _ = try g.reduceSum(g.input("x", x), axes: []) }
        #expect(empty?.message.contains("at least one axis") == true)
        let duplicate = H.error { g in _ = try g.reduceMean(g.input("x", x), axes: [1, 1]) }
        #expect(duplicate?.message.contains("axis 1 is listed twice") == true)
        let negative = H.error { g in _ = try g.reduceMean(g.input("x", x), axes: [1, 1 - 5]) }
        #expect(negative?.message.contains("axis -4 is negative") == true)
        let range = H.error { g in _ = try g.reduceSum(g.input("x", x), axes: [3]) }
        #expect(range?.message.contains("axis 3 is out of range") == true)
        // The IR form must be sorted; only the builder sorts.
        let unsorted = H.error { g in _ = try g.apply(Ops.reduceSum, [g.input("x", x)], ["axes": .ints([2, 0])]) }
        #expect(unsorted?.message.contains("increasing order") == true)
        let missing = H.error { g in _ = try g.apply(Ops.reduceSum, [g.input("x", x)]) }
        #expect(missing?.message.contains("needs attribute 'axes'") == true)
        let scalar = H.error { g in _ = try g.reduceSum(g.input("x", TensorType(.f32, [])), axes: [0]) }
        #expect(scalar?.message.contains("out of range") == true)
    }
}

@Suite struct LayoutOpsTests {
    typealias H = OpHarness

    @Test func reshapeKeepsRowMajorOrder() throws {
        let x = H.tensor([2, 3], [1, 2, 3, 4, 5, 6])
        H.expectClose(try H.run([x]) { g, v in try g.reshape(v[0], to: [3, 2]) }, x.scalars, shape: [3, 2])
        H.expectClose(try H.run([x]) { g, v in try g.reshape(v[0], to: [-1]) }, x.scalars, shape: [6])
        H.expectClose(try H.run([x]) { g, v in try g.reshape(v[0], to: [1, -1, 2]) }, x.scalars, shape: [1, 3, 2])
        let one = H.tensor([1, 1], [7])
        H.expectClose(try H.run([one]) { g, v in try g.reshape(v[0], to: []) }, [7], shape: [])
    }

    @Test func reshapeRejections() {
        let x = TensorType(.f32, [2, 3])
        let count = H.error { g in _ = try g.reshape(g.input("x", x), to: [4, 2]) }
        #expect(count?.message.contains("cannot view f32[2, 3] (6 elements) as [4, 2] (8 elements)") == true)
        let holes = H.error { g in _ = try g.reshape(g.input("x", x), to: [-1, -1]) }
        #expect(holes?.message.contains("only one dimension may be -1") == true)
        let indivisible = H.error { g in _ = try g.reshape(g.input("x", x), to: [4, -1]) }
        #expect(indivisible?.message.contains("cannot infer") == true)
        let zero = H.error { g in _ = try g.reshape(g.input("x", x), to: [0, 6]) }
        #expect(zero?.message.contains("must be positive") == true)
    }

    @Test func transposeOfAMatrixByHand() throws {
        let x = H.tensor([2, 3], [1, 2, 3, 4, 5, 6])
        H.expectClose(try H.run([x]) { g, v in try g.transpose(v[0], perm: [1, 0]) }, [1, 4, 2, 5, 3, 6], shape: [3, 2])
    }

    @Test(arguments: [[0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 3, 2], [0, 1, 2, 3]])
    func transposeOfRank4(perm: [Int]) throws {
        let shape = [2, 3, 4, 5]
        let x = H.tensor(shape, (0..<120).map(Double.init))
        let outShape = perm.map { shape[$0] }
        // out[i0, i1, i2, i3] = x[j] where j[perm[k]] = i[k].
        let expected = (0..<120).map { i -> Double in
            let out = H.unravel(i, outShape)
            var source = [Int](repeating: 0, count: 4)
            for k in 0..<4 { source[perm[k]] = out[k] }
            return x.scalars[H.ravel(source, shape)]
        }
        H.expectClose(try H.run([x]) { g, v in try g.transpose(v[0], perm: perm) }, expected, shape: outShape)
    }

    @Test func transposeRejections() {
        let x = TensorType(.f32, [2, 3, 4])
        let repeated = H.error { g in _ = try g.transpose(g.input("x", x), perm: [0, 0, 1]) }
        #expect(repeated?.message.contains("is not a permutation of 0..<3") == true)
        let outside = H.error { g in _ = try g.transpose(g.input("x", x), perm: [0, 1, 3]) }
        #expect(outside?.message.contains("is not a permutation") == true)
        let length = H.error { g in _ = try g.transpose(g.input("x", x), perm: [1, 0]) }
        #expect(length?.message.contains("has 2 axes, but x f32[2, 3, 4] has rank 3") == true)
    }

    @Test func sliceInteriorAndEdges() throws {
        let x = H.tensor([3, 4], (0..<12).map(Double.init))
        func slice(_ starts: [Int], _ ends: [Int]) throws -> Tensor {
            try H.run([x]) { g, v in try g.slice(v[0], starts: starts, ends: ends) }
        }
        H.expectClose(try slice([1, 1], [3, 3]), [5, 6, 9, 10], shape: [2, 2])
        H.expectClose(try slice([0, 0], [3, 4]), x.scalars, shape: [3, 4])
        H.expectClose(try slice([2, 3], [3, 4]), [11], shape: [1, 1])
        H.expectClose(try slice([0, 0], [1, 4]), [0, 1, 2, 3], shape: [1, 4])
        H.expectClose(try slice([0, 3], [3, 4]), [3, 7, 11], shape: [3, 1])
    }

    @Test func sliceOfRank3ByDefinition() throws {
        let shape = [2, 3, 4], starts = [1, 0, 1], ends = [2, 3, 4]
        let x = H.tensor(shape, H.randomScalars(24, seed: 41))
        let outShape = zip(starts, ends).map { $1 - $0 }
        let expected = (0..<outShape.reduce(1, *)).map { i -> Double in
            let idx = zip(H.unravel(i, outShape), starts).map { $0 + $1 }
            return x.scalars[H.ravel(idx, shape)]
        }
        H.expectClose(try H.run([x]) { g, v in try g.slice(v[0], starts: starts, ends: ends) }, expected, shape: outShape)
    }

    @Test func sliceRejections() {
        let x = TensorType(.f32, [3, 4])
        let past = H.error { g in _ = try g.slice(g.input("x", x), starts: [0, 2], ends: [3, 5]) }
        #expect(past?.message.contains("range 2..<5 on axis 1 must be non-empty and within 0..<4") == true)
        let empty = H.error { g in _ = try g.slice(g.input("x", x), starts: [1, 0], ends: [1, 4]) }
        #expect(empty?.message.contains("on axis 0") == true)
        let negative = H.error { g in _ = try g.slice(g.input("x", x), starts: [-1, 0], ends: [2, 4]) }
        #expect(negative?.message.contains("value -1 is negative") == true)
        let count = H.error { g in _ = try g.slice(g.input("x", x), starts: [0], ends: [2]) }
        #expect(count?.message.contains("one start and one end per axis") == true)
    }

    @Test func concatOnAxes0And1() throws {
        let a = H.tensor([2, 2], [1, 2, 3, 4]), b = H.tensor([2, 1], [5, 6]), c = H.tensor([1, 2], [7, 8])
        H.expectClose(try H.run([a, b]) { g, v in try g.concat(v, axis: 1) }, [1, 2, 5, 3, 4, 6], shape: [2, 3])
        H.expectClose(try H.run([a, c]) { g, v in try g.concat(v, axis: 0) }, [1, 2, 3, 4, 7, 8], shape: [3, 2])
        H.expectClose(try H.run([a]) { g, v in try g.concat(v, axis: 0) }, a.scalars, shape: [2, 2])
    }

    @Test func concatChannelsOfNCHW() throws {
        // Three operands on axis 1 of rank 4: out[n, c, h, w] takes channel c from the operand that owns it.
        let shapes = [[2, 1, 2, 2], [2, 3, 2, 2], [2, 2, 2, 2]]
        let xs = shapes.enumerated().map { i, shape in
            H.tensor(shape, H.randomScalars(shape.reduce(1, *), seed: UInt64(50 + i)))
        }
        let outShape = [2, 6, 2, 2]
        let expected = (0..<48).map { i -> Double in
            var idx = H.unravel(i, outShape)
            var k = 0
            while idx[1] >= shapes[k][1] { idx[1] -= shapes[k][1]; k += 1 }
            return xs[k].scalars[H.ravel(idx, shapes[k])]
        }
        H.expectClose(try H.run(xs) { g, v in try g.concat(v, axis: 1) }, expected, shape: outShape)
    }

    @Test func concatRejections() {
        let mismatch = H.error { g in
            _ = try g.concat([g.input("a", TensorType(.f32, [2, 2])), g.input("b", TensorType(.f32, [3, 1]))], axis: 1)
        }
        #expect(mismatch?.message.contains("operand 1 f32[3, 1] does not match operand 0 f32[2, 2] outside axis 1") == true)
        let rank = H.error { g in
            _ = try g.concat([g.input("a", TensorType(.f32, [2, 2])), g.input("b", TensorType(.f32, [2]))], axis: 0)
        }
        #expect(rank?.message.contains("does not match") == true)
        let axis = H.error { g in _ = try g.concat([g.input("a", TensorType(.f32, [2, 2]))], axis: 2) }
        #expect(axis?.message.contains("axis 2 is out of range") == true)
        let none = H.error { g in _ = try g.concat([], axis: 0) }
        #expect(none?.message.contains("takes at least 1 'x' operands, got 0") == true)
        let dtypes = H.error { g in
            _ = try g.concat([g.input("a", TensorType(.f32, [2])), g.input("b", TensorType(.f64, [2]))], axis: 0)
        }
        #expect(dtypes?.message.contains("mixes f32 and f64") == true)
    }

    @Test func broadcastTo() throws {
        let row = H.tensor([3], [1, 2, 3])
        H.expectClose(try H.run([row]) { g, v in try g.broadcast(v[0], to: [2, 3]) }, [1, 2, 3, 1, 2, 3], shape: [2, 3])
        let column = H.tensor([2, 1], [1, 2])
        H.expectClose(try H.run([column]) { g, v in try g.broadcast(v[0], to: [2, 3]) }, [1, 1, 1, 2, 2, 2], shape: [2, 3])
        let scalar = try H.run([H.tensor([], [5])]) { g, v in try g.broadcast(v[0], to: [2, 2]) }
        H.expectClose(scalar, [5, 5, 5, 5], shape: [2, 2])
        H.expectClose(try H.run([row]) { g, v in try g.broadcast(v[0], to: [3]) }, row.scalars, shape: [3])
    }

    @Test func broadcastToRejections() {
        let wrong = H.error { g in _ = try g.broadcast(g.input("x", TensorType(.f32, [2])), to: [3]) }
        #expect(wrong?.message.contains("cannot broadcast f32[2] to [3]") == true)
        let shrink = H.error { g in _ = try g.broadcast(g.input("x", TensorType(.f32, [2, 3])), to: [3]) }
        #expect(shrink?.message.contains("cannot broadcast") == true)
        let operands = H.error { g in
            let a = g.input("a", TensorType(.f32, [1])), b = g.input("b", TensorType(.f32, [1]))
            _ = try g.apply(Ops.broadcastTo, [a, b], ["shape": .ints([2])])
        }
        #expect(operands?.message.contains("takes 1 operand (x), got 2") == true)
    }

    @Test func layoutTraitsAndCosts() throws {
        for op in [Ops.reshape, Ops.transpose, Ops.slice, Ops.concat, Ops.broadcastTo] {
            #expect(op.traits.contains(.layout), "\(op.name)")
        }
        let x = TensorType(.f32, [2, 3])
        #expect(Ops.reshape.cost([x], [TensorType(.f32, [6])], [:]) == Cost(flops: 0, bytes: 0))
        #expect(Ops.transpose.cost([x], [TensorType(.f32, [3, 2])], [:]) == Cost(flops: 0, bytes: 48))
    }
}

@Suite struct SourceOpsTests {
    typealias H = OpHarness

    @Test func constantFillsItsShape() throws {
        let g = GraphBuilder(name: "constants")
        g.output("a", try g.constant(value: 1.5, shape: [2, 2], dtype: .f64))
        g.output("b", try g.constant(value: 0.1))
        g.output("c", try g.constant(value: -3, shape: [3], dtype: .f32))
        #expect(verify(g.graph).isEmpty)
        let out = try Interpreter(graph: g.graph).run([:])
        H.expectClose(try #require(out["a"]), [1.5, 1.5, 1.5, 1.5], shape: [2, 2])
        // 0.1 is rounded to the nearest float32.
        #expect(out["b"]?.scalars == [Double(Float(0.1))] && out["b"]?.dtype == .f32 && out["b"]?.shape == [])
        #expect(out["c"]?.scalars == [-3, -3, -3])
        #expect(Ops.constant.traits.contains(.constant))
    }

    @Test func constantRejections() {
        let overflow = H.error { g in _ = try g.constant(value: 1e300, dtype: .f32) }
        #expect(overflow?.message.contains("overflows f32") == true)
        let scalar: Attributes = ["value": .float(1), "shape": .ints([])]
        var f16 = scalar
        f16["dtype"] = .string("f16")
        let dtype = H.error { g in _ = try g.apply(Ops.constant, [], f16) }
        #expect(dtype?.message.contains("'f16' is not one of f32, f64") == true)
        let shape = H.error { g in _ = try g.constant(value: 1, shape: [2, 0]) }
        #expect(shape?.message.contains("dimension 0 must be positive") == true)
        let operands = H.error { g in
            _ = try g.apply(Ops.constant, [g.input("x", TensorType(.f32, [1]))], scalar)
        }
        #expect(operands?.message.contains("takes 0 operands") == true)
        var fill = scalar
        fill["fill"] = .float(2)
        let unknown = H.error { g in _ = try g.apply(Ops.constant, [], fill) }
        #expect(unknown?.message.contains("'constant' has no attribute 'fill'") == true)
        let infinite = H.error { g in _ = try g.constant(value: .infinity) }
        #expect(infinite?.message.contains("must be finite") == true)
    }

    @Test func stopGradientIsTheIdentity() throws {
        let x = H.tensor([2, 2], [1, -2, 3, -4])
        H.expectClose(try H.run([x]) { g, v in try g.stopGradient(v[0]) }, x.scalars, shape: [2, 2])
        #expect(Ops.stopGradient.traits.contains(.gradientBarrier))
    }

    @Test func castRoundsWhenNarrowing() throws {
        let x = H.tensor([3], [0.1, 1.0 / 3, 1e300])
        let narrow = try H.run([x]) { g, v in try g.cast(v[0], to: .f32) }
        #expect(narrow.dtype == .f32)
        #expect(narrow.scalars == [Double(Float(0.1)), Double(Float(1.0 / 3)), .infinity])
        let wide = try H.run([H.tensor([1], [0.1], .f32)]) { g, v in try g.cast(v[0], to: .f64) }
        #expect(wide.dtype == .f64 && wide.scalars == [Double(Float(0.1))])
        let bad = H.error { g in
            _ = try g.apply(Ops.cast, [g.input("x", TensorType(.f32, [1]))], ["dtype": .string("i32")])
        }
        #expect(bad?.message.contains("'i32' is not one of f32, f64") == true)
    }
}

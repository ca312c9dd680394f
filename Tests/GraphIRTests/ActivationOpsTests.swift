import Foundation
import Testing
@testable import GraphIR
import TestSupport

@Suite struct ActivationOpsTests {
    typealias H = OpHarness

    // SELU's constants as published (Klambauer et al.), typed independently of the op's own.
    let alpha = 1.6732632423543772848170429916717
    let scale = 1.0507009873554804934193349852946

    /// Runs `op` on a rank-1 input holding `xs`.
    func apply(
        _ xs: [Double], _ dtype: DType = .f64, _ op: (GraphBuilder, ValueID) throws -> ValueID
    ) throws -> Tensor {
        try H.run([H.tensor([xs.count], xs, dtype)]) { g, v in try op(g, v[0]) }
    }

    @Test func relu() throws {
        H.expectClose(try apply([-2, -0.5, 0, 0.5, 3]) { try $0.relu($1) }, [0, 0, 0, 0.5, 3], shape: [5])
        // NaN propagates, as in PyTorch.
        H.expectClose(try apply([.nan, -.infinity, .infinity]) { try $0.relu($1) }, [.nan, 0, .infinity], shape: [3])
    }

    @Test func leakyReluDefaultAndOtherSlopes() throws {
        let xs: [Double] = [-2, -0.5, 0, 1.5]
        H.expectClose(try apply(xs) { try $0.leakyRelu($1) }, [-0.4, -0.1, 0, 1.5], shape: [4])
        H.expectClose(try apply(xs) { try $0.leakyRelu($1, slope: 0.01) }, [-0.02, -0.005, 0, 1.5], shape: [4])
        H.expectClose(try apply(xs) { try $0.leakyRelu($1, slope: 1) }, xs, shape: [4])
        H.expectClose(try apply(xs) { try $0.leakyRelu($1, slope: -1) }, [2, 0.5, 0, 1.5], shape: [4])
        // The op's default is 0.2 even when the attribute is omitted entirely.
        let bare = try apply(xs) { try $0.apply(Ops.leakyRelu, [$1]) }
        H.expectClose(bare, [-0.4, -0.1, 0, 1.5], shape: [4])
    }

    @Test func preluPerChannelSlopes() throws {
        // x is [N=2, C=3, L=2]; element (n, c, l) uses slope[c] when negative.
        let shape = [2, 3, 2], slopes: [Double] = [0.1, 0.2, 0.3]
        let xs = H.randomScalars(12, seed: 11)
        let expected = xs.indices.map { i -> Double in
            let c = H.unravel(i, shape)[1]
            return xs[i] >= 0 ? xs[i] : slopes[c] * xs[i]
        }
        let out = try H.run([H.tensor(shape, xs), H.tensor([3], slopes)]) { g, v in try g.prelu(v[0], slope: v[1]) }
        H.expectClose(out, expected, shape: shape)
        let mixedSigns = xs.contains { $0 < 0 } && xs.contains { $0 > 0 }
        #expect(mixedSigns)
    }

    @Test func preluHandWorkedRank4() throws {
        // [1, 2, 1, 2]: channel 0 slope 0.5, channel 1 slope -2.
        let x = H.tensor([1, 2, 1, 2], [-1, 2, -3, 4]), w = H.tensor([2], [0.5, -2])
        let out = try H.run([x, w]) { g, v in try g.prelu(v[0], slope: v[1]) }
        H.expectClose(out, [-0.5, 2, 6, 4], shape: [1, 2, 1, 2])
    }

    @Test func preluSharedSlope() throws {
        let x = H.tensor([2, 2, 1, 1], [-1, 2, -4, 0]), w = H.tensor([1], [0.25])
        H.expectClose(try H.run([x, w]) { g, v in try g.prelu(v[0], slope: v[1]) }, [-0.25, 2, -1, 0], shape: [2, 2, 1, 1])
        // Rank 1 has no channel axis: one slope for everything (PyTorch).
        let v = H.tensor([3], [-2, 0, 2])
        H.expectClose(try H.run([v, w]) { g, v in try g.prelu(v[0], slope: v[1]) }, [-0.5, 0, 2], shape: [3])
    }

    @Test func preluRejectsBadSlopes() {
        let count = H.error { g in
            _ = try g.prelu(g.input("x", TensorType(.f32, [2, 3, 4, 4])), slope: g.input("w", TensorType(.f32, [2])))
        }
        #expect(count?.message.contains("must have 1 or 3 elements") == true)
        let rank = H.error { g in
            _ = try g.prelu(g.input("x", TensorType(.f32, [2, 3])), slope: g.input("w", TensorType(.f32, [1, 3])))
        }
        #expect(rank?.message.contains("rank 1") == true)
        let operands = H.error { g in _ = try g.apply(Ops.prelu, [g.input("x", TensorType(.f32, [2, 3]))]) }
        #expect(operands?.message.contains("takes 2 operands (x, slope), got 1") == true)
    }

    @Test func seluByDefinition() throws {
        let xs: [Double] = [-3, -1, -0.5, 0, 0.5, 2]
        let expected = xs.map { x in x > 0 ? scale * x : scale * alpha * (Foundation.exp(x) - 1) }
        H.expectClose(try apply(xs) { try $0.selu($1) }, expected, shape: [6], tolerance: 1e-15)
        // Hand-worked values.
        H.expectClose(try apply([-1, 2]) { try $0.selu($1) }, [-1.1113307378125625, 2.101401974710961], shape: [2])
    }

    @Test func seluAtLargeMagnitudes() throws {
        let out = try apply([-1000, -40, 1e6, 1e300]) { try $0.selu($1) }
        // The negative branch saturates at −scale·alpha; the positive one is linear (and may overflow).
        H.expectClose(out, [-1.7580993408473766, -1.7580993408473766, 1.0507009873554805e6, scale * 1e300], shape: [4])
        let f32 = try apply([-1000, 1e6], .f32) { try $0.selu($1) }
        #expect(f32.scalars == [Double(Float(-scale * alpha)), Double(Float(scale * 1e6))])
    }

    @Test func tanhValues() throws {
        let out = try apply([0, 0.5, -1.5, 20, -20, 1000]) { try $0.tanh($1) }
        H.expectClose(out, [0, 0.46211715726000974, -0.9051482536448664, 1, -1, 1], shape: [6])
    }

    @Test func sigmoidValues() throws {
        let out = try apply([0, 2, -2]) { try $0.sigmoid($1) }
        H.expectClose(out, [0.5, 0.8807970779778823, 0.11920292202211755], shape: [3])
    }

    @Test func sigmoidIsStableForLargeMagnitudes() throws {
        let out = try apply([800, -40, -700, -800, 40]) { try $0.sigmoid($1) }
        let noNaN = out.scalars.allSatisfy { !$0.isNaN }
        #expect(noNaN)
        #expect(out.scalars[0] == 1)
        // Far in the left tail sigmoid(x) ≈ eˣ, and it must keep full relative precision there.
        let rel = { (a: Double, e: Double) in Swift.abs(a - e) / e }
        #expect(rel(out.scalars[1], 4.248354255291589e-18) < 1e-14)
        #expect(rel(out.scalars[2], 9.85967654375977e-305) < 1e-14)
        #expect(out.scalars[3] == 0)
        #expect(out.scalars[4] == 1 / (1 + 4.248354255291589e-18))
    }

    @Test func float32AgreesWithFloat64ForEveryActivation() throws {
        let xs = H.tensor([2, 3, 2, 2], H.randomScalars(24, in: -6...6, seed: 21), .f32).scalars
        let slope = [0.25, -0.5, 0.1]
        let ops: [(GraphBuilder, ValueID, ValueID) throws -> ValueID] = [
            { g, x, _ in try g.relu(x) }, { g, x, _ in try g.leakyRelu(x) }, { g, x, w in try g.prelu(x, slope: w) },
            { g, x, _ in try g.selu(x) }, { g, x, _ in try g.tanh(x) }, { g, x, _ in try g.sigmoid(x) },
        ]
        for op in ops {
            let run = { (dtype: DType) in
                try H.run([H.tensor([2, 3, 2, 2], xs, dtype), H.tensor([3], slope, dtype)]) { g, v in
                    try op(g, v[0], v[1])
                }
            }
            let low = try run(.f32), high = try run(.f64)
            H.expectClose(low, high.scalars, shape: [2, 3, 2, 2], tolerance: 1e-6)
        }
    }

    @Test func traitsAndRegistration() {
        for name in ["relu", "leaky_relu", "prelu", "selu", "tanh", "sigmoid"] {
            let op = Ops.named(name)
            #expect(op?.traits.isSuperset(of: [.activation, .elementwise]) == true, "\(name)")
            #expect(op?.vjp != nil, "\(name) is differentiable")
        }
        #expect(Ops.leakyRelu.attributeSpec(named: "slope")?.defaultValue == .float(0.2))
    }

    @Test func rejectsUnknownAttributeAndWrongKind() {
        let x = TensorType(.f32, [2])
        let unknown = H.error { g in _ = try g.apply(Ops.relu, [g.input("x", x)], ["slope": .float(0.1)]) }
        #expect(unknown?.message.contains("'relu' has no attribute 'slope' (it takes none)") == true)
        let kind = H.error { g in _ = try g.apply(Ops.leakyRelu, [g.input("x", x)], ["slope": .bool(true)]) }
        #expect(kind?.message.contains("must be float") == true)
        let finite = H.error { g in _ = try g.leakyRelu(g.input("x", x), slope: .nan) }
        #expect(finite?.message.contains("must be finite") == true)
    }
}

@Suite struct LossOpsTests {
    typealias H = OpHarness

    func bce(_ p: Tensor, _ t: Tensor) throws -> Tensor {
        try H.run([p, t]) { g, v in try g.binaryCrossEntropy(v[0], v[1]) }
    }

    @Test func binaryCrossEntropyHandWorked() throws {
        let p = H.tensor([5], [0.5, 0.25, 0.6, 0.5, 0.9]), t = H.tensor([5], [1, 0, 0.3, 0, 1])
        let expected = [
            0.6931471805599453, 0.2876820724517809, 0.7946511994417057, 0.6931471805599453, -Foundation.log(0.9),
        ]
        H.expectClose(try bce(p, t), expected, shape: [5])
    }

    @Test func binaryCrossEntropyClampsLogsAtMinus100() throws {
        // p = 0 against t = 1, and p = 1 against t = 0, are 100 (PyTorch clamps each log at −100).
        let p = H.tensor([6], [0, 1, 0, 1, 1e-50, 0]), t = H.tensor([6], [1, 0, 0, 1, 1, 0.5])
        H.expectClose(try bce(p, t), [100, 100, 0, 0, 100, 50], shape: [6])
    }

    @Test func binaryCrossEntropyBroadcasts() throws {
        let p = H.tensor([2, 2], [0.5, 0.25, 0.75, 1]), t = H.tensor([], [0])
        let expected = [0.5, 0.25, 0.75].map { -Foundation.log(1 - $0) } + [100]
        H.expectClose(try bce(p, t), expected, shape: [2, 2], tolerance: 1e-15)
        let e = H.error { g in
            _ = try g.binaryCrossEntropy(g.input("p", TensorType(.f32, [2, 3])), g.input("t", TensorType(.f32, [2])))
        }
        #expect(e?.message.contains("cannot broadcast") == true)
        let count = H.error { g in _ = try g.apply(Ops.binaryCrossEntropy, [g.input("p", TensorType(.f32, [2]))]) }
        #expect(count?.message.contains("takes 2 operands (p, target), got 1") == true)
    }

    @Test func l1LossIsTheMeanAbsoluteDifference() throws {
        let a = H.tensor([2, 2], [1, 2, 3, 4]), b = H.tensor([2, 2], [2, 2, 0, 5])
        H.expectClose(try H.run([a, b]) { g, v in try g.l1Loss(v[0], v[1]) }, [1.25], shape: [])
        let s = try H.run([H.tensor([], [3]), H.tensor([], [-1])]) { g, v in try g.l1Loss(v[0], v[1]) }
        H.expectClose(s, [4], shape: [])
    }

    @Test func lsganLossTargets() throws {
        let x = H.tensor([1, 1, 3], [0, 2, 3])
        H.expectClose(try H.run([x]) { g, v in try g.lsganLoss(v[0], target: 1) }, [2], shape: [])
        H.expectClose(try H.run([x]) { g, v in try g.lsganLoss(v[0], target: 0) }, [13.0 / 3], shape: [])
    }

    @Test func nsganLossTargets() throws {
        // sigmoid(0) = 1/2 gives log 2 for either target.
        let x = H.tensor([2], [0, 0])
        H.expectClose(try H.run([x]) { g, v in try g.nsganLoss(v[0], target: 1) }, [0.6931471805599453], shape: [])
        H.expectClose(try H.run([x]) { g, v in try g.nsganLoss(v[0], target: 0) }, [0.6931471805599453], shape: [])
        // A logit of −800 against target 1 saturates: sigmoid is 0, the clamped log gives 100.
        let far = try H.run([H.tensor([2], [-800, 0])]) { g, v in try g.nsganLoss(v[0], target: 1) }
        H.expectClose(far, [(100 + 0.6931471805599453) / 2], shape: [])
        let bad = H.error { g in _ = try g.nsganLoss(g.input("x", TensorType(.f32, [2])), target: 2) }
        #expect(bad?.message.contains("not in [0, 1]") == true)
    }

    @Test func lossTraits() {
        #expect(Ops.binaryCrossEntropy.traits.isSuperset(of: [.loss, .elementwise]))
        #expect(Ops.named("binary_cross_entropy") === Ops.binaryCrossEntropy)
    }
}

/// The PyTorch float64 cases of `shared/reference/ops.safetensors` for the activations and the composed losses.
@Suite struct ActivationReferenceTests {
    /// Builds the graph of one case from its op name and attributes (as the file's metadata spells them).
    func build(_ g: GraphBuilder, op: String, attrs: [String: Any], _ v: [ValueID]) throws -> ValueID {
        let target = (attrs["target"] as? NSNumber)?.doubleValue
        switch op {
        case "relu": return try g.relu(v[0])
        case "leaky_relu": return try g.leakyRelu(v[0], slope: try #require((attrs["slope"] as? NSNumber)?.doubleValue))
        case "prelu": return try g.prelu(v[0], slope: v[1])
        case "selu": return try g.selu(v[0])
        case "tanh": return try g.tanh(v[0])
        case "sigmoid": return try g.sigmoid(v[0])
        case "recon_l1": return try g.l1Loss(v[0], v[1])
        case "lsgan": return try g.lsganLoss(v[0], target: try #require(target))
        case "nsgan": return try g.nsganLoss(v[0], target: try #require(target))
        default: throw OpError("no builder for reference op '\(op)'")
        }
    }

    @Test(arguments: [
        "relu", "leaky_relu_0.2", "prelu", "selu", "tanh", "sigmoid", "l1_mean", "lsgan_real", "nsgan_real", "nsgan_fake",
    ])
    func matchesPyTorchFloat64(caseName: String) throws {
        guard let url = SharedFolder.opsReference else { return }  // The shared reference folder is optional.
        let file = try SafetensorsFile.read(contentsOf: url)
        let casesJSON = try #require(file.metadata["cases"])
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(casesJSON.utf8)) as? [String: Any])
        let spec = try #require(cases[caseName] as? [String: Any], "no case '\(caseName)'")
        let op = try #require(spec["op"] as? String)
        let attrs = spec["attrs"] as? [String: Any] ?? [:]
        let inputCount = try #require(spec["inputs"] as? [Any]).count
        let inputs = try (0..<inputCount).map { try #require(file.tensors["case.\(caseName).in.\($0)"]) }
        let expected = try #require(file.tensors["case.\(caseName).out"])
        let allF64 = inputs.allSatisfy { $0.dtype == .f64 } && expected.dtype == .f64
        #expect(allF64)

        let out = try OpHarness.run(inputs) { g, v in try build(g, op: op, attrs: attrs, v) }
        // PyTorch's loss values are stored as [1]; ours are rank-0 scalars.
        #expect(out.shape == expected.shape || (out.shape == [] && expected.shape == [1]))
        #expect(out.scalars.count == expected.scalars.count)
        for (i, (a, e)) in zip(out.scalars, expected.scalars).enumerated() {
            #expect(Swift.abs(a - e) <= 1e-10 * Swift.abs(e) + 1e-15, "\(caseName)[\(i)]: \(a), PyTorch \(e)")
        }
    }
}

import GraphIR
import Testing
@testable import LLVMBackend

/// Pointwise ops, broadcasting, constants and casts against the interpreter.
@Suite struct ElementwiseKernelTests {
    static let shape = TensorType.f32(2, 3, 5, 7)

    @Test func unaryOps() throws {
        let positive: ClosedRange<Double> = 0.05...3
        var cases: [BackendCase] = []
        for op in Ops.all where op.traits.contains(.elementwise) && op.operands.count(1) && op.attributes.isEmpty && op.name != "cast" {
            let needsPositive = ["sqrt", "log", "reciprocal"].contains(op.name)
            cases.append(BackendCase(name: op.name, inputs: [Self.shape], ranges: [needsPositive ? positive : -4...4]) { b, x in
                try b.apply(op, [x[0]])
            })
        }
        cases.append(BackendCase(name: "scale", inputs: [Self.shape]) { b, x in try b.scale(x[0], by: -0.75) })
        cases.append(BackendCase(name: "shift", inputs: [Self.shape]) { b, x in try b.shift(x[0], by: 1.5) })
        cases.append(BackendCase(name: "leaky_relu", inputs: [Self.shape]) { b, x in try b.leakyRelu(x[0], slope: 0.1) })
        #expect(cases.count >= 16)
        try BackendHarness.expectParity(cases)
    }

    @Test func binaryOpsBroadcast() throws {
        let shapes: [(TensorType, TensorType)] = [
            (Self.shape, Self.shape), (Self.shape, .f32(3, 1, 7)), (.f32(1), Self.shape), (.f32(2, 1, 5, 1), .f32(3, 1, 7)),
            (.f32(), .f32()), (.f32(1, 1, 1, 1), .f32(2, 3, 1, 1)),
        ]
        var cases: [BackendCase] = []
        for op in Ops.all where op.traits.contains(.broadcasting) && !op.traits.contains(.loss) {
            for (i, (l, r)) in shapes.enumerated() {
                cases.append(BackendCase(name: "\(op.name)\(i)", inputs: [l, r], ranges: [-3...3, op.name == "div" ? 0.5...2 : -3...3]) { b, x in
                    try b.apply(op, [x[0], x[1]])
                })
            }
        }
        try BackendHarness.expectParity(cases)
    }

    @Test func preluConstantCastAndLoss() throws {
        try BackendHarness.expectParity([
            BackendCase(name: "prelu_shared", inputs: [Self.shape, .f32(1)]) { b, x in try b.prelu(x[0], slope: x[1]) },
            BackendCase(name: "prelu_channels", inputs: [Self.shape, .f32(3)]) { b, x in try b.prelu(x[0], slope: x[1]) },
            BackendCase(name: "prelu_rank1", inputs: [.f32(9), .f32(1)]) { b, x in try b.prelu(x[0], slope: x[1]) },
            BackendCase(name: "constant", inputs: [Self.shape]) { b, x in try b.add(x[0], b.constant(value: 0.3, shape: [3, 1, 7])) },
            BackendCase(name: "cast_up", inputs: [Self.shape]) { b, x in try b.cast(x[0], to: .f64) },
            BackendCase(name: "cast_down", inputs: [.f64(4, 9)]) { b, x in try b.cast(x[0], to: .f32) },
            BackendCase(name: "bce", inputs: [Self.shape, Self.shape], ranges: [0.001...0.999, 0...1]) { b, x in
                try b.binaryCrossEntropy(x[0], x[1])
            },
            BackendCase(name: "bce_scalar_target", inputs: [Self.shape], ranges: [0.001...0.999]) { b, x in
                try b.binaryCrossEntropy(x[0], b.constant(value: 1))
            },
            BackendCase(name: "f64_chain", inputs: [.f64(3, 11)]) { b, x in try b.tanh(b.mul(x[0], b.sigmoid(x[0]))) },
            BackendCase(name: "reshape_view", inputs: [Self.shape]) { b, x in try b.relu(b.reshape(b.stopGradient(x[0]), to: [6, 35])) },
        ])
    }
}

extension OperandSpec {
    func count(_ n: Int) -> Bool {
        if case .fixed(let names) = self { return names.count == n }
        return false
    }
}

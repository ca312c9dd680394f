import GraphIR
import Testing
@testable import LLVMBackend

/// Reductions, layout, spatial ops and their gradients against the interpreter, at awkward sizes.
@Suite struct StructuralKernelTests {
    static let image = TensorType.f32(2, 3, 5, 7)

    @Test func reductionsAndLayout() throws {
        var cases: [BackendCase] = []
        for (i, axes) in [[0], [1], [3], [0, 2, 3], [1, 2], [0, 1, 2, 3], [2, 3]].enumerated() {
            cases.append(BackendCase(name: "sum\(i)", inputs: [Self.image]) { b, x in try b.reduceSum(x[0], axes: axes) })
            cases.append(BackendCase(name: "mean\(i)", inputs: [Self.image]) { b, x in try b.reduceMean(x[0], axes: axes, keepdims: true) })
        }
        cases += [
            BackendCase(name: "global_avg_pool", inputs: [Self.image]) { b, x in try b.globalAvgPool(x[0]) },
            BackendCase(name: "transpose", inputs: [Self.image]) { b, x in try b.transpose(x[0], perm: [3, 1, 0, 2]) },
            BackendCase(name: "transpose2d", inputs: [.f32(5, 9)]) { b, x in try b.transpose(x[0], perm: [1, 0]) },
            BackendCase(name: "slice", inputs: [Self.image]) { b, x in try b.slice(x[0], starts: [1, 0, 2, 1], ends: [2, 3, 5, 6]) },
            BackendCase(name: "concat1", inputs: [Self.image, .f32(2, 1, 5, 7)]) { b, x in try b.concat([x[0], x[1]], axis: 1) },
            BackendCase(name: "concat3", inputs: [Self.image, .f32(2, 3, 5, 2), Self.image]) { b, x in try b.concat(x, axis: 3) },
            BackendCase(name: "concat0", inputs: [.f32(1, 4), .f32(2, 4)]) { b, x in try b.concat(x, axis: 0) },
            BackendCase(name: "broadcast", inputs: [.f32(3, 1, 7)]) { b, x in try b.broadcast(x[0], to: [2, 3, 5, 7]) },
            BackendCase(name: "broadcast_scalar", inputs: [.f32()]) { b, x in try b.broadcast(x[0], to: [4, 3]) },
        ]
        try BackendHarness.expectParity(cases)
    }

    @Test func spatialForwardAndBackward() throws {
        var cases: [BackendCase] = []
        for mode in PadMode.allCases {
            for (i, p) in [[1, 1, 1, 1], [3, 0, 2, 1], [0, 2, 0, 3]].enumerated() {
                cases.append(BackendCase(name: "pad_\(mode)\(i)", inputs: [Self.image]) { b, x in try b.pad(x[0], mode: mode, p) })
                cases.append(BackendCase(name: "pad_backward_\(mode)\(i)", inputs: [.f32(2, 3, 5 + p[2] + p[3], 7 + p[0] + p[1])]) { b, x in
                    try b.padBackward(x[0], mode: mode, p)
                })
            }
        }
        for (i, s) in [[2, 2], [3, 1], [1, 1]].enumerated() {
            cases.append(BackendCase(name: "upsample\(i)", inputs: [Self.image]) { b, x in try b.upsampleNearest(x[0], scale: s) })
            cases.append(BackendCase(name: "upsample_backward\(i)", inputs: [.f32(2, 3, 5 * s[0], 7 * s[1])]) { b, x in
                try b.upsampleNearestBackward(x[0], scale: s)
            })
        }
        let pools: [(kernel: [Int], stride: [Int], pad: [Int])] = [
            ([3, 3], [2, 2], [1, 1, 1, 1]), ([2, 3], [1, 2], [0, 1, 1, 0]), ([1, 1], [1, 1], [0, 0, 0, 0]), ([5, 7], [1, 1], [0, 0, 0, 0]),
        ]
        for (i, p) in pools.enumerated() {
            for include in [true, false] {
                cases.append(BackendCase(name: "avg\(i)\(include)", inputs: [Self.image]) { b, x in
                    try b.avgPool2d(x[0], kernel: p.kernel, stride: p.stride, pad: p.pad, countIncludePad: include)
                })
                cases.append(BackendCase(name: "avg_backward\(i)\(include)", inputs: [Self.image]) { b, x in
                    let pooled = try b.avgPool2d(x[0], kernel: p.kernel, stride: p.stride, pad: p.pad, countIncludePad: include)
                    return try b.avgPool2dBackward(b.square(pooled), inputShape: Self.image.shape, kernel: p.kernel,
                                                   stride: p.stride, pad: p.pad, countIncludePad: include)
                })
            }
            cases.append(BackendCase(name: "max\(i)", inputs: [Self.image]) { b, x in
                try b.maxPool2d(x[0], kernel: p.kernel, stride: p.stride, pad: p.pad)
            })
            cases.append(BackendCase(name: "max_backward\(i)", inputs: [Self.image]) { b, x in
                let pooled = try b.maxPool2d(x[0], kernel: p.kernel, stride: p.stride, pad: p.pad)
                return try b.maxPool2dBackward(x[0], b.scale(pooled, by: 3), kernel: p.kernel, stride: p.stride, pad: p.pad)
            })
        }
        try BackendHarness.expectParity(cases)
    }

    @Test func normalizationForwardAndBackward() throws {
        let shapes = [Self.image, TensorType.f32(1, 4, 1, 3), TensorType.f32(3, 2, 9, 1)]
        var cases: [BackendCase] = []
        for (i, s) in shapes.enumerated() {
            let (n, c) = (s.shape[0], s.shape[1])
            cases += [
                BackendCase(name: "instance\(i)", inputs: [s]) { b, x in try b.instanceNorm(x[0]) },
                BackendCase(name: "adain\(i)", inputs: [s, .f32(n, c), .f32(n, c)]) { b, x in try b.adain(x[0], weight: x[1], bias: x[2]) },
                BackendCase(name: "layer\(i)", inputs: [s, .f32(c), .f32(c)]) { b, x in try b.layerNorm(x[0], gamma: x[1], beta: x[2], eps: 1e-3) },
                BackendCase(name: "batch\(i)", inputs: [s, .f32(c), .f32(c)]) { b, x in try b.batchNorm(x[0], gamma: x[1], beta: x[2]) },
                BackendCase(name: "instance_backward\(i)", inputs: [s, s]) { b, x in try b.instanceNormBackward(x[0], x[1]) },
                BackendCase(name: "layer_backward\(i)", inputs: [s, s]) { b, x in try b.layerNormBackward(x[0], x[1]) },
                BackendCase(name: "batch_backward\(i)", inputs: [s, s]) { b, x in try b.batchNormBackward(x[0], x[1]) },
            ]
        }
        cases.append(BackendCase(name: "layer_rank2", inputs: [.f32(3, 5), .f32(5), .f32(5)]) { b, x in try b.layerNorm(x[0], gamma: x[1], beta: x[2]) })
        cases.append(BackendCase(name: "layer_backward_rank2", inputs: [.f32(3, 5), .f32(3, 5)]) { b, x in try b.layerNormBackward(x[0], x[1]) })
        // Norms divide by small deviations: float32 storage of the inputs bounds the agreement, not the kernels.
        try BackendHarness.expectParity(cases, tolerance: 1e-4)
    }
}

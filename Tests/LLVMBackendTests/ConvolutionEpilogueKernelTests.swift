import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// `fuse-conv-epilogue`'s kernels (convolution, then norm → activation → residual add in one pass per norm
/// group) against the interpreter running the unfused ops, over every norm, several activations, exported
/// intermediates, the three convolution paths and a folded upsampling.
@Suite struct ConvolutionEpilogueKernelTests {
    static func fuse(_ graph: Graph) throws -> Graph {
        var statistics = PassStatistics(), fused = graph
        for pass in PassRegistry.fusionPipeline() { fused = try pass.run(fused, statistics: &statistics) }
        let epilogues = fused.nodes.filter { $0.fusionKind == .convolutionEpilogue }
        #expect(epilogues.count == 12, "every case's convolution takes its epilogue: \(statistics.counters)")
        return fused
    }

    @Test func epiloguesMatchTheInterpreter() throws {
        let x = TensorType.f32(2, 3, 9, 7), w = TensorType.f32(6, 3, 3, 3), y = TensorType.f32(2, 6, 7, 5)
        let wide = TensorType.f32(1, 16, 40, 33), wideW = TensorType.f32(5, 16, 3, 3)
        let perSample = TensorType.f32(2, 6), perChannel = TensorType.f32(6)
        func conv(_ b: GraphBuilder, _ v: [ValueID]) throws -> ValueID { try b.conv2d(v[0], v[1]) }
        let cases = [
            // Instance norm + ReLU + residual, with the norm's output read again (as a backward would).
            BackendCase(name: "in_relu_res", inputs: [x, w, y]) { b, v in
                let n = try b.instanceNorm(conv(b, v))
                let out = try b.add(b.relu(n), v[2])
                return try b.add(out, b.square(n))
            },
            BackendCase(name: "adain_lrelu", inputs: [x, w, perSample, perSample]) { b, v in
                try b.leakyRelu(b.adain(conv(b, v), weight: v[2], bias: v[3]), slope: 0.2)
            },
            BackendCase(name: "ln_tanh", inputs: [x, w, perChannel, perChannel]) { b, v in
                try b.tanh(b.layerNorm(conv(b, v), gamma: v[2], beta: v[3]))
            },
            // Activation alone (the discriminator's blocks), with the convolution's output read again.
            BackendCase(name: "conv_selu", inputs: [x, w]) { b, v in
                let c = try conv(b, v)
                return try b.mul(b.selu(c), c)
            },
            BackendCase(name: "in_only", inputs: [x, w]) { b, v in try b.instanceNorm(conv(b, v)) },
            // Shifted-GEMM (wide grid) and direct (≤ 4 output channels) convolutions under the epilogue.
            BackendCase(name: "wide_in_relu", inputs: [wide, wideW]) { b, v in try b.relu(b.instanceNorm(conv(b, v))) },
            BackendCase(name: "direct_tanh", inputs: [x, .f32(3, 3, 5, 5)]) { b, v in try b.tanh(b.conv2d(v[0], v[1], pad: [2, 2, 2, 2])) },
            // Upsampling and reflect padding folded into the convolution, then MUNIT's layer norm and ReLU.
            BackendCase(name: "up_ln_relu", inputs: [.f32(1, 4, 5, 6), .f32(6, 4, 5, 5), perChannel, perChannel]) { b, v in
                let padded = try b.pad(b.upsampleNearest(v[0]), mode: .reflect, [2, 2, 2, 2])
                return try b.relu(b.layerNorm(b.conv2d(padded, v[1]), gamma: v[2], beta: v[3]))
            },
            // Batch 2: each plane's sums, taken in the gathered store, add up per sample for the layer norm.
            BackendCase(name: "up_ln_batch2", inputs: [.f32(2, 4, 5, 6), .f32(6, 4, 5, 5), perChannel, perChannel]) { b, v in
                let padded = try b.pad(b.upsampleNearest(v[0]), mode: .reflect, [2, 2, 2, 2])
                return try b.leakyRelu(b.layerNorm(b.conv2d(padded, v[1]), gamma: v[2], beta: v[3]), slope: 0.2)
            },
            // The gathered convolution's per-plane store hands each plane to an instance norm's epilogue.
            BackendCase(name: "up_in_lrelu", inputs: [.f32(2, 3, 4, 5), .f32(5, 3, 3, 3)]) { b, v in
                let padded = try b.pad(b.upsampleNearest(v[0]), mode: .replicate, [1, 1, 1, 1])
                return try b.leakyRelu(b.instanceNorm(b.conv2d(padded, v[1])), slope: 0.2)
            },
            // A residual block's convolution (reflect pad folded, Winograd): each output plane's tiles, then its epilogue.
            BackendCase(name: "winograd_adain_res", inputs: [.f32(1, 32, 6, 7), .f32(32, 32, 3, 3), .f32(1, 32), .f32(1, 32), .f32(1, 32, 6, 7)]) { b, v in
                let padded = try b.pad(v[0], mode: .reflect, [1, 1, 1, 1])
                return try b.add(b.relu(b.adain(b.conv2d(padded, v[1]), weight: v[2], bias: v[3])), v[4])
            },
            // Strided, with bias (im2col path), residual without norm.
            BackendCase(name: "strided_bias_res", inputs: [x, w, .f32(6), .f32(2, 6, 5, 4)]) { b, v in
                try b.add(b.relu(b.conv2d(v[0], v[1], v[2], stride: [2, 2], pad: [1, 1, 1, 1])), v[3])
            },
        ]
        try BackendHarness.expectParity(cases, tolerance: 1e-5, transform: Self.fuse)
    }
}

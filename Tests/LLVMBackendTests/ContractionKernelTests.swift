import GraphIR
import Testing
@testable import LLVMBackend

/// Convolutions (forward, data and weight gradients), matmul and linear through OpenBLAS.
@Suite struct ContractionKernelTests {
    struct Conv {
        var x: [Int], out: Int, kernel: [Int], stride: [Int], pad: [Int]
    }

    static let convolutions = [
        Conv(x: [2, 3, 9, 7], out: 4, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1]),
        Conv(x: [2, 3, 9, 7], out: 5, kernel: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0]),
        Conv(x: [1, 2, 8, 8], out: 3, kernel: [4, 4], stride: [2, 2], pad: [1, 1, 1, 1]),
        Conv(x: [2, 3, 11, 6], out: 2, kernel: [7, 7], stride: [1, 1], pad: [3, 3, 3, 3]),
        Conv(x: [1, 4, 7, 9], out: 3, kernel: [3, 2], stride: [2, 3], pad: [2, 0, 1, 0]),
        Conv(x: [2, 2, 5, 5], out: 3, kernel: [1, 1], stride: [2, 2], pad: [0, 0, 0, 0]),
        Conv(x: [1, 1, 1, 1], out: 2, kernel: [1, 1], stride: [1, 1], pad: [0, 0, 0, 0]),
        // Unpadded stride 1 on planes of at least 1024 wide-grid columns and at least 16 input channels: the
        // wide-grid GEMMs (MUNIT's convolutions after their reflect pads); smaller planes and an image's few
        // channels take im2col.
        Conv(x: [2, 16, 35, 33], out: 4, kernel: [3, 3], stride: [1, 1], pad: [0, 0, 0, 0]),
        Conv(x: [1, 16, 40, 29], out: 3, kernel: [2, 5], stride: [1, 1], pad: [0, 0, 0, 0]),
        Conv(x: [2, 16, 36, 36], out: 3, kernel: [5, 5], stride: [1, 1], pad: [0, 0, 0, 0]),
        Conv(x: [1, 3, 36, 34], out: 3, kernel: [7, 7], stride: [1, 1], pad: [0, 0, 0, 0]),
        Conv(x: [3, 3, 8, 9], out: 2, kernel: [3, 1], stride: [1, 1], pad: [0, 0, 0, 0]),
    ]

    @Test func convolutionsForwardAndBackward() throws {
        var cases: [BackendCase] = []
        // Each geometry with few output channels (direct loops) and with many (im2col + GEMM).
        let geometries = Self.convolutions.flatMap { c -> [Conv] in
            var wide = c
            wide.out = DirectConvolution.maximumChannels + 2
            var narrow = c
            narrow.out = min(c.out, DirectConvolution.maximumChannels)
            return [narrow, wide]
        }
        for (i, c) in geometries.enumerated() {
            let w = TensorType.f32(c.out, c.x[1], c.kernel[0], c.kernel[1])
            let x = TensorType(.f32, c.x)
            cases.append(BackendCase(name: "conv\(i)", inputs: [x, w]) { b, v in try b.conv2d(v[0], v[1], stride: c.stride, pad: c.pad) })
            cases.append(BackendCase(name: "conv_bias\(i)", inputs: [x, w, .f32(c.out)]) { b, v in
                try b.conv2d(v[0], v[1], v[2], stride: c.stride, pad: c.pad)
            })
            cases.append(BackendCase(name: "conv_backward\(i)", inputs: [x, w]) { b, v in
                // gy from the forward itself, so its shape is right for every geometry.
                let gy = try b.square(b.conv2d(v[0], v[1], stride: c.stride, pad: c.pad))
                let gx = try b.conv2dBackwardInput(gy, v[1], inputShape: c.x, stride: c.stride, pad: c.pad)
                let gw = try b.conv2dBackwardWeight(v[0], gy, kernel: c.kernel, stride: c.stride, pad: c.pad)
                return try b.add(b.reduceSum(gx, axes: [0, 1, 2, 3]), b.reduceSum(gw, axes: [0, 1, 2, 3]))
            })
            cases.append(BackendCase(name: "conv_backward_input\(i)", inputs: [x, w]) { b, v in
                let gy = try b.conv2d(v[0], v[1], stride: c.stride, pad: c.pad)
                return try b.conv2dBackwardInput(gy, v[1], inputShape: c.x, stride: c.stride, pad: c.pad)
            })
            cases.append(BackendCase(name: "conv_backward_weight\(i)", inputs: [x, w]) { b, v in
                let gy = try b.conv2d(v[0], v[1], stride: c.stride, pad: c.pad)
                return try b.conv2dBackwardWeight(v[0], gy, kernel: c.kernel, stride: c.stride, pad: c.pad)
            })
        }
        cases += [
            BackendCase(name: "matmul", inputs: [.f32(5, 7), .f32(7, 3)]) { b, v in try b.matmul(v[0], v[1]) },
            BackendCase(name: "matmul_f64", inputs: [.f64(4, 6), .f64(6, 9)]) { b, v in try b.matmul(v[0], v[1]) },
            BackendCase(name: "linear", inputs: [.f32(3, 8), .f32(5, 8)]) { b, v in try b.linear(v[0], v[1]) },
            BackendCase(name: "linear_bias", inputs: [.f32(3, 8), .f32(5, 8), .f32(5)]) { b, v in try b.linear(v[0], v[1], v[2]) },
            BackendCase(name: "conv_f64", inputs: [.f64(1, 2, 6, 5), .f64(3, 2, 3, 3)]) { b, v in
                let y = try b.conv2d(v[0], v[1], stride: [1, 1], pad: [1, 1, 1, 1])
                return try b.conv2dBackwardWeight(v[0], y, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1])
            },
        ]
        // Sums of up to 16·5·5·1296 products in float32 (BLAS order vs the interpreter's f64), whose rounding
        // follows the terms' size: errors against each output's largest magnitude.
        try BackendHarness.expectParity(cases, tolerance: 1e-5, scaled: true)
    }
}

import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// Winograd F(2×2, 3×3) kernels (3×3 stride-1 convolutions with at least 32 channels each side) against the
/// interpreter's direct convolutions: forward with and without bias, each gradient alone and both paired,
/// on plain convolutions (their own zero padding, odd output sizes, batch 2, f64) and on `fuse-conv-input`
/// chains whose folded reflect, replicate or zero pad the transforms read through.
@Suite struct WinogradKernelTests {
    struct Case {
        var x: [Int], out: Int, pad = [0, 0, 0, 0], mode: PadMode? = nil, folded = [1, 1, 1, 1], dtype = DType.f32
    }

    static let cases = [
        Case(x: [2, 32, 9, 7], out: 33, pad: [1, 1, 1, 1]),
        Case(x: [1, 40, 6, 8], out: 32),
        Case(x: [1, 32, 5, 5], out: 32, pad: [0, 1, 1, 0], dtype: .f64),
        Case(x: [1, 32, 7, 6], out: 34, mode: .reflect),
        Case(x: [2, 33, 5, 4], out: 32, mode: .replicate, folded: [2, 1, 1, 2]),
        Case(x: [1, 32, 4, 7], out: 32, pad: [1, 0, 0, 1], mode: .zero, folded: [1, 2, 2, 1]),
        // 72 tiles: a full block of 64 columns plus single ones; 35 outputs: a partial block of rows.
        Case(x: [1, 33, 18, 16], out: 35, pad: [1, 1, 1, 1]),
        // Rows of 19 and 18 tiles: more tiles than a vector's lanes, a half tile at the odd edge, reflected and
        // zero borders.
        Case(x: [1, 32, 5, 37], out: 32, mode: .reflect),
        Case(x: [2, 32, 3, 35], out: 32, pad: [1, 1, 1, 1]),
    ]

    static func fuse(_ graph: Graph) throws -> Graph {
        var statistics = PassStatistics(), fused = graph
        for pass in [FuseConvolutionInput(), FuseConvolutionBackward(), DeadCodeElimination()] as [any Pass] {
            fused = try pass.run(fused, statistics: &statistics)
        }
        return fused
    }

    static func backendCases(_ cases: [Case] = cases) -> [BackendCase] {
        cases.enumerated().flatMap { i, c -> [BackendCase] in
            let x = TensorType(c.dtype, c.x), w = TensorType(c.dtype, [c.out, c.x[1], 3, 3]), bias = TensorType(c.dtype, [c.out])
            func source(_ b: GraphBuilder, _ v: ValueID) throws -> ValueID { try c.mode.map { try b.pad(v, mode: $0, c.folded) } ?? v }
            func conv(_ b: GraphBuilder, _ v: [ValueID], bias: Bool = false) throws -> ValueID {
                try b.conv2d(source(b, v[0]), v[1], bias ? v[2] : nil, pad: c.pad)
            }
            return [
                BackendCase(name: "forward\(i)", inputs: [x, w]) { b, v in try conv(b, v) },
                BackendCase(name: "bias\(i)", inputs: [x, w, bias]) { b, v in try conv(b, v, bias: true) },
                // Each gradient alone, and both (paired by fuse-conv-backward), weighted so no element hides.
                BackendCase(name: "input\(i)", inputs: [x, w]) { b, v in
                    let padded = try source(b, v[0]), gy = try b.square(conv(b, v))
                    let gx = try b.conv2dBackwardInput(gy, v[1], inputShape: b.graph.type(of: padded).shape, pad: c.pad)
                    return try c.mode.map { try b.padBackward(gx, mode: $0, c.folded) } ?? gx
                },
                BackendCase(name: "weight\(i)", inputs: [x, w]) { b, v in
                    try b.conv2dBackwardWeight(source(b, v[0]), b.square(conv(b, v)), kernel: [3, 3], pad: c.pad)
                },
                BackendCase(name: "both\(i)", inputs: [x, w, x, w]) { b, v in
                    let padded = try source(b, v[0]), gy = try b.square(conv(b, v))
                    var gx = try b.conv2dBackwardInput(gy, v[1], inputShape: b.graph.type(of: padded).shape, pad: c.pad)
                    if let mode = c.mode { gx = try b.padBackward(gx, mode: mode, c.folded) }
                    let gw = try b.conv2dBackwardWeight(padded, gy, kernel: [3, 3], pad: c.pad)
                    return try b.add(b.reduceSum(b.mul(gx, v[2]), axes: [0, 1, 2, 3]), b.reduceSum(b.mul(gw, v[3]), axes: [0, 1, 2, 3]))
                },
            ]
        }
    }

    /// Errors against each output's largest magnitude: gradients here are sums of hundreds of products of
    /// squares, whose float32 rounding (im2col's as much as Winograd's) follows the terms, not the sum.
    /// (Measured worst: 1.1e-5, the paired gradients of the replicate-padded case on the gathered GEMMs.)
    @Test func winogradMatchesTheInterpreter() throws {
        try BackendHarness.expectParity(Self.backendCases(), tolerance: 2e-5, scaled: true,
                                        template: CompileOptions(winogradMinimumTiles: 0), transform: Self.fuse)
    }

    /// The same with every product generated (`RegisterBlockedProduct`, the host's and AVX2's vector widths,
    /// row and column remainders) and with every product a BLAS call, whatever the machine's default.
    @Test(arguments: [Int.max, 0]) func generatedAndBLASProductsMatchTheInterpreter(below tiles: Int) throws {
        try BackendHarness.expectParity(Self.backendCases(), tolerance: 2e-5, scaled: true,
                                        template: CompileOptions(winogradMinimumTiles: 0, generatedProductsBelowTiles: tiles), transform: Self.fuse)
    }

    /// Every case above runs on Winograd kernels: forward, data and weight gradients, and the pair (with the
    /// default minimum of tiles lifted: these planes are smaller than a 16×16 one).
    @Test func casesTakeTheWinogradPath() throws {
        let symbols = try Self.symbols(Self.backendCases(), options: CompileOptions(winogradMinimumTiles: 0))
        for kind in ["conv2d_winograd", "conv2d_backward_input_winograd", "conv2d_backward_weight_winograd", "conv2d_backward_winograd"] {
            #expect(symbols.contains { $0.hasPrefix(kind) }, "\(kind): \(Set(symbols).sorted())")
        }
        let conv = symbols.filter { $0.hasPrefix("conv2d") && !$0.contains("winograd") }
        #expect(conv.isEmpty, "every convolution here is Winograd: \(conv)")
    }

    /// The kernels the fused graph of `cases` calls.
    static func symbols(_ cases: [BackendCase], options: CompileOptions) throws -> [String] {
        let b = GraphBuilder(name: "cases")
        for (i, c) in cases.enumerated() {
            b.output("y\(i)", try c.build(b, c.inputs.enumerated().map { b.input("\(i).\($0.offset)", $0.element) }))
        }
        return try Executable(graph: Self.fuse(b.graph), options: options).kernelCalls.map(\.symbol)
    }

    /// MUNIT's residual convolutions at 128×128 crops (32×32 planes, a reflect pad alone, default tuning):
    /// `fuse-conv-input` folds the pad because Winograd reads through it, so the forward, each gradient and
    /// the pair run on `reflectp1` Winograd kernels with no pad or pad gradient kernel left, and agree with
    /// the interpreter's unfused graph.
    @Test func residualPadFoldsIntoWinogradAt32x32() throws {
        let cases = Self.backendCases([Case(x: [1, 32, 32, 32], out: 32, mode: .reflect)])
        try BackendHarness.expectParity(cases, tolerance: 2e-5, scaled: true, transform: Self.fuse)
        let symbols = try Self.symbols(cases, options: CompileOptions())
        #expect(!symbols.contains { $0.hasPrefix("pad") }, "\(Set(symbols).sorted())")
        let conv = symbols.filter { $0.hasPrefix("conv2d") }
        #expect(!conv.isEmpty && conv.allSatisfy { $0.contains("winograd_reflectp1") }, "\(conv)")
    }
}

/// The machine-dependent choices: AVX-512 code takes Winograd with generated products on every plane (MUNIT's
/// 16×16 residual planes are 64 tiles, 32×32 ones 256); AVX2 code generates the narrow products (below 256
/// tiles) and calls BLAS for the wider ones.
@Test func winogradProductsFollowTheTarget() throws {
    func symbols(_ plane: Int, _ isa: VectorISA) throws -> [String] {
        let b = GraphBuilder(name: "tiles")
        let x = b.input("x", .f32(1, 32, plane, plane)), w = b.input("w", .f32(32, 32, 3, 3))
        b.output("y", try b.conv2d(x, w, nil, pad: [1, 1, 1, 1]))
        let tuning = ConvolutionTuning(for: TargetCPU(name: "x", featureString: "", isa: isa, isHost: false))
        let options = CompileOptions(winogradMinimumTiles: tuning.winogradMinimumTiles, generatedProductsBelowTiles: tuning.generatedProductsBelowTiles)
        return try Executable(graph: b.graph, options: options).kernelCalls.map(\.symbol)
    }
    #expect(try !symbols(8, .avx512).contains { $0.contains("winograd") }, "16 tiles a sample: below the minimum")
    #expect(try symbols(16, .avx512).contains { $0.contains("winograd") && $0.hasSuffix("_product") })
    #expect(try symbols(32, .avx512).contains { $0.contains("winograd") && $0.hasSuffix("_product") })
    #expect(try symbols(16, .avx2).contains { $0.contains("winograd") && $0.hasSuffix("_product") })
    #expect(try !symbols(32, .avx2).contains { $0.hasSuffix("_product") })
    #expect(try symbols(32, .avx2).contains { $0.contains("winograd") && $0.hasSuffix("_gemm") })
}

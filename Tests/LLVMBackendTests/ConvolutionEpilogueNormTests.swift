import GraphIR
import Passes
import Testing
@testable import LLVMBackend

/// The epilogue lowering's branches on its norm (`ConvolutionEpilogueFusion.Norm`) crossed with where its
/// moments come from: a pass of their own after a BLAS or direct convolution, the plane's store (instance
/// norm, AdaIN), or per-plane sums in scratch that the layer norm adds per sample; each against the
/// interpreter.
@Suite struct ConvolutionEpilogueNormTests {
    enum Moments: Equatable { case pass, observed, partials }

    /// One convolution + `norm` case: its name, inputs (x, w, then the norm's), and the norm applied.
    struct NormCase {
        var name: String
        var inputs: [TensorType]
        var norm: @Sendable (GraphBuilder, ValueID, [ValueID]) throws -> ValueID
        var moments: Moments
    }

    // im2col (3 input channels: BLAS writes the output), direct (≤ 4 output channels), wide grid (plane store).
    static let im2col = (TensorType.f32(2, 3, 9, 7), TensorType.f32(6, 3, 3, 3), 6, 2)
    static let direct = (TensorType.f32(2, 3, 9, 7), TensorType.f32(3, 3, 3, 3), 3, 2)
    static let wide = (TensorType.f32(2, 16, 34, 33), TensorType.f32(5, 16, 3, 3), 5, 2)

    static var cases: [NormCase] {
        var cases: [NormCase] = []
        for (label, (x, w, channels, batch), planeStore) in [("im2col", im2col, false), ("direct", direct, false), ("wide", wide, true)] {
            cases.append(NormCase(name: "\(label)_in", inputs: [x, w], norm: { b, y, _ in try b.instanceNorm(y) },
                                  moments: planeStore ? .observed : .pass))
            cases.append(NormCase(name: "\(label)_adain", inputs: [x, w, .f32(batch, channels), .f32(batch, channels)],
                                  norm: { b, y, v in try b.adain(y, weight: v[0], bias: v[1]) }, moments: planeStore ? .observed : .pass))
            cases.append(NormCase(name: "\(label)_ln", inputs: [x, w, .f32(channels), .f32(channels)],
                                  norm: { b, y, v in try b.layerNorm(y, gamma: v[0], beta: v[1]) }, moments: planeStore ? .partials : .pass))
        }
        return cases
    }

    /// conv → norm → ReLU, the norm's output read again (so the epilogue stores it as well).
    static func backendCase(_ c: NormCase) -> BackendCase {
        BackendCase(name: c.name, inputs: c.inputs) { b, v in
            let n = try c.norm(b, b.conv2d(v[0], v[1]), Array(v.dropFirst(2)))
            return try b.add(b.relu(n), b.square(n))
        }
    }

    static func fuse(_ graph: Graph) throws -> Graph {
        var statistics = PassStatistics(), fused = graph
        for pass in PassRegistry.fusionPipeline() { fused = try pass.run(fused, statistics: &statistics) }
        return fused
    }

    /// Where an epilogue's plan takes the moments from: partials have a phase of their own, and the plane's
    /// store leaves the convolution's phase count as it was (the epilogue runs inside its last phase).
    static func moments(_ epilogue: ConvolutionEpilogue, _ input: LoweringInput) throws -> Moments {
        let plan = epilogue.plan(input)
        if plan.phases.contains(where: { $0.suffix.hasSuffix("_moments") }) { return .partials }
        guard case .kernel(let lower) = try Lowerings.lowering(for: epilogue.convolution.op) else { return .pass }
        return plan.phases.count == lower(epilogue.convolutionInput).phases.count ? .observed : .pass
    }

    @Test func eachNormTakesItsMomentsWhereExpected() throws {
        for c in Self.cases {
            let b = GraphBuilder(name: c.name)
            let ids = c.inputs.enumerated().map { b.input("x\($0.offset)", $0.element) }
            b.output("y", try Self.backendCase(c).build(b, ids))
            let fused = try Self.fuse(b.graph)
            let node = try #require(fused.nodes.first { $0.fusionKind == .convolutionEpilogue }, "\(c.name)")
            let input = LoweringInput(node, in: fused)
            guard case .convolutionEpilogue(let fusion) = input.fused else { Issue.record("\(c.name)"); continue }
            #expect(fusion.norm?.kind.perSample == c.name.hasSuffix("_ln"), "\(c.name)")
            #expect(fusion.storedResult(fusion.norm!.node.results[0]) != nil, "\(c.name): the norm's output is read again")
            #expect(try Self.moments(ConvolutionEpilogue(fusion), input) == c.moments, "\(c.name)")
        }
    }

    @Test func eachNormMatchesTheInterpreter() throws {
        try BackendHarness.expectParity(Self.cases.map(Self.backendCase), tolerance: 1e-5, transform: Self.fuse)
    }
}

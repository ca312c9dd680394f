import GraphIR
import Testing
@testable import LLVMBackend

/// Random inputs, a graph built over them, run on the interpreter and on compiled kernels, compared output
/// by output: the op-by-op parity harness.
struct BackendCase {
    var name: String
    var inputs: [TensorType]
    /// Value range per input (default −2…2).
    var ranges: [ClosedRange<Double>] = []
    var build: (GraphBuilder, [ValueID]) throws -> ValueID
}

enum BackendHarness {
    /// Builds one graph holding every case (so one compile covers a family), runs it on the interpreter and
    /// compiled for each of `targets`, and returns the worst relative error per case over the targets (error / (1 + |reference|), the largest over elements).
    /// Buffers are guarded by default: a kernel reading or writing past a buffer's end faults.
    /// `transform` rewrites the graph before it is compiled (a fusion pass); the interpreter runs the original.
    /// `scaled`: errors relative to 1 + the output's largest magnitude instead of each element's own (for sums
    /// of many terms, whose float32 rounding follows the terms' size, not the sum's).
    /// `template` carries any other compile option (the tuning overrides), the same on every target.
    static func compare(_ cases: [BackendCase], seed: UInt64 = 1, threads: Int = 2, optimizationLevel: Int = 2,
                        guarded: Bool = true, scaled: Bool = false, template: CompileOptions = CompileOptions(),
                        transform: (Graph) throws -> Graph = { $0 }) throws -> [String: Double] {
        let b = GraphBuilder(name: "cases")
        var arguments: [String: Tensor] = [:]
        var rng = SplitMix64(seed: seed)
        for c in cases {
            let ids = c.inputs.enumerated().map { i, type -> ValueID in
                let name = "\(c.name).x\(i)"
                let range = i < c.ranges.count ? c.ranges[i] : -2...2
                arguments[name] = Tensor.random(type, in: range, using: &rng)
                return b.input(name, type)
            }
            b.output(c.name, try c.build(b, ids))
        }
        let graph = b.graph
        try graph.verified()
        let expected = try Interpreter(graph: graph).run(arguments)
        let compiled = try transform(graph)
        var worst: [String: Double] = [:]
        for target in targets {
            var options = template
            (options.optimizationLevel, options.threads, options.guardedBuffers, options.targetCPU) = (optimizationLevel, threads, guarded, target)
            let actual = try Executable(graph: compiled, options: options).run(arguments)
            for c in cases {
                let (e, a) = (expected[c.name]!, actual[c.name]!)
                #expect(e.shape == a.shape, "\(c.name) on \(target ?? "host"): shape")
                var largest = worst[c.name] ?? 0
                let scale = e.scalars.filter(\.isFinite).map(Swift.abs).max() ?? 0
                for (x, y) in zip(e.scalars, a.scalars) where !(x.isNaN && y.isNaN) {
                    let error: Double = Swift.abs(x - y) / (1 + (scaled ? scale : Swift.abs(x)))
                    largest = Swift.max(largest, error.isNaN ? .infinity : error)
                }
                worst[c.name] = largest
            }
        }
        return worst
    }

    /// The code-generation targets every parity case runs on: the host (AVX-512 where present) and an
    /// AVX2-only CPU, so both vector paths are checked against the interpreter on whatever machine runs the
    /// tests. On a host below AVX2 only the host runs.
    static let targets: [String?] = HostCPU.current.isa >= .avx2 ? [nil, "haswell"] : [nil]

    /// Expects every case within `tolerance`, naming the ones that are not.
    static func expectParity(_ cases: [BackendCase], tolerance: Double = 2e-5, threads: Int = 2, scaled: Bool = false,
                             template: CompileOptions = CompileOptions(), transform: (Graph) throws -> Graph = { $0 },
                             sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let worst = try compare(cases, threads: threads, scaled: scaled, template: template, transform: transform)
        for c in cases {
            let error = worst[c.name] ?? .infinity
            #expect(error <= tolerance, "\(c.name): worst relative error \(error)", sourceLocation: sourceLocation)
        }
    }
}

extension TensorType {
    static func f32(_ shape: Int...) -> TensorType { TensorType(.f32, shape) }
    static func f64(_ shape: Int...) -> TensorType { TensorType(.f64, shape) }
}

import GraphIR

/// What a lowering sees of one node: its op, checked attributes, and operand and result types.
struct LoweringInput {
    let op: OpDefinition
    let attributes: Attributes
    let operands: [TensorType]
    let results: [TensorType]
    /// A fused node's region.
    var region: Graph? = nil
    /// A fused node's region as its kind's grammar reads it, matched once where the input is made (or why
    /// it does not match, which `Lowerings.checkFused` reports).
    var fusion: Result<FusedRegion, OpError>? = nil

    var result: TensorType { results[0] }
    var dtype: DType { results[0].dtype }
}

extension LoweringInput {
    /// A node of `graph` (a fused node's region, or the graph being compiled) as a node of its own; a fused
    /// node's region read through its kind's grammar, or taken as `matched` when a parent's description
    /// has read it already.
    init(_ node: Node, in graph: Graph, matched: FusedRegion? = nil) {
        self.init(op: node.op, attributes: node.attributes, operands: node.operands.map { graph.type(of: $0) },
                  results: node.results.map { graph.type(of: $0) }, region: node.region)
        if let matched {
            fusion = .success(matched)
        } else if node.region != nil {
            fusion = Result { () throws(OpError) in try node.fusedRegion()! }
        }
    }

    /// The fused node's description (`Lowerings.checkFused` has accepted it).
    var fused: FusedRegion {
        guard case .success(let description)? = fusion else { preconditionFailure("'\(op.name)' is not a checked fused node") }
        return description
    }
}

/// One generated function of a node's kernel, called over `0 ..< parallelCount` outer iterations.
struct KernelPhase {
    /// Appended to the kernel's name (`""` for the main phase, `_im2col`, `_col2im`, …).
    var suffix: String
    /// Outer iterations; the runtime hands each thread a contiguous range of them.
    var parallelCount: Int
    /// Calls BLAS, which runs its own threads: the runtime calls it once, over the whole range.
    var usesBLAS = false
    /// Does a node's matrix products without BLAS (generated blocks): profiles book the node's flops here.
    var isProduct = false
    /// Writes each element of its output planes exactly once, with `KernelEmitter.store`, one plane per
    /// outer iteration: a fused epilogue can accumulate a plane's moments as it is written.
    var storesEachPlaneOnce = false
    /// Emits the body for the outer iterations `emitter.begin ..< emitter.end`.
    var emit: (KernelEmitter) -> Void

    /// This phase run inside another kernel, whose buffer `map[i]` is this phase's buffer `i`.
    func remapped(_ map: [Int]) -> KernelPhase {
        var phase = self
        let emit = self.emit
        phase.emit = { e in
            // Composed with any map already in force (an in-place kernel's), and restored after.
            let outer = e.bufferMap
            e.bufferMap = map.map { outer?[$0] ?? $0 }
            emit(e)
            e.bufferMap = outer
        }
        return phase
    }
}

/// The kernel generated for one node: one or more phases run in order (a convolution's parallel im2col,
/// then its BLAS product). Its buffers are the node's operands, then its results, then `scratch`
/// (temporaries such as im2col columns, planned in the arena for the node's duration).
struct KernelPlan {
    /// What it computes, for the kernel's symbol (`conv2d_k3_s1_p0_1x64x32x32_to64`); deduplication adds the rest.
    var name: String
    var scratch: [TensorType] = []
    var phases: [KernelPhase]

    init(name: String, scratch: [TensorType] = [], phases: [KernelPhase]) {
        self.name = name
        self.scratch = scratch
        self.phases = phases
    }

    /// A single-phase kernel.
    init(name: String, scratch: [TensorType] = [], parallelCount: Int, usesBLAS: Bool = false, emit: @escaping (KernelEmitter) -> Void) {
        self.init(name: name, scratch: scratch, phases: [KernelPhase(suffix: "", parallelCount: parallelCount, usesBLAS: usesBLAS, emit: emit)])
    }
}

/// How the backend implements an op.
enum Lowering: Sendable {
    /// The result is the operand's storage viewed differently (reshape, stop_gradient): no kernel.
    case alias
    case kernel(@Sendable (LoweringInput) -> KernelPlan)
    /// Run by the executor on the host between kernels (`all_reduce`: a message to the other ranks).
    case collective
}

/// The lowering of every op, by name. Split by op group across the `Lower*.swift` files; a test checks that
/// every op of `Ops.all` has one.
enum Lowerings {
    static let table: [String: Lowering] = {
        var table: [String: Lowering] = ["reshape": .alias, "stop_gradient": .alias, Ops.allReduce.name: .collective]
        for group in [elementwise, reductions, layout, spatial, spatialBackward, normalization, contraction, convolution, fused] {
            table.merge(group) { _, _ in preconditionFailure("an op is lowered twice") }
        }
        return table
    }()

    static func lowering(for op: OpDefinition) throws(BackendError) -> Lowering {
        guard let lowering = table[op.name] else {
            throw BackendError("the LLVM backend has no lowering for op '\(op.name)'")
        }
        return lowering
    }
}

/// Human-readable pieces of kernel names.
enum KernelName {
    static func shape(_ shape: [Int]) -> String { shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "x") }
    static func pair(_ prefix: String, _ v: [Int]) -> String { v[0] == v[1] ? "\(prefix)\(v[0])" : "\(prefix)\(v[0])x\(v[1])" }
    static func pad(_ p: [Int]) -> String { p.allSatisfy { $0 == p[0] } ? "p\(p[0])" : "p" + p.map(String.init).joined(separator: "_") }
}

/// A gathered convolution chain (`fuse-conv-input`): nearest upsampling and a pad folded into the input of
/// a convolution or weight gradient (`upsample_nearest` → `pad` → the op), or their gradients folded into
/// a data gradient's output (the op → `pad_backward` → `upsample_nearest_backward`). Either spatial op may
/// be absent. The backend reads the source image through index tables instead of materialising it.
public struct GatheredConvolutionFusion: Sendable {
    /// Which convolution op the chain wraps, and so its fusion kind.
    public enum Role: CaseIterable, Sendable {
        case convolution, weightGradient, dataGradient

        /// The fused node's kind.
        public var kind: FusionKind {
            switch self {
            case .convolution: return .gatheredConvolution
            case .weightGradient: return .gatheredWeightGradient
            case .dataGradient: return .gatheredDataGradient
            }
        }

        /// The convolution op the chain ends in (begins with, for the data gradient).
        public var op: OpDefinition {
            switch self {
            case .convolution: return Ops.conv2d
            case .weightGradient: return Ops.conv2dBackwardWeight
            case .dataGradient: return Ops.conv2dBackwardInput
            }
        }

        /// The spatial ops a chain may hold, in the order the data flows: the forward pair before a
        /// convolution or weight gradient, their gradients after a data gradient.
        public var spatialOps: (upsample: OpDefinition, pad: OpDefinition) {
            self == .dataGradient ? (Ops.upsampleNearestBackward, Ops.padBackward) : (Ops.upsampleNearest, Ops.pad)
        }

        /// The role of a gathered kind (nil for other kinds).
        public init?(_ kind: FusionKind) {
            guard let role = Self.allCases.first(where: { $0.kind == kind }) else { return nil }
            self = role
        }

        /// The role wrapping `op`, if it is a convolution or one of its gradients.
        public init?(wrapping op: OpDefinition) {
            guard let role = Self.allCases.first(where: { $0.op === op }) else { return nil }
            self = role
        }
    }

    public let role: Role
    /// The region read.
    public let region: Graph
    /// The convolution (or gradient) node, and the spatial nodes it reads or writes through.
    public let convolution: Node
    public let upsample: Node?, pad: Node?
    /// The image the chain reads (conv2d, weight gradient) or writes (data gradient) at its own size:
    /// before upsampling and padding.
    public let source: TensorType

    /// The chain a fused convolution node holds, read; nil for a plain convolution.
    static func chain(of node: Node) throws(OpError) -> GatheredConvolutionFusion? {
        guard let region = node.region, let role = node.fusionKind.flatMap(Role.init) else { return nil }
        return try GatheredConvolutionFusion(role, region: region)
    }

    init(_ role: Role, region: Graph) throws(OpError) {
        let kind = role.kind, op = role.op
        let nodes = region.nodes.filter { !$0.op.traits.contains(.constant) }
        func fail() -> OpError {
            OpError("a fused '\(kind.rawValue)' node must hold [upsample_nearest] [pad] and the convolution (reversed, as "
                + "gradients, for conv2d_backward_input), each reading the one before, got \(nodes.map(\.op.name))")
        }
        // Walking away from the convolution: the convolution, then the pad, then the upsampling.
        var rest = (role == .dataGradient ? nodes : nodes.reversed())[...]
        guard let conv = rest.popFirst(), conv.op === op else { throw fail() }
        let (upsampleOp, padOp) = role.spatialOps
        let pad = rest.first?.op === padOp ? rest.popFirst() : nil
        let upsample = rest.first?.op === upsampleOp ? rest.popFirst() : nil
        guard rest.isEmpty, let outermost = nodes.first, let last = nodes.last else { throw fail() }
        // Each node reads the one before it (operand 0), the first the region's first argument.
        guard outermost.operands.first == region.arguments.first?.value,
              zip(nodes, nodes.dropFirst()).allSatisfy({ $1.operands.first == $0.results[0] }),
              region.outputs.map(\.value) == [last.results[0]] else { throw fail() }
        (self.role, self.region, convolution, self.upsample, self.pad) = (role, region, conv, upsample, pad)
        source = role == .dataGradient ? region.type(of: last.results[0]) : region.type(of: outermost.operands[0])
    }
}

extension GatheredConvolutionFusion {
    /// Input and output channels from which the backend runs a 3×3 stride-1 convolution (and its gradients)
    /// as Winograd F(2×2, 3×3); below, its 16 products are too small to beat one im2col GEMM. Here rather than
    /// in the backend because `fuse-conv-input` folds by it: both must read the same number.
    public static let winogradMinimumChannels = 32

    /// Whether the backend runs a convolution of this geometry as Winograd (3×3, stride 1,
    /// `winogradMinimumChannels` each side), which reads its input through per-axis source tables, so a pad
    /// folded into it costs nothing. The backend also wants a minimum of tiles (its `ConvolutionTuning`:
    /// a 16×16 plane), which depends on the target and is not checked here.
    public static func readsThroughTables(kernel: [Int], stride: [Int], inputChannels: Int, outputChannels: Int) -> Bool {
        kernel == [3, 3] && stride == [1, 1] && min(inputChannels, outputChannels) >= winogradMinimumChannels
    }
}

/// A `conv2d_epilogue` fused node (`fuse-conv-epilogue`): a convolution (plain or gathered) whose output
/// goes through a per-sample norm, an activation and a residual add, each optional but at least one, each
/// reading the previous one's result as its first operand. The convolution's operands are the region's
/// first arguments, in order; the region's outputs are the values read outside it (`storedResult`).
public struct ConvolutionEpilogueFusion: Sendable {
    /// What follows the convolution, in order.
    public enum Step: CaseIterable, Sendable { case norm, activation, residualAdd }

    /// How the norm groups and scales: per (n, c) plane (instance norm; AdaIN with a weight and bias per
    /// plane) or per sample (MUNIT's layer norm: unbiased std, eps added to it, gamma and beta per channel).
    public enum Norm: Sendable, Equatable {
        case instance
        case adain(weight: ValueID, bias: ValueID)
        case layer(gamma: ValueID, beta: ValueID)

        /// Statistics per sample (the layer norm) rather than per (n, c) plane.
        public var perSample: Bool {
            if case .layer = self { return true }
            return false
        }
    }

    /// The region read.
    public let region: Graph
    /// The region's first node: `conv2d`, or a gathered convolution chain.
    public let convolution: Node
    /// The convolution's chain when it is a gathered one (its region, read).
    public let gathered: GatheredConvolutionFusion?
    /// The steps present: the norm with how it normalises, the activation, the residual add.
    public let norm: (node: Node, kind: Norm)?
    public let activation: Node?, residualAdd: Node?

    /// Whether `node` is a convolution an epilogue can follow: `conv2d`, plain or gathered.
    public static func isConvolution(_ node: Node) -> Bool { node.convolutionOp === Ops.conv2d }

    /// Whether `node` of `graph` can be `step` after a convolution whose output has `shape` (its first
    /// operand being the previous step's result is for the caller to check).
    public static func accepts(_ step: Step, _ node: Node, in graph: Graph, convolutionShape shape: [Int]) -> Bool {
        switch step {
        case .norm: return node.op.traits.contains(.sampleStatistics)
        case .activation: return node.op.traits.contains(.activation) && node.op.isPointwise && node.operands.count == 1
        case .residualAdd:
            return node.op === Ops.add && graph.type(of: node.operands[1]).shape == shape && graph.type(of: node.results[0]).shape == shape
        }
    }

    /// The way `node`'s op (a `.sampleStatistics` norm) normalises.
    static func norm(_ node: Node) throws(OpError) -> Norm {
        switch node.op {
        case Ops.instanceNorm: return .instance
        case Ops.adain: return .adain(weight: node.operands[1], bias: node.operands[2])
        case Ops.layerNorm: return .layer(gamma: node.operands[1], beta: node.operands[2])
        default: throw OpError("a fused 'conv2d_epilogue' node does not know how '\(node.op.name)' normalises")
        }
    }

    init(region: Graph) throws(OpError) {
        var nodes = region.nodes[...]
        let names = region.nodes.map(\.op.name)
        func fail(_ why: String) -> OpError {
            OpError("a fused 'conv2d_epilogue' node must hold a convolution, then [norm] [activation] [add]: \(why) (got \(names))")
        }
        guard let first = nodes.popFirst(), Self.isConvolution(first) else { throw fail("no convolution first") }
        guard first.operands == region.arguments.prefix(first.operands.count).map(\.value) else {
            throw fail("convolution operands out of order")
        }
        let shape = region.type(of: first.results[0]).shape
        var previous = first.results[0]
        var taken: [Step: Node] = [:]
        for step in Step.allCases {
            guard let next = nodes.first, next.operands.first == previous,
                  Self.accepts(step, next, in: region, convolutionShape: shape) else { continue }
            taken[step] = nodes.removeFirst()
            previous = next.results[0]
        }
        guard nodes.isEmpty else { throw fail("unexpected '\(nodes.first!.op.name)'") }
        guard !taken.isEmpty else { throw fail("nothing after the convolution") }
        (self.region, convolution, activation, residualAdd) = (region, first, taken[.activation], taken[.residualAdd])
        gathered = try GatheredConvolutionFusion.chain(of: first)
        norm = try taken[.norm].map { node throws(OpError) in (node, try Self.norm(node)) }
    }

    /// The region argument a value read from outside comes from.
    public func argument(_ v: ValueID) -> Int { region.arguments.firstIndex { $0.value == v }! }
    /// The fused node's result that stores `v`, if anything outside reads it.
    public func storedResult(_ v: ValueID) -> Int? { region.outputs.firstIndex { $0.value == v } }
}

/// A `conv2d_backward` fused node (`fuse-conv-backward`): one convolution's data gradient (gy, w → gx)
/// then its weight gradient (x, gy → gw), each plain or gathered, with arguments gy, w, x and results gx, gw.
public struct ConvolutionBackwardFusion: Sendable {
    /// The region read.
    public let region: Graph
    /// The data gradient (gy, w → gx) and the weight gradient (x, gy → gw), plain or fused.
    public let data: Node, weight: Node
    /// Each gradient's chain when it is a gathered one (its region, read).
    public let dataChain: GatheredConvolutionFusion?, weightChain: GatheredConvolutionFusion?

    /// Whether `node` computes a data gradient (`conv2d_backward_input`), plain or gathered.
    public static func isDataGradient(_ node: Node) -> Bool { node.convolutionOp === Ops.conv2dBackwardInput }
    /// Whether `node` computes a weight gradient (`conv2d_backward_weight`), plain or gathered.
    public static func isWeightGradient(_ node: Node) -> Bool { node.convolutionOp === Ops.conv2dBackwardWeight }

    /// Whether `data` and `weight` of `graph` are the two gradients of one convolution: both read gy, gw
    /// has the weight's type and gx the forward input's.
    public static func pairs(_ data: Node, _ weight: Node, in graph: Graph) -> Bool {
        isDataGradient(data) && isWeightGradient(weight) && data.operands.count == 2 && weight.operands.count == 2
            && weight.operands[1] == data.operands[0]
            && graph.type(of: weight.results[0]) == graph.type(of: data.operands[1])
            && graph.type(of: data.results[0]) == graph.type(of: weight.operands[0])
    }

    init(region: Graph) throws(OpError) {
        let nodes = region.nodes.filter { !$0.op.traits.contains(.constant) }
        let args = region.arguments.map(\.value), outs = region.outputs.map(\.value)
        guard nodes.count == 2, args.count == 3, Self.pairs(nodes[0], nodes[1], in: region),
              nodes[0].operands == [args[0], args[1]], nodes[1].operands == [args[2], args[0]],
              outs == [nodes[0].results[0], nodes[1].results[0]] else {
            throw OpError("a fused 'conv2d_backward' node must hold conv2d_backward_input(gy, w) then "
                + "conv2d_backward_weight(x, gy) (plain or fused), with arguments gy, w, x and results gx, gw "
                + "(got \(nodes.map { $0.fusionKind?.rawValue ?? $0.op.name }))")
        }
        (self.region, data, weight) = (region, nodes[0], nodes[1])
        (dataChain, weightChain) = (try GatheredConvolutionFusion.chain(of: data), try GatheredConvolutionFusion.chain(of: weight))
    }
}

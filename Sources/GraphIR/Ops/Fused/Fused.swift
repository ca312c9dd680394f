extension Ops {
    /// A group of nodes that a fusion pass made into one (DESIGN.md, decision 6): the node holds the group as
    /// its region, so dumps show what fused, the interpreter runs the region, and the backend generates one
    /// kernel for it. `kind` names the `FusionKind`, whose grammar the region must match.
    public static let fused = OpDefinition(
        name: "fused",
        summary: "a fused group: runs its region (arguments ← operands in order, outputs → results)",
        operands: .variadic("x", minimum: 0),
        attributes: [AttributeSpec(FusionKind.attribute, .string, check: Check.oneOf(FusionKind.allCases.map(\.rawValue)))],
        traits: .fused,
        inferTypes: { _, _ throws(OpError) in
            throw OpError("'fused' takes its result types from its region; a fused node needs one")
        },
        kernel: { _, _, _ in preconditionFailure("fused nodes run their region (Interpreter.evaluate)") },
        cost: { _, _, _ in Cost(flops: 0, bytes: 0) })
}

/// The kinds of fused node, each declared once with its region grammar: the pass that builds one, the
/// verifier and the backend that lowers it all read the region through `match`, which returns the typed
/// description. Adding a fusion is a case here with its description, a pass, and a lowering (the
/// backend's switch over `FusedRegion` is exhaustive, so it cannot forget one).
public enum FusionKind: String, CaseIterable, Sendable {
    /// Same-shape pointwise ops in one loop (`ElementwiseFusion`).
    case elementwise
    /// A pointwise producer computed inside the reduction or norm gradient that reads it (`PrologueFusion`).
    case prologue
    /// Nearest upsampling and padding gathered into a convolution's input (`GatheredConvolutionFusion`); the
    /// three gathered kinds are named after the convolution op they wrap.
    case gatheredConvolution = "conv2d"
    /// The same gathered into a weight gradient's input.
    case gatheredWeightGradient = "conv2d_backward_weight"
    /// A data gradient with the padding's and upsampling's gradients folded into its output.
    case gatheredDataGradient = "conv2d_backward_input"
    /// A convolution, then its norm, activation and residual add (`ConvolutionEpilogueFusion`).
    case convolutionEpilogue = "conv2d_epilogue"
    /// A convolution's data and weight gradients, sharing their passes over gy (`ConvolutionBackwardFusion`).
    case convolutionBackward = "conv2d_backward"

    /// The `fused` op's attribute that names the kind.
    public static let attribute = "kind"

    /// The kind `attributes` (a fused node's) name; nil for none or an unknown one.
    public init?(of attributes: Attributes) {
        guard let name = attributes[Self.attribute]?.stringValue else { return nil }
        self.init(rawValue: name)
    }

    /// `region` read through this kind's grammar, or why it does not match.
    public func match(_ region: Graph) throws(OpError) -> FusedRegion {
        switch self {
        case .elementwise: return .elementwise(try ElementwiseFusion(region: region))
        case .prologue: return .prologue(try PrologueFusion(region: region))
        case .gatheredConvolution, .gatheredWeightGradient, .gatheredDataGradient:
            return .gatheredConvolution(try GatheredConvolutionFusion(GatheredConvolutionFusion.Role(self)!, region: region))
        case .convolutionEpilogue: return .convolutionEpilogue(try ConvolutionEpilogueFusion(region: region))
        case .convolutionBackward: return .convolutionBackward(try ConvolutionBackwardFusion(region: region))
        }
    }
}

/// What a fused node's region computes, as its kind's grammar read it.
/// One case per description type; the three gathered kinds share one.
public enum FusedRegion: Sendable {
    case elementwise(ElementwiseFusion)
    case prologue(PrologueFusion)
    case gatheredConvolution(GatheredConvolutionFusion)
    case convolutionEpilogue(ConvolutionEpilogueFusion)
    case convolutionBackward(ConvolutionBackwardFusion)
}

extension Node {
    /// A fused node's kind; nil for other nodes (and for a kind the verifier would reject).
    public var fusionKind: FusionKind? {
        region == nil ? nil : FusionKind(of: attributes)
    }

    /// A fused node's region read through its kind's grammar; nil for other nodes.
    public func fusedRegion() throws(OpError) -> FusedRegion? {
        guard let region else { return nil }
        guard let kind = fusionKind else { throw OpError("a fused node of unknown kind") }
        return try kind.match(region)
    }

    /// The convolution op this node computes: its own, or the one a gathered convolution chain wraps.
    public var convolutionOp: OpDefinition? {
        if let kind = fusionKind { return GatheredConvolutionFusion.Role(kind)?.op }
        return region == nil && op.traits.contains(.contraction) ? op : nil
    }
}

extension Graph {
    /// The cost of a node: its op's rule, or for a fused node the sum of its region's nodes, with the bytes
    /// of the fused node's own operands and results (what stays in registers is not traffic).
    public func cost(of node: Node) -> Cost {
        guard let region = node.region else {
            return node.op.cost(node.operands.map { type(of: $0) }, node.results.map { type(of: $0) }, node.attributes)
        }
        let flops = Cost.saturatingSum(region.nodes.map { region.cost(of: $0).flops })
        return Cost(flops: flops, bytes: Cost.bytes((node.operands + node.results).map { type(of: $0) }))
    }
}

import GraphIR

/// Algebraic simplification and canonical forms (MLIR's canonicalizer): removes identities (x·1, x+0, x−0,
/// x/1, −(−x), transpose∘transpose, reshape chains, broadcasts and casts that change nothing), turns
/// arithmetic with a splat constant into the cheap `scale`/`shift` forms, drops a convolution bias that a
/// following instance norm, AdaIN or batch norm cancels, and replaces sums of norm gradients over the
/// normalised axes (exactly zero) by a zero constant, which is how a cancelled bias gets its explicit zero
/// gradient. As MLIR's canonicalizer does, it also folds constants (`ConstantFolding.fold`) so that
/// identities and folding feed each other.
///
/// Every rewrite gives the same values as the interpreter computed before, bit for bit up to the sign of
/// zero, except the two norm rules, which are exact in real arithmetic (the removed work only added
/// rounding noise). Rewrites that are not exact in floating point (x·0 → 0 fails for NaN and ∞, x/c →
/// x·(1/c) rounds differently unless c is a power of two) are not made. The rules run to a fixed point.
public struct Canonicalize: Pass {
    public static let name = "canonicalize"
    public let summary = "simplify algebraic identities, drop norm-cancelled conv biases, fold constants"

    /// Sweeps before giving up on reaching a fixed point (each sweep already sees its own rewrites of
    /// earlier nodes, so chains collapse in one; a second sweep catches what use-based rules exposed).
    public var maxSweeps = 8

    public init() {}

    public func run(_ graph: Graph, statistics: inout PassStatistics) throws -> Graph {
        var current = graph
        for _ in 0..<maxSweeps {
            statistics["sweeps"] += 1
            let cancelled = NormCancelledBias.convolutions(in: current)
            var sweep = CanonicalizationRules(cancelledBiases: cancelled)
            current = try GraphRewriter.rewrite(current, pass: name) { r, node in try sweep.simplify(node, r) }
            for (counter, count) in sweep.counts { statistics[counter] += count }
            if sweep.counts.isEmpty { break }
        }
        statistics["nodes-removed"] = graph.nodes.count - current.nodes.count
        return current
    }
}

/// One sweep's rules, with what they need to remember between nodes.
struct CanonicalizationRules {
    /// Source node indices of conv2d nodes whose bias every user cancels.
    let cancelledBiases: Set<Int>
    /// How often each rule fired, by statistics counter name.
    private(set) var counts: [(String, Int)] = []
    private var zeroSums: [ValueID: Set<Int>?] = [:]

    init(cancelledBiases: Set<Int>) { self.cancelledBiases = cancelledBiases }

    private mutating func count(_ counter: String) {
        if let i = counts.firstIndex(where: { $0.0 == counter }) { counts[i].1 += 1 } else { counts.append((counter, 1)) }
    }

    /// Replacement values for `node`'s results, or nil to keep it.
    mutating func simplify(_ node: RewriteCandidate, _ r: GraphRewriter) throws -> [ValueID]? {
        if let folded = try ConstantFolding.fold(node, r) {
            count("constants-folded")
            return [folded]
        }
        if node.op === Ops.conv2d, node.operands.count == 3, cancelledBiases.contains(node.sourceIndex) {
            count("conv-biases-dropped")
            return [try r.emit(Ops.conv2d, Array(node.operands.prefix(2)), node.attributes, location: node.location)]
        }
        guard node.resultTypes.count == 1 else { return nil }
        if node.op.traits.contains(.reduction), let zero = try zeroSumReduction(node, r) {
            count("zero-sums")
            return [zero]
        }
        guard let simplified = try AlgebraicIdentities(r: r, node: node).simplified() else { return nil }
        count("identities")
        return [simplified]
    }

    /// A zero constant for a sum or mean over axes on which the operand sums to zero by construction.
    private mutating func zeroSumReduction(_ node: RewriteCandidate, _ r: GraphRewriter) throws -> ValueID? {
        guard let axes = zeroSumAxes(node.operands[0], r), axes.isSubset(of: node.attributes.ints("axes")) else { return nil }
        return try r.constant(0, node.resultTypes[0], location: node.location)
    }

    /// Axes over which `value` sums to exactly zero in real arithmetic (for every index of the other axes),
    /// so that it also sums to zero over any superset of them; nil if none are known. Memoised per value.
    mutating func zeroSumAxes(_ value: ValueID, _ r: GraphRewriter) -> Set<Int>? {
        if let known = zeroSums[value] { return known }
        var axes: Set<Int>?
        if let node = r.producer(of: value) {
            if let own = NormCancelledBias.zeroSumAxes(of: node.op) {
                axes = own
            } else if node.op === Ops.neg || node.op === Ops.scale {
                axes = zeroSumAxes(node.operands[0], r)
            } else if node.op === Ops.add || node.op === Ops.sub,
                      node.operands.allSatisfy({ r.type(of: $0) == r.type(of: value) }),  // no broadcasting
                      let a = zeroSumAxes(node.operands[0], r), let b = zeroSumAxes(node.operands[1], r) {
                // Σ(a ± b) = Σa ± Σb: zero over axes covering both sets (a sum over a superset of a's set
                // is a sum of a's zero sums).
                axes = a.union(b)
            }
        }
        zeroSums[value] = .some(axes)
        return axes
    }
}

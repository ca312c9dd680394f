@testable import GraphIR

/// Seeded random graphs over elementwise, layout and reduction ops, built to give the clean-up passes
/// work: splat constants (0, ±1, powers of two, others), constant-only chains, transpose and reshape
/// chains, no-op casts and broadcasts, repeated subexpressions, dead nodes. Values stay in a moderate
/// range (no exp, division only by constants or by |x| + 1), so differences are the passes', not overflow's.
struct RandomGraphGenerator {
    var rng: SplitMix64
    let b = GraphBuilder(name: "random")
    /// Every value so far, the pool operands are drawn from.
    private var pool: [ValueID] = []
    /// Shapes with 24 elements, so reshapes between them always work.
    private let shapes: [[Int]] = [[2, 3, 4], [4, 6], [24], [3, 2, 4], [2, 12]]
    private let constants: [Double] = [0, 1, -1, 2, 0.5, 0.25, 3, -0.1]

    /// The graph's dtype. f64 shows rewrites that round differently (x/3 → x·(1/3) differs in the last bit
    /// of a double, which rounding to f32 nearly always hides).
    let dtype: DType

    init(seed: UInt64, dtype: DType) {
        rng = SplitMix64(seed: seed)
        self.dtype = dtype
    }

    /// A graph of about `steps` nodes with two inputs, a parameter, and three outputs; f32 for odd seeds,
    /// f64 for even ones.
    static func make(seed: UInt64, steps: Int = 30) throws -> Graph {
        var generator = RandomGraphGenerator(seed: seed, dtype: seed % 2 == 0 ? .f64 : .f32)
        return try generator.build(steps: steps)
    }

    mutating func build(steps: Int) throws -> Graph {
        pool = [b.input("x", TensorType(dtype, [2, 3, 4])), b.input("y", TensorType(dtype, [2, 3, 4])),
                b.parameter("p", TensorType(dtype, [4, 6]))]
        for _ in 0..<steps { pool.append(try step()) }
        // The last value, and two others: earlier values may end up dead, as in real graphs.
        b.output("out0", pool[pool.count - 1])
        b.output("out1", pick())
        b.output("out2", pick())
        return b.graph
    }

    private mutating func pick() -> ValueID { pool[Int.random(in: 0..<pool.count, using: &rng)] }
    private mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &rng)] }

    /// A splat constant shaped like `x`, or a rank-0 one that broadcasts.
    private mutating func constant(like x: ValueID) throws -> ValueID {
        let shape = Bool.random(using: &rng) ? b.shape(of: x) : []
        return try b.constant(value: pick(constants), shape: shape, dtype: b.dtype(of: x))
    }

    /// Another value of x's shape, or a constant when there is none.
    private mutating func partner(of x: ValueID) throws -> ValueID {
        let same = pool.filter { b.type(of: $0) == b.type(of: x) }
        return same.isEmpty || Int.random(in: 0..<4, using: &rng) == 0 ? try constant(like: x) : pick(same)
    }

    private mutating func step() throws -> ValueID {
        let x = pick()
        switch Int.random(in: 0..<14, using: &rng) {
        case 0: return try pick([b.neg, b.abs, b.square, b.tanh, b.sigmoid, b.relu])(x)
        case 1: return try b.neg(b.neg(x))
        case 2, 3:
            let y = try Bool.random(using: &rng) ? partner(of: x) : constant(like: x)
            let (l, r) = Bool.random(using: &rng) ? (x, y) : (y, x)
            return try pick([b.add, b.sub, b.mul, b.maximum, b.minimum])(l, r)
        case 4:  // division by a constant, or by something kept away from zero
            let denominator = try Bool.random(using: &rng) ? constant(like: x) : b.shift(b.abs(partner(of: x)), by: 1)
            return try b.div(x, b.splat(denominator) == 0 ? b.shift(denominator, by: 1) : denominator)
        case 5: return try pick([{ try $0.scale($1, by: 1) }, { try $0.scale($1, by: -2) }, { try $0.shift($1, by: 0) },
                                 { try $0.shift($1, by: 0.5) }])(b, x)
        case 6:
            let rank = b.shape(of: x).count
            let perm = Array(0..<rank).shuffled(using: &rng)
            let t = try b.transpose(x, perm: perm)
            return Bool.random(using: &rng) ? try b.transpose(t, perm: Array(0..<rank).shuffled(using: &rng)) : t
        case 7: return try b.reshape(b.reshape(x, to: pick(shapes)), to: pick(shapes))
        case 8:
            let shape = b.shape(of: x)
            let axes = shape.indices.filter { _ in Bool.random(using: &rng) }
            guard !axes.isEmpty else { return try b.broadcast(x, to: shape) }  // a no-op broadcast
            let reduced = try Bool.random(using: &rng) ? b.reduceSum(x, axes: axes, keepdims: true)
                : b.reduceMean(x, axes: axes, keepdims: true)
            return try b.broadcast(reduced, to: shape)
        case 9:  // a no-op cast, or widening and narrowing back
            return try dtype == .f64 ? b.cast(x, to: .f64) : b.cast(b.cast(x, to: .f64), to: .f32)
        case 10:  // a constant-only chain that folds away
            let c = try constant(like: x)
            return try b.add(x, b.scale(b.shift(c, by: pick(constants)), by: pick(constants)))
        case 11:  // a repeat of an existing node: the same op on the same operands
            guard let node = b.graph.nodes.filter({ $0.results.count == 1 && !$0.operands.isEmpty }).last else { return x }
            return try b.apply(node.op, node.operands, node.attributes)
        case 12:
            let slice = try b.slice(x, starts: b.shape(of: x).map { _ in 0 }, ends: b.shape(of: x))
            return try b.concat([slice], axis: 0)
        default:
            return try b.mul(x, b.constant(value: 1, shape: [], dtype: b.dtype(of: x)))
        }
    }
}

private extension GraphBuilder {
    /// The splat value of a constant node's result, if `value` is one.
    func splat(_ value: ValueID) -> Double? {
        guard let node = graph.definingNode(of: value), node.op === Ops.constant else { return nil }
        return node.attributes.float("value")
    }
}

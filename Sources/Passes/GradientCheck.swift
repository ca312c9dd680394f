import GraphIR

/// How one parameter's symbolic gradient compared with finite differences.
public struct ParameterCheck: Sendable {
    public var name: String
    public var type: TensorType
    /// Elements compared.
    public var checked: Int
    /// Sampled elements that sat at a kink (one-sided differences disagree) and were replaced by others.
    public var kinksResampled: Int
    /// Largest relative error over the compared elements.
    public var worstRelativeError: Double
    /// The element with the largest error: (flat index, symbolic, finite difference).
    public var worstElement: (index: Int, symbolic: Double, numeric: Double)?
    public var passed: Bool
}

/// Compares autodiff's gradients with central finite differences, in float64 on the interpreter.
///
/// The graph is converted to float64 and differentiated; each parameter's gradient is checked at `samples`
/// random elements (every element of parameters with at most `exhaustiveLimit` elements). An element where
/// the left and right one-sided differences disagree (relu or |x| at 0) is a kink: it is replaced by another
/// element, and counted, rather than reported as a failure or silently dropped. Only the nodes between the
/// perturbed parameter and the loss are re-run for each difference, so whole MUNIT loss graphs check in
/// minutes.
public struct GradientChecker {
    public var samples = 4
    public var exhaustiveLimit = 16
    public var seed: UInt64 = 0
    /// Relative error allowed: |sym − fd| / max(|sym|, |fd|, floor), where the floor is the larger of 1e-6 × the
    /// largest gradient seen and 1e5 × the finite differences' rounding noise.
    public var tolerance = 1e-5
    /// Step, relative to max(1, |p|).
    public var step = 1e-6
    /// How many replacement elements to try before giving up on a kink-ridden parameter.
    public var maxResamples = 32

    public init() {}

    /// Checks `graph` (which must have a loss output) for the trainable parameters `wrt` selects. Arguments
    /// not given in `arguments` are drawn uniformly from [−1, 1] with `seed`.
    public func check(
        _ graph: Graph, wrt: Autodiff = Autodiff(), arguments given: [String: Tensor] = [:]
    ) throws -> [ParameterCheck] {
        let forward = try graph.converted(to: .f64)
        var stats = PassStatistics()
        let differentiated = try wrt.run(forward, statistics: &stats)
        guard let loss = forward.lossOutput else { throw PassError(pass: "gradcheck", "the graph has no loss output") }

        var rng = SplitMix64(seed: seed)
        var arguments: [String: Tensor] = [:]
        for arg in forward.arguments {
            arguments[arg.name] = given[arg.name]?.converted(to: .f64)
                ?? Tensor.random(forward.type(of: arg.value), using: &rng)
        }
        let symbolic = try Interpreter(graph: differentiated).run(arguments)
        let interpreter = Interpreter(graph: forward)
        let base = try interpreter.runAll(arguments, keepingAll: true)
        let onPathToLoss = ancestors(of: loss.value, in: forward)

        let targets = forward.arguments.filter(wrt.wrt)
        let largestGradient = targets.compactMap { symbolic[Autodiff.gradientName($0.name)] }
            .flatMap(\.scalars).reduce(0) { Swift.max($0, Swift.abs($1)) }
        let floor = 1e-6 * Swift.max(largestGradient, 1e-12)

        var results: [ParameterCheck] = []
        for target in targets {
            let gradient = symbolic[Autodiff.gradientName(target.name)]!
            let nodes = dependentNodes(of: target.value, in: forward).filter { onPathToLoss.contains($0) }
            func lossAt(_ tensor: Tensor) -> Double {
                var values = base
                values[target.value.index] = tensor
                for n in nodes {
                    let node = forward.nodes[n]
                    for (id, t) in zip(node.results, interpreter.evaluate(node, values)) { values[id.index] = t }
                }
                return values[loss.value.index]!.scalars[0]
            }
            let original = arguments[target.name]!
            let count = original.scalars.count
            var candidates = count <= exhaustiveLimit ? Array(0..<count) : (0..<count).shuffled(using: &rng)
            let wanted = Swift.min(count, count <= exhaustiveLimit ? count : samples)
            var check = ParameterCheck(name: target.name, type: graph.type(of: graph.argument(named: target.name)!.value), checked: 0,
                                       kinksResampled: 0, worstRelativeError: 0, worstElement: nil, passed: true)
            let centre = lossAt(original)
            // Rounding in the loss puts an absolute noise of about ε·|loss|/h on each difference; below it,
            // compare absolutely (a true zero gradient, a bias that instance norm cancels, measures as noise).
            let noise = 1e3 * Double.ulpOfOne * Swift.max(Swift.abs(centre), 1e-300) / step
            let elementFloor = Swift.max(floor, noise * 1e5)  // noise stays ≤ 1e-5 of the floor
            while check.checked < wanted, !candidates.isEmpty {
                let i = candidates.removeFirst()
                let h = step * Swift.max(1, Swift.abs(original.scalars[i]))
                var plus = original, minus = original
                plus.scalars[i] += h
                minus.scalars[i] -= h
                let (up, down) = (lossAt(plus), lossAt(minus))
                let (right, left) = ((up - centre) / h, (centre - down) / h)
                let numeric = (up - down) / (2 * h)
                // A kink: the one-sided slopes differ far beyond their O(h) truncation error.
                if Swift.abs(right - left) > 1e-3 * Swift.max(Swift.abs(right), Swift.abs(left), elementFloor) {
                    check.kinksResampled += 1
                    if check.kinksResampled > maxResamples { break }
                    continue
                }
                let sym = gradient.scalars[i]
                let error = Swift.abs(sym - numeric) / Swift.max(Swift.abs(sym), Swift.abs(numeric), elementFloor)
                if error >= check.worstRelativeError {
                    check.worstRelativeError = error
                    check.worstElement = (i, sym, numeric)
                }
                check.checked += 1
            }
            check.passed = check.worstRelativeError <= tolerance && (check.checked > 0 || count == 0)
            results.append(check)
        }
        return results
    }

    /// Node indices whose results depend on `value`, in graph order.
    func dependentNodes(of value: ValueID, in graph: Graph) -> [Int] {
        var affected: Set<ValueID> = [value]
        var nodes: [Int] = []
        for (i, node) in graph.nodes.enumerated() where node.operands.contains(where: affected.contains) {
            nodes.append(i)
            affected.formUnion(node.results)
        }
        return nodes
    }

    /// Node indices that `value` depends on.
    func ancestors(of value: ValueID, in graph: Graph) -> Set<Int> {
        var needed: Set<ValueID> = [value]
        var nodes: Set<Int> = []
        for (i, node) in graph.nodes.enumerated().reversed() where node.results.contains(where: needed.contains) {
            nodes.insert(i)
            needed.formUnion(node.operands)
        }
        return nodes
    }
}

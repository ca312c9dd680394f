import Foundation
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
    /// Every compared element within tolerance.
    public var passed: Bool
    /// Why finite differences cannot judge this parameter here, when it is out of tolerance only where the
    /// loss is locally flat or clamped (a saturated sigmoid, binary cross-entropy's log clamp at −100): the
    /// differences measure the clamp, not the gradient. Nil otherwise.
    public var flatness: String?

    /// Out of tolerance with no flat or clamped loss to explain it: a wrong gradient.
    public var failed: Bool { !passed && flatness == nil }
}

/// How `GradientChecker` draws the arguments its caller does not give.
public enum ArgumentDraw: String, Sendable, CaseIterable {
    /// Weights (parameters of rank ≥ 2, [out, in, k…]) uniform in ±min(1, √(6 / fan_in)): the variance of
    /// Kaiming's initialisation, which keeps activations of order 1 through any depth, as a freshly
    /// initialised network has them. Everything else uniform in [−1, 1].
    case fanIn = "fan-in"
    /// Every argument uniform in [−1, 1]: wide layers then sum to logits in the hundreds, which saturate.
    case uniform
}

/// Compares autodiff's gradients with central finite differences, in float64 on the interpreter.
///
/// The graph is converted to float64 and differentiated; each parameter's gradient is checked at `samples`
/// random elements (every element of parameters with at most `exhaustiveLimit` elements). An element where
/// the left and right one-sided differences disagree (relu or |x| at 0) is a kink: it is replaced by another
/// element, and counted, rather than reported as a failure or silently dropped. Only the nodes between the
/// perturbed parameter and the loss are re-run for each difference, so whole MUNIT loss graphs check in
/// minutes. A parameter out of tolerance whose path to the loss crosses a saturated node (see
/// `ParameterCheck.flatness`) is reported as unjudgeable, not as failing.
public struct GradientChecker {
    public var draw = ArgumentDraw.fanIn
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
    /// not given in `arguments` are drawn as `draw` says, with `seed`.
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
            if let t = given[arg.name], t.shape != forward.type(of: arg.value).shape {
                throw PassError(pass: "gradcheck", "'\(arg.name)' is given with shape \(t.shape), the graph declares \(forward.type(of: arg.value))")
            }
            arguments[arg.name] = given[arg.name]?.converted(to: .f64) ?? drawn(arg, forward.type(of: arg.value), using: &rng)
        }
        let symbolic = try Interpreter(graph: differentiated).run(arguments)
        let interpreter = Interpreter(graph: forward)
        let base = try interpreter.runAll(arguments, keepingAll: true)
        let onPathToLoss = ancestors(of: loss.value, in: forward)
        let saturated = saturatedNodes(forward, base)

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
                let sym = gradient.scalars[i]
                // A kink (relu, lrelu or |x| at 0 somewhere downstream) crossed within ±h makes the one-sided
                // slopes differ by its jump and moves the central difference by at most half of it. Slopes
                // that differ far beyond their O(h) truncation error, or a discrepancy that their gap
                // explains, say nothing about the gradient: try again 100× closer, where the kink is likely
                // out of reach, else take another element. (A small jump among many smooth terms hides
                // under the first test alone.)
                var measured: Double?
                for shrink in [1.0, 1e-2] {
                    let h = step * shrink * Swift.max(1, Swift.abs(original.scalars[i]))
                    var plus = original, minus = original
                    plus.scalars[i] += h
                    minus.scalars[i] -= h
                    let (up, down) = (lossAt(plus), lossAt(minus))
                    let (right, left) = ((up - centre) / h, (centre - down) / h)
                    let (gap, numeric) = (Swift.abs(right - left), (up - down) / (2 * h))
                    let discrepancy = Swift.abs(sym - numeric)
                    let steep = gap > 1e-3 * Swift.max(Swift.abs(right), Swift.abs(left), elementFloor)
                    let explained = discrepancy > tolerance * Swift.max(Swift.abs(sym), Swift.abs(numeric), elementFloor)
                        && discrepancy <= gap
                    if !steep && !explained {
                        measured = numeric
                        break
                    }
                }
                guard let numeric = measured else {
                    check.kinksResampled += 1
                    if check.kinksResampled > maxResamples { break }
                    continue
                }
                let error = Swift.abs(sym - numeric) / Swift.max(Swift.abs(sym), Swift.abs(numeric), elementFloor)
                if error >= check.worstRelativeError {
                    check.worstRelativeError = error
                    check.worstElement = (i, sym, numeric)
                }
                check.checked += 1
            }
            check.passed = check.worstRelativeError <= tolerance && (check.checked > 0 || count == 0)
            let flatSites = nodes.compactMap { saturated[$0] }
            if !check.passed, !flatSites.isEmpty {
                check.flatness = "the loss is locally flat or clamped on its path: " + flatSites.prefix(2).joined(separator: "; ")
                    + (flatSites.count > 2 ? "; … (\(flatSites.count) nodes)" : "")
            }
            results.append(check)
        }
        return results
    }

    /// A value for argument `arg` of `type`, as `draw` says.
    func drawn(_ arg: GraphArgument, _ type: TensorType, using rng: inout SplitMix64) -> Tensor {
        guard draw == .fanIn, arg.isParameter, type.rank >= 2 else { return Tensor.random(type, using: &rng) }
        let bound = Swift.min(1, (6 / Double(Swift.max(type.fans.fanIn, 1))).squareRoot())
        return Tensor.random(type, in: -bound...bound, using: &rng)
    }

    /// The nodes at which the loss is locally flat or clamped at these values, each with a description: a
    /// sigmoid or tanh within 1e-8 of its bounds (1 − p keeps half its digits or fewer, and the slope is
    /// below 1e-8), or a binary cross-entropy whose log clamp at −100 is active.
    func saturatedNodes(_ graph: Graph, _ values: [Tensor?]) -> [Int: String] {
        var sites: [Int: String] = [:]
        for (i, node) in graph.nodes.enumerated() {
            let count: Int, what: String
            if node.op === Ops.sigmoid, let y = values[node.results[0].index] {
                count = y.scalars.filter { Swift.min($0, 1 - $0) < 1e-8 }.count
                what = "sigmoid within 1e-8 of 0 or 1"
            } else if node.op === Ops.tanh, let y = values[node.results[0].index] {
                count = y.scalars.filter { 1 - Swift.abs($0) < 1e-8 }.count
                what = "tanh within 1e-8 of ±1"
            } else if node.op === Ops.binaryCrossEntropy, let p = values[node.operands[0].index] {
                count = p.scalars.filter { log($0) < -100 || log1p(-$0) < -100 }.count
                what = "binary_cross_entropy's log clamped at −100"
            } else {
                continue
            }
            guard count > 0, let p = values[node.operands[0].index] else { continue }
            let place = node.location.map { " at \($0.line):\($0.column)" } ?? ""
            sites[i] = "\(what) for \(count) of \(p.scalars.count) elements (node \(i)\(place))"
        }
        return sites
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

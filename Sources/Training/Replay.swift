import Foundation
import GraphIR
import Passes

/// An error replaying a recording: names the tensor or graph argument that is missing or mismatched.
public struct ReplayError: DescribedError {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a replay produced: the tensors under the recording's names and the parity checks against it.
public struct ReplayResult {
    public var tensors: [String: Tensor]
    public var checks: [ParityCheck]
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

/// Replays recorded PyTorch training iterations (`shared/reference/README.md`), MUNIT's or UNIT's: iteration
/// k starts from the recording's parameters before k (teacher forcing), keeps its own Adam state and step
/// counter, feeds the recorded batches and noise (`iter<k>.<step>.<input>`), runs the dis step then the gen
/// step, and compares every loss, gradient, activation and update with the recording.
public struct Replay {
    public var disStep: Graph
    public var genStep: Graph
    /// The learning rate of iteration `i` (from 0), as the schedule gives it.
    public var learningRate: (Int) -> Double
    public var makeRunner: (Graph) throws -> any StepRunner
    public var rules = ParityRules()
    /// Arguments that are not in the recording and never change: VGG16's weights (`VGG16.loadWeights`).
    public var fixedArguments: [String: Tensor] = [:]
    /// Called after each step with a line a person can watch.
    public var progress: (String) -> Void = { _ in }

    public init(disStep: Graph, genStep: Graph, learningRate: @escaping (Int) -> Double,
                makeRunner: @escaping (Graph) throws -> any StepRunner = { InterpreterRunner(graph: $0) }) {
        self.disStep = disStep
        self.genStep = genStep
        self.learningRate = learningRate
        self.makeRunner = makeRunner
    }

    public func run(reference: [String: Tensor]) throws -> ReplayResult {
        var iterations = 0
        while reference["iter\(iterations + 1).x_a"] != nil { iterations += 1 }
        guard iterations > 0 else { throw ReplayError("the recording has no iterations (no tensor 'iter1.x_a')") }
        let parameterNames = reference.keys.filter { $0.hasPrefix("param.") }.map { String($0.dropFirst(6)) }
        let missing = (1...iterations).flatMap { recordedNames(iteration: $0, parameters: parameterNames) }
            .filter { reference[$0] == nil }
        if !missing.isEmpty {
            throw ReplayError("the recording lacks \(missing.count) tensor\(missing.count == 1 ? "" : "s") that the "
                + "steps produce and it should hold: \(missing.prefix(12).joined(separator: ", "))"
                + (missing.count > 12 ? ", … (\(missing.count - 12) more)" : ""))
        }
        let disRunner = try makeRunner(disStep), genRunner = try makeRunner(genStep)

        var produced: [String: Tensor] = [:]
        var optimizerState: [String: Tensor] = [:]  // names are distinct between the two steps' parameters
        var checks: [ParityCheck] = []
        // The README's scale m: medians over the whole recording, the same for every iteration.
        let scales = (gradient: median(reference.filter { $0.key.contains(".grad.") }.map { l2Norm($0.value) }),
                      activation: median(reference.filter { $0.key.contains(".act.") }.map { l2Norm($0.value) }))
        for k in 1...iterations {
            // Teacher forcing: the recording's parameters (and buffers) before this iteration.
            var current: [String: Tensor] = [:]
            for name in parameterNames {
                let key = k == 1 ? "param.\(name)" : "iter\(k - 1).after.\(name)"
                guard let t = reference[key] else { throw ReplayError("the recording has no '\(key)'") }
                current[name] = t
            }
            let before = current
            let lr = learningRate(k - 1)

            for (step, runner, noise) in [("dis", disRunner, "dis"), ("gen", genRunner, "gen")] {
                let graph = step == "dis" ? disStep : genStep
                let start = Date()
                // Parameters and Adam state live in one dictionary for the step; optimiser state starts at zero.
                var state = current.merging(optimizerState) { a, _ in a }
                let outputs = try runTrainingStep(runner, graph, state: &state, learningRate: lr, step: k) { name, type in
                    if name.hasPrefix("optimizer.") { return Tensor.zeros(type) }
                    guard let t = fixedArguments[name] ?? reference["iter\(k).\(name)"] ?? reference["iter\(k).\(noise).\(name)"] else {
                        throw ReplayError("no value for the \(step) step's argument '\(name)' (looked for 'param.\(name)', 'iter\(k).\(name)', 'iter\(k).\(noise).\(name)')")
                    }
                    guard t.shape == type.shape else {
                        throw ReplayError("'\(name)' has shape \(t.shape) in the recording, the \(step) step expects \(type)")
                    }
                    return t
                }
                for (name, t) in state {
                    if name.hasPrefix("optimizer.") { optimizerState[name] = t } else if current[name] != nil { current[name] = t }
                }
                for (name, t) in outputs {
                    if name.hasPrefix("loss.") {
                        // The recording stores losses as shape [1], as PyTorch's loss tensors are saved.
                        produced["iter\(k).\(name)"] = Tensor(t.dtype, shape: [1], scalars: t.scalars)
                    } else if name.hasPrefix("act.") {
                        produced["iter\(k).\(name)"] = t
                    } else if name.hasPrefix("grad.") {
                        produced["iter\(k).grad.\(step).\(name.dropFirst(5))"] = t
                    }
                }
                progress(String(format: "iteration %d: %@ step in %.1f s", k, step, Date().timeIntervalSince(start)))
            }
            for name in parameterNames { produced["iter\(k).after.\(name)"] = current[name] }
            checks += compare(iteration: k, produced: produced, reference: reference, before: before, lr: lr,
                              gradientScale: scales.gradient, activationScale: scales.activation)
        }
        return ReplayResult(tensors: produced, checks: checks)
    }

    /// The recording names of everything iteration `k` produces that a complete recording holds: each step
    /// graph's `loss.*` and `act.*` outputs, its `grad.<p>` as `grad.<step>.<p>`, and every parameter after the
    /// iteration. Read from the graphs' outputs, so a trainer with other losses or intermediates needs no list.
    public func recordedNames(iteration k: Int, parameters: [String]) -> [String] {
        var names: [String] = []
        for (step, graph) in [("dis", disStep), ("gen", genStep)] {
            for output in graph.outputs {
                if output.name.hasPrefix("loss.") || output.name.hasPrefix("act.") {
                    names.append("iter\(k).\(output.name)")
                } else if output.name.hasPrefix("grad.") {
                    names.append("iter\(k).grad.\(step).\(output.name.dropFirst(5))")
                }
            }
        }
        return names + parameters.sorted().map { "iter\(k).after.\($0)" }
    }

    /// The README's rules for one iteration.
    func compare(iteration k: Int, produced: [String: Tensor], reference: [String: Tensor],
                 before: [String: Tensor], lr: Double, gradientScale: Double, activationScale: Double) -> [ParityCheck] {
        var checks: [ParityCheck] = []
        var nullGradients: Set<String> = []
        for (key, ref) in reference.sorted(by: { $0.key < $1.key }) where key.hasPrefix("iter\(k).") {
            let kind: ParityCheck.Kind
            if key.hasPrefix("iter\(k).loss.") { kind = .loss }
            else if key.hasPrefix("iter\(k).grad.") { kind = .gradient }
            else if key.hasPrefix("iter\(k).act.") { kind = .activation }
            else { continue }
            guard let ours = produced[key] else {
                checks.append(ParityCheck(kind: kind, name: key, error: .infinity, tolerance: 0, passed: false,
                                          note: "the replay did not produce it"))
                continue
            }
            switch kind {
            case .loss: checks.append(rules.checkLoss(key, ours: ours, reference: ref))
            case .gradient:
                if l2Norm(ref) < rules.nullReferenceFraction * gradientScale {
                    nullGradients.insert(String(key.split(separator: ".", maxSplits: 3)[3]))
                }
                checks.append(rules.checkTensor(.gradient, key, ours: ours, reference: ref, scale: gradientScale))
            default: checks.append(rules.checkTensor(.activation, key, ours: ours, reference: ref, scale: activationScale))
            }
        }
        var ours: [String: Tensor] = [:], theirs: [String: Tensor] = [:]
        for name in before.keys {
            ours[name] = produced["iter\(k).after.\(name)"]
            theirs[name] = reference["iter\(k).after.\(name)"]
        }
        checks.append(rules.checkUpdates(iteration: k, before: before, ours: ours, reference: theirs,
                                         learningRate: lr, skipped: nullGradients))
        return checks
    }
}

extension ReplayResult {
    /// A summary a person can read: per kind, how many held and the worst error; then every failure.
    public func summary() -> String {
        var lines: [String] = []
        let plurals: [ParityCheck.Kind: String] = [.loss: "losses", .gradient: "gradients", .activation: "activations", .update: "updates"]
        for kind in [ParityCheck.Kind.loss, .gradient, .activation, .update] {
            let group = checks.filter { $0.kind == kind }
            guard !group.isEmpty else { continue }
            let worst = group.max { $0.error < $1.error }!
            let held = group.filter(\.passed).count
            lines.append(String(format: "%@: %d/%d hold; worst %.3g (tolerance %.0e) at %@", plurals[kind]!,
                                held, group.count, worst.error, worst.tolerance, worst.name))
        }
        for failure in checks where !failure.passed {
            lines.append(String(format: "FAIL %@ %@: %.3g > %.0e %@", failure.kind.rawValue, failure.name,
                                failure.error, failure.tolerance, failure.note))
        }
        lines.append(passed ? "parity: all rules hold" : "parity: \(checks.filter { !$0.passed }.count) checks fail")
        return lines.joined(separator: "\n")
    }
}

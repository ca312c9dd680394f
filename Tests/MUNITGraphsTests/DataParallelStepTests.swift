import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

/// MUNIT's training steps built for 2 ranks, run on the interpreter by 2 simulated ranks each holding its
/// consecutive half of the batch, compute what the one-process step computes on the whole batch: the same
/// losses, gradients and batch norm running statistics (up to the order of floating-point sums), and the
/// same results on every rank.
@Suite struct DataParallelStepTests {
    static let variants: [[String: String?]] = [
        ["batch_size": "2"],
        ["batch_size": "4", "dis.norm": "bn", "dis.activ": "prelu", "recon_x_cyc_w": "1", "dis.gan_type": "nsgan"],
    ]

    @Test(arguments: variants)
    func twoRanksComputeTheWholeBatch(_ replacements: [String: String?]) throws {
        let config = try InterpreterRunTests.small(replacements)
        let parameters = initialMUNITParameters(config: config, seed: 5)
        var rng = SplitMix64(seed: 11)
        for kind in [MUNITGraphKind.disStep, .genStep] {
            let whole = try buildMUNITGraph(kind, config: config)
            let split = try buildMUNITGraph(kind, config: config, options: MUNITGraphOptions(ranks: 2))
            #expect(split.nodes.contains { $0.op === Ops.allReduce })
            var arguments: [String: Tensor] = [:]
            for argument in whole.arguments {
                let type = whole.type(of: argument.value)
                arguments[argument.name] = parameters[argument.name] ?? (argument.name.hasPrefix("optimizer.m.") || argument.name.hasPrefix("optimizer.v.")
                    ? Tensor(type, repeating: 0) : argument.name == "optimizer.lr" ? Tensor(type, scalars: [1e-4])
                    : argument.name == "optimizer.step" ? Tensor(type, scalars: [1]) : Tensor.random(type, using: &rng))
            }
            let expected = try Interpreter(graph: whole).run(arguments)
            let shared = arguments
            let perRank = try SimulatedGroup(size: 2).run { r in
                var mine = shared
                for argument in split.inputs where split.type(of: argument.value).rank > 0 {
                    mine[argument.name] = shared[argument.name]!.half(r)
                }
                return try Interpreter(graph: split).run(mine)
            }
            #expect(Set(perRank[0].keys) == Set(expected.keys))
            // The replay rules: a gradient that a norm cancels (a conv bias before batch norm; truly 0) is rounding
            // noise, which must stay small against the median gradient; the others get a floor of 1e-3 × median.
            let norms = expected.filter { $0.key.hasPrefix("grad.") }.map { norm($0.value.scalars) }.sorted()
            let median = norms[norms.count / 2], floor = 1e-3 * median
            for (name, e) in expected where !name.hasPrefix("act.") {
                let a = try #require(perRank[0][name])
                #expect(a.scalars == perRank[1][name]!.scalars, "\(kind.rawValue) \(name): the ranks disagree")
                if name.hasPrefix("next.") && !name.contains("running_") { continue }  // Adam: checked through the gradients
                if name.hasPrefix("grad."), norm(e.scalars) < 1e-5 * median {
                    #expect(norm(a.scalars) < 1e-4 * median, "\(kind.rawValue) \(name): a null gradient became \(norm(a.scalars))")
                    continue
                }
                let error = norm(zip(a.scalars, e.scalars).map { $0 - $1 }) / max(norm(e.scalars), name.hasPrefix("grad.") ? floor : 1e-6)
                #expect(error < 1e-4, "\(kind.rawValue) \(name): relative error \(error)")
            }
        }
    }

    @Test func aBatchTheRanksCannotShareIsRefusedNamingBatchSize() throws {
        let config = try InterpreterRunTests.small(["batch_size": "3"])
        #expect {
            try buildMUNITGraph(.disStep, config: config, options: MUNITGraphOptions(ranks: 2))
        } throws: { "\($0)".contains("batch_size 3") && "\($0)".contains("2 ranks") }
    }

    private func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}

extension Tensor {
    /// Half `r` (0 or 1) of the batch, along axis 0.
    fileprivate func half(_ r: Int) -> Tensor {
        let count = scalars.count / 2
        return Tensor(TensorType(dtype, [shape[0] / 2] + shape.dropFirst()), scalars: Array(scalars[r * count..<(r + 1) * count]))
    }
}

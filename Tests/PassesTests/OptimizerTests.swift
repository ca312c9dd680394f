import Foundation
import Testing
@testable import GraphIR
@testable import Passes

/// A quadratic problem: loss = Σ c·w², so ∂loss/∂w = 2·c·w, which the hand-written updates reuse.
func quadraticGraph(_ dtype: DType) throws -> Graph {
    let b = GraphBuilder(name: "quadratic")
    let w = b.parameter("w", TensorType(dtype, [3]))
    let c = b.input("c", TensorType(dtype, [3]))
    b.loss("loss", try b.reduceSum(b.mul(c, b.square(w)), axes: [0]))
    return b.graph
}

func buildStep(_ graph: Graph, optimizer: any Pass) throws -> Graph {
    let (step, _) = try PassManager(pipeline: [Autodiff(), optimizer]).run(graph)
    return step
}

@Suite struct OptimizerTests {
    let c: [Double] = [1, 0.5, -3]
    let w0: [Double] = [0.3, -1.2, 2.0]

    /// torch.optim.Adam written out by hand, element by element, in Double.
    func adamReference(steps: Int, lr: Double, options: AdamOptions) -> [[Double]] {
        var w = w0, m = [0.0, 0, 0], v = [0.0, 0, 0]
        var history: [[Double]] = []
        for t in 1...steps {
            for i in 0..<3 {
                let g = 2 * c[i] * w[i] + options.weightDecay * w[i]
                m[i] = options.beta1 * m[i] + (1 - options.beta1) * g
                v[i] = options.beta2 * v[i] + (1 - options.beta2) * g * g
                let mHat = m[i] / (1 - pow(options.beta1, Double(t)))
                let vHat = v[i] / (1 - pow(options.beta2, Double(t)))
                w[i] -= lr * mHat / (vHat.squareRoot() + options.epsilon)
            }
            history.append(w)
        }
        return history
    }

    @Test(arguments: [0.0, 0.1])
    func adamMatchesHandComputedUpdatesOverThreeSteps(weightDecay: Double) throws {
        let options = AdamOptions(beta1: 0.5, beta2: 0.999, epsilon: 1e-8, weightDecay: weightDecay)
        let lr = 0.01
        let expected = adamReference(steps: 3, lr: lr, options: options)
        for dtype in [DType.f64, .f32] {
            let step = try buildStep(try quadraticGraph(dtype), optimizer: AdamPass(options: options))
            #expect(step.argument(named: "optimizer.m.w")?.kind == .parameter(trainable: false))
            var state: [String: Tensor] = [
                "w": Tensor(dtype, shape: [3], scalars: w0), "c": Tensor(dtype, shape: [3], scalars: c),
                "optimizer.m.w": Tensor.zeros(TensorType(dtype, [3])), "optimizer.v.w": Tensor.zeros(TensorType(dtype, [3])),
                "optimizer.lr": Tensor(dtype, shape: [], scalars: [lr]),
            ]
            for t in 1...3 {
                state["optimizer.step"] = Tensor(dtype, shape: [], scalars: [Double(t)])
                let out = try Interpreter(graph: step).run(state)
                for name in ["w", "optimizer.m.w", "optimizer.v.w"] { state[name] = out["next.\(name)"] }
                let tolerance = dtype == .f64 ? 1e-12 : 1e-6
                for i in 0..<3 {
                    #expect(Swift.abs(state["w"]!.scalars[i] - expected[t - 1][i]) < tolerance,
                            "\(dtype) step \(t) element \(i)")
                }
            }
        }
    }

    @Test(arguments: [(0.0, 0.0), (0.9, 0.0), (0.9, 0.05)])
    func sgdMatchesHandComputedUpdatesOverThreeSteps(momentum: Double, weightDecay: Double) throws {
        let lr = 0.1
        let step = try buildStep(try quadraticGraph(.f64), optimizer: SGDPass(options: SGDOptions(momentum: momentum, weightDecay: weightDecay)))
        var w = w0, buffer = [0.0, 0, 0]
        var state: [String: Tensor] = [
            "w": Tensor(.f64, shape: [3], scalars: w0), "c": Tensor(.f64, shape: [3], scalars: c),
            "optimizer.lr": Tensor(.f64, shape: [], scalars: [lr]),
        ]
        if momentum != 0 { state["optimizer.momentum.w"] = Tensor.zeros(TensorType(.f64, [3])) }
        for _ in 1...3 {
            for i in 0..<3 {
                var g = 2 * c[i] * w[i] + weightDecay * w[i]
                if momentum != 0 {
                    buffer[i] = momentum * buffer[i] + g
                    g = buffer[i]
                }
                w[i] -= lr * g
            }
            let out = try Interpreter(graph: step).run(state)
            state["w"] = out["next.w"]
            if momentum != 0 { state["optimizer.momentum.w"] = out["next.optimizer.momentum.w"] }
            for i in 0..<3 { #expect(Swift.abs(state["w"]!.scalars[i] - w[i]) < 1e-12) }
        }
    }

    /// EMA after SGD: β = 0 copies the new weights exactly; then ema ← β·ema + (1 − β)·w.
    @Test func emaAveragesTheOptimisedParameters() throws {
        let (step, _) = try PassManager(pipeline: [Autodiff(), SGDPass(options: SGDOptions()), EMAPass()]).run(try quadraticGraph(.f64))
        #expect(step.argument(named: "ema.w")?.kind == .parameter(trainable: false))
        #expect(step.argument(named: "ema.c") == nil, "inputs are not averaged")
        var state: [String: Tensor] = [
            "w": Tensor(.f64, shape: [3], scalars: w0), "c": Tensor(.f64, shape: [3], scalars: c),
            "optimizer.lr": Tensor(.f64, shape: [], scalars: [0.1]), "ema.w": Tensor(.f64, shape: [3], scalars: [7, 7, 7]),
        ]
        var average: [Double] = []
        for (t, beta) in [0.0, 0.9, 0.9].enumerated() {
            state["ema.beta"] = Tensor(.f64, shape: [], scalars: [beta])
            let out = try Interpreter(graph: step).run(state)
            let w = out["next.w"]!.scalars
            average = t == 0 ? w : zip(average, w).map { beta * $0 + (1 - beta) * $1 }
            state["w"] = out["next.w"]
            state["ema.w"] = out["next.ema.w"]
            if t == 0 { #expect(out["next.ema.w"]!.scalars == w, "β = 0 copies bit for bit") }
            for i in 0..<3 { #expect(Swift.abs(state["ema.w"]!.scalars[i] - average[i]) < 1e-12) }
        }
        var stats = PassStatistics()
        #expect(throws: PassError.self) { try EMAPass().run(try quadraticGraph(.f64), statistics: &stats) }
    }

    @Test func optimizerNeedsGradients() throws {
        var stats = PassStatistics()
        #expect(throws: PassError.self) { try AdamPass().run(try quadraticGraph(.f32), statistics: &stats) }
    }
}

@Suite struct PassManagerTests {
    @Test func printsIRAfterChosenPassesAndSkipsDisabledOnes() throws {
        var manager = PassManager(pipeline: [Autodiff(), AdamPass()])
        var printed: [String] = []
        manager.printer = { printed.append($0) }
        manager.printIRAfter = ["autodiff"]
        let (graph, records) = try manager.run(try quadraticGraph(.f32))
        #expect(printed.count == 1)
        #expect(printed[0].hasPrefix("// ----- IR after autodiff -----\ngraph quadratic {"))
        #expect(records.map(\.name) == ["autodiff", "adam"])
        #expect(records.allSatisfy { $0.ran })
        #expect(records[0].nodesAfter > records[0].nodesBefore)
        #expect(records[1].statistics["parameters-updated"] == 1)
        #expect(graph.output(named: "next.w") != nil)

        manager.printIRAfter = ["all"]
        manager.disabled = ["adam"]
        printed = []
        let (unoptimised, skipped) = try manager.run(try quadraticGraph(.f32))
        #expect(printed.count == 1, "a disabled pass prints nothing")
        #expect(skipped[1].ran == false)
        #expect(unoptimised.output(named: "next.w") == nil)
    }

    @Test func rejectsUnknownPassNames() {
        var manager = PassManager(pipeline: [Autodiff()])
        manager.disabled = ["autodif"]
        #expect(throws: PassError.self) { try manager.run(try quadraticGraph(.f32)) }
    }

    @Test func differentiatedGraphRoundTripsThroughText() throws {
        let (step, _) = try PassManager(pipeline: [Autodiff(), AdamPass()]).run(try quadraticGraph(.f32))
        let text = printGraph(step)
        #expect(printGraph(try parseGraph(text)) == text)
    }
}

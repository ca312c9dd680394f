import GraphIR
import MUNITGraphs
import Passes
import Testing
@testable import LLVMBackend

/// Whole MUNIT (and UNIT) training steps compiled and run against the interpreter, over configuration
/// variants that reach every activation, padding, discriminator norm and GAN type: "compiles for any valid
/// config".
@Suite struct MUNITStepTests {
    static func config(_ trainer: TrainerKind = .munit, _ change: (inout MUNITConfig) -> Void) -> MUNITConfig {
        var c = MUNITConfig.builtIn(trainer)
        (c.gen.dim, c.gen.mlpDim, c.gen.styleDim, c.gen.nRes, c.dis.dim) = (4, 8, 3, 1, 4)
        (c.cropImageHeight, c.cropImageWidth, c.batchSize) = (16, 20, 2)
        change(&c)
        return c
    }

    static let variants: [MUNITConfig] = [
        config { c in (c.gen.activ, c.gen.padType, c.dis.norm, c.dis.ganType, c.reconXCycW) = (.prelu, .replicate, .instance, .nsgan, 1) },
        config { c in (c.gen.activ, c.gen.padType, c.gen.nDownsample, c.dis.norm, c.dis.activ, c.dis.numScales) = (.selu, .zero, 1, .layer, .tanh, 1) },
        config { c in (c.gen.activ, c.dis.norm, c.dis.activ, c.dis.padType, c.batchSize) = (.lrelu, .batch, .prelu, .replicate, 3) },
        config { c in (c.gen.activ, c.dis.activ, c.dis.nLayer, c.gen.nRes) = (.tanh, .selu, 2, 0) },
        // UNIT: its VAEGen, KL terms and encoder noise with the same shared parts; one without the cycle loss.
        config(.unit) { c in (c.gen.activ, c.gen.padType, c.dis.norm, c.dis.ganType) = (.prelu, .replicate, .instance, .nsgan) },
        config(.unit) { c in (c.gen.activ, c.gen.padType, c.gen.nDownsample, c.dis.norm, c.dis.activ, c.dis.numScales, c.reconXCycW) = (.selu, .zero, 1, .layer, .tanh, 1, 0) },
        config(.unit) { c in (c.gen.activ, c.dis.norm, c.dis.activ, c.dis.padType, c.batchSize) = (.lrelu, .batch, .prelu, .replicate, 3) },
    ]

    @Test(arguments: 0..<variants.count, [MUNITGraphKind.disStep, .genStep])
    func compiledStepMatchesTheInterpreter(variant: Int, kind: MUNITGraphKind) throws {
        try compareWithInterpreter(variant: variant, kind: kind, fuse: false)
    }

    /// The whole fusion pipeline compiled, against the interpreter on the unfused step (Glow's
    /// checkNumericalEquivalence): every variant's padding, norms, activations and GAN type, both steps.
    @Test(arguments: 0..<variants.count, [MUNITGraphKind.disStep, .genStep])
    func fusedStepMatchesTheInterpreter(variant: Int, kind: MUNITGraphKind) throws {
        try compareWithInterpreter(variant: variant, kind: kind, fuse: true)
    }

    /// `updatesArgumentsInPlace`: a fused gen step writes its Adam updates over the parameters and moments;
    /// two iterations with `next.*` fed back give the very bits of the copying build, whose arena holds the
    /// updates as well.
    @Test func updatesWrittenOverTheirArgumentsMatchCopiedOnes() throws {
        let config = Self.variants[0]
        var compiled = try buildMUNITGraph(.genStep, config: config)
        var statistics = PassStatistics()
        for pass in PassRegistry.fusionPipeline() { compiled = try pass.run(compiled, statistics: &statistics) }
        var arguments = initialMUNITParameters(config: config, seed: 1)
        var rng = SplitMix64(seed: 1)
        for argument in compiled.arguments where arguments[argument.name] == nil {
            let type = compiled.type(of: argument.value)
            arguments[argument.name] = argument.name == "optimizer.step" ? Tensor(type, repeating: 1)
                : argument.name.hasPrefix("optimizer.") ? Tensor.zeros(type) : Tensor.random(type, in: -1...1, using: &rng)
        }
        var results: [[String: Tensor]] = []
        var arenas: [Int] = []
        for updating in [false, true] {
            var options = CompileOptions(optimizationLevel: 2, threads: 2)
            options.updatesArgumentsInPlace = updating
            let step = try Executable(graph: compiled, options: options)
            for (name, tensor) in arguments where step.hasArgument(name) { try step.setArgument(name, tensor) }
            for _ in 0..<2 {
                try step.execute()
                for output in compiled.outputs where output.name.hasPrefix("next.") {
                    try step.copyOutput(output.name, to: step, argument: String(output.name.dropFirst(5)))
                }
            }
            var outputs: [String: Tensor] = [:]
            for output in compiled.outputs { outputs[output.name] = try step.output(output.name) }
            results.append(outputs)
            arenas.append(step.report.arenaBytes)
            // An update over its own argument, never another's; where an earlier node was the argument's last
            // reader (β₂·v of a small moment, computed first with the bias corrections), in the arena.
            let updates = compiled.outputs.filter { $0.name.hasPrefix("next.") }
            let held = updates.filter { step.argumentHolding(output: $0.name) != nil }
            for output in held { #expect(step.argumentHolding(output: output.name) == String(output.name.dropFirst(5))) }
            #expect(updating ? held.count * 4 >= updates.count * 3 : held.isEmpty, "\(held.count) of \(updates.count) updates in place")
        }
        #expect(arenas[1] < arenas[0])
        for (name, tensor) in results[0] { #expect(results[1][name]?.scalars == tensor.scalars, "\(name)") }
    }

    func compareWithInterpreter(variant: Int, kind: MUNITGraphKind, fuse: Bool) throws {
        let graph = try buildMUNITGraph(kind, config: Self.variants[variant])
        var rng = SplitMix64(seed: UInt64(variant))
        // NVlabs' initialisation keeps activations finite through the layers; everything else is random.
        var arguments = initialMUNITParameters(config: Self.variants[variant], seed: UInt64(variant))
        for argument in graph.arguments where arguments[argument.name] == nil {
            let type = graph.type(of: argument.value)
            // Adam's moments must be non-negative where they are square-rooted; the step counter positive.
            let range: ClosedRange<Double> = argument.name.hasPrefix("optimizer.v.") ? 0...0.01
                : argument.name == "optimizer.step" ? 1...3 : argument.name == "optimizer.lr" ? 1e-4...1e-4 : -1...1
            arguments[argument.name] = Tensor.random(type, in: range, using: &rng)
        }
        let expected = try Interpreter(graph: graph).run(arguments)
        #expect(expected.values.allSatisfy { $0.scalars.allSatisfy(\.isFinite) }, "the reference step is finite")
        var compiled = graph
        if fuse {
            var statistics = PassStatistics()
            for pass in PassRegistry.fusionPipeline() { compiled = try pass.run(compiled, statistics: &statistics) }
            #expect(statistics["convolutions"] > 0, "convolutions fuse: \(statistics.counters)")
        }
        let actual = try Executable(graph: compiled, options: CompileOptions(optimizationLevel: 2, threads: 2)).run(arguments)
        #expect(Set(actual.keys) == Set(expected.keys))
        // The replay rules: a gradient whose true value is 0 (a conv bias before batch norm, which is spelled out
        // in elementary ops since a step's samples run as ranks) is rounding noise on both sides, which must stay
        // small against the median gradient.
        let norms = expected.filter { $0.key.hasPrefix("grad.") }.map { norm($0.value.scalars) }.sorted()
        let median = norms.isEmpty ? 0 : norms[norms.count / 2]
        for (name, e) in expected {
            let a = try #require(actual[name])
            if name.hasPrefix("grad."), norm(e.scalars) < 1e-5 * median {
                #expect(norm(a.scalars) < 1e-4 * median, "variant \(variant) \(kind.rawValue) \(name): a null gradient became \(norm(a.scalars))")
                continue
            }
            let scale = e.scalars.map { Swift.abs($0) }.max() ?? 0
            let worst = zip(e.scalars, a.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
            // Relative to the tensor's own scale: gradients pass through norms that amplify rounding.
            #expect(worst <= 1e-3 * Swift.max(scale, 1e-6), "variant \(variant) \(kind.rawValue) \(name): \(worst) of \(scale)")
        }
    }

    private func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}

/// Fused graphs: the elementwise kernels of `fuse-elementwise` compute exactly what the unfused kernels do.
@Suite struct FusedKernelTests {
    @Test func fusedStepEqualsUnfusedStepBitForBit() throws {
        let config = MUNITStepTests.variants[0]
        let graph = try buildMUNITGraph(.genStep, config: config)
        var statistics = PassStatistics()
        let fused = try FuseElementwise().run(graph, statistics: &statistics)
        #expect((statistics["groups"] ?? 0) > 20, "Adam's updates and activation masks fuse")
        var arguments = initialMUNITParameters(config: config, seed: 5)
        var rng = SplitMix64(seed: 5)
        for argument in graph.arguments where arguments[argument.name] == nil {
            let type = graph.type(of: argument.value)
            arguments[argument.name] = Tensor.random(type, in: argument.name.hasPrefix("optimizer.v.") ? 0...0.01 : 0.5...1, using: &rng)
        }
        let options = CompileOptions(optimizationLevel: 2, threads: 2)
        let expected = try Executable(graph: graph, options: options).run(arguments)
        let actual = try Executable(graph: fused, options: options).run(arguments)
        for (name, e) in expected {
            #expect(actual[name]?.scalars == e.scalars, "\(name) differs between fused and unfused kernels")
        }
        // And the fused graph on the interpreter (which runs regions) agrees with the compiled one.
        let interpreted = try Interpreter(graph: fused).run(arguments)
        for (name, e) in interpreted {
            let worst = zip(e.scalars, actual[name]!.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
            let scale = e.scalars.map(Swift.abs).max() ?? 0
            #expect(worst <= 1e-3 * Swift.max(scale, 1e-6), "\(name): \(worst) of \(scale)")
        }
    }
}

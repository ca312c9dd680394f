import ArgumentParser
import Foundation
import GraphIR
import LLVMBackend
import MUNITGraphs
import Passes
import Training

/// `munitc bench [FILE.graph] [--config C.yaml] [--trainer MUNIT|UNIT] [--size N] [--iters N] [--threads N] [--no-fuse|--compare-unfused] [--json]`
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time compiled MUNIT training iterations (or any graph) and show where the time goes.",
        discussion: """
            With a config (or neither a config nor a file: the built-in NVlabs default), compiles the dis and \
            gen steps for the config's crop and batch, runs one warm-up iteration, then times --iters \
            iterations (dis step then gen step, parameters and Adam state fed back in place) on random data. \
            With FILE.graph, times runs of that graph on random arguments. Prints the median seconds, the \
            achieved GFLOP/s (FLOPs from the op table's cost model) and the top kernels by time.
            """)

    @Argument(help: "A .graph file to time instead of MUNIT.") var file: String?
    @Option(help: "An NVlabs MUNIT config (default: the built-in edges2handbags-like config).") var config: String?
    @OptionGroup var trainer: TrainerOption
    @Option(help: "Override the crop: height = width = N.") var size: Int?
    @Option(help: "Override the batch size.") var batch: Int?
    @Option(help: "Timed iterations after the warm-up.") var iters = 5
    @Option(help: "Threads for kernels and OpenBLAS (default: every core).") var threads: Int?
    @Option(help: "Kernels listed in the profile.") var top = 12
    @Flag(help: "Time the graphs without the fusion passes.") var noFuse = false
    @Flag(help: "Build fused and unfused, check their outputs agree, time both and report the speedup.") var compareUnfused = false
    @Option(help: ArgumentHelp("Skip this fusion pass (repeatable; with --compare-unfused, the fused side).", valueName: fusionPassNames))
    var disablePass: [String] = []
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: ArgumentHelp("Generate kernels for this CPU instead of the host (default: $MUNITC_TARGET_CPU, else the host).",
                               valueName: "host|haswell|x86-64-v3|skylake-avx512|…")) var targetCPU: String?

    func validate() throws {
        if iters < 1 { throw ValidationError("--iters must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if file != nil && config != nil { throw ValidationError("give a .graph file or --config, not both") }
        if file != nil && trainer.trainer != .munit { throw ValidationError("--trainer chooses the training steps of a config, not of a .graph file") }
        if noFuse && compareUnfused { throw ValidationError("--no-fuse and --compare-unfused exclude each other") }
        try validateFusionPasses(disablePass)
        try validateTargetCPU(targetCPU)
    }

    func run() throws {
        try reportingErrors(file: file ?? config ?? "<built-in config>") {
            let options = CompileOptions(threads: threads ?? Munitc.job?.threadsPerRank, targetCPU: targetCPU)
            let rank = Collectives.current.rank
            let machine = try MachineReport(threads: options.threads, targetCPU: targetCPU)
            let workload = try file.map { try graphWorkload($0) } ?? configWorkload()
            var main = try workload.job(fuse: !noFuse, disabling: disablePass, options: options)
            main.machine = machine
            guard compareUnfused else {
                workload.release()
                ProcessMemory.returnFreedHeap()
                let result = try main.measure(iterations: iters)
                if rank == 0 { print(json ? result.json(top: top) : result.text(top: top)) }
                return
            }
            // Agreement first, while both start from the same arguments (timing feeds updates back).
            let unfused = try workload.job(fuse: false, options: options)
            workload.release()
            ProcessMemory.returnFreedHeap()
            let (agreement, worstOutput) = try BenchJob.worstDifference(main, unfused)
            let results = try BenchJob.measure([main, unfused], iterations: iters)
            let (result, baseline) = (results[0], results[1])
            if rank == 0 { print(json ? result.json(top: top, unfused: baseline, agreement: agreement)
                       : result.text(top: top) + "\n" + result.comparison(unfused: baseline, agreement: agreement, top: top)) }
            guard agreement <= BenchJob.agreementTolerance else {
                throw UserError(String(format: "fused and unfused outputs disagree: worst relative difference %.3g at %@ (tolerance %g)",
                                       agreement, worstOutput, BenchJob.agreementTolerance))
            }
        }
    }

    func graphWorkload(_ path: String) throws -> BenchWorkload {
        let graph = try loadGraph(path: path)
        return BenchWorkload(title: "\(path) (\(graph.nodes.count) nodes)", graphs: [graph]) { argument, type, rng in
            Tensor.random(type, using: &rng)
        }
    }

    func configWorkload() throws -> BenchWorkload {
        let kind = trainer.trainer
        var settings = try config.map { try MUNITConfig.load(contentsOf: URL(fileURLWithPath: $0), trainer: kind) } ?? MUNITConfig.builtIn(kind)
        if let size { (settings.cropImageHeight, settings.cropImageWidth) = (size, size) }
        if let batch { settings.batchSize = batch }
        let ranks = Collectives.current.size
        let shape = MUNITGraphOptions(batchSize: settings.batchSize, height: settings.cropImageHeight, width: settings.cropImageWidth,
                                      ranks: ranks)
        let graphStart = Date()
        let graphs = [try buildMUNITGraph(.disStep, config: settings, options: shape),
                      try buildMUNITGraph(.genStep, config: settings, options: shape)]
        // Parameters from NVlabs' initialisation, images uniform in [−1, 1], noise normal, Adam state zero.
        let parameters = ParameterCache { initialMUNITParameters(config: settings, seed: 0) }
        let crop = "\(settings.batchSize)×3×\(settings.cropImageHeight)×\(settings.cropImageWidth)" + (ranks > 1 ? " over \(ranks) ranks" : "")
        var workload = BenchWorkload(
            title: "\(kind.rawValue) training iteration, \(config ?? "built-in config"), batch×crop \(crop), gen dim \(settings.gen.dim)",
            graphs: graphs
        ) { argument, type, rng in
            if let t = parameters.tensors[argument] { return t }
            if argument == OptimizerNames.learningRate { return Tensor(type, repeating: settings.lr) }
            if argument == OptimizerNames.step { return Tensor(type, repeating: 1) }
            if argument.hasPrefix("optimizer.") { return Tensor.zeros(type) }
            if kind.noiseInputs.contains(argument) { return Tensor(type, scalars: (0..<type.elementCount).map { _ in rng.nextNormal() }) }
            return Tensor.random(type, in: -1...1, using: &rng)
        }
        workload.graphSeconds = Date().timeIntervalSince(graphStart)
        workload.feedsBack = true
        workload.release = parameters.clear
        return workload
    }
}

/// NVlabs' initial parameters, made on first use and dropped once every step is bound (as float64
/// tensors they would otherwise double the process's peak memory).
final class ParameterCache {
    private let make: () -> [String: Tensor]
    private var cached: [String: Tensor]?
    init(_ make: @escaping () -> [String: Tensor]) { self.make = make }
    var tensors: [String: Tensor] {
        if let cached { return cached }
        let made = make()
        cached = made
        return made
    }
    func clear() { cached = nil }
}

import Foundation
import GraphIR
import ImageIO
import LLVMBackend
import MUNITGraphs
import Passes

/// NVlabs' `write_2images` for the train and test display images: `gen_a2b_<tag>.png` (x_a, its
/// reconstruction, then MUNIT's translations with a fixed and a random style, or UNIT's one translation)
/// and `gen_b2a_<tag>.png`, tagged `train_%08d` / `test_%08d`, or `train_current` / `test_current`; then
/// `index.html` lists them. With `ema_beta` the test grids come from the generators' moving average
/// (`ema.*`), as the page says.
final class SampleWriter {
    let config: MUNITConfig
    let output: TrainingOutput
    let seed: UInt64
    let count: Int
    let runner: any StepRunner
    let graph: Graph
    /// The sampler over the moving average's weights (`ema.<p>` arguments), when one is kept.
    let average: (graph: Graph, runner: any StepRunner)?
    /// Every sampler, for sharing the training steps' buffers.
    var runners: [any StepRunner] { [runner] + (average.map { [$0.runner] } ?? []) }
    let display: [(tag: String, a: Tensor, b: Tensor)]
    let fixedA: Tensor, fixedB: Tensor

    init(config: MUNITConfig, data: BatchLoader, source: DataSource, seed: UInt64, output: TrainingOutput,
         makeRunner: (Graph) throws -> any StepRunner) throws {
        self.config = config
        self.output = output
        self.seed = seed
        count = [config.displaySize, source.trainA.files.count, source.trainB.files.count, source.testA.files.count,
                 source.testB.files.count].min()!
        display = [("train", try data.display(source.trainA, count: count, train: true, seed: seed),
                    try data.display(source.trainB, count: count, train: true, seed: seed &+ 1)),
                   ("test", try data.display(source.testA, count: count, train: false, seed: seed),
                    try data.display(source.testB, count: count, train: false, seed: seed))]
        graph = try buildMUNITSampleGraph(config: config, batchSize: count, height: config.cropImageHeight, width: config.cropImageWidth)
        runner = try makeRunner(graph)
        if config.emaBeta != nil {
            let averaged = Set(MUNITLayout(config: config).parameters.filter { $0.network == .genA || $0.network == .genB }.map(\.name))
            let graph = graph.renamingArguments { averaged.contains($0) ? OptimizerNames.ema($0) : $0 }
            average = (graph, try makeRunner(graph))
        } else {
            average = nil
        }
        // NVlabs draws the fixed display styles once, when the trainer is made.
        fixedA = SampleWriter.styles(seed: seed, purpose: 1, iteration: 0, count: count, dim: config.gen.styleDim)
        fixedB = SampleWriter.styles(seed: seed, purpose: 2, iteration: 0, count: count, dim: config.gen.styleDim)
    }

    static func styles(seed: UInt64, purpose: UInt64, iteration: Int, count: Int, dim: Int) -> Tensor {
        var rng = SplitMix64(seed: BatchSchedule.mix(seed, 5, purpose, UInt64(iteration)))
        return DomainTensors.styles(count: count, dim: dim, using: &rng)
    }

    /// Every `image_save_iter` both the train and the test grids; every `image_display_iter` (`current`)
    /// only the train ones, as NVlabs' train.py.
    /// `state` nil: the runner is a compiled sampler that shares the training steps' parameter buffers.
    /// Returns each grid's PNG under its TensorBoard tag (`gen_a2b_train`, …).
    @discardableResult
    func write(state: [String: Tensor]?, iteration: Int, current: Bool) throws -> [(tag: String, png: Data)] {
        var grids: [(tag: String, png: Data)] = []
        for (tag, a, b) in display where !current || tag == "train" {
            var inputs: [String: Tensor] = [MUNITSampleNames.xA: a, MUNITSampleNames.xB: b]
            if config.trainer.hasStyle {
                inputs[MUNITSampleNames.sA1] = fixedA
                inputs[MUNITSampleNames.sB1] = fixedB
                inputs[MUNITSampleNames.sA2] = SampleWriter.styles(seed: seed, purpose: 3, iteration: iteration, count: count, dim: config.gen.styleDim)
                inputs[MUNITSampleNames.sB2] = SampleWriter.styles(seed: seed, purpose: 4, iteration: iteration, count: count, dim: config.gen.styleDim)
            }
            let out = try run(inputs, state: state, averaged: tag == "test")
            let name = current ? "\(tag)_current" : String(format: "%@_%08d", tag, iteration)
            let rows = SampleWriter.rows(config.trainer)
            let a2b = try ([a] + rows.a2b.map { try output(out, $0) }).map(DomainTensors.rgb)
            let b2a = try ([b] + rows.b2a.map { try output(out, $0) }).map(DomainTensors.rgb)
            for (direction, images) in [("a2b", a2b), ("b2a", b2a)] {
                let url = output.images.appendingPathComponent("gen_\(direction)_\(name).png")
                do { grids.append(("gen_\(direction)_\(tag)", try ImageGrid.writeImages(images, displayCount: count, to: url))) } catch {
                    throw TrainingError("\(url.path): cannot write the sample grid (\(error))")
                }
            }
        }
        try writeIndex()
        return grids
    }

    /// The sample graph's outputs under each input row of a grid, as the trainer's `sample` orders them.
    static func rows(_ trainer: TrainerKind) -> (a2b: [String], b2a: [String]) {
        switch trainer {
        case .munit: ([MUNITSampleNames.xARecon, MUNITSampleNames.xAB1, MUNITSampleNames.xAB2],
                      [MUNITSampleNames.xBRecon, MUNITSampleNames.xBA1, MUNITSampleNames.xBA2])
        case .unit: ([MUNITSampleNames.xARecon, MUNITSampleNames.xAB], [MUNITSampleNames.xBRecon, MUNITSampleNames.xBA])
        }
    }

    private func output(_ outputs: [String: Tensor], _ name: String) throws -> Tensor {
        guard let t = outputs[name] else { throw TrainingError("internal: the sample graph has no output '\(name)'") }
        return t
    }

    /// The sample graph's outputs for these inputs, with the parameters from `state`, or already bound;
    /// `averaged`: from the moving average's weights, when kept.
    private func run(_ inputs: [String: Tensor], state: [String: Tensor]?, averaged: Bool) throws -> [String: Tensor] {
        let (graph, runner) = averaged ? average ?? (self.graph, self.runner) : (self.graph, self.runner)
        if let state {
            var inputs = inputs
            for argument in graph.arguments where inputs[argument.name] == nil { inputs[argument.name] = state[argument.name] }
            return try runner.run(inputs)
        }
        guard let executable = runner as? Executable else { throw TrainingError("internal: samples without parameters need a compiled sampler") }
        for (name, tensor) in inputs { try executable.setArgument(name, tensor) }
        try executable.execute()
        var outputs: [String: Tensor] = [:]
        for output in graph.outputs { outputs[output.name] = try executable.output(output.name) }
        return outputs
    }

    /// `images/index.html`: the loss charts (from `log.jsonl`) beside the grids, newest first, each with
    /// what its rows show. Rewritten after every grid and every log line.
    func writeIndex() throws {
        let translationRows = config.trainer.hasStyle ? "row 3 translations with fixed styles, row 4 with random styles."
                                                      : "row 3 their translations."
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: output.images.path)) ?? [])
            .filter { $0.hasSuffix(".png") }.sorted { a, b in
                let (ca, cb) = (a.contains("current"), b.contains("current"))
                return ca != cb ? ca : a > b
            }
        var html = """
            <!doctype html><html><head><meta charset="utf-8"><title>munitc samples</title>
            <style>body{font-family:sans-serif;background:#222;color:#ddd;margin:12px} img{image-rendering:pixelated;max-width:100%;border:1px solid #555}
            .page{display:flex;gap:16px;align-items:flex-start} .losses{flex:0 0 620px} .charts{display:flex;flex-wrap:wrap;gap:8px}
            .grids{flex:1;min-width:0} h3{margin:8px 0 4px;font-size:14px}</style>
            </head><body><h1>munitc \(config.trainer.rawValue) training samples</h1>
            <p>Each grid: row 1 the input images, row 2 their reconstructions, \(translationRows)
            a2b grids translate domain A to B, b2a the other way; train and test display images.</p>
            <div class="page"><div class="losses"><h2>Losses</h2>
            \(LossCharts.html(log: output.log))</div><div class="grids"><h2>Samples</h2>

            """
        for file in files {
            let note = file.contains("_test_") ? config.emaBeta.map { " — moving average of the generators (ema_beta \($0))" } ?? "" : ""
            html += "<h3>\(file)\(note)</h3><img src=\"\(file)\">\n"
        }
        html += "</div></div></body></html>\n"
        do { try writeFileAtomically(Data(html.utf8), to: output.images.appendingPathComponent("index.html")) } catch {
            throw TrainingError("\(output.images.path)/index.html: cannot write (\(error))")
        }
    }
}

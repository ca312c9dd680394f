import GraphIR

/// Graphs for looking at a model: NVlabs `trainer.sample` (reconstructions and translations with given
/// styles, as `write_2images` shows them) and a generator's style encoder alone (test.py's `--style`).
public enum MUNITSampleNames {
    public static let xA = "x_a", xB = "x_b"
    /// Fixed styles (drawn once at the start of training) and fresh random styles.
    public static let sA1 = "s_a1", sB1 = "s_b1", sA2 = "s_a2", sB2 = "s_b2"
    public static let xARecon = "x_a_recon", xBRecon = "x_b_recon"
    public static let xAB1 = "x_ab1", xAB2 = "x_ab2", xBA1 = "x_ba1", xBA2 = "x_ba2"
    /// UNIT's translations (it has no style).
    public static let xAB = "x_ab", xBA = "x_ba"
    public static let style = "style"
}

/// NVlabs' `trainer.sample` for `config.trainer`. MUNIT: each image's own content and style reconstructed,
/// and its content decoded by the other generator with a fixed style (`s_*1`) and a random one (`s_*2`).
/// UNIT: each image's code decoded without noise by its own generator (`x_*_recon`) and by the other one
/// (`x_ab`, `x_ba`). Batched: every layer works per sample, so this equals NVlabs' loop over images.
public func buildMUNITSampleGraph(config: MUNITConfig, batchSize: Int, height: Int, width: Int) throws -> Graph {
    if config.trainer == .unit { return try buildUNITSampleGraph(config: config, batchSize: batchSize, height: height, width: width) }
    let b = GraphBuilder(name: "munit_sample")
    let context = MUNITGraphContext(builder: b)
    let genA = AdaINGenerator(context, network: .genA, inputDim: config.inputDimA, options: config.gen)
    let genB = AdaINGenerator(context, network: .genB, inputDim: config.inputDimB, options: config.gen)
    let style = TensorType(.f32, [batchSize, config.gen.styleDim, 1, 1])
    let xA = b.input(MUNITSampleNames.xA, TensorType(.f32, [batchSize, config.inputDimA, height, width]))
    let xB = b.input(MUNITSampleNames.xB, TensorType(.f32, [batchSize, config.inputDimB, height, width]))
    let (sA1, sB1) = (b.input(MUNITSampleNames.sA1, style), b.input(MUNITSampleNames.sB1, style))
    let (sA2, sB2) = (b.input(MUNITSampleNames.sA2, style), b.input(MUNITSampleNames.sB2, style))
    let (cA, sAFake) = try genA.encode(xA)
    let (cB, sBFake) = try genB.encode(xB)
    b.output(MUNITSampleNames.xARecon, try genA.decode(content: cA, style: sAFake))
    b.output(MUNITSampleNames.xBRecon, try genB.decode(content: cB, style: sBFake))
    b.output(MUNITSampleNames.xBA1, try genA.decode(content: cB, style: sA1))
    b.output(MUNITSampleNames.xBA2, try genA.decode(content: cB, style: sA2))
    b.output(MUNITSampleNames.xAB1, try genB.decode(content: cA, style: sB1))
    b.output(MUNITSampleNames.xAB2, try genB.decode(content: cA, style: sB2))
    return b.graph
}

func buildUNITSampleGraph(config: MUNITConfig, batchSize: Int, height: Int, width: Int) throws -> Graph {
    let b = GraphBuilder(name: "unit_sample")
    let context = MUNITGraphContext(builder: b)
    let genA = VAEGenerator(context, network: .genA, inputDim: config.inputDimA, options: config.gen)
    let genB = VAEGenerator(context, network: .genB, inputDim: config.inputDimB, options: config.gen)
    let xA = b.input(MUNITSampleNames.xA, TensorType(.f32, [batchSize, config.inputDimA, height, width]))
    let xB = b.input(MUNITSampleNames.xB, TensorType(.f32, [batchSize, config.inputDimB, height, width]))
    let (hA, hB) = (try genA.encodeCode(xA), try genB.encodeCode(xB))
    b.output(MUNITSampleNames.xARecon, try genA.decode(hA))
    b.output(MUNITSampleNames.xBRecon, try genB.decode(hB))
    b.output(MUNITSampleNames.xBA, try genA.decode(hB))
    b.output(MUNITSampleNames.xAB, try genB.decode(hA))
    return b.graph
}

/// The style code [B, style_dim, 1, 1] of images by one generator's style encoder (MUNIT only).
public func buildMUNITStyleGraph(config: MUNITConfig, network: MUNITNetwork, batchSize: Int, height: Int, width: Int) throws -> Graph {
    let b = GraphBuilder(name: "munit_style_\(network.rawValue)")
    let inputDim = network == .genA ? config.inputDimA : config.inputDimB
    let x = b.input(MUNITGraphNames.translateInput, TensorType(.f32, [batchSize, inputDim, height, width]))
    let encoder = StyleEncoder(MUNITGraphContext(builder: b), network: network, inputDim: inputDim, options: config.gen)
    b.output(MUNITSampleNames.style, try encoder.apply(x))
    return b.graph
}

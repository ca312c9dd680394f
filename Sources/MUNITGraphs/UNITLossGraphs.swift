import GraphIR

// UNIT's graphs take `imageInputs` (LossGraphs.swift); its noise inputs are declared by `VAEGenerator.encode`.

/// NVlabs' `UNIT_Trainer.dis_update` up to the loss: both images encoded with noise `n_a`, `n_b`, the
/// translations decoded from code + noise, both discriminators' losses (`addDiscriminatorLosses`).
func buildUNITDisLossGraph(_ config: MUNITConfig, _ size: GraphSize) throws -> Graph {
    let b = GraphBuilder(name: "unit_dis_loss")
    let x = imageInputs(b, config, size)
    let context = MUNITGraphContext(builder: b, trainable: [.disA, .disB], ranks: size.ranks)
    let nets = UNITTrainerNetworks(context, config: config.withoutPerceptualLoss)

    let (hA, nA) = try nets.genA.encode(x.a, noise: MUNITGraphNames.nA)
    let (hB, nB) = try nets.genB.encode(x.b, noise: MUNITGraphNames.nB)
    let xBA = try nets.genA.decode(b.add(hB, nB))
    let xAB = try nets.genB.decode(b.add(hA, nA))
    try addDiscriminatorLosses(b, nets, config, translated: (xBA, xAB), real: x)
    context.addBufferUpdateOutputs()
    return b.graph
}

/// NVlabs' `UNIT_Trainer.gen_update` up to the loss: within-domain reconstructions and translations from
/// code + noise, the re-encodings (noise `n_b_recon`, `n_a_recon`) and, when `recon_x_cyc_w` > 0, the cycle
/// reconstructions; every component unweighted under `loss.gen_*` with NVlabs' names, the weighted
/// `loss.gen_total`, the intermediates under `act.*`. The KL terms are NVlabs' `mean(h²)`. With
/// `recon_x_cyc_w` 0 (where NVlabs' code fails) the cycle terms are dropped and reported as 0.
func buildUNITGenLossGraph(_ config: MUNITConfig, _ size: GraphSize) throws -> Graph {
    let b = GraphBuilder(name: "unit_gen_loss")
    let x = imageInputs(b, config, size)
    let context = MUNITGraphContext(builder: b, trainable: [.genA, .genB], ranks: size.ranks)
    let nets = UNITTrainerNetworks(context, config: config)
    let (genA, genB) = (nets.genA, nets.genB)

    let (hA, nA) = try genA.encode(x.a, noise: MUNITGraphNames.nA)
    let (hB, nB) = try genB.encode(x.b, noise: MUNITGraphNames.nB)
    let (noisyA, noisyB) = (try b.add(hA, nA), try b.add(hB, nB))
    let xARecon = try genA.decode(noisyA)
    let xBRecon = try genB.decode(noisyB)
    let xBA = try genA.decode(noisyB)
    let xAB = try genB.decode(noisyA)
    // The re-encodings' noise only feeds the cycle decodes: without them it is not an input at all.
    let cycle = config.usesCycleLoss
    let (hBRecon, nBRecon) = cycle ? try genA.encode(xBA, noise: MUNITGraphNames.nBRecon) : (try genA.encodeCode(xBA), nil)
    let (hARecon, nARecon) = cycle ? try genB.encode(xAB, noise: MUNITGraphNames.nARecon) : (try genB.encodeCode(xAB), nil)
    let xABA = try nARecon.map { try genA.decode(b.add(hARecon, $0)) }
    let xBAB = try nBRecon.map { try genB.decode(b.add(hBRecon, $0)) }

    let kl = { (code: ValueID) throws -> ValueID in try b.meanAll(b.square(code)) }
    let reconXA = try b.l1Loss(xARecon, x.a)
    let reconXB = try b.l1Loss(xBRecon, x.b)
    let klA = try kl(hA), klB = try kl(hB)
    let cycXA = try cycleLoss(b, xABA, x.a)
    let cycXB = try cycleLoss(b, xBAB, x.b)
    let klABA = try kl(hARecon), klBAB = try kl(hBRecon)
    let shared = try TranslationLosses(nets, translated: (xBA, xAB), real: x)

    // The order of NVlabs' loss_gen_total expression.
    var terms = shared.adversarialTerms(config) + [
        (config.reconXW, reconXA), (config.reconKLW, klA), (config.reconXW, reconXB), (config.reconKLW, klB),
    ]
    terms += cycle ? [(config.reconXCycW, cycXA), (config.reconKLCycW, klABA), (config.reconXCycW, cycXB), (config.reconKLCycW, klBAB)]
                   : [(config.reconKLCycW, klABA), (config.reconKLCycW, klBAB)]
    let total = try weightedSum(b, terms + shared.perceptualTerms(config))

    shared.addOutputs(b)
    for (name, value) in [
        ("gen_recon_x_a", reconXA), ("gen_recon_x_b", reconXB), ("gen_recon_kl_a", klA), ("gen_recon_kl_b", klB),
        ("gen_cyc_x_a", cycXA), ("gen_cyc_x_b", cycXB), ("gen_recon_kl_cyc_aba", klABA), ("gen_recon_kl_cyc_bab", klBAB),
    ] { b.output("loss.\(name)", value) }
    b.loss("loss.gen_total", total)

    var activations: [(String, ValueID)] = [
        ("h_a", hA), ("h_b", hB), ("x_a_recon", xARecon), ("x_b_recon", xBRecon), ("x_ba", xBA), ("x_ab", xAB),
        ("h_b_recon", hBRecon), ("h_a_recon", hARecon),
    ]
    if let xABA, let xBAB { activations += [("x_aba", xABA), ("x_bab", xBAB)] }
    for (name, value) in activations { b.output("act.\(name)", value) }
    context.addBufferUpdateOutputs()
    return b.graph
}

/// test.py's UNIT translation: the code of `x` by the source generator's encoder, decoded without noise
/// by the target generator. Only those parameters are declared, all non-trainable.
func buildUNITTranslateGraph(_ config: MUNITConfig, _ size: GraphSize, direction: TranslationDirection) throws -> Graph {
    let (source, target) = direction == .a2b ? (MUNITNetwork.genA, MUNITNetwork.genB) : (.genB, .genA)
    let (inputDim, outputDim) = direction == .a2b ? (config.inputDimA, config.inputDimB) : (config.inputDimB, config.inputDimA)
    let b = GraphBuilder(name: "unit_translate_\(direction.rawValue)")
    let x = b.input(MUNITGraphNames.translateInput, TensorType(.f32, [size.batch, inputDim, size.height, size.width]))
    let context = MUNITGraphContext(builder: b)
    let encoder = ContentEncoder(Scope(context, source).child("enc"), inputDim: inputDim, options: config.gen)
    let decoder = Decoder(Scope(context, target).child("dec"), contentDim: encoder.outputDim, outputDim: outputDim,
                          options: config.gen, residualNorm: .instance)
    let code = try encoder.apply(x)
    b.output(MUNITGraphNames.translated, try decoder.apply(code, mlpOutput: nil))
    b.output(MUNITGraphNames.translateContent, code)
    return b.graph
}

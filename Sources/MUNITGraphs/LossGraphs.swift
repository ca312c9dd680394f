import GraphIR

/// Both trainers' image inputs [B, input_dim, H, W].
func imageInputs(_ b: GraphBuilder, _ config: MUNITConfig, _ size: GraphSize) -> (a: ValueID, b: ValueID) {
    (b.input(MUNITGraphNames.xA, TensorType(.f32, [size.batch, config.inputDimA, size.height, size.width])),
     b.input(MUNITGraphNames.xB, TensorType(.f32, [size.batch, config.inputDimB, size.height, size.width])))
}

/// The inputs every MUNIT training graph takes: the two image batches and the style noise.
struct TrainingInputs {
    let xA, xB, sA, sB: ValueID

    init(_ b: GraphBuilder, _ config: MUNITConfig, _ size: GraphSize) {
        (xA, xB) = imageInputs(b, config, size)
        let style = TensorType(.f32, [size.batch, config.gen.styleDim, 1, 1])
        sA = b.input(MUNITGraphNames.sA, style)
        sB = b.input(MUNITGraphNames.sB, style)
    }
}

/// NVlabs' `dis_update` up to the loss: content codes of x_a and x_b, cross-domain images from the given
/// style noise cut off from gradients, both discriminators' losses. Discriminator parameters are
/// trainable, generator parameters are not.
func buildDisLossGraph(_ config: MUNITConfig, _ size: GraphSize) throws -> Graph {
    let b = GraphBuilder(name: "munit_dis_loss")
    let inputs = TrainingInputs(b, config, size)
    let context = MUNITGraphContext(builder: b, trainable: [.disA, .disB], ranks: size.ranks)
    let nets = MUNITTrainerNetworks(context, config: config.withoutPerceptualLoss)

    let cA = try nets.genA.encodeContent(inputs.xA)
    let cB = try nets.genB.encodeContent(inputs.xB)
    let xBA = try nets.genA.decode(content: cB, style: inputs.sA)
    let xAB = try nets.genB.decode(content: cA, style: inputs.sB)
    try addDiscriminatorLosses(b, nets, config, translated: (xBA, xAB), real: (inputs.xA, inputs.xB))
    context.addBufferUpdateOutputs()
    return b.graph
}

/// The dis-loss outputs both trainers share: each discriminator's loss on the detached translation into
/// its domain (`x_ba.detach()`, `x_ab.detach()`: the dis step never differentiates the generators) against
/// the real images, `loss.dis_a`, `loss.dis_b` and the weighted `loss.dis_total`.
func addDiscriminatorLosses<G>(_ b: GraphBuilder, _ nets: TrainerNetworks<G>, _ config: MUNITConfig,
                               translated: (ba: ValueID, ab: ValueID), real: (a: ValueID, b: ValueID)) throws {
    let disA = try nets.disA.discriminatorLoss(fake: b.stopGradient(translated.ba), real: real.a)
    let disB = try nets.disB.discriminatorLoss(fake: b.stopGradient(translated.ab), real: real.b)
    b.output("loss.dis_a", disA)
    b.output("loss.dis_b", disB)
    b.loss("loss.dis_total", try weightedSum(b, [(config.ganW, disA), (config.ganW, disB)]))
}

/// The gen-loss terms both trainers share, on the translations: the discriminators' adversarial losses
/// and, when `vgg_w` > 0, the perceptual losses of x_ba against x_b and x_ab against x_a.
struct TranslationLosses {
    let advA, advB: ValueID
    let vgg: (a: ValueID, b: ValueID)?

    init<G>(_ nets: TrainerNetworks<G>, translated: (ba: ValueID, ab: ValueID), real: (a: ValueID, b: ValueID)) throws {
        advA = try nets.disA.generatorLoss(fake: translated.ba)
        advB = try nets.disB.generatorLoss(fake: translated.ab)
        vgg = try nets.vgg.map { vgg in
            (try vgg.perceptualLoss(translated.ba, target: real.b), try vgg.perceptualLoss(translated.ab, target: real.a))
        }
    }

    /// The weighted terms in NVlabs' order: adversarial first, perceptual last.
    func adversarialTerms(_ config: MUNITConfig) -> [(Double, ValueID)] { [(config.ganW, advA), (config.ganW, advB)] }
    func perceptualTerms(_ config: MUNITConfig) -> [(Double, ValueID)] {
        vgg.map { [(config.vggW, $0.a), (config.vggW, $0.b)] } ?? []
    }

    /// `loss.gen_adv_a`, `loss.gen_adv_b` (and `loss.gen_vgg_a`, `loss.gen_vgg_b`).
    func addOutputs(_ b: GraphBuilder) {
        b.output("loss.gen_adv_a", advA)
        b.output("loss.gen_adv_b", advB)
        if let vgg {
            b.output("loss.gen_vgg_a", vgg.a)
            b.output("loss.gen_vgg_b", vgg.b)
        }
    }
}

/// NVlabs' `gen_update` up to the loss: within-domain reconstructions, cross-domain translations from the
/// given style noise, their re-encodings (and the cycle reconstructions when `recon_x_cyc_w` > 0), every
/// loss component unweighted under `loss.gen_*`, the weighted `loss.gen_total`, and the intermediates under
/// `act.*`. Generator parameters are trainable, discriminator (and VGG) parameters are not; gradients
/// flow through both arguments of every recon term and through the discriminators.
func buildGenLossGraph(_ config: MUNITConfig, _ size: GraphSize) throws -> Graph {
    let b = GraphBuilder(name: "munit_gen_loss")
    let inputs = TrainingInputs(b, config, size)
    let context = MUNITGraphContext(builder: b, trainable: [.genA, .genB], ranks: size.ranks)
    let nets = MUNITTrainerNetworks(context, config: config)
    let (genA, genB) = (nets.genA, nets.genB)

    let (cA, sAPrime) = try genA.encode(inputs.xA)
    let (cB, sBPrime) = try genB.encode(inputs.xB)
    let xARecon = try genA.decode(content: cA, style: sAPrime)
    let xBRecon = try genB.decode(content: cB, style: sBPrime)
    let xBA = try genA.decode(content: cB, style: inputs.sA)
    let xAB = try genB.decode(content: cA, style: inputs.sB)
    let (cBRecon, sARecon) = try genA.encode(xBA)
    let (cARecon, sBRecon) = try genB.encode(xAB)
    let cycle = config.usesCycleLoss
    let xABA = cycle ? try genA.decode(content: cARecon, style: sAPrime) : nil
    let xBAB = cycle ? try genB.decode(content: cBRecon, style: sBPrime) : nil

    let reconXA = try b.l1Loss(xARecon, inputs.xA)
    let reconXB = try b.l1Loss(xBRecon, inputs.xB)
    let reconSA = try b.l1Loss(sARecon, inputs.sA)
    let reconSB = try b.l1Loss(sBRecon, inputs.sB)
    let reconCA = try b.l1Loss(cARecon, cA)
    let reconCB = try b.l1Loss(cBRecon, cB)
    let cycXA = try cycleLoss(b, xABA, inputs.xA)
    let cycXB = try cycleLoss(b, xBAB, inputs.xB)
    let shared = try TranslationLosses(nets, translated: (xBA, xAB), real: (inputs.xA, inputs.xB))

    // The order of NVlabs' loss_gen_total expression.
    var terms = shared.adversarialTerms(config) + [
        (config.reconXW, reconXA), (config.reconSW, reconSA), (config.reconCW, reconCA),
        (config.reconXW, reconXB), (config.reconSW, reconSB), (config.reconCW, reconCB),
    ]
    if cycle { terms += [(config.reconXCycW, cycXA), (config.reconXCycW, cycXB)] }
    let total = try weightedSum(b, terms + shared.perceptualTerms(config))

    shared.addOutputs(b)
    for (name, value) in [
        ("gen_recon_x_a", reconXA), ("gen_recon_x_b", reconXB),
        ("gen_recon_s_a", reconSA), ("gen_recon_s_b", reconSB), ("gen_recon_c_a", reconCA), ("gen_recon_c_b", reconCB),
        ("gen_cycrecon_x_a", cycXA), ("gen_cycrecon_x_b", cycXB),
    ] { b.output("loss.\(name)", value) }
    b.loss("loss.gen_total", total)

    var activations: [(String, ValueID)] = [
        ("c_a", cA), ("s_a_prime", sAPrime), ("c_b", cB), ("s_b_prime", sBPrime),
        ("x_a_recon", xARecon), ("x_b_recon", xBRecon), ("x_ba", xBA), ("x_ab", xAB),
        ("c_b_recon", cBRecon), ("s_a_recon", sARecon), ("c_a_recon", cARecon), ("s_b_recon", sBRecon),
    ]
    if let xABA, let xBAB { activations += [("x_aba", xABA), ("x_bab", xBAB)] }
    for (name, value) in activations { b.output("act.\(name)", value) }
    context.addBufferUpdateOutputs()
    return b.graph
}

/// The cycle reconstruction L1 of `cycled` against `images`, or the constant 0 NVlabs stores when the
/// cycle loss is off (nil).
func cycleLoss(_ b: GraphBuilder, _ cycled: ValueID?, _ images: ValueID) throws -> ValueID {
    try cycled.map { try b.l1Loss($0, images) } ?? b.constant(value: 0)
}

/// Σ weight · term, skipping zero weights (their terms add exactly 0 in PyTorch) and not scaling by 1.
func weightedSum(_ b: GraphBuilder, _ terms: [(weight: Double, value: ValueID)]) throws -> ValueID {
    var total: ValueID?
    for (weight, value) in terms where weight != 0 {
        let term = weight == 1 ? value : try b.scale(value, by: weight)
        total = try total.map { try b.add($0, term) } ?? term
    }
    return try total ?? b.constant(value: 0)
}

import GraphIR

/// MUNIT's MsImageDis: `num_scales` CNNs of the same shape, scale k+1 seeing AvgPool(3, stride 2, pad 1,
/// padded cells not counted) of scale k's input. Each CNN: Conv2dBlock(in, dim, 4, 2, 1, none);
/// `n_layer − 1` × Conv2dBlock(d, 2d, 4, 2, 1, norm); a 1×1 convolution to one channel.
public struct MultiScaleDiscriminator {
    public let network: MUNITNetwork
    public let ganType: MUNITConfig.GANType
    let scope: Scope
    let cnns: [(blocks: [Conv2dBlock], output: PlainConv2d)]

    /// Declares the discriminator's parameters (and batch norm buffers) under `<network>.cnns.<scale>.*`.
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, inputDim: Int, options o: MUNITConfig.Discriminator) {
        self.network = network
        ganType = o.ganType
        scope = Scope(context, network)
        cnns = (0..<o.numScales).map { s in
            let cnn = Scope(context, network).child("cnns").child(s)
            var blocks = [Conv2dBlock(cnn.child(0), input: inputDim, output: o.dim, kernel: 4, stride: 2, padding: 1,
                                      norm: .none, activation: o.activ, padType: o.padType)]
            var dim = o.dim
            for _ in 1..<o.nLayer {
                blocks.append(Conv2dBlock(cnn.child(blocks.count), input: dim, output: 2 * dim, kernel: 4, stride: 2,
                                          padding: 1, norm: BlockNorm(o.norm), activation: o.activ, padType: o.padType))
                dim *= 2
            }
            return (blocks, PlainConv2d(cnn.child(blocks.count), input: dim, output: 1, kernel: 1))
        }
    }

    /// One score map per scale for `images` [B, in, H, W]. With batch norm, each call is one training-mode
    /// forward pass and updates the running statistics (in call order, as PyTorch does).
    public func apply(_ images: ValueID) throws -> [ValueID] {
        var x = images
        var outputs: [ValueID] = []
        for (s, cnn) in cnns.enumerated() {
            if s > 0 {
                x = try scope.child("cnns").child(s).naming {
                    try scope.builder.avgPool2d(x, kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], countIncludePad: false)
                }
            }
            var h = x
            for block in cnn.blocks { h = try block.apply(h) }
            outputs.append(try cnn.output.apply(h))
        }
        return outputs
    }

    /// NVlabs' `calc_dis_loss(fake, real)`: per scale, LSGAN mean(D(fake)²) + mean((D(real) − 1)²) or the
    /// NSGAN cross-entropies against 0 and 1; summed over scales. Fake is run first, then real.
    public func discriminatorLoss(fake: ValueID, real: ValueID) throws -> ValueID {
        let fakeOutputs = try apply(fake), realOutputs = try apply(real)
        return try scope.naming {
            let b = scope.builder
            let terms = try zip(fakeOutputs, realOutputs).map { f, r in
                try b.add(ganTerm(f, target: 0), ganTerm(r, target: 1))
            }
            return try sum(terms)
        }
    }

    /// NVlabs' `calc_gen_loss(fake)`: per scale, LSGAN mean((D(fake) − 1)²) or NSGAN cross-entropy against 1;
    /// summed over scales.
    public func generatorLoss(fake: ValueID) throws -> ValueID {
        let outputs = try apply(fake)
        return try scope.naming { try sum(outputs.map { try ganTerm($0, target: 1) }) }
    }

    private func ganTerm(_ scores: ValueID, target: Double) throws -> ValueID {
        switch ganType {
        case .lsgan: return try scope.builder.lsganLoss(scores, target: target)
        case .nsgan: return try scope.builder.nsganLoss(scores, target: target)
        }
    }

    private func sum(_ terms: [ValueID]) throws -> ValueID {
        var total = terms[0]
        for t in terms.dropFirst() { total = try scope.builder.add(total, t) }
        return total
    }
}

import GraphIR

/// MUNIT's decoder (`dec`): `n_res` ResBlocks with AdaIN (instance norm in UNIT's VAEGen); `n_downsample` ×
/// [nearest upsampling ×2, Conv2dBlock(d, d/2, 5, 1, 2, ln)]; Conv2dBlock(d, out, 7, 1, 3, none, tanh).
public struct Decoder {
    let scope: Scope
    let resBlocks: ResBlocks
    let upsampling: [Conv2dBlock]
    let output: Conv2dBlock

    /// Declares the decoder's parameters (and AdaIN buffers) under `<network>.dec.model.*`.
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, contentDim: Int, outputDim: Int,
                options: MUNITConfig.Generator) {
        self.init(Scope(context, network).child("dec"), contentDim: contentDim, outputDim: outputDim, options: options)
    }

    /// `residualNorm`: the ResBlocks' norm, NVlabs' `res_norm` (AdaIN for MUNIT, instance norm for UNIT).
    init(_ scope: Scope, contentDim: Int, outputDim: Int, options o: MUNITConfig.Generator, residualNorm: BlockNorm = .adain) {
        self.scope = scope
        let model = scope.child("model")
        resBlocks = ResBlocks(model.child(0), count: o.nRes, dim: contentDim, norm: residualNorm, activation: o.activ,
                              padType: o.padType)
        var dim = contentDim
        var layers: [Conv2dBlock] = []
        for i in 0..<o.nDownsample {
            // model.<2i+1> is the (parameterless) upsampling, model.<2i+2> the convolution block.
            layers.append(Conv2dBlock(model.child(2 * i + 2), input: dim, output: dim / 2, kernel: 5, stride: 1,
                                      padding: 2, norm: .layer, activation: o.activ, padType: o.padType))
            dim /= 2
        }
        upsampling = layers
        output = Conv2dBlock(model.child(2 * o.nDownsample + 1), input: dim, output: outputDim, kernel: 7, stride: 1,
                             padding: 3, norm: .none, activation: .tanh, padType: o.padType)
    }

    /// Channels of every AdaIN layer in module order: what `assign_adain_params` walks.
    public var adainChannels: [Int] { resBlocks.adainChannels }

    /// The number of values the style MLP must produce: 2·C per AdaIN layer.
    public var adainParameterCount: Int { adainChannels.reduce(0) { $0 + 2 * $1 } }

    /// Cuts the MLP output [B, adainParameterCount] as NVlabs' `assign_adain_params` does: per AdaIN layer in
    /// module order, the first C values are its bias (the "mean"), the next C its scale (the "std").
    func assignAdaINParameters(_ mlpOutput: ValueID) throws -> [AdaINParameters] {
        let b = scope.builder
        let batch = b.shape(of: mlpOutput)[0]
        var offset = 0
        return try scope.naming {
            try adainChannels.map { c in
                let bias = try b.slice(mlpOutput, starts: [0, offset], ends: [batch, offset + c])
                let weight = try b.slice(mlpOutput, starts: [0, offset + c], ends: [batch, offset + 2 * c])
                offset += 2 * c
                return AdaINParameters(weight: weight, bias: bias)
            }
        }
    }

    /// Decodes `content` with AdaIN parameters cut from the style MLP's output `mlpOutput`
    /// [B, adainParameterCount] (nil only when there is no AdaIN layer).
    public func apply(_ content: ValueID, mlpOutput: ValueID?) throws -> ValueID {
        let adain = try mlpOutput.map(assignAdaINParameters) ?? []
        guard adain.count == adainChannels.count else {
            throw MUNITGraphError("\(scope.prefix): \(adainChannels.count) AdaIN layers but no style parameters")
        }
        // No AdaIN layer (UNIT's instance-norm ResBlocks, or MUNIT with n_res 0): nothing to hand out.
        var h = try resBlocks.apply(content, adain: adain.isEmpty ? nil : adain)
        for block in upsampling {
            h = try block.scope.naming { try scope.builder.upsampleNearest(h, scale: [2, 2]) }
            h = try block.apply(h)
        }
        return try output.apply(h)
    }
}

/// MUNIT's style MLP (`mlp`): the style [B, style_dim, 1, 1] flattened; LinearBlock(style_dim, mlp_dim,
/// activ); LinearBlock(mlp_dim, mlp_dim, activ); LinearBlock(mlp_dim, n_adain, none).
///
/// With no AdaIN layer (`n_res` 0) PyTorch's last layer has zero outputs, which a graph cannot hold, and
/// the MLP never reaches a loss (PyTorch leaves its gradients None and Adam skips it): the first two layers
/// are declared non-trainable, for checkpoints, and the last one is left out.
public struct StyleMLP {
    let layers: [LinearBlock]
    let scope: Scope
    /// False when there is nothing to produce (no AdaIN layer).
    public var isUsed: Bool { layers.count == 3 }

    /// Declares the MLP's parameters under `<network>.mlp.model.*`.
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, outputDim: Int, options: MUNITConfig.Generator) {
        self.init(Scope(context, network).child("mlp"), outputDim: outputDim, options: options)
    }

    init(_ scope: Scope, outputDim: Int, options o: MUNITConfig.Generator) {
        var model = scope.child("model")
        model.frozen = outputDim == 0
        self.scope = scope
        var blocks = [
            LinearBlock(model.child(0), input: o.styleDim, output: o.mlpDim, activation: o.activ),
            LinearBlock(model.child(1), input: o.mlpDim, output: o.mlpDim, activation: o.activ),
        ]
        if outputDim > 0 {
            blocks.append(LinearBlock(model.child(2), input: o.mlpDim, output: outputDim, activation: .none))
        }
        layers = blocks
    }

    /// The AdaIN parameters [B, n_adain] for `style` [B, style_dim, 1, 1].
    public func apply(_ style: ValueID) throws -> ValueID {
        let shape = scope.builder.shape(of: style)
        var h = try scope.naming { try scope.builder.reshape(style, to: [shape[0], shape.dropFirst().reduce(1, *)]) }
        for layer in layers { h = try layer.apply(h) }
        return h
    }
}

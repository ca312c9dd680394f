import GraphIR

/// MUNIT's style encoder (`enc_style`): Conv2dBlock(in, dim, 7, 1, 3); two channel-doubling 4×4 stride-2
/// blocks; `downsamples − 2` more at constant width (AdaINGen always uses 4 downsamples); global average
/// pooling; a 1×1 convolution to `style_dim`. No norm. Output [B, style_dim, 1, 1].
public struct StyleEncoder {
    let blocks: [Conv2dBlock]
    let output: PlainConv2d
    let scope: Scope

    /// Declares the encoder's parameters under `<network>.enc_style.model.*`.
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, inputDim: Int, options: MUNITConfig.Generator) {
        self.init(Scope(context, network).child("enc_style"), downsamples: 4, inputDim: inputDim, options: options)
    }

    init(_ scope: Scope, downsamples: Int, inputDim: Int, options o: MUNITConfig.Generator) {
        self.scope = scope
        let model = scope.child("model")
        var layers = [Conv2dBlock(model.child(0), input: inputDim, output: o.dim, kernel: 7, stride: 1, padding: 3,
                                  norm: .none, activation: o.activ, padType: o.padType)]
        var dim = o.dim
        for _ in 0..<2 {
            layers.append(Conv2dBlock(model.child(layers.count), input: dim, output: 2 * dim, kernel: 4, stride: 2,
                                      padding: 1, norm: .none, activation: o.activ, padType: o.padType))
            dim *= 2
        }
        for _ in 0..<Swift.max(downsamples - 2, 0) {
            layers.append(Conv2dBlock(model.child(layers.count), input: dim, output: dim, kernel: 4, stride: 2,
                                      padding: 1, norm: .none, activation: o.activ, padType: o.padType))
        }
        blocks = layers
        // model.<n> is the (parameterless) global average pooling, model.<n+1> the 1×1 convolution.
        output = PlainConv2d(model.child(layers.count + 1), input: dim, output: o.styleDim, kernel: 1)
    }

    /// The style code of `x` [B, in, H, W]: [B, style_dim, 1, 1].
    public func apply(_ x: ValueID) throws -> ValueID {
        var h = x
        for block in blocks { h = try block.apply(h) }
        h = try scope.naming { try scope.builder.globalAvgPool(h) }
        return try output.apply(h)
    }
}

/// MUNIT's content encoder (`enc_content`): Conv2dBlock(in, dim, 7, 1, 3, in); `n_downsample` channel-doubling
/// 4×4 stride-2 blocks with instance norm; `n_res` ResBlocks with instance norm.
/// Output [B, dim·2^n, H/2^n, W/2^n].
public struct ContentEncoder {
    let blocks: [Conv2dBlock]
    let resBlocks: ResBlocks
    /// Channels of the content code.
    public let outputDim: Int

    /// Declares the encoder's parameters under `<network>.enc_content.model.*`.
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, inputDim: Int, options: MUNITConfig.Generator) {
        self.init(Scope(context, network).child("enc_content"), inputDim: inputDim, options: options)
    }

    init(_ scope: Scope, inputDim: Int, options o: MUNITConfig.Generator) {
        let model = scope.child("model")
        var layers = [Conv2dBlock(model.child(0), input: inputDim, output: o.dim, kernel: 7, stride: 1, padding: 3,
                                  norm: .instance, activation: o.activ, padType: o.padType)]
        var dim = o.dim
        for _ in 0..<o.nDownsample {
            layers.append(Conv2dBlock(model.child(layers.count), input: dim, output: 2 * dim, kernel: 4, stride: 2,
                                      padding: 1, norm: .instance, activation: o.activ, padType: o.padType))
            dim *= 2
        }
        blocks = layers
        resBlocks = ResBlocks(model.child(layers.count), count: o.nRes, dim: dim, norm: .instance,
                              activation: o.activ, padType: o.padType)
        outputDim = dim
    }

    /// The content code of `x` [B, in, H, W].
    public func apply(_ x: ValueID) throws -> ValueID {
        var h = x
        for block in blocks { h = try block.apply(h) }
        return try resBlocks.apply(h)
    }
}

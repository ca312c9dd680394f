import GraphIR

/// NVlabs' Conv2dBlock: explicit padding (reflect / replicate / zero), a convolution with bias and no
/// padding of its own, then the norm, then the activation. Zero padding is given to the convolution
/// itself (the same arithmetic, one node fewer).
struct Conv2dBlock {
    let scope: Scope
    let weight: ValueID
    let bias: ValueID
    let stride: Int
    let padding: Int
    let padType: MUNITConfig.PadType
    let norm: NormLayer
    let activation: ActivationLayer

    /// Declares the block's parameters under `scope` in PyTorch's registration order: norm, activation,
    /// convolution.
    init(_ scope: Scope, input: Int, output: Int, kernel: Int, stride: Int, padding: Int, norm: BlockNorm,
         activation: MUNITConfig.Activation, padType: MUNITConfig.PadType) {
        self.scope = scope
        self.stride = stride
        self.padding = padding
        self.padType = padType
        self.norm = NormLayer(norm, channels: output, scope)
        self.activation = ActivationLayer(activation, scope)
        weight = scope.parameter("conv.weight", [output, input, kernel, kernel], .convolutionWeight)
        bias = scope.parameter("conv.bias", [output], .convolutionBias)
    }

    /// The AdaIN layers of this block (0 or 1), for the MLP's output size.
    var adainChannels: [Int] { norm.kind == .adain ? [scope.context.builder.shape(of: bias)[0]] : [] }

    func apply(_ x: ValueID, adain: AdaINParameters? = nil) throws -> ValueID {
        try scope.naming {
            let b = scope.builder
            let p = [padding, padding, padding, padding]
            var y: ValueID
            switch padType {
            case .zero:
                y = try b.conv2d(x, weight, bias, stride: [stride, stride], pad: p)
            case .reflect, .replicate:
                let padded = padding == 0 ? x : try b.pad(x, mode: padType == .reflect ? .reflect : .replicate, p)
                y = try b.conv2d(padded, weight, bias, stride: [stride, stride])
            }
            y = try norm.apply(y, adain: adain)
            return try activation.apply(y, b)
        }
    }
}

/// NVlabs' ResBlock: Conv2dBlock(3, 1, 1, norm, activ) → Conv2dBlock(3, 1, 1, norm, none), plus the input.
struct ResBlock {
    let blocks: [Conv2dBlock]

    /// Declares the block under `scope` (`….model.<i>`); its convolutions are `model.0` and `model.1`.
    init(_ scope: Scope, dim: Int, norm: BlockNorm, activation: MUNITConfig.Activation, padType: MUNITConfig.PadType) {
        let inner = scope.child("model")
        blocks = [
            Conv2dBlock(inner.child(0), input: dim, output: dim, kernel: 3, stride: 1, padding: 1, norm: norm,
                        activation: activation, padType: padType),
            Conv2dBlock(inner.child(1), input: dim, output: dim, kernel: 3, stride: 1, padding: 1, norm: norm,
                        activation: .none, padType: padType),
        ]
    }

    /// `adain` holds this block's two AdaIN layers' parameters when its norm is AdaIN.
    func apply(_ x: ValueID, adain: ArraySlice<AdaINParameters>? = nil) throws -> ValueID {
        let params = adain.map(Array.init)
        let h = try blocks[0].apply(x, adain: params?[0])
        let y = try blocks[1].apply(h, adain: params?[1])
        return try blocks[1].scope.naming { try blocks[1].scope.builder.add(y, x) }
    }
}

/// NVlabs' ResBlocks: `count` ResBlocks under `scope.model.<i>`.
struct ResBlocks {
    let blocks: [ResBlock]

    init(_ scope: Scope, count: Int, dim: Int, norm: BlockNorm, activation: MUNITConfig.Activation,
         padType: MUNITConfig.PadType) {
        blocks = (0..<count).map {
            ResBlock(scope.child("model").child($0), dim: dim, norm: norm, activation: activation, padType: padType)
        }
    }

    /// Channels of every AdaIN layer, in module order (two per block).
    var adainChannels: [Int] { blocks.flatMap { $0.blocks.flatMap(\.adainChannels) } }

    func apply(_ x: ValueID, adain: [AdaINParameters]? = nil) throws -> ValueID {
        var y = x
        for (i, block) in blocks.enumerated() {
            y = try block.apply(y, adain: adain.map { $0[(2 * i)..<(2 * i + 2)] })
        }
        return y
    }
}

/// NVlabs' LinearBlock without norm: a fully connected layer with bias (`fc`), then the activation.
struct LinearBlock {
    let scope: Scope
    let weight: ValueID
    let bias: ValueID
    let activation: ActivationLayer

    init(_ scope: Scope, input: Int, output: Int, activation: MUNITConfig.Activation) {
        self.scope = scope
        weight = scope.parameter("fc.weight", [output, input], .linearWeight)
        bias = scope.parameter("fc.bias", [output], .linearBias)
        self.activation = ActivationLayer(activation, scope)
    }

    func apply(_ x: ValueID) throws -> ValueID {
        try scope.naming { try activation.apply(scope.builder.linear(x, weight, bias), scope.builder) }
    }
}

/// A plain `nn.Conv2d` with bias and no padding (`….weight`, `….bias`): the style encoder's and the
/// discriminator's last 1×1 layers.
struct PlainConv2d {
    let scope: Scope
    let weight: ValueID
    let bias: ValueID

    init(_ scope: Scope, input: Int, output: Int, kernel: Int) {
        self.scope = scope
        weight = scope.parameter("weight", [output, input, kernel, kernel], .convolutionWeight)
        bias = scope.parameter("bias", [output], .convolutionBias)
    }

    func apply(_ x: ValueID) throws -> ValueID {
        try scope.naming { try scope.builder.conv2d(x, weight, bias) }
    }
}

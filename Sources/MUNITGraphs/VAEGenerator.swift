import GraphIR

/// UNIT's VAEGen, one per domain: MUNIT's content encoder (`enc`, instance norm) and decoder (`dec`, its
/// ResBlocks with instance norm instead of AdaIN), no style path. Parameters are declared once; `encode`
/// and `decode` may be applied any number of times, sharing them.
///
/// NVlabs' `encode` returns the code and Gaussian noise of its shape, drawn inside; here the noise is a
/// graph input (named by the caller) so that training draws it from the seed and replay feeds the recorded one.
public struct VAEGenerator: DomainGenerator {
    public let network: MUNITNetwork
    public let encoder: ContentEncoder
    public let decoder: Decoder
    let builder: GraphBuilder

    /// Declares the generator's parameters under `<network>.enc.*` then `<network>.dec.*`.
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, inputDim: Int, options: MUNITConfig.Generator) {
        self.network = network
        builder = context.builder
        let scope = Scope(context, network)
        encoder = ContentEncoder(scope.child("enc"), inputDim: inputDim, options: options)
        decoder = Decoder(scope.child("dec"), contentDim: encoder.outputDim, outputDim: inputDim, options: options,
                          residualNorm: .instance)
    }

    /// The code (NVlabs' `hiddens`) of `images` [B, in, H, W].
    public func encodeCode(_ images: ValueID) throws -> ValueID { try encoder.apply(images) }

    /// `encode`: the code of `images` and a new graph input `noise` [the code's shape] holding N(0, 1) noise.
    public func encode(_ images: ValueID, noise name: String) throws -> (code: ValueID, noise: ValueID) {
        let code = try encoder.apply(images)
        return (code, builder.input(name, TensorType(.f32, builder.shape(of: code))))
    }

    /// Images [B, in, H, W] from a code (with noise added in training, without in `sample` and test.py).
    public func decode(_ code: ValueID) throws -> ValueID { try decoder.apply(code, mlpOutput: nil) }
}

import GraphIR

/// MUNIT's AdaINGen, one per domain: style encoder, content encoder, decoder and style MLP. Its parameters
/// are declared once, on construction; `encode` and `decode` may then be applied any number of times in
/// the same graph, all sharing those parameters (as PyTorch's module does).
public struct AdaINGenerator: DomainGenerator {
    public let network: MUNITNetwork
    public let styleEncoder: StyleEncoder
    public let contentEncoder: ContentEncoder
    public let decoder: Decoder
    public let mlp: StyleMLP

    /// Declares the generator's parameters under `<network>.*` in `state_dict` order (enc_style,
    /// enc_content, dec, mlp).
    public init(_ context: MUNITGraphContext, network: MUNITNetwork, inputDim: Int, options: MUNITConfig.Generator) {
        self.network = network
        let scope = Scope(context, network)
        styleEncoder = StyleEncoder(scope.child("enc_style"), downsamples: 4, inputDim: inputDim, options: options)
        contentEncoder = ContentEncoder(scope.child("enc_content"), inputDim: inputDim, options: options)
        decoder = Decoder(scope.child("dec"), contentDim: contentEncoder.outputDim, outputDim: inputDim, options: options)
        mlp = StyleMLP(scope.child("mlp"), outputDim: decoder.adainParameterCount, options: options)
    }

    /// The content code and style code of `images` [B, in, H, W].
    public func encode(_ images: ValueID) throws -> (content: ValueID, style: ValueID) {
        let style = try styleEncoder.apply(images)
        return (try contentEncoder.apply(images), style)
    }

    /// The content code alone (what the dis step needs).
    public func encodeContent(_ images: ValueID) throws -> ValueID { try contentEncoder.apply(images) }

    /// Images [B, in, H, W] from a content code and a style code [B, style_dim, 1, 1].
    public func decode(content: ValueID, style: ValueID) throws -> ValueID {
        try decoder.apply(content, mlpOutput: mlp.isUsed ? mlp.apply(style) : nil)
    }
}

import Testing
@testable import GraphIR

/// The backward ops of the convolution, spatial and normalisation groups as table entries: shape rules and
/// their rejections, traits, costs and the text format. Their kernels are checked against adjoint identities,
/// numerical Jacobians and PyTorch in PassesTests (SpatialVJPTests, NormalizationVJPTests).
@Suite struct BackwardOpsTests: OpTestHelpers {

    func f32(_ shape: [Int]) -> TensorType { TensorType(.f32, shape) }

    static let backwardOps = [
        "conv2d_backward_input", "conv2d_backward_weight", "pad_backward", "upsample_nearest_backward",
        "avg_pool2d_backward", "max_pool2d_backward", "instance_norm_backward", "layer_norm_backward",
        "batch_norm_backward",
    ]

    @Test func backwardOpsAreInTheTableWithTheBackwardTrait() throws {
        for name in Self.backwardOps {
            let op = try #require(Ops.named(name), "\(name) is registered")
            #expect(op.traits.contains(.backward), "\(name)")
        }
        let tagged = Set(Ops.all.filter { $0.traits.contains(.backward) }.map(\.name))
        #expect(Set(Self.backwardOps).isSubset(of: tagged))
    }

    @Test func shapesFollowTheForwardGeometry() throws {
        let b = GraphBuilder(name: "shapes")
        // Kernel 3, stride 2 makes 3 outputs of 7 rows and of 8 (the 8th never read): input_shape, not gy, fixes
        // the size.
        let gy = b.input("gy", f32([2, 4, 3, 3])), w = b.input("w", f32([4, 3, 3, 3]))
        #expect(b.shape(of: try b.conv2dBackwardInput(gy, w, inputShape: [2, 3, 7, 7], stride: [2, 2], pad: [1, 0, 0, 0])) == [2, 3, 7, 7])
        #expect(b.shape(of: try b.conv2dBackwardInput(gy, w, inputShape: [2, 3, 8, 8], stride: [2, 2])) == [2, 3, 8, 8])
        let x = b.input("x", f32([2, 3, 7, 7]))
        #expect(b.shape(of: try b.conv2dBackwardWeight(x, gy, kernel: [3, 3], stride: [2, 2], pad: [1, 0, 0, 0])) == [4, 3, 3, 3])
        let padded = b.input("padded", f32([1, 2, 7, 9]))
        #expect(b.shape(of: try b.padBackward(padded, mode: .reflect, [1, 3, 2, 1])) == [1, 2, 4, 5])
        #expect(b.shape(of: try b.upsampleNearestBackward(padded, scale: [7, 3])) == [1, 2, 1, 3])
        let pooled = b.input("pooled", f32([2, 3, 4, 4]))
        #expect(b.shape(of: try b.avgPool2dBackward(pooled, inputShape: [2, 3, 7, 8], kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1])) == [2, 3, 7, 8])
        #expect(b.shape(of: try b.maxPool2dBackward(x, pooled, kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1])) == [2, 3, 7, 7])
        #expect(b.shape(of: try b.layerNormBackward(padded, padded)) == [1, 2, 7, 9])
    }

    @Test func convolutionBackwardRejects() {
        let gy = f32([2, 4, 3, 3]), w = f32([4, 3, 3, 3]), x = f32([2, 3, 7, 7])
        let geometry = rejection([gy, w]) { b, v in try b.conv2dBackwardInput(v[0], v[1], inputShape: [2, 3, 9, 9], stride: [2, 2]) }
        #expect(geometry.contains("forward output"))
        let channels = rejection([gy, w]) { b, v in try b.conv2dBackwardInput(v[0], v[1], inputShape: [2, 5, 7, 7], stride: [2, 2]) }
        #expect(channels.contains("input_shape"))
        rejection([gy, f32([5, 3, 3, 3])]) { b, v in try b.conv2dBackwardInput(v[0], v[1], inputShape: [2, 3, 7, 7], stride: [2, 2]) }
        rejection([gy, w]) { b, v in try b.conv2dBackwardInput(v[0], v[1], inputShape: [2, 3, 7], stride: [2, 2]) }
        rejection([gy, TensorType(.f64, [4, 3, 3, 3])]) { b, v in
            try b.conv2dBackwardInput(v[0], v[1], inputShape: [2, 3, 7, 7], stride: [2, 2])
        }
        rejection([x, f32([3, 4, 3, 3])]) { b, v in try b.conv2dBackwardWeight(v[0], v[1], kernel: [3, 3], stride: [2, 2]) }
        rejection([x, gy]) { b, v in try b.conv2dBackwardWeight(v[0], v[1], kernel: [3, 3]) }
        rejection([x, gy]) { b, v in try b.conv2dBackwardWeight(v[0], v[1], kernel: [0, 3], stride: [2, 2]) }
        rejection([f32([2, 3, 7]), gy]) { b, v in try b.conv2dBackwardWeight(v[0], v[1], kernel: [3, 3], stride: [2, 2]) }
    }

    @Test func spatialBackwardRejects() {
        let gy = f32([1, 2, 5, 6])
        let reflect = rejection([gy]) { b, v in try b.padBackward(v[0], mode: .reflect, [3, 0, 1, 1]) }
        #expect(reflect.contains("reflect"))
        rejection([gy]) { b, v in try b.padBackward(v[0], mode: .zero, [3, 3, 0, 0]) }
        rejection([f32([2, 5, 6])]) { b, v in try b.padBackward(v[0], mode: .zero, [1, 1, 1, 1]) }
        rejection([gy]) { b, v in try b.apply(Ops.padBackward, v, ["mode": .string("circular"), "pad": .ints([1, 1, 1, 1])]) }
        let blocks = rejection([gy]) { b, v in try b.upsampleNearestBackward(v[0], scale: [2, 4]) }
        #expect(blocks.contains("scale"))
        let pooled = rejection([gy]) { b, v in try b.avgPool2dBackward(v[0], inputShape: [1, 2, 9, 9], kernel: [2, 2]) }
        #expect(pooled.contains("pooled shape"))
        rejection([gy]) { b, v in try b.avgPool2dBackward(v[0], inputShape: [1, 3, 10, 12], kernel: [2, 2]) }
        rejection([gy]) { b, v in try b.avgPool2dBackward(v[0], inputShape: [1, 2, 10, 12], kernel: [2, 2], pad: [2, 0, 0, 0]) }
        rejection([f32([1, 2, 10, 12]), f32([1, 2, 5, 5])]) { b, v in try b.maxPool2dBackward(v[0], v[1], kernel: [2, 2]) }
        rejection([f32([1, 2, 10, 12]), TensorType(.f64, [1, 2, 5, 6])]) { b, v in try b.maxPool2dBackward(v[0], v[1], kernel: [2, 2]) }
    }

    @Test func normalizationBackwardRejects() {
        let x = f32([2, 3, 4, 4])
        let mismatch = rejection([x, f32([2, 3, 4, 5])]) { b, v in try b.instanceNormBackward(v[0], v[1]) }
        #expect(mismatch.contains("gy"))
        rejection([f32([3, 4, 4]), f32([3, 4, 4])]) { b, v in try b.instanceNormBackward(v[0], v[1]) }
        rejection([x, x]) { b, v in try b.instanceNormBackward(v[0], v[1], eps: 0) }
        rejection([f32([5]), f32([5])]) { b, v in try b.layerNormBackward(v[0], v[1]) }
        rejection([f32([2, 1]), f32([2, 1])]) { b, v in try b.layerNormBackward(v[0], v[1]) }
        rejection([f32([1, 3, 1, 1]), f32([1, 3, 1, 1])]) { b, v in try b.batchNormBackward(v[0], v[1]) }
        rejection([x, TensorType(.f64, [2, 3, 4, 4])]) { b, v in try b.batchNormBackward(v[0], v[1]) }
        rejection([x]) { b, v in try b.apply(Ops.batchNormBackward, v) }
    }

    @Test func costsCountTheForwardWork() throws {
        // Both convolution gradients do the forward's multiply-accumulates: N·O·OH·OW·C·KH·KW.
        let macs = 2 * 4 * 3 * 3 * 3 * 3 * 3
        let input = Ops.conv2dBackwardInput.cost([f32([2, 4, 3, 3]), f32([4, 3, 3, 3])], [f32([2, 3, 7, 7])], [:])
        let weight = Ops.conv2dBackwardWeight.cost([f32([2, 3, 7, 7]), f32([2, 4, 3, 3])], [f32([4, 3, 3, 3])], [:])
        #expect(input.flops == 2 * macs && weight.flops == 2 * macs)
        #expect(input.bytes == 4 * (72 + 108 + 294))
    }

    @Test func backwardOpsRoundTripThroughText() throws {
        let b = GraphBuilder(name: "backward")
        let x = b.input("x", f32([2, 3, 7, 8])), gy = b.input("gy", f32([2, 4, 3, 4])), w = b.input("w", f32([4, 3, 3, 3]))
        let pooled = b.input("pooled", f32([2, 3, 4, 4]))
        b.output("gx", try b.conv2dBackwardInput(gy, w, inputShape: [2, 3, 7, 8], stride: [2, 2], pad: [1, 1, 0, 0]))
        b.output("gw", try b.conv2dBackwardWeight(x, gy, kernel: [3, 3], stride: [2, 2], pad: [1, 1, 0, 0]))
        b.output("pad", try b.padBackward(x, mode: .replicate, [1, 2, 0, 3]))
        b.output("up", try b.upsampleNearestBackward(x, scale: [7, 2]))
        b.output("avg", try b.avgPool2dBackward(pooled, inputShape: [2, 3, 7, 8], kernel: [3, 3], stride: [2, 2],
                                               pad: [1, 1, 1, 1], countIncludePad: false))
        b.output("max", try b.maxPool2dBackward(x, pooled, kernel: [2, 2], pad: [1, 0, 1, 0]))
        b.output("in", try b.instanceNormBackward(x, x, eps: 1e-3))
        b.output("ln", try b.layerNormBackward(x, x))
        b.output("bn", try b.batchNormBackward(x, x))
        let printed = printGraph(b.graph)
        #expect(printed.contains("input_shape = [2, 3, 7, 8]"))
        let parsed = try parseGraph(printed)
        #expect(withoutLocations(parsed) == b.graph)
        #expect(printGraph(parsed) == printed)
    }
}

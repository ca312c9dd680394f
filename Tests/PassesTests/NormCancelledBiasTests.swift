import Testing
@testable import GraphIR
@testable import Passes

/// `NormCancelledBias`, the table canonicalize drops convolution biases and zeroes their gradients by: each
/// norm and norm gradient whose result a per-channel shift of x does not change, and each that it does.
@Suite struct NormCancelledBiasTests {
    /// One operand position of a norm op and whether the table says a per-channel shift there cancels.
    struct Position: Sendable, CustomStringConvertible {
        var op: OpDefinition
        var operand: Int
        var cancels: Bool
        var description: String { "\(op.name) operand \(operand)" }
    }

    /// Every operand of every norm and norm gradient. Layer norm does not cancel: one mean over all
    /// channels; the affine operands (weight, gamma, beta) scale or shift after normalising; the gradients'
    /// gy is not x, and the table only vouches for x.
    static let positions: [Position] = [
        Position(op: Ops.instanceNorm, operand: 0, cancels: true),
        Position(op: Ops.adain, operand: 0, cancels: true),
        Position(op: Ops.adain, operand: 1, cancels: false),
        Position(op: Ops.adain, operand: 2, cancels: false),
        Position(op: Ops.batchNorm, operand: 0, cancels: true),
        Position(op: Ops.batchNorm, operand: 1, cancels: false),
        Position(op: Ops.batchNorm, operand: 2, cancels: false),
        Position(op: Ops.layerNorm, operand: 0, cancels: false),
        Position(op: Ops.layerNorm, operand: 1, cancels: false),
        Position(op: Ops.layerNorm, operand: 2, cancels: false),
        Position(op: Ops.instanceNormBackward, operand: 0, cancels: true),
        Position(op: Ops.instanceNormBackward, operand: 1, cancels: false),
        Position(op: Ops.batchNormBackward, operand: 0, cancels: true),
        Position(op: Ops.batchNormBackward, operand: 1, cancels: false),
        Position(op: Ops.layerNormBackward, operand: 0, cancels: false),
        Position(op: Ops.layerNormBackward, operand: 1, cancels: false),
    ]

    static let image = TensorType(.f64, [2, 3, 4, 4])

    /// The operands of `op` for x = `x`: seeded random weights, statistics gradients.
    static func operands(of op: OpDefinition, x: Tensor) -> [Tensor] {
        let (n, c) = (image.shape[0], image.shape[1])
        switch op {
        case Ops.instanceNorm: return [x]
        case Ops.adain: return [x, VJPCheck.random([n, c], seed: 2, in: 0.5...2), VJPCheck.random([n, c], seed: 3)]
        case Ops.batchNorm, Ops.layerNorm: return [x, VJPCheck.random([c], seed: 2, in: 0.5...2), VJPCheck.random([c], seed: 3)]
        default: return [x, VJPCheck.random(image.shape, seed: 4)]  // a gradient op: (x, gy)
        }
    }

    /// `op` on the interpreter.
    static func evaluate(_ op: OpDefinition, _ operands: [Tensor]) throws -> Tensor {
        try VJPCheck.run(operands) { b, v in try b.apply(op, v, ["eps": .float(1e-5)]) }
    }

    /// x plus 3, −1.5, 0.25 on channels 0, 1, 2: the bias a convolution adds.
    static func shiftedPerChannel(_ x: Tensor) -> Tensor {
        let shifts = [3.0, -1.5, 0.25], plane = image.shape[2] * image.shape[3]
        let scalars = x.scalars.enumerated().map { i, v in v + shifts[(i / plane) % shifts.count] }
        return Tensor(x.dtype, shape: x.shape, scalars: scalars)
    }

    @Test(arguments: positions)
    func tableNamesEachNormOperand(_ position: Position) {
        #expect(NormCancelledBias.cancelsChannelShift(position.op, operand: position.operand) == position.cancels)
    }

    /// Where the table says a shift of x cancels, the op computes the same with and without it (up to rounding).
    @Test(arguments: positions.filter(\.cancels))
    func cancellingOpsIgnoreAPerChannelShiftOfX(_ position: Position) throws {
        let x = VJPCheck.random(Self.image.shape, seed: 1)
        let plain = try Self.evaluate(position.op, Self.operands(of: position.op, x: x))
        let shifted = try Self.evaluate(position.op, Self.operands(of: position.op, x: Self.shiftedPerChannel(x)))
        #expect(plain.maxAbsDifference(shifted) < 1e-9)
    }

    /// Layer norm's one mean over all channels does not absorb a per-channel shift: why it is not in the table.
    @Test func layerNormSeesAPerChannelShift() throws {
        let x = VJPCheck.random(Self.image.shape, seed: 1)
        for op in [Ops.layerNorm, Ops.layerNormBackward] {
            let plain = try Self.evaluate(op, Self.operands(of: op, x: x))
            let shifted = try Self.evaluate(op, Self.operands(of: op, x: Self.shiftedPerChannel(x)))
            #expect(plain.maxAbsDifference(shifted) > 1e-3, "\(op.name)")
        }
    }

    /// The gradients of instance norm and batch norm sum to zero over their normalised axes; nothing else is
    /// claimed to.
    @Test func zeroSumAxesOfEachNormGradient() throws {
        let claims: [(OpDefinition, Set<Int>?)] = [
            (Ops.instanceNormBackward, [2, 3]), (Ops.batchNormBackward, [0, 2, 3]), (Ops.layerNormBackward, nil),
            (Ops.instanceNorm, nil), (Ops.adain, nil), (Ops.batchNorm, nil), (Ops.layerNorm, nil), (Ops.add, nil),
        ]
        for (op, axes) in claims {
            #expect(NormCancelledBias.zeroSumAxes(of: op) == axes, "\(op.name)")
            guard let axes else { continue }
            let x = VJPCheck.random(Self.image.shape, seed: 5)
            let gx = try Self.evaluate(op, Self.operands(of: op, x: x))
            let sums = try VJPCheck.run([gx]) { b, v in try b.reduceSum(v[0], axes: axes.sorted()) }
            let scale = gx.scalars.map(Swift.abs).max() ?? 0
            #expect(sums.scalars.allSatisfy { Swift.abs($0) < 1e-12 * scale * Double(gx.scalars.count) }, "\(op.name)")
        }
    }

    /// Which biased convolutions the table finds: only the first, whose result feeds the x of both cancelling
    /// gradients. Not: one feeding a gradient's gy, one feeding layer norm's gradient, one without a bias, one
    /// nobody uses (dead code), one that is also a graph output.
    @Test func findsTheConvolutionsWhoseBiasEveryUseCancels() throws {
        let graph = try parseGraph("""
            graph g {
              input %x : f32[2, 3, 4, 4]
              input %gy : f32[2, 2, 4, 4]
              param %w : f32[2, 3, 1, 1] trainable
              param %b : f32[2] trainable
              %0 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %1 = instance_norm_backward(%0, %gy) {eps = 1e-05} : f32[2, 2, 4, 4]
              %2 = batch_norm_backward(%0, %gy) {eps = 1e-05} : f32[2, 2, 4, 4]
              %3 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %4 = instance_norm_backward(%gy, %3) {eps = 1e-05} : f32[2, 2, 4, 4]
              %5 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %6 = layer_norm_backward(%5, %gy) {eps = 1e-05} : f32[2, 2, 4, 4]
              %7 = conv2d(%x, %w) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %8 = instance_norm(%7) {eps = 1e-05} : f32[2, 2, 4, 4]
              %9 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %10 = conv2d(%x, %w, %b) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[2, 2, 4, 4]
              %11 = batch_norm(%10, %b, %b) {eps = 1e-05} : f32[2, 2, 4, 4]
              output a = %1
              output b = %2
              output c = %4
              output d = %6
              output e = %8
              output f = %10
              output g = %11
            }
            """)
        #expect(NormCancelledBias.convolutions(in: graph) == [0])
    }
}

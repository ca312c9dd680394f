import Testing
@testable import GraphIR
@testable import Passes

/// `adam` and `sgd`: golden text of the update IR they append to a differentiated graph (its `grad.<p>`
/// outputs written by hand here), checked against the update rules of `torch.optim.Adam` and `torch.optim.SGD`.
@Suite struct OptimizerGoldenTests {
    /// torch.optim.Adam, defaults (β1 0.9, β2 0.999, ε 1e-8, no weight decay), step t and learning rate lr:
    /// m ← m + (1 − β1)(g − m) (torch's lerp_; 1 − 0.9 is 0.09999999999999998 in doubles),
    /// v ← β2·v + (1 − β2)·g²,
    /// p ← p − (m / (√v / √(1 − β2ᵗ) + ε)) · lr / (1 − β1ᵗ).
    /// The bias corrections 1 − βᵗ = 1 − exp(t·ln β) are scalars computed once in f64 (PyTorch computes them
    /// in Python floats): ln 0.9 = −0.10536051565782628, ln 0.999 = −0.0010005003335835344.
    @Test func adamAppendsTorchsUpdate() throws {
        let (_, result, statistics) = try CleanupCheck.apply(AdamPass(), """
            graph g {
              param %w : f32[2] trainable
              %0 = square(%w) : f32[2]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[]
              %2 = scale(%w) {factor = 2.0} : f32[2]
              loss loss = %1
              output grad.w = %2
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              param %w : f32[2] trainable
              %0 = square(%w) : f32[2]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[]
              %2 = scale(%w) {factor = 2.0} : f32[2]
              input %optimizer.lr : f32[]
              input %optimizer.step : f32[]
              %3 = cast(%optimizer.step) {dtype = f64} : f64[]
              %4 = cast(%optimizer.lr) {dtype = f64} : f64[]
              %5 = scale(%3) {factor = -0.10536051565782628} : f64[]
              %6 = exp(%5) : f64[]
              %7 = neg(%6) : f64[]
              %8 = shift(%7) {offset = 1.0} : f64[]
              %9 = div(%4, %8) : f64[]
              %10 = cast(%9) {dtype = f32} : f32[]
              %11 = scale(%3) {factor = -0.0010005003335835344} : f64[]
              %12 = exp(%11) : f64[]
              %13 = neg(%12) : f64[]
              %14 = shift(%13) {offset = 1.0} : f64[]
              %15 = sqrt(%14) : f64[]
              %16 = cast(%15) {dtype = f32} : f32[]
              param %optimizer.m.w : f32[2]
              param %optimizer.v.w : f32[2]
              %17 = sub(%2, %optimizer.m.w) : f32[2]
              %18 = scale(%17) {factor = 0.09999999999999998} : f32[2]
              %19 = add(%optimizer.m.w, %18) : f32[2]
              %20 = scale(%optimizer.v.w) {factor = 0.999} : f32[2]
              %21 = square(%2) : f32[2]
              %22 = scale(%21) {factor = 0.0010000000000000009} : f32[2]
              %23 = add(%20, %22) : f32[2]
              %24 = sqrt(%23) : f32[2]
              %25 = div(%24, %16) : f32[2]
              %26 = shift(%25) {offset = 1e-08} : f32[2]
              %27 = div(%19, %26) : f32[2]
              %28 = mul(%27, %10) : f32[2]
              %29 = sub(%w, %28) : f32[2]
              loss loss = %1
              output grad.w = %2
              output next.w = %29
              output next.optimizer.m.w = %19
              output next.optimizer.v.w = %23
            }
            """))
        #expect(statistics["parameters-updated"] == 1)
        #expect(result.argument(named: "optimizer.m.w")?.kind == .parameter(trainable: false))
    }

    /// Non-default options and weight decay, in f64: g ← g + 0.1·w (PyTorch's L2 `weight_decay`, added to the
    /// gradient before both moments); β1 0.5 (ln 0.5 = −0.6931471805599453), β2 0.99
    /// (ln 0.99 = −0.01005033585350145, 1 − 0.99 = 0.010000000000000009), ε 1e-6. The f64 → f64 casts are
    /// no-ops that canonicalize removes.
    @Test func adamWithWeightDecayAddsItToTheGradient() throws {
        let options = AdamOptions(beta1: 0.5, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1)
        let (_, result, _) = try CleanupCheck.apply(AdamPass(options: options), """
            graph g {
              input %x : f64[3]
              param %w : f64[3] trainable
              %0 = mul(%x, %w) : f64[3]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f64[]
              loss loss = %1
              output grad.w = %x
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              input %x : f64[3]
              param %w : f64[3] trainable
              %0 = mul(%x, %w) : f64[3]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f64[]
              input %optimizer.lr : f64[]
              input %optimizer.step : f64[]
              %2 = cast(%optimizer.step) {dtype = f64} : f64[]
              %3 = cast(%optimizer.lr) {dtype = f64} : f64[]
              %4 = scale(%2) {factor = -0.6931471805599453} : f64[]
              %5 = exp(%4) : f64[]
              %6 = neg(%5) : f64[]
              %7 = shift(%6) {offset = 1.0} : f64[]
              %8 = div(%3, %7) : f64[]
              %9 = cast(%8) {dtype = f64} : f64[]
              %10 = scale(%2) {factor = -0.01005033585350145} : f64[]
              %11 = exp(%10) : f64[]
              %12 = neg(%11) : f64[]
              %13 = shift(%12) {offset = 1.0} : f64[]
              %14 = sqrt(%13) : f64[]
              %15 = cast(%14) {dtype = f64} : f64[]
              param %optimizer.m.w : f64[3]
              param %optimizer.v.w : f64[3]
              %16 = scale(%w) {factor = 0.1} : f64[3]
              %17 = add(%x, %16) : f64[3]
              %18 = sub(%17, %optimizer.m.w) : f64[3]
              %19 = scale(%18) {factor = 0.5} : f64[3]
              %20 = add(%optimizer.m.w, %19) : f64[3]
              %21 = scale(%optimizer.v.w) {factor = 0.99} : f64[3]
              %22 = square(%17) : f64[3]
              %23 = scale(%22) {factor = 0.010000000000000009} : f64[3]
              %24 = add(%21, %23) : f64[3]
              %25 = sqrt(%24) : f64[3]
              %26 = div(%25, %15) : f64[3]
              %27 = shift(%26) {offset = 1e-06} : f64[3]
              %28 = div(%20, %27) : f64[3]
              %29 = mul(%28, %9) : f64[3]
              %30 = sub(%w, %29) : f64[3]
              loss loss = %1
              output grad.w = %x
              output next.w = %30
              output next.optimizer.m.w = %20
              output next.optimizer.v.w = %24
            }
            """))
    }

    /// torch.optim.SGD without momentum: p ← p − lr·g, for the parameters with a `grad.` output only (the
    /// non-trainable `s` has none and is left alone).
    @Test func sgdAppendsTorchsUpdate() throws {
        let (_, result, statistics) = try CleanupCheck.apply(SGDPass(), """
            graph g {
              input %x : f32[2]
              param %w : f32[2] trainable
              param %s : f32[2]
              %0 = mul(%x, %w) : f32[2]
              %1 = mul(%0, %s) : f32[2]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f32[]
              %3 = mul(%x, %s) : f32[2]
              loss loss = %2
              output grad.w = %3
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              input %x : f32[2]
              param %w : f32[2] trainable
              param %s : f32[2]
              %0 = mul(%x, %w) : f32[2]
              %1 = mul(%0, %s) : f32[2]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f32[]
              %3 = mul(%x, %s) : f32[2]
              input %optimizer.lr : f32[]
              %4 = mul(%3, %optimizer.lr) : f32[2]
              %5 = sub(%w, %4) : f32[2]
              loss loss = %2
              output grad.w = %3
              output next.w = %5
            }
            """))
        #expect(statistics["parameters-updated"] == 1)
    }

    /// torch.optim.SGD with momentum 0.9 and weight decay 0.01 (dampening 0): g ← g + 0.01·p;
    /// buf ← 0.9·buf + g (a zero buffer makes the first step buf = g, as torch's clone); p ← p − lr·buf.
    /// Each parameter gets its own buffer `optimizer.momentum.<p>` and `next.` output.
    @Test func sgdWithMomentumAndWeightDecay() throws {
        let (_, result, statistics) = try CleanupCheck.apply(SGDPass(options: SGDOptions(momentum: 0.9, weightDecay: 0.01)), """
            graph g {
              param %w : f32[2] trainable
              param %b : f32[] trainable
              %0 = square(%w) : f32[2]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[]
              %2 = add(%1, %b) : f32[]
              %3 = scale(%w) {factor = 2.0} : f32[2]
              %4 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              loss loss = %2
              output grad.w = %3
              output grad.b = %4
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              param %w : f32[2] trainable
              param %b : f32[] trainable
              %0 = square(%w) : f32[2]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[]
              %2 = add(%1, %b) : f32[]
              %3 = scale(%w) {factor = 2.0} : f32[2]
              %4 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              input %optimizer.lr : f32[]
              %5 = scale(%w) {factor = 0.01} : f32[2]
              %6 = add(%3, %5) : f32[2]
              param %optimizer.momentum.w : f32[2]
              %7 = scale(%optimizer.momentum.w) {factor = 0.9} : f32[2]
              %8 = add(%7, %6) : f32[2]
              %9 = mul(%8, %optimizer.lr) : f32[2]
              %10 = sub(%w, %9) : f32[2]
              %11 = scale(%b) {factor = 0.01} : f32[]
              %12 = add(%4, %11) : f32[]
              param %optimizer.momentum.b : f32[]
              %13 = scale(%optimizer.momentum.b) {factor = 0.9} : f32[]
              %14 = add(%13, %12) : f32[]
              %15 = mul(%14, %optimizer.lr) : f32[]
              %16 = sub(%b, %15) : f32[]
              loss loss = %2
              output grad.w = %3
              output grad.b = %4
              output next.optimizer.momentum.w = %8
              output next.w = %10
              output next.optimizer.momentum.b = %14
              output next.b = %16
            }
            """))
        #expect(statistics["parameters-updated"] == 2)
    }
}

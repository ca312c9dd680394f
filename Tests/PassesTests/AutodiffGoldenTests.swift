import Testing
@testable import GraphIR
@testable import Passes

/// `autodiff`: golden text of the gradient IR it appends. Each expected graph is the VJP rules applied by
/// hand in reverse order: the loss's seed 1, then each node's rule on its upstream gradient. A rule emits the
/// partials of all its operands, so a partial nobody needs stays behind as dead code (dce's business).
@Suite struct AutodiffGoldenTests {
    /// loss = Σ x·w: reduce_sum sends its gradient to every element (reshape to the kept shape [1], then
    /// broadcast), and mul's VJP is (g·rhs, g·lhs), so ∂loss/∂w = g·x (%6); g·w (%5) is x's partial.
    @Test func productRuleOfMul() throws {
        let (_, result, statistics) = try CleanupCheck.apply(Autodiff(), """
            graph g {
              input %x : f32[3]
              param %w : f32[3] trainable
              %0 = mul(%x, %w) : f32[3]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[]
              loss loss = %1
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              input %x : f32[3]
              param %w : f32[3] trainable
              %0 = mul(%x, %w) : f32[3]
              %1 = reduce_sum(%0) {axes = [0], keepdims = false} : f32[]
              %2 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              %3 = reshape(%2) {shape = [1]} : f32[1]
              %4 = broadcast_to(%3) {shape = [3]} : f32[3]
              %5 = mul(%4, %w) : f32[3]
              %6 = mul(%4, %x) : f32[3]
              loss loss = %1
              output grad.w = %6
            }
            """))
        #expect(statistics["nodes-differentiated"] == 2)
    }

    /// loss = Σ (w² + w): add passes g to both operands unchanged, square's VJP is g·2w, and the two
    /// gradients reaching w are summed (%8 = g + g·2w).
    @Test func gradientsOfAValueUsedTwiceAreSummed() throws {
        let (_, result, statistics) = try CleanupCheck.apply(Autodiff(), """
            graph g {
              param %w : f64[2] trainable
              %0 = square(%w) : f64[2]
              %1 = add(%0, %w) : f64[2]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f64[]
              loss loss = %2
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              param %w : f64[2] trainable
              %0 = square(%w) : f64[2]
              %1 = add(%0, %w) : f64[2]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f64[]
              %3 = constant() {value = 1.0, shape = [], dtype = f64} : f64[]
              %4 = reshape(%3) {shape = [1]} : f64[1]
              %5 = broadcast_to(%4) {shape = [2]} : f64[2]
              %6 = scale(%w) {factor = 2.0} : f64[2]
              %7 = mul(%5, %6) : f64[2]
              %8 = add(%5, %7) : f64[2]
              loss loss = %2
              output grad.w = %8
            }
            """))
        #expect(statistics["gradient-sums"] == 1)
    }

    /// loss = mean((x + b)·frozen) over [2, 3]: reduce_mean's gradient is 1/6 per element; mul's partials
    /// are computed for both operands (frozen's, %8…%10, is dead: a non-trainable parameter gets no
    /// gradient); add's partial for b is the broadcast gradient summed back over the broadcast axis 0
    /// (reduce_sum keepdims, then reshape to [3]). The trainable `unused`, which the loss does not reach,
    /// gets an explicit zero.
    @Test func broadcastOperandsSumBackAndUnreachedParametersGetZero() throws {
        let (_, result, statistics) = try CleanupCheck.apply(Autodiff(), """
            graph g {
              input %x : f32[2, 3]
              param %b : f32[3] trainable
              param %frozen : f32[3]
              param %unused : f32[2] trainable
              %0 = add(%x, %b) : f32[2, 3]
              %1 = mul(%0, %frozen) : f32[2, 3]
              %2 = reduce_mean(%1) {axes = [0, 1], keepdims = false} : f32[]
              loss loss = %2
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3]
              param %b : f32[3] trainable
              param %frozen : f32[3]
              param %unused : f32[2] trainable
              %0 = add(%x, %b) : f32[2, 3]
              %1 = mul(%0, %frozen) : f32[2, 3]
              %2 = reduce_mean(%1) {axes = [0, 1], keepdims = false} : f32[]
              %3 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              %4 = reshape(%3) {shape = [1, 1]} : f32[1, 1]
              %5 = scale(%4) {factor = 0.16666666666666666} : f32[1, 1]
              %6 = broadcast_to(%5) {shape = [2, 3]} : f32[2, 3]
              %7 = mul(%6, %frozen) : f32[2, 3]
              %8 = mul(%6, %0) : f32[2, 3]
              %9 = reduce_sum(%8) {axes = [0], keepdims = true} : f32[1, 3]
              %10 = reshape(%9) {shape = [3]} : f32[3]
              %11 = reduce_sum(%7) {axes = [0], keepdims = true} : f32[1, 3]
              %12 = reshape(%11) {shape = [3]} : f32[3]
              %13 = constant() {value = 0.0, shape = [2], dtype = f32} : f32[2]
              loss loss = %2
              output grad.b = %12
              output grad.unused = %13
            }
            """))
        #expect(statistics["zero-gradients"] == 1)
    }

    /// loss = Σ stop_gradient(w)·w: only mul's rhs path carries a gradient, so ∂loss/∂w = stop_gradient(w)
    /// (%7 = g·%0), not 2w; the lhs partial (%6) reaches the barrier and stops.
    @Test func stopGradientBlocksItsPath() throws {
        let (_, result, _) = try CleanupCheck.apply(Autodiff(), """
            graph g {
              param %w : f32[3] trainable
              %0 = stop_gradient(%w) : f32[3]
              %1 = mul(%0, %w) : f32[3]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f32[]
              loss loss = %2
            }
            """)
        #expect(printGraph(result) == CleanupCheck.golden("""
            graph g {
              param %w : f32[3] trainable
              %0 = stop_gradient(%w) : f32[3]
              %1 = mul(%0, %w) : f32[3]
              %2 = reduce_sum(%1) {axes = [0], keepdims = false} : f32[]
              %3 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              %4 = reshape(%3) {shape = [1]} : f32[1]
              %5 = broadcast_to(%4) {shape = [3]} : f32[3]
              %6 = mul(%5, %w) : f32[3]
              %7 = mul(%5, %0) : f32[3]
              loss loss = %2
              output grad.w = %7
            }
            """))
    }
}

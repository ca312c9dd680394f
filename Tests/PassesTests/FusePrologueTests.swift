import Testing
@testable import GraphIR
@testable import Passes

/// `fuse-prologue`: golden text (a loss's pointwise chain into its mean, a ReLU mask into a norm's
/// gradient, a producer that is also an output left alone) and the interpreter's agreement bit for bit.
@Suite struct FusePrologueTests {
    @Test func foldsPointwiseProducersIntoReductionsAndNormGradients() throws {
        var statistics = PassStatistics()
        let chains = try FuseElementwise().run(try parseGraph("""
            graph g {
              input %x : f32[2, 3, 4, 4]
              input %y : f32[2, 3, 4, 4]
              input %gy : f32[2, 3, 4, 4]
              %0 = sub(%x, %y) : f32[2, 3, 4, 4]
              %1 = abs(%0) : f32[2, 3, 4, 4]
              %2 = reduce_mean(%1) {axes = [0, 1, 2, 3], keepdims = false} : f32[]
              %3 = step(%y) : f32[2, 3, 4, 4]
              %4 = mul(%gy, %3) : f32[2, 3, 4, 4]
              %5 = instance_norm_backward(%x, %4) {eps = 1e-05} : f32[2, 3, 4, 4]
              %6 = neg(%x) : f32[2, 3, 4, 4]
              %7 = reduce_sum(%6) {axes = [1], keepdims = false} : f32[2, 4, 4]
              output loss = %2
              output gx = %5
              output negated = %6
              output total = %7
            }
            """), statistics: &statistics)
        let (text, folded) = try CleanupCheck.run(FusePrologue(), printGraph(chains))
        #expect(folded["reductions"] == 1 && folded["norm-gradients"] == 1)
        let pruned = printGraph(try DeadCodeElimination().run(try parseGraph(text), statistics: &statistics))
        #expect(pruned == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3, 4, 4]
              input %y : f32[2, 3, 4, 4]
              input %gy : f32[2, 3, 4, 4]
              %0 = fused(%x, %y) {kind = prologue} : f32[] {
                input %a0 : f32[2, 3, 4, 4]
                input %a1 : f32[2, 3, 4, 4]
                %0 = fused(%a0, %a1) {kind = elementwise} : f32[2, 3, 4, 4] {
                  input %a0 : f32[2, 3, 4, 4]
                  input %a1 : f32[2, 3, 4, 4]
                  %0 = sub(%a0, %a1) : f32[2, 3, 4, 4]
                  %1 = abs(%0) : f32[2, 3, 4, 4]
                  output r0 = %1
                }
                %1 = reduce_mean(%0) {axes = [0, 1, 2, 3], keepdims = false} : f32[]
                output r0 = %1
              }
              %1 = fused(%y, %gy, %x) {kind = prologue} : f32[2, 3, 4, 4] {
                input %a0 : f32[2, 3, 4, 4]
                input %a1 : f32[2, 3, 4, 4]
                %0 = fused(%a0, %a1) {kind = elementwise} : f32[2, 3, 4, 4] {
                  input %a0 : f32[2, 3, 4, 4]
                  %0 = step(%a0) : f32[2, 3, 4, 4]
                  input %a1 : f32[2, 3, 4, 4]
                  %1 = mul(%a1, %0) : f32[2, 3, 4, 4]
                  output r0 = %1
                }
                input %a2 : f32[2, 3, 4, 4]
                %1 = instance_norm_backward(%a2, %0) {eps = 1e-05} : f32[2, 3, 4, 4]
                output r0 = %1
              }
              %2 = neg(%x) : f32[2, 3, 4, 4]
              %3 = reduce_sum(%2) {axes = [1], keepdims = false} : f32[2, 4, 4]
              output loss = %0
              output gx = %1
              output negated = %2
              output total = %3
            }
            """))
    }
}

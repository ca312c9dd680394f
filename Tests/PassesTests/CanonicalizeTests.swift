import Testing
@testable import GraphIR
@testable import Passes

@Suite struct CanonicalizeTests {
    func run(_ text: String, tolerance: Double = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> (String, PassStatistics) {
        try CleanupCheck.run(Canonicalize(), text, tolerance: tolerance, sourceLocation: sourceLocation)
    }

    @Test func removesArithmeticIdentities() throws {
        let (text, statistics) = try run("""
            graph g {
              input %x : f32[4]
              %0 = constant() {value = 0.0, shape = [4], dtype = f32} : f32[4]
              %1 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              %2 = add(%x, %0) : f32[4]
              %3 = mul(%1, %2) : f32[4]
              %4 = sub(%3, %0) : f32[4]
              %5 = div(%4, %1) : f32[4]
              %6 = neg(%5) : f32[4]
              %7 = neg(%6) : f32[4]
              %8 = scale(%7) {factor = 1.0} : f32[4]
              %9 = shift(%8) {offset = 0.0} : f32[4]
              %10 = exp(%9) : f32[4]
              output y = %10
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[4]
              %0 = exp(%x) : f32[4]
              output y = %0
            }
            """))
        #expect(statistics["identities"] == 7, "−(−x) is one rewrite")
        #expect(statistics["nodes-removed"] == 10, "the identities and the constants only they used")
    }

    @Test func composesLayoutChainsAndDropsNoOps() throws {
        let (text, _) = try run("""
            graph g {
              input %x : f32[2, 3, 4]
              input %h : f32[2, 3]
              %0 = transpose(%x) {perm = [1, 2, 0]} : f32[3, 4, 2]
              %1 = transpose(%0) {perm = [2, 0, 1]} : f32[2, 3, 4]
              %2 = transpose(%1) {perm = [2, 1, 0]} : f32[4, 3, 2]
              %3 = transpose(%2) {perm = [0, 2, 1]} : f32[4, 2, 3]
              %4 = reshape(%3) {shape = [8, 3]} : f32[8, 3]
              %5 = reshape(%4) {shape = [24]} : f32[24]
              %6 = reshape(%x) {shape = [2, 3, 4]} : f32[2, 3, 4]
              %7 = broadcast_to(%6) {shape = [2, 3, 4]} : f32[2, 3, 4]
              %8 = cast(%7) {dtype = f32} : f32[2, 3, 4]
              %9 = cast(%8) {dtype = f64} : f64[2, 3, 4]
              %10 = cast(%9) {dtype = f32} : f32[2, 3, 4]
              %11 = reshape(%h) {shape = [2, 3, 1]} : f32[2, 3, 1]
              %12 = broadcast_to(%11) {shape = [2, 3, 2]} : f32[2, 3, 2]
              %13 = broadcast_to(%12) {shape = [5, 2, 3, 2]} : f32[5, 2, 3, 2]
              %14 = slice(%10) {starts = [0, 0, 0], ends = [2, 3, 4]} : f32[2, 3, 4]
              %15 = reduce_sum(%14) {axes = [0], keepdims = true} : f32[1, 3, 4]
              %16 = reduce_mean(%15) {axes = [0], keepdims = true} : f32[1, 3, 4]
              output a = %5
              output b = %16
              output c = %13
            }
            """)
        // transpose∘transpose: [1,2,0] then [2,0,1] is the identity; [2,1,0] then [0,2,1] is [2,0,1].
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3, 4]
              input %h : f32[2, 3]
              %0 = transpose(%x) {perm = [2, 0, 1]} : f32[4, 2, 3]
              %1 = reshape(%0) {shape = [24]} : f32[24]
              %2 = reshape(%h) {shape = [2, 3, 1]} : f32[2, 3, 1]
              %3 = broadcast_to(%2) {shape = [5, 2, 3, 2]} : f32[5, 2, 3, 2]
              %4 = reduce_sum(%x) {axes = [0], keepdims = true} : f32[1, 3, 4]
              output a = %1
              output b = %4
              output c = %3
            }
            """))
    }

    @Test func turnsSplatArithmeticIntoScaleAndShift() throws {
        let (text, _) = try run("""
            graph g {
              input %x : f32[4]
              %0 = constant() {value = 0.1, shape = [], dtype = f32} : f32[]
              %1 = constant() {value = 4.0, shape = [4], dtype = f32} : f32[4]
              %2 = constant() {value = -1.0, shape = [], dtype = f32} : f32[]
              %3 = add(%0, %x) : f32[4]
              %4 = sub(%3, %1) : f32[4]
              %5 = mul(%4, %1) : f32[4]
              %6 = div(%5, %1) : f32[4]
              %7 = mul(%2, %6) : f32[4]
              %8 = scale(%7) {factor = 3.0} : f32[4]
              %9 = neg(%8) : f32[4]
              output y = %9
            }
            """)
        // The f32 constant 0.1 holds Float(0.1) = 0.10000000149011612, and the shift must add exactly that.
        // x/4 = x·0.25 exactly; −1·y becomes −y, (−y)·3 becomes y·(−3), and −(y·(−3)) becomes y·3.
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[4]
              %0 = shift(%x) {offset = 0.10000000149011612} : f32[4]
              %1 = shift(%0) {offset = -4.0} : f32[4]
              %2 = scale(%1) {factor = 4.0} : f32[4]
              %3 = scale(%2) {factor = 0.25} : f32[4]
              %4 = scale(%3) {factor = 3.0} : f32[4]
              output y = %4
            }
            """))
    }

    /// Rewrites that would change values (x − x is NaN for ∞, x/3 ≠ x·(1/3) in rounding, f64 → f32 → f64
    /// loses digits) or meaning (stop_gradient matters to a later autodiff) are not made; dead code (the
    /// exp) is left to dce. x·0 only takes the scale form: it stays NaN for NaN.
    @Test func leavesInexactOrMeaningfulFormsAlone() throws {
        let (text, statistics) = try run("""
            graph g {
              input %x : f32[3]
              input %d : f64[3]
              %0 = constant() {value = 0.0, shape = [], dtype = f32} : f32[]
              %1 = constant() {value = 3.0, shape = [], dtype = f32} : f32[]
              %2 = mul(%x, %0) : f32[3]
              %3 = sub(%x, %x) : f32[3]
              %4 = div(%x, %1) : f32[3]
              %5 = cast(%d) {dtype = f32} : f32[3]
              %6 = cast(%5) {dtype = f64} : f64[3]
              %7 = stop_gradient(%x) : f32[3]
              %8 = exp(%x) : f32[3]
              output a = %2
              output b = %3
              output c = %4
              output d = %6
              output e = %7
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[3]
              input %d : f64[3]
              %0 = constant() {value = 3.0, shape = [], dtype = f32} : f32[]
              %1 = scale(%x) {factor = 0.0} : f32[3]
              %2 = sub(%x, %x) : f32[3]
              %3 = div(%x, %0) : f32[3]
              %4 = cast(%d) {dtype = f32} : f32[3]
              %5 = cast(%4) {dtype = f64} : f64[3]
              %6 = stop_gradient(%x) : f32[3]
              %7 = exp(%x) : f32[3]
              output a = %1
              output b = %2
              output c = %3
              output d = %5
              output e = %6
            }
            """))
        #expect(statistics["identities"] == 1)
    }

    @Test func broadcastsWhenTheIdentityOperandStretchedX() throws {
        let (text, _) = try run("""
            graph g {
              input %x : f32[3]
              %0 = constant() {value = 0.0, shape = [2, 3], dtype = f32} : f32[2, 3]
              %1 = add(%x, %0) : f32[2, 3]
              output y = %1
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[3]
              %0 = broadcast_to(%x) {shape = [2, 3]} : f32[2, 3]
              output y = %0
            }
            """))
    }
}

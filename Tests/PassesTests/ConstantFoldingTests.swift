import Testing
@testable import GraphIR
@testable import Passes

@Suite struct ConstantFoldingTests {
    func run(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> (String, PassStatistics) {
        try CleanupCheck.run(ConstantFolding(), text, sourceLocation: sourceLocation)
    }

    /// Autodiff's seed for a mean loss: ∂loss = 1, scaled by the mean's 1/count, reshaped and broadcast to
    /// the operand: a splat of the operand's shape. Values are f32-rounded after every op, as the
    /// interpreter rounds them (0.1 · 3 in f32 is 0.30000001192092896).
    @Test func foldsSplatChainsToOneConstant() throws {
        let (text, statistics) = try run("""
            graph g {
              input %x : f32[2, 3]
              %0 = constant() {value = 1.0, shape = [], dtype = f32} : f32[]
              %1 = reshape(%0) {shape = [1, 1]} : f32[1, 1]
              %2 = scale(%1) {factor = 0.1} : f32[1, 1]
              %3 = broadcast_to(%2) {shape = [2, 3]} : f32[2, 3]
              %4 = constant() {value = 3.0, shape = [3], dtype = f32} : f32[3]
              %5 = mul(%3, %4) : f32[2, 3]
              %6 = cast(%5) {dtype = f64} : f64[2, 3]
              %7 = reduce_sum(%5) {axes = [0, 1], keepdims = false} : f32[]
              %8 = mul(%x, %5) : f32[2, 3]
              output g = %6
              output s = %7
              output y = %8
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[2, 3]
              %0 = constant() {value = 0.30000001192092896, shape = [2, 3], dtype = f32} : f32[2, 3]
              %1 = constant() {value = 0.30000001192092896, shape = [2, 3], dtype = f64} : f64[2, 3]
              %2 = constant() {value = 1.8000000715255737, shape = [], dtype = f32} : f32[]
              %3 = mul(%x, %0) : f32[2, 3]
              output g = %1
              output s = %2
              output y = %3
            }
            """))
        #expect(statistics["nodes-folded"] == 6)
        #expect(statistics["nodes-removed"] == 5)
    }

    /// Not folded: a node with a non-constant operand, a result that is not a splat (a constant can only
    /// hold one value), a result that is not finite (log 0), and a large non-elementwise op, which would
    /// have to be evaluated in full.
    @Test func leavesNonSplatNonFiniteAndLargeResults() throws {
        let source = """
            graph g {
              input %x : f32[2]
              %0 = constant() {value = 1.0, shape = [2], dtype = f32} : f32[2]
              %1 = constant() {value = 2.0, shape = [2], dtype = f32} : f32[2]
              %2 = add(%x, %0) : f32[2]
              %3 = concat(%0, %1) {axis = 0} : f32[4]
              %4 = constant() {value = 0.0, shape = [2], dtype = f32} : f32[2]
              %5 = log(%4) : f32[2]
              %6 = constant() {value = 1.0, shape = [300, 300], dtype = f32} : f32[300, 300]
              %7 = reduce_sum(%6) {axes = [1], keepdims = false} : f32[300]
              output a = %2
              output b = %3
              output c = %5
              output d = %7
            }
            """
        let (text, statistics) = try run(source)
        #expect(text == printGraph(try parseGraph(source)))
        #expect(statistics["nodes-folded"] == 0)
    }

    /// Ops that are neither elementwise nor layout fold when small: a norm of a constant is 0 everywhere,
    /// a convolution of splats is not a splat at the zero-padded border.
    @Test func evaluatesSmallNonElementwiseOps() throws {
        let (text, _) = try run("""
            graph g {
              %0 = constant() {value = 2.0, shape = [1, 1, 3, 3], dtype = f32} : f32[1, 1, 3, 3]
              %1 = instance_norm(%0) {eps = 1e-05} : f32[1, 1, 3, 3]
              %2 = conv2d(%0, %0) {stride = [1, 1], pad = [0, 0, 0, 0]} : f32[1, 1, 1, 1]
              %3 = conv2d(%0, %0) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[1, 1, 3, 3]
              output n = %1
              output c = %2
              output p = %3
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              %0 = constant() {value = 2.0, shape = [1, 1, 3, 3], dtype = f32} : f32[1, 1, 3, 3]
              %1 = constant() {value = 0.0, shape = [1, 1, 3, 3], dtype = f32} : f32[1, 1, 3, 3]
              %2 = constant() {value = 36.0, shape = [1, 1, 1, 1], dtype = f32} : f32[1, 1, 1, 1]
              %3 = conv2d(%0, %0) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[1, 1, 3, 3]
              output n = %1
              output c = %2
              output p = %3
            }
            """))
    }
}

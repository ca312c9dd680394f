import Testing
@testable import GraphIR
@testable import Passes

@Suite struct CommonSubexpressionEliminationTests {
    func run(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> (String, PassStatistics) {
        try CleanupCheck.run(CommonSubexpressionElimination(), text, sourceLocation: sourceLocation)
    }

    /// Copies merge, chains of copies too (their operands are merged first), commutative operands in
    /// either order, equal constants.
    @Test func mergesEqualNodesAndChains() throws {
        let (text, statistics) = try run("""
            graph g {
              input %x : f32[4]
              input %y : f32[4]
              %0 = exp(%x) : f32[4]
              %1 = exp(%x) : f32[4]
              %2 = neg(%0) : f32[4]
              %3 = neg(%1) : f32[4]
              %4 = add(%2, %y) : f32[4]
              %5 = add(%y, %3) : f32[4]
              %6 = constant() {value = 2.0, shape = [4], dtype = f32} : f32[4]
              %7 = constant() {value = 2.0, shape = [4], dtype = f32} : f32[4]
              %8 = mul(%4, %6) : f32[4]
              %9 = mul(%5, %7) : f32[4]
              output a = %8
              output b = %9
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[4]
              input %y : f32[4]
              %0 = exp(%x) : f32[4]
              %1 = neg(%0) : f32[4]
              %2 = add(%1, %y) : f32[4]
              %3 = constant() {value = 2.0, shape = [4], dtype = f32} : f32[4]
              %4 = mul(%2, %3) : f32[4]
              output a = %4
              output b = %4
            }
            """))
        #expect(statistics["nodes-merged"] == 5)
        #expect(statistics["nodes-removed"] == 5)
    }

    /// Different operand order of a non-commutative op, different attributes, different operands, a
    /// different dtype of an otherwise equal constant: nothing merges. Dead code stays for dce.
    @Test func keepsNodesThatDifferInAnything() throws {
        let source = """
            graph g {
              input %x : f32[4]
              input %y : f32[4]
              %0 = sub(%x, %y) : f32[4]
              %1 = sub(%y, %x) : f32[4]
              %2 = scale(%x) {factor = 2.0} : f32[4]
              %3 = scale(%x) {factor = 3.0} : f32[4]
              %4 = exp(%y) : f32[4]
              %5 = constant() {value = 1.0, shape = [4], dtype = f32} : f32[4]
              %6 = constant() {value = 1.0, shape = [4], dtype = f64} : f64[4]
              %7 = reduce_sum(%x) {axes = [0], keepdims = false} : f32[]
              %8 = reduce_sum(%x) {axes = [0], keepdims = true} : f32[1]
              %9 = exp(%x) : f32[4]
              output a = %0
              output b = %1
              output c = %2
              output d = %3
              output e = %4
              output f = %5
              output g = %6
              output h = %7
              output i = %8
            }
            """
        let (text, statistics) = try run(source)
        #expect(text == printGraph(try parseGraph(source)))
        #expect(statistics["nodes-merged"] == 0)
    }

    /// A merged value used as one of several operands lets its users merge too, whatever the position.
    @Test func mergesAcrossOperandPositions() throws {
        let (text, _) = try run("""
            graph g {
              input %x : f32[1, 2, 4, 4]
              input %w : f32[2, 2, 3, 3]
              %0 = relu(%x) : f32[1, 2, 4, 4]
              %1 = relu(%x) : f32[1, 2, 4, 4]
              %2 = conv2d(%0, %w) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[1, 2, 4, 4]
              %3 = conv2d(%1, %w) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[1, 2, 4, 4]
              %4 = sub(%2, %3) : f32[1, 2, 4, 4]
              output y = %4
            }
            """)
        #expect(text == CleanupCheck.golden("""
            graph g {
              input %x : f32[1, 2, 4, 4]
              input %w : f32[2, 2, 3, 3]
              %0 = relu(%x) : f32[1, 2, 4, 4]
              %1 = conv2d(%0, %w) {stride = [1, 1], pad = [1, 1, 1, 1]} : f32[1, 2, 4, 4]
              %2 = sub(%1, %1) : f32[1, 2, 4, 4]
              output y = %2
            }
            """))
    }
}

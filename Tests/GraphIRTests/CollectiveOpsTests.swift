import Foundation
import Testing
@testable import GraphIR

/// `all_reduce` on the interpreter under simulated ranks, and the simulated group itself.
@Suite struct CollectiveOpsTests {
    static let graph = """
        graph g {
          input %x : f32[2]
          input %y : f32[1, 3]
          %0, %1 = all_reduce(%x, %y) {operation = sum, ranks = 3} : f32[2], f32[1, 3]
          %2 = all_reduce(%x) {operation = mean, ranks = 3} : f32[2]
          output s = %0
          output t = %1
          output m = %2
        }
        """

    @Test func ranksSeeTheSumAndTheMean() throws {
        let graph = try parseGraph(Self.graph)
        #expect(printGraph(graph) == Self.graph + "\n")
        let outputs = try SimulatedGroup(size: 3).run { r in
            try Interpreter(graph: graph).run([
                "x": Tensor(TensorType(.f32, [2]), scalars: [Double(r), 1]),
                "y": Tensor(TensorType(.f32, [1, 3]), scalars: [Double(10 * r), 0.5, -1]),
            ])
        }
        for rank in outputs {
            #expect(rank["s"]!.scalars == [3, 3])
            #expect(rank["t"]!.scalars == [30, 1.5, -3])
            #expect(rank["m"]!.scalars == [1, 1])
        }
    }

    @Test func aRunWithOtherRanksIsRefused() throws {
        let graph = try parseGraph(Self.graph)
        #expect(throws: InterpreterError.self) {
            try Interpreter(graph: graph).run(["x": Tensor(TensorType(.f32, [2]), repeating: 1),
                                               "y": Tensor(TensorType(.f32, [1, 3]), repeating: 1)])
        }
    }

    @Test func nonBlockingReductionsCompleteAtTheirWait() throws {
        let results = try SimulatedGroup(size: 2).run { r -> [Float] in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 3)
            defer { buffer.deallocate() }
            buffer.initialize(from: [Float(r + 1), 2, Float(10 * r)], count: 3)
            let communicator = Collectives.current
            let a = try communicator.startAllReduce(UnsafeMutableRawPointer(buffer), count: 2, dtype: .f32, .sum)
            let b = try communicator.startAllReduce(UnsafeMutableRawPointer(buffer + 2), count: 1, dtype: .f32, .mean)
            #expect(buffer[0] == Float(r + 1), "the buffer changes only at the wait")
            try b.wait()
            try a.wait()
            return Array(UnsafeBufferPointer(start: buffer, count: 3))
        }
        #expect(results == [[3, 4, 5], [3, 4, 5]])
    }

    @Test func aMissingRankIsReportedNotWaitedForForever() throws {
        let group = SimulatedGroup(size: 2, timeout: 0.2)
        #expect(throws: CollectiveError.self) { try group.rank(0).allReduce([1], .sum, dtype: .f32) }
    }
}

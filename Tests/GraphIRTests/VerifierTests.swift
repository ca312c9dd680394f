import Testing
@testable import GraphIR

@Suite struct VerifierTests {
    let f32x4 = TensorType(.f32, [4])

    func messages(_ graph: Graph) -> [String] { verify(graph).map(\.message) }

    @Test func acceptsAWellFormedGraph() throws {
        let b = GraphBuilder(name: "ok")
        let x = b.input("x", f32x4)
        let w = b.parameter("w", f32x4)
        let y = try b.mul(x, w)
        b.output("y", y)
        b.loss("loss", try b.reduceSum(y, axes: [0]))
        #expect(verify(b.graph).isEmpty)
        #expect(throws: Never.self) { try b.graph.verified() }
    }

    @Test func rejectsResultTypesThatDisagreeWithTheShapeRule() {
        var g = Graph(name: "bad")
        let x = g.addArgument(name: "x", kind: .input, type: f32x4)
        g.appendNode(op: Ops.add, operands: [x, x], attributes: [:], resultTypes: [TensorType(.f32, [5])],
                     location: SourceLocation(line: 3, column: 3))
        let problems = verify(g)
        #expect(problems.count == 1)
        #expect(problems.first?.location == SourceLocation(line: 3, column: 3))
        #expect(problems.first?.message.contains("f32[5]") == true)
        #expect(problems.first?.message.contains("f32[4]") == true)
    }

    @Test func rejectsUseBeforeDefinitionAndDanglingValues() {
        var g = Graph(name: "ssa")
        let x = g.addArgument(name: "x", kind: .input, type: f32x4)
        // Node 0 uses the result of node 1, which comes later: not SSA order.
        g.appendNode(op: Ops.neg, operands: [ValueID(2)], attributes: [:], resultTypes: [f32x4])
        g.appendNode(op: Ops.neg, operands: [x], attributes: [:], resultTypes: [f32x4])
        g.appendNode(op: Ops.neg, operands: [ValueID(99)], attributes: [:], resultTypes: [f32x4])
        let found = messages(g)
        #expect(found.contains { $0.contains("before its definition") })
        #expect(found.contains { $0.contains("not a value of this graph") })
    }

    @Test func rejectsDuplicateNamesAndBadLosses() {
        var g = Graph(name: "names")
        let x = g.addArgument(name: "x", kind: .input, type: f32x4)
        g.addArgument(name: "x", kind: .parameter(trainable: true), type: f32x4)
        g.addOutput(name: "y", value: x)
        g.addOutput(name: "y", value: x)
        g.addOutput(name: "l1", value: x, isLoss: true)
        g.addOutput(name: "l2", value: x, isLoss: true)
        let found = messages(g)
        #expect(found.contains("argument 'x' is declared twice"))
        #expect(found.contains("output 'y' is declared twice"))
        #expect(found.contains("loss 'l1' must be a scalar, but it is f32[4]"))
        #expect(found.contains { $0.contains("marks 2 losses") })
    }

    @Test func rejectsWrongArityAndUnfilledOrBadAttributes() {
        var g = Graph(name: "attrs")
        let x = g.addArgument(name: "x", kind: .input, type: f32x4)
        g.appendNode(op: Ops.add, operands: [x], attributes: [:], resultTypes: [f32x4])
        g.appendNode(op: Ops.scale, operands: [x], attributes: [:], resultTypes: [f32x4])
        g.appendNode(op: Ops.scale, operands: [x], attributes: ["factor": .string("big")], resultTypes: [f32x4])
        g.appendNode(op: Ops.neg, operands: [x], attributes: ["factor": .float(1)], resultTypes: [f32x4])
        let found = messages(g)
        #expect(found.contains { $0.contains("'add' takes 2 operands") })
        #expect(found.contains { $0.contains("needs attribute 'factor'") })
        #expect(found.contains { $0.contains("attribute 'factor' of 'scale' must be float") })
        #expect(found.contains { $0.contains("'neg' has no attribute 'factor'") })
    }

    @Test func rejectsMixedDTypes() {
        var g = Graph(name: "dtypes")
        let x = g.addArgument(name: "x", kind: .input, type: f32x4)
        let y = g.addArgument(name: "y", kind: .input, type: TensorType(.f64, [4]))
        g.appendNode(op: Ops.add, operands: [x, y], attributes: [:], resultTypes: [f32x4])
        #expect(messages(g).contains { $0.contains("mixes f32 and f64") })
    }

    @Test func builderRefusesInvalidNodesUpFront() {
        let b = GraphBuilder(name: "b")
        let x = b.input("x", f32x4)
        let y = b.input("y", TensorType(.f32, [3]))
        #expect(throws: OpError.self) { try b.add(x, y) }
        #expect(b.graph.nodes.isEmpty, "a rejected node leaves the graph unchanged")
    }
}

import Testing
@testable import GraphIR
@testable import Passes

/// Seeded random convolutional training graphs (upsampling, every pad mode, convolutions of random kernel,
/// stride, padding and bias, instance norm / AdaIN / layer norm, activations, residual adds, an L1 + L2
/// loss, differentiated and cleaned up): each fusion pass alone and the whole fusion pipeline compute
/// exactly what the graph computed (the interpreter runs regions op by op, so bit for bit), and every
/// pass finds work somewhere.
struct RandomConvolutionGraph {
    var rng: SplitMix64
    let b = GraphBuilder(name: "random_conv")
    var parameters = 0

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func parameter(_ shape: [Int]) -> ValueID {
        parameters += 1
        return b.parameter("p\(parameters)", TensorType(.f64, shape))
    }

    /// One block: [upsample] [pad] conv [norm] [activation] [residual add].
    mutating func block(_ x: ValueID, residuals: [ValueID]) throws -> ValueID {
        var v = x
        if chance(0.3) && b.shape(of: v)[2] <= 5 { v = try b.upsampleNearest(v) }
        if chance(0.6) { v = try b.pad(v, mode: PadMode.allCases[int(0...2)], [int(0...1), 1, 1, int(0...1)]) }
        let shape = b.shape(of: v)
        let kernel = min(int(1...3), shape[2], shape[3])
        let stride = shape[2] >= 6 && chance(0.3) ? 2 : 1
        let out = int(2...4)
        let weight = parameter([out, shape[1], kernel, kernel])
        let bias = chance(0.5) ? parameter([out]) : nil
        v = try b.conv2d(v, weight, bias, stride: [stride, stride], pad: chance(0.3) ? [1, 0, 0, 1] : [0, 0, 0, 0])
        let (n, c) = (b.shape(of: v)[0], b.shape(of: v)[1])
        switch int(0...3) {
        case 0: v = try b.instanceNorm(v)
        case 1: v = try b.adain(v, weight: parameter([n, c]), bias: parameter([n, c]))
        case 2: v = try b.layerNorm(v, gamma: parameter([c]), beta: parameter([c]))
        default: break
        }
        switch int(0...3) {
        case 0: v = try b.relu(v)
        case 1: v = try b.leakyRelu(v, slope: 0.2)
        case 2: v = try b.tanh(v)
        default: break
        }
        if let r = residuals.first(where: { b.type(of: $0) == b.type(of: v) }), chance(0.5) { v = try b.add(v, r) }
        return v
    }

    static func make(seed: UInt64) throws -> Graph {
        var g = RandomConvolutionGraph(seed: seed)
        let x = g.b.input("x", TensorType(.f64, [g.int(1...2), g.int(2...3), g.int(4...6), g.int(4...6)]))
        var values = [x]
        for _ in 0..<g.int(2...4) { values.append(try g.block(values.last!, residuals: values)) }
        let y = values.last!
        let target = g.b.input("target", g.b.type(of: y))
        let l1 = try g.b.reduceMean(g.b.abs(g.b.sub(y, target)), axes: Array(0..<4))
        g.b.loss("loss", try g.b.add(l1, g.b.reduceMean(g.b.square(y), axes: Array(0..<4))))
        let (trained, _) = try PassManager(pipeline: [Autodiff()] + PassRegistry.cleanupPipeline()).run(g.b.graph)
        return trained
    }
}

@Suite struct FusionEquivalenceTests {
    static let seeds: [UInt64] = Array(1...24)

    @Test func everyFusionPassKeepsEveryValue() throws {
        var fired: [String: Int] = [:]
        for seed in Self.seeds {
            let graph = try RandomConvolutionGraph.make(seed: seed)
            for pass in PassRegistry.fusionPipeline() {
                var statistics = PassStatistics()
                let result = try pass.run(graph, statistics: &statistics)
                try result.verified()
                try CleanupCheck.expectEquivalent(graph, result, seed: seed)
                if result.nodes.count < graph.nodes.count { fired[pass.name, default: 0] += 1 }
            }
            let (fused, _) = try PassManager(pipeline: PassRegistry.fusionPipeline()).run(graph)
            try CleanupCheck.expectEquivalent(graph, fused, seed: seed)
            #expect(printGraph(try parseGraph(printGraph(fused))) == printGraph(fused), "seed \(seed) round-trips")
        }
        for pass in PassRegistry.fusionPipeline() where pass.name != "dce" {
            #expect(fired[pass.name, default: 0] > 0, "\(pass.name) fused something in some graph: \(fired)")
        }
    }
}

import Foundation
import GraphIR
import Testing

@Suite(.serialized) struct DumpRunCLITests {
    let example = "Examples/conv_in_relu.graph"

    @Test func dumpPrintsTheCanonicalText() throws {
        let result = try CLI.run(["dump", example])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOf: CLI.repository.appendingPathComponent(example), encoding: .utf8)
        #expect(result.stdout == printGraph(try parseGraph(text)))
    }

    @Test func dumpWritesOutputFileAndDot() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.graph").path
        let written = try CLI.run(["dump", example, "-o", out])
        #expect(written.status == 0 && written.stdout.isEmpty)
        let direct = try CLI.run(["dump", example])
        #expect(try String(contentsOfFile: out, encoding: .utf8) == direct.stdout)
        let dot = try CLI.run(["dump", example, "--dot"])
        #expect(dot.status == 0)
        #expect(dot.stdout.hasPrefix("digraph"))
        #expect(dot.stdout.contains("conv2d"))
    }

    @Test func malformedGraphGivesPositionedErrorAndFailure() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.graph")
        try "graph g {\n  input %x : f32[2]\n  %0 = frobnicate(%x) : f32[2]\n}\n".write(to: bad, atomically: true, encoding: .utf8)
        let result = try CLI.run(["dump", bad.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("\(bad.path):3:8: error: "), "\(result.stderr)")
        #expect(result.stderr.contains("frobnicate"))

        let missing = try CLI.run(["dump", dir.appendingPathComponent("nope.graph").path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("nope.graph"))

        let binary = dir.appendingPathComponent("binary.graph")
        try Data([0x00, 0xFF, 0xFE, 0x7F, 0x80, 0x0A, 0x01]).write(to: binary)
        let garbage = try CLI.run(["dump", binary.path])
        #expect(garbage.status == 1)
        #expect(garbage.stderr.hasPrefix("\(binary.path):1:"), "\(garbage.stderr)")
    }

    @Test func runMatchesTheLibraryInterpreterAndWritesSafetensors() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: CLI.repository.appendingPathComponent(example), encoding: .utf8)
        let graph = try parseGraph(text)
        var rng = SplitMix64(seed: 3)
        var inputs: [String: Tensor] = [:]
        for arg in graph.arguments { inputs[arg.name] = Tensor.random(graph.type(of: arg.value), using: &rng) }
        let inputsURL = dir.appendingPathComponent("in.safetensors")
        try SafetensorsFile(tensors: inputs).write(to: inputsURL)
        let outURL = dir.appendingPathComponent("out.safetensors")

        let result = try CLI.run(["run", example, "--inputs", inputsURL.path, "-o", outURL.path, "--backend", "interp"])
        #expect(result.status == 0, "\(result.stderr)")
        let written = try SafetensorsFile.read(contentsOf: outURL).tensors
        let expected = try Interpreter(graph: graph).run(inputs)
        #expect(written == expected)

        // The default backend compiles the graph: float32 kernels agree with the interpreter to rounding.
        let compiled = try CLI.run(["run", example, "--inputs", inputsURL.path, "-o", outURL.path, "--threads", "1"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let native = try SafetensorsFile.read(contentsOf: outURL).tensors
        #expect(Set(native.keys) == Set(expected.keys))
        for (name, t) in expected {
            let worst = zip(t.scalars, native[name]?.scalars ?? []).map { abs($0 - $1) / (1 + abs($0)) }.max() ?? .infinity
            #expect(worst < 1e-4, "\(name): \(worst)")
        }

        let summary = try CLI.run(["run", example, "--inputs", inputsURL.path])
        #expect(summary.stdout.contains("loss loss.total : f32[]"))
        #expect(summary.stdout.contains("output y : f32[2, 8, 16, 16]"))
    }

    @Test func runRejectsIncompleteOrMissingInputs() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let partial = dir.appendingPathComponent("partial.safetensors")
        try SafetensorsFile(tensors: ["x": Tensor.zeros(TensorType(.f32, [2, 3, 16, 16]))]).write(to: partial)
        let result = try CLI.run(["run", example, "--inputs", partial.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("'block.conv.weight'"))

        let wrongShape = dir.appendingPathComponent("wrong.safetensors")
        try SafetensorsFile(tensors: [
            "x": Tensor.zeros(TensorType(.f32, [1, 3, 16, 16])),
            "block.conv.weight": Tensor.zeros(TensorType(.f32, [8, 3, 3, 3])),
            "block.conv.bias": Tensor.zeros(TensorType(.f32, [8])),
        ]).write(to: wrongShape)
        let shapeResult = try CLI.run(["run", example, "--inputs", wrongShape.path])
        #expect(shapeResult.status == 1)
        #expect(shapeResult.stderr.contains("'x' has shape [1, 3, 16, 16]"))

        let neither = try CLI.run(["run", example])
        #expect(neither.status != 0)
        let random = try CLI.run(["run", example, "--random-inputs", "--seed", "5"])
        #expect(random.status == 0)
        #expect(random.stdout == (try CLI.run(["run", example, "--random-inputs", "--seed", "5"])).stdout)
    }

    @Test func runRefusesGraphsTooLargeForMemory() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("huge.graph")
        try "graph huge {\n  input %x : f32[1000000, 1000000]\n  %0 = neg(%x) : f32[1000000, 1000000]\n  output y = %0\n}\n"
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["dump", file.path]).status == 0, "a large graph is still a valid graph")
        let result = try CLI.run(["run", file.path, "--random-inputs"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("needs about") && result.stderr.contains("TiB"), "\(result.stderr)")
    }
}

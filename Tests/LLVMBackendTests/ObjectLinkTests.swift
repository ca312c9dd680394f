import Foundation
import GraphIR
import Testing
@testable import LLVMBackend

/// `--emit obj`: the object links into a C program with OpenBLAS and libm, and its entry point computes
/// what the interpreter computes.
@Suite struct ObjectLinkTests {
    static let driver = """
        #include <stdio.h>
        #include <stdlib.h>
        void munitc_step(void **arguments, void *arena);
        /* usage: driver ARGS.bin ARENA_BYTES OUTPUT_OFFSET OUTPUT_BYTES OUT.bin SIZE... (one size per argument) */
        int main(int argc, char **argv) {
            FILE *in = fopen(argv[1], "rb");
            int count = argc - 6;
            void **arguments = malloc(sizeof(void *) * count);
            for (int i = 0; i < count; i++) {
                long size = atol(argv[6 + i]);
                arguments[i] = aligned_alloc(64, (size + 63) / 64 * 64);
                if (fread(arguments[i], 1, size, in) != (size_t)size) return 2;
            }
            fclose(in);
            long arena_bytes = atol(argv[2]);
            void *arena = aligned_alloc(64, (arena_bytes + 63) / 64 * 64 + 64);
            munitc_step(arguments, arena);
            FILE *out = fopen(argv[5], "wb");
            fwrite((char *)arena + atol(argv[3]), 1, atol(argv[4]), out);
            fclose(out);
            return 0;
        }
        """

    static func compilerPath() -> String? {
        for name in ["cc", "clang", "gcc"] {
            for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
                let path = "\(folder)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func emittedObjectLinksAndRuns() throws {
        let cc = try #require(Self.compilerPath(), "no C compiler (cc, clang or gcc) on PATH")
        let b = GraphBuilder(name: "linked")
        let x = b.input("x", .f32(2, 3, 9, 8)), w = b.parameter("w", .f32(4, 3, 3, 3)), bias = b.parameter("bias", .f32(4))
        let y = try b.relu(b.instanceNorm(b.conv2d(b.pad(x, mode: .reflect, [1, 1, 1, 1]), w, bias)))
        b.output("y", try b.tanh(y))
        let graph = b.graph
        var rng = SplitMix64(seed: 7)
        let arguments = graph.arguments.map { Tensor.random(graph.type(of: $0.value), using: &rng) }
        let expected = try Interpreter(graph: graph).run(Dictionary(uniqueKeysWithValues: zip(graph.arguments.map(\.name), arguments)))["y"]!

        let artifact = try AheadOfTime.compile(graph, emit: .obj)
        let manifestText = try #require(artifact.manifest)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(manifestText.utf8)) as? [String: Any])
        let output = try #require((manifest["outputs"] as? [[String: Any]])?.first)
        #expect(manifest["entry"] as? String == "munitc_step")
        #expect((manifest["arguments"] as? [[String: Any]])?.map { $0["name"] as? String } == ["x", "w", "bias"])

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("munitc-link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try artifact.output.write(to: dir.appendingPathComponent("step.o"))
        try Self.driver.write(to: dir.appendingPathComponent("driver.c"), atomically: true, encoding: .utf8)
        var bytes = Data()
        for t in arguments { t.scalars.map(Float.init).withUnsafeBytes { bytes.append(contentsOf: $0) } }
        try bytes.write(to: dir.appendingPathComponent("args.bin"))

        let program = dir.appendingPathComponent("driver").path
        let link = try Self.run(cc, [dir.appendingPathComponent("driver.c").path, dir.appendingPathComponent("step.o").path,
                                     "-o", program, "-lopenblas", "-lm"])
        #expect(link.status == 0, "linking failed: \(link.output)")
        let result = try Self.run(program, [dir.appendingPathComponent("args.bin").path, "\(manifest["arena_bytes"] as! Int)",
                                            "\(output["arena_offset"] as! Int)", "\(output["bytes"] as! Int)",
                                            dir.appendingPathComponent("out.bin").path] + arguments.map { "\($0.type.byteCount)" })
        #expect(result.status == 0, "the linked program failed: \(result.output)")
        let produced = try Data(contentsOf: dir.appendingPathComponent("out.bin")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(produced.count == expected.scalars.count)
        let worst = zip(produced, expected.scalars).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst < 1e-4, "worst difference \(worst)")
    }
}

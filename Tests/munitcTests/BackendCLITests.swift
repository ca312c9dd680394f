import Foundation
import Testing

/// `munitc build --emit …` and `munitc bench` as a compiler engineer runs them.
@Suite struct BackendCLITests {
    static let example = "Examples/adain_resblock.graph"

    @Test func buildEmitsEveryKindAndReportsCodegen() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let graph = try CLI.run(["build", Self.example, "--train", "adam", "-O2", "--print-ir-after", "fuse-elementwise"])
        #expect(graph.status == 0, "\(graph.stderr)")
        #expect(graph.stderr.contains("fuse-elementwise:") && graph.stderr.contains("kernels generated"), "\(graph.stderr)")
        #expect(graph.stderr.contains("= fused("), "the dump after fuse-elementwise shows the fused regions")
        #expect(graph.stderr.contains("memory plan: arena"))
        #expect(graph.stdout.hasPrefix("graph "))
        let llvm = try CLI.run(["build", Self.example, "--emit", "llvm"])
        // The reflect pad folded into the convolution, AdaIN and ReLU into its epilogue: the names say so.
        #expect(llvm.status == 0 && llvm.stdout.contains("define void @conv2d_reflectp1_k3_s1_2x16x8x8_to16_adain_relu_epilogue"),
                "\(llvm.stderr)")
        let asm = try CLI.run(["build", Self.example, "--emit", "asm", "--no-fuse"])
        #expect(asm.status == 0 && asm.stdout.contains("munitc_step"), "\(asm.stderr)")
        let object = dir.appendingPathComponent("step.o").path
        let obj = try CLI.run(["build", Self.example, "--emit", "obj", "-o", object])
        #expect(obj.status == 0, "\(obj.stderr)")
        let manifest = try String(contentsOfFile: object + ".json", encoding: .utf8)
        #expect(manifest.contains("\"entry\" : \"munitc_step\""))
        let noOutput = try CLI.run(["build", Self.example, "--emit", "obj"])
        #expect(noOutput.status != 0 && noOutput.stderr.contains("-o"), "an object needs -o")
    }

    @Test func benchTimesAGraphAndComparesWithUnfused() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let step = dir.appendingPathComponent("step.graph").path
        #expect(try CLI.run(["build", Self.example, "--train", "adam", "--no-fuse", "-o", step]).status == 0)
        let json = try CLI.run(["bench", step, "--iters", "2", "--threads", "1", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        for key in ["median_seconds", "gflop_per_iteration", "compile_seconds"] { #expect(object[key] is Double, "\(key)") }
        let compared = try CLI.run(["bench", step, "--iters", "2", "--compare-unfused", "--json"])
        #expect(compared.status == 0, "\(compared.stderr)")
        let both = try #require(try JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [String: Any])
        #expect(both["speedup"] is Double && both["unfused_median_seconds"] is Double && both["unfused_top_kernels"] is [Any])
        let table = try CLI.run(["bench", step, "--iters", "1", "--top", "2", "--compare-unfused"])
        #expect(table.stdout.contains("unfused top kernels") && table.stdout.contains("totals, fused vs unfused")
                && table.stdout.contains("speedup"), "\(table.stdout)")
        // Folding the pad changes only the order of the gradient's sums: float32 rounding apart, the same.
        #expect(((both["worst_difference"] as? Double) ?? 1) <= 1e-5, "fused and unfused kernels compute the same")
        let text = try CLI.run(["bench", step, "--iters", "1", "--top", "3"])
        #expect(text.stdout.contains("top kernels") && text.stdout.contains("GFLOP/s"))
        // The epilogue fusion shows in kernel names; disabling that one pass removes it.
        let names = try CLI.run(["bench", step, "--iters", "1", "--top", "100"])
        #expect(names.stdout.contains("_adain_relu_epilogue") && names.stdout.contains("_adain_add_epilogue"), "\(names.stdout)")
        let without = try CLI.run(["bench", step, "--iters", "1", "--top", "100", "--disable-pass", "fuse-conv-epilogue"])
        #expect(without.status == 0 && !without.stdout.contains("_epilogue"), "\(without.stdout)")
        let unknown = try CLI.run(["bench", step, "--disable-pass", "fuse-everything"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no fusion pass of that name"), "\(unknown.stderr)")
    }
}

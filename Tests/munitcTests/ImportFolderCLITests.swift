import Foundation
import GraphIR
import Testing
import TestSupport

/// `munitc import`, `translate` of NVlabs' `.pt` generators, folders (test_batch.py) and interpolation.
@Suite(.serialized) struct ImportFolderCLITests {
    static let fixtures = CLI.repository.appendingPathComponent("Tests/Fixtures")

    @Test func importWritesSafetensorsAndRefusesHostilePickles() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("state.safetensors")
        let result = try CLI.run(["import", Self.fixtures.appendingPathComponent("pytorch/state_legacy.pt").path, "-o", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        let tensors = try SafetensorsFile.read(contentsOf: out).tensors
        #expect(tensors.count == 12 && tensors["b.conv.bias"]?.scalars == [0.5, -0.25])
        let hostile = try CLI.run(["import", Self.fixtures.appendingPathComponent("pytorch/hostile_os_system_legacy.pt").path, "-o", out.path + "2"])
        #expect(hostile.status == 1 && hostile.stderr.contains("system'") && hostile.stderr.contains("refused"), "\(hostile.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path + "2"))
    }

    /// NVlabs' gen_00000002.pt (legacy format, the tiny config) translates a folder directly, and exactly as
    /// its safetensors import does.
    @Test func translatesAFolderWithAnNVlabsGeneratorAndReportsUnreadableImages() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TrainTranslateCLITests.makeData(dir.appendingPathComponent("data"))
        try Data("not a png".utf8).write(to: dir.appendingPathComponent("data/testA/broken.png"))
        let config = dir.appendingPathComponent("tiny.yaml")
        try TrainTranslateCLITests.tinyConfig(dataRoot: "data_root: data").write(to: config, atomically: true, encoding: .utf8)
        let pt = Self.fixtures.appendingPathComponent("nvlabs/gen_00000002.pt").path
        let folder = try CLI.run(["translate", "--config", config.path, "--checkpoint", pt, "--input", "data/testA",
                                  "--num-style", "3", "-o", "batch"], in: dir)
        #expect(folder.status == 1, "the broken image makes the command fail at the end")
        #expect(folder.stderr.contains("broken.png") && folder.stderr.contains("[4/4]"), "\(folder.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("batch").path))
        let expected = Set(["0", "1", "2"].flatMap { i in ["input_\(i).png"] + (0..<3).map { String(format: "output_%@_%03d.png", i, $0) } })
        #expect(files == expected.union(["index.html"]))
        let html = try String(contentsOf: dir.appendingPathComponent("batch/index.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "<tr>").count - 1 == 3 && html.contains("output_2_002.png"))

        let imported = dir.appendingPathComponent("gen.safetensors").path
        #expect(try CLI.run(["import", pt, "-o", imported]).status == 0)
        for (checkpoint, out) in [(pt, "from-pt"), (imported, "from-safetensors")] {
            let r = try CLI.run(["translate", "--config", config.path, "--checkpoint", checkpoint, "--input", "data/testA/0.png",
                                 "--interpolate", "4", "-o", out], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        for k in 0..<4 {
            let name = String(format: "output%03d.png", k)
            #expect(try Data(contentsOf: dir.appendingPathComponent("from-pt/\(name)")) == Data(contentsOf: dir.appendingPathComponent("from-safetensors/\(name)")))
        }
        #expect(try Data(contentsOf: dir.appendingPathComponent("from-pt/output000.png")) != Data(contentsOf: dir.appendingPathComponent("from-pt/output003.png")))
    }
}

/// `ema_beta` on compiled steps: the average is checkpointed, resumed bit for bit, and `translate --ema` uses it.
@Suite(.serialized) struct MovingAverageCLITests {
    @Test func compiledStepsKeepAndResumeTheAverage() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try TrainTranslateCLITests.makeData(dir.appendingPathComponent("data"))
        let config = dir.appendingPathComponent("ema.yaml")
        try TrainTranslateCLITests.tinyConfig(dataRoot: "data_root: data", extra: "ema_beta: 0.9\nema_start_iter: 1")
            .write(to: config, atomically: true, encoding: .utf8)
        for (out, iterations, resume) in [("straight", "4", false), ("stopped", "2", false), ("stopped", "4", true)] {
            let r = try CLI.run(["train", "--config", config.path, "-o", out, "--max-iter", iterations, "--threads", "2"] + (resume ? ["--resume"] : []), in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let file = "checkpoints/gen_ema_00000004.safetensors"
        #expect(try Data(contentsOf: dir.appendingPathComponent("straight/\(file)")) == Data(contentsOf: dir.appendingPathComponent("stopped/\(file)")))
        let checkpoint = dir.appendingPathComponent("straight/checkpoints/gen_00000004.safetensors").path
        for (flag, out) in [([] as [String], "plain"), (["--ema"], "ema")] {
            let r = try CLI.run(["translate", "--config", config.path, "--checkpoint", checkpoint, "--input", "data/testA/0.png",
                                 "--num-style", "1", "-o", out] + flag, in: dir)
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try Data(contentsOf: dir.appendingPathComponent("plain/output000.png")) != Data(contentsOf: dir.appendingPathComponent("ema/output000.png")))
    }
}

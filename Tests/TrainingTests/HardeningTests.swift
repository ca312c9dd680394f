import Foundation
import GraphIR
import ImageIO
import MUNITGraphs
import Testing
@testable import Training

/// Issue 17: hostile checkpoints, configs, folders and images end in errors naming what is wrong.
@Suite(.serialized) struct HardeningTests {
    /// A one-iteration run on the interpreter, whose checkpoint folder the tests then tamper with.
    static let trained: URL = {
        let out = TrainerTests.folder("hardening")
        _ = try! TrainerTests.train(out, maxIterations: 1)
        return out
    }()

    /// A copy of the trained run with its optimizer file changed by `edit`; the error resuming it gives.
    func resumeError(_ edit: (inout [String: Tensor]) -> Void) throws -> String? {
        let out = TrainerTests.folder("tampered")
        defer { try? FileManager.default.removeItem(at: out) }
        try FileManager.default.removeItem(at: out)
        try FileManager.default.copyItem(at: Self.trained, to: out)
        let url = out.appendingPathComponent("checkpoints/optimizer.safetensors")
        var tensors = try SafetensorsFile.read(contentsOf: url).tensors
        edit(&tensors)
        try SafetensorsFile(tensors: tensors).write(to: url)
        do {
            _ = try TrainerTests.train(out, maxIterations: 2, resume: true)
            return nil
        } catch let error as TrainingError {
            return error.description
        }
    }

    @Test func everyOptimizerValueIsChecked() throws {
        for (value, shown) in [(Double.infinity, "inf"), (1e20, "1e+20"), (2.5, "2.5"), (-1, "-1.0"), (.nan, "nan")] {
            let message = try #require(try resumeError { $0["iteration"] = Tensor(.f64, shape: [1], scalars: [value]) })
            #expect(message.contains("'iteration' is \(shown); it must be a whole number"), "\(message)")
        }
        for halves in [[-1.0, 0], [0, .nan], [1e30, 0], [4294967296, 0]] {
            let message = try #require(try resumeError { $0["seed"] = Tensor(.f64, shape: [2], scalars: halves) })
            #expect(message.contains("'seed' is"), "\(message)")
        }
        #expect(try resumeError { $0["seed"] = Tensor(.f64, shape: [1], scalars: [0]) }?.contains("'seed' has 1 values") == true)
        #expect(try resumeError { $0["iteration"] = nil }?.contains("has no 'iteration'") == true)
        // A missing moment would restart Adam silently; an extra tensor is named.
        var dropped = ""
        let missing = try #require(try resumeError { tensors in
            dropped = tensors.keys.filter { $0.hasPrefix("optimizer.v.") }.sorted()[0]
            tensors[dropped] = nil
        })
        #expect(missing.contains("has no '\(dropped)'"), "\(missing)")
        #expect(try resumeError { $0["optimizer.m.nothing"] = Tensor(.f32, shape: [1], scalars: [0]) }?.contains("'optimizer.m.nothing'") == true)
        #expect(try resumeError { $0["stray"] = Tensor(.f32, shape: [1], scalars: [0]) }?.contains("'stray'") == true)
        let moment = try #require(try resumeError { tensors in
            let name = tensors.keys.filter { $0.hasPrefix("optimizer.m.") }.sorted()[0]
            tensors[name] = Tensor(tensors[name]!.type, repeating: .nan)
        })
        #expect(moment.contains("holds nan"), "\(moment)")
        #expect(try resumeError { _ in } == nil, "the untouched copy resumes")
    }

    @Test func nonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let url = TrainerTests.folder("nan").appendingPathComponent("gen.safetensors")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        var tensors = try SafetensorsFile.read(contentsOf: Self.trained.appendingPathComponent("checkpoints/gen_00000001.safetensors")).tensors
        let name = tensors.keys.sorted()[3]
        tensors[name] = Tensor(tensors[name]!.type, repeating: -.infinity)
        try SafetensorsFile(tensors: tensors).write(to: url)
        let config = try TrainerTests.config(dataRoot: TrainerTests.data)
        let error = #expect(throws: TrainingError.self) { _ = try CheckpointStore.loadGenerators(url, config: config) }
        #expect(error?.description.contains("'\(name)' holds -inf") == true, "\(String(describing: error))")
    }

    @Test func theOutputFolderLockNamesItsHolderAndDiesWithIt() throws {
        let folder = TrainerTests.folder("lock")
        defer { try? FileManager.default.removeItem(at: folder) }
        var first: FolderLock? = try FolderLock(folder: folder)
        let error = #expect(throws: TrainingError.self) { _ = try FolderLock(folder: folder) }
        #expect(error?.description == "\(folder.path): another munitc run (process \(getpid())) is using this output folder; "
            + "wait for it to finish or choose another with -o")
        withExtendedLifetime(first) {}
        first = nil
        _ = try FolderLock(folder: folder)
        // A holder that died leaves its id in the file but no lock.
        try Data("999999\n".utf8).write(to: folder.appendingPathComponent(FolderLock.fileName))
        _ = try FolderLock(folder: folder)
    }

    @Test func symlinkedFoldersListAndChannelsAreCheckedAgainstTheImages() throws {
        let root = TrainerTests.folder("symlinked")
        defer { try? FileManager.default.removeItem(at: root) }
        for split in ["trainA", "testA", "testB"] {
            try FileManager.default.copyItem(at: TrainerTests.data.appendingPathComponent(split), to: root.appendingPathComponent(split))
        }
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("trainB"),
                                                   withDestinationURL: TrainerTests.data.appendingPathComponent("trainB"))
        let source = try DataSource(config: TrainerTests.config(dataRoot: root))
        #expect(source.trainB.files.count == 6)
        let error = #expect(throws: TrainingError.self) {
            _ = try DataSource(config: TrainerTests.config(dataRoot: root, overrides: ["input_dim_b": "4"]))
        }
        #expect(error?.description.hasPrefix("key 'input_dim_b' is 4, but the trainB and testB images are read as RGB") == true)
        // A folder that is a file is not a folder of images.
        let file = root.appendingPathComponent("file")
        try Data().write(to: file)
        #expect(throws: TrainingError.self) { _ = try ImageList.folder(file, name: "trainA", channels: 3) }
    }

    @Test func trainingRefusesAConfigBeyondTheBudgetBeforeAllocating() throws {
        let out = TrainerTests.folder("budget")
        defer { try? FileManager.default.removeItem(at: out) }
        let config = try TrainerTests.config(dataRoot: TrainerTests.data, overrides: [
            "gen": "{dim: 30000, mlp_dim: 4, style_dim: 2, activ: relu, n_downsample: 1, n_res: 1, pad_type: reflect}"])
        let error = #expect(throws: MUNITConfigError.self) {
            _ = try Trainer(config: config, output: TrainingOutput(folder: out), seed: 0, resume: false,
                            memoryBudget: MemoryBudget(bytes: 8 * 0x1p30, origin: "the limit"), makeRunner: { InterpreterRunner(graph: $0) })
        }
        #expect(error?.key == "gen.dim")
        #expect(error?.message.contains("the limit is 8 GiB") == true)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoints").path), "refused before preparing")
    }
}

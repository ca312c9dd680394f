import Foundation
import GraphIR
import ImageIO
import LLVMBackend
import MUNITGraphs
import Testing
@testable import Training

/// The training loop end to end on generated images, tiny networks on the interpreter (seconds in debug).
@Suite(.serialized) struct TrainerTests {
    static func folder(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("munitc-train-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A tiny NVlabs config over `dataRoot` for `trainer`, with every interval 2; `overrides` replace
    /// top-level keys.
    static func config(dataRoot: URL, overrides: [String: String] = [:], trainer: TrainerKind = .munit) throws -> MUNITConfig {
        var keys: [String: String] = [
            "image_save_iter": "2", "image_display_iter": "2", "display_size": "2", "snapshot_save_iter": "2", "log_iter": "2",
            "max_iter": "3", "batch_size": "1", "weight_decay": "0.0001", "beta1": "0.5", "beta2": "0.999", "init": "kaiming",
            "lr": "0.0001", "lr_policy": "step", "step_size": "100000", "gamma": "0.5", "gan_w": "1", "recon_x_w": "10",
            "recon_s_w": "1", "recon_c_w": "1", "recon_x_cyc_w": "0", "vgg_w": "0", "input_dim_a": "3", "input_dim_b": "3",
            "new_size": "16", "crop_image_height": "16", "crop_image_width": "16", "data_root": dataRoot.path,
            "gen": "{dim: 2, mlp_dim: 4, style_dim: 2, activ: relu, n_downsample: 1, n_res: 1, pad_type: reflect}",
            "dis": "{dim: 2, norm: none, activ: lrelu, n_layer: 2, gan_type: lsgan, num_scales: 1, pad_type: reflect}",
        ]
        if trainer == .unit {
            (keys["recon_s_w"], keys["recon_c_w"]) = (nil, nil)
            keys.merge(["recon_kl_w": "0.01", "recon_kl_cyc_w": "0.01", "recon_x_cyc_w": "1",
                        "gen": "{dim: 2, activ: relu, n_downsample: 1, n_res: 1, pad_type: reflect}"]) { _, new in new }
        }
        keys.merge(overrides) { _, new in new }
        return try MUNITConfig.parse(yaml: keys.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n"),
                                     file: "tiny.yaml", trainer: trainer)
    }

    static let data: URL = {
        let root = folder("data")
        try! ShapesDataset.generate(at: root, trainCount: 6, testCount: 2)
        return root
    }()

    static func train(_ output: URL, maxIterations: Int, resume: Bool = false, seed: UInt64 = 0,
                      overrides: [String: String] = [:], trainer kind: TrainerKind = .munit,
                      makeRunner: (Graph) throws -> any StepRunner = { InterpreterRunner(graph: $0) }) throws -> Trainer {
        let trainer = try Trainer(config: config(dataRoot: data, overrides: overrides, trainer: kind), output: TrainingOutput(folder: output), seed: seed,
                                  maxIterations: maxIterations, resume: resume, makeRunner: makeRunner)
        try trainer.train()
        return trainer
    }

    @Test func writesLogsGridsAndCheckpointsAtTheIntervalsAndAtTheEnd() throws {
        let out = Self.folder("run")
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = try Self.train(out, maxIterations: 3)
        #expect(trainer.iteration == 3)
        let checkpoints = Set(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path))
        #expect(checkpoints == ["gen_00000002.safetensors", "dis_00000002.safetensors", "gen_00000003.safetensors",
                                "dis_00000003.safetensors", "optimizer.safetensors"])
        let images = Set(try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("images").path))
        for name in ["gen_a2b_train_00000002.png", "gen_b2a_test_00000003.png", "gen_a2b_train_current.png", "index.html"] {
            #expect(images.contains(name), "\(name) in \(images.sorted())")
        }
        #expect(!images.contains("gen_a2b_test_current.png"), "image_display_iter writes the train grids only (train.py)")
        let log = try String(contentsOf: out.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(log.count == 2, "iteration 2 and the last")
        #expect(log.last?.contains("\"iteration\":3") == true)
        let html = try String(contentsOf: out.appendingPathComponent("images/index.html"), encoding: .utf8)
        #expect(html.contains("gen_a2b_train_00000003.png"))
        let events = try Self.events(out)
        let tags = Set(events.flatMap { $0.values.map(\.tag) })
        for tag in ["gen_total", "dis_total", "gen_recon_x_a", "lr", "gen_a2b_train", "gen_b2a_test"] {
            #expect(tags.contains(tag), "\(tag) in \(tags.sorted())")
        }
        #expect(Self.steps(events, tag: "gen_total") == [2, 3])
        #expect(Self.steps(events, tag: "gen_a2b_test") == [2, 3])
    }

    static func events(_ run: URL) throws -> [TensorBoardEvent] {
        try TensorBoardLog.eventFiles(in: run.appendingPathComponent("logs")).flatMap { try TensorBoardLog.readEvents($0) }
    }

    static func steps(_ events: [TensorBoardEvent], tag: String) -> [Int64] {
        events.filter { $0.values.contains { $0.tag == tag } }.map(\.step)
    }

    /// A run stopped after 2 iterations and resumed to 4 ends with the same bytes as one that ran 4.
    @Test func resumedRunEqualsUninterruptedRunBitForBit() throws {
        let (straight, interrupted) = (Self.folder("straight"), Self.folder("interrupted"))
        defer { for f in [straight, interrupted] { try? FileManager.default.removeItem(at: f) } }
        _ = try Self.train(straight, maxIterations: 4, seed: 9)
        _ = try Self.train(interrupted, maxIterations: 2, seed: 9)
        let resumed = try Self.train(interrupted, maxIterations: 4, resume: true, seed: 0)
        #expect(resumed.seed == 9, "the seed comes from the checkpoint")
        // The interrupted run's log holds each logged iteration once, like the uninterrupted one's.
        #expect(try String(contentsOf: straight.appendingPathComponent("log.jsonl"), encoding: .utf8)
                 == String(contentsOf: interrupted.appendingPathComponent("log.jsonl"), encoding: .utf8))
        for file in ["gen_00000004.safetensors", "dis_00000004.safetensors", "optimizer.safetensors"] {
            let a = try Data(contentsOf: straight.appendingPathComponent("checkpoints/\(file)"))
            let b = try Data(contentsOf: interrupted.appendingPathComponent("checkpoints/\(file)"))
            #expect(a == b, "\(file) differs")
        }
    }

    /// Stopped off the log interval (3 with log_iter 2) and resumed: the end-of-run line is not kept twice.
    @Test func resumedLogEqualsUninterruptedLogOffTheInterval() throws {
        let (straight, interrupted) = (Self.folder("straight5"), Self.folder("interrupted5"))
        defer { for f in [straight, interrupted] { try? FileManager.default.removeItem(at: f) } }
        _ = try Self.train(straight, maxIterations: 5)
        _ = try Self.train(interrupted, maxIterations: 3)
        _ = try Self.train(interrupted, maxIterations: 5, resume: true)
        #expect(try String(contentsOf: straight.appendingPathComponent("log.jsonl"), encoding: .utf8)
                 == String(contentsOf: interrupted.appendingPathComponent("log.jsonl"), encoding: .utf8))
        // TensorBoard's curves too: the same steps, none twice, and the scalars equal.
        let (a, b) = (try Self.events(straight), try Self.events(interrupted))
        for tag in ["gen_total", "lr"] { #expect(Self.steps(a, tag: tag) == Self.steps(b, tag: tag), "\(tag)") }
        // The stopped run's last grid (3) stays, as its PNG does; none is written twice.
        #expect(Self.steps(b, tag: "gen_a2b_train") == [2, 3, 4, 5])
        let scalars = { (events: [TensorBoardEvent]) in events.flatMap(\.values).filter { $0.tag == "dis_total" }.map { "\($0.value)" } }
        #expect(scalars(a) == scalars(b) && scalars(a).count == 3)
    }

    /// NVlabs' own checkpoint folder (scripts/make_nvlabs_fixtures.py: AdaINGen, MsImageDis and Adam after two
    /// steps, gen in the legacy format, dis in the zip one): `--resume` restores parameters and Adam's moments
    /// (state 0 of the gen_b half is gen_b's first parameter) and trains on.
    @Test func resumesFromAnNVlabsCheckpointFolder() throws {
        let out = Self.folder("nvlabs")
        defer { try? FileManager.default.removeItem(at: out) }
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/nvlabs")
        try FileManager.default.createDirectory(at: out.appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        for name in ["gen_00000002.pt", "dis_00000002.pt", "optimizer.pt"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: out.appendingPathComponent("checkpoints/\(name)"))
        }
        let trainer = try Trainer(config: Self.config(dataRoot: Self.data), output: TrainingOutput(folder: out), seed: 5,
                                  maxIterations: 3, resume: true, makeRunner: { InterpreterRunner(graph: $0) })
        #expect(trainer.iteration == 2 && trainer.seed == 5)
        let state = try trainer.state
        let first = "gen_b.enc_style.model.0.conv.weight"
        #expect(Array(try #require(state[first]).scalars.prefix(3)) == [-0.07243718951940536, -0.028873803094029427, 0.04776403307914734])
        #expect(Array(try #require(state["optimizer.m." + first]).scalars.prefix(3)) == [-0.0995313748717308, -0.06857967376708984, -0.7699276208877563])
        #expect(Array(try #require(state["optimizer.v." + first]).scalars.prefix(3)) == [0.00011081732372986153, 0.0008848212310113013, 0.002562267240136862])
        try trainer.train()
        #expect(trainer.iteration == 3)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoints/gen_00000003.safetensors").path))
    }

    /// `ema_beta`: gen_ema_%08d holds the generators' moving average under gen_*'s names (buffers as they
    /// are), and a resumed run restores it bit for bit.
    @Test func movingAverageIsCheckpointedAndResumedBitForBit() throws {
        let (straight, interrupted) = (Self.folder("ema-straight"), Self.folder("ema-interrupted"))
        defer { for f in [straight, interrupted] { try? FileManager.default.removeItem(at: f) } }
        let ema = ["ema_beta": "0.9", "ema_start_iter": "1"]
        let trainer = try Self.train(straight, maxIterations: 4, overrides: ema)
        _ = try Self.train(interrupted, maxIterations: 2, overrides: ema)
        _ = try Self.train(interrupted, maxIterations: 4, resume: true, overrides: ema)
        for file in ["gen_ema_00000004.safetensors", "gen_00000004.safetensors"] {
            #expect(try Data(contentsOf: straight.appendingPathComponent("checkpoints/\(file)"))
                    == Data(contentsOf: interrupted.appendingPathComponent("checkpoints/\(file)")), "\(file) differs")
        }
        let average = try SafetensorsFile.read(contentsOf: straight.appendingPathComponent("checkpoints/gen_ema_00000004.safetensors")).tensors
        let weights = try SafetensorsFile.read(contentsOf: straight.appendingPathComponent("checkpoints/gen_00000004.safetensors")).tensors
        #expect(Set(average.keys) == Set(weights.keys))
        let name = try #require(weights.keys.sorted().first { $0.hasPrefix("a.dec.") && $0.hasSuffix("conv.weight") })
        #expect(average[name] != weights[name], "the average lags the weights")
        let state = try trainer.state
        #expect(average[name]?.scalars == state["ema.gen_a." + name.dropFirst(2)]?.scalars)
        let html = try String(contentsOf: straight.appendingPathComponent("images/index.html"), encoding: .utf8)
        #expect(html.contains("gen_a2b_test_00000004.png — moving average of the generators (ema_beta 0.9)"))
    }

    /// `new_size_a` / `new_size_b` resize each domain when `new_size` is absent (NVlabs' list-file form).
    @Test func perDomainNewSizes() throws {
        var config = try Self.config(dataRoot: Self.data, overrides: ["new_size_a": "16", "new_size_b": "20"])
        config.newSize = nil
        let source = try DataSource(config: config)
        #expect(source.trainA.newSize == 16 && source.testB.newSize == 20)
        let loader = try BatchLoader(source: source, pipeline: ImagePipeline(cropWidth: 16, cropHeight: 16), batchSize: 1, seed: 0)
        let shown = try loader.display(source.testA, count: 1, train: false, seed: 0)
        let expected = try RGBImage.decode(contentsOf: source.testA.files[0]).resized(shorterSide: 16).centerCropped(width: 16, height: 16)
        #expect(shown.scalars == ImageTensor.batch([expected]).scalars, "domain A resized to 16 before the crop")
    }

    @Test func checkpointsHoldStateDictNamesAndLoadBack() throws {
        let out = Self.folder("ckpt")
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = try Self.train(out, maxIterations: 1)
        let gen = try SafetensorsFile.read(contentsOf: out.appendingPathComponent("checkpoints/gen_00000001.safetensors")).tensors
        let layout = MUNITLayout(config: trainer.config)
        let expected = Set((layout.parameters.map(\.name) + layout.buffers.map(\.name)).filter { $0.hasPrefix("gen_") }.map {
            ($0.hasPrefix("gen_a.") ? "a." : "b.") + $0.dropFirst(6)
        })
        #expect(Set(gen.keys) == expected)
        #expect(gen.keys.contains { $0.hasPrefix("a.dec.") && $0.hasSuffix("running_mean") }, "AdaIN buffers are saved")
        let restored = try #require(try CheckpointStore(folder: out.appendingPathComponent("checkpoints"), config: trainer.config).latest())
        #expect(restored.iteration == 1)
        for (name, t) in try trainer.state { #expect(restored.state[name]?.scalars == t.scalars, "\(name)") }
    }

    @Test func badDataAndCheckpointsAreNamed() throws {
        let out = Self.folder("bad")
        defer { try? FileManager.default.removeItem(at: out) }
        // A missing data root.
        let missing = out.appendingPathComponent("nowhere")
        var error = #expect(throws: TrainingError.self) {
            _ = try Trainer(config: Self.config(dataRoot: missing), output: TrainingOutput(folder: out.appendingPathComponent("o1")), seed: 0,
                            resume: false, makeRunner: { InterpreterRunner(graph: $0) })
        }
        #expect(error?.description.contains(missing.appendingPathComponent("trainA").path) == true)
        // An empty folder, then a corrupt image.
        let data = out.appendingPathComponent("data")
        for split in ["trainA", "trainB", "testA", "testB"] {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(split), withIntermediateDirectories: true)
        }
        error = #expect(throws: TrainingError.self) {
            _ = try Trainer(config: Self.config(dataRoot: data), output: TrainingOutput(folder: out.appendingPathComponent("o2")), seed: 0,
                            resume: false, makeRunner: { InterpreterRunner(graph: $0) })
        }
        #expect(error?.description.contains("trainA") == true)
        for split in ["trainA", "trainB", "testA", "testB"] {
            try FileManager.default.copyItem(at: Self.data.appendingPathComponent("\(split)/0000.png"), to: data.appendingPathComponent("\(split)/0000.png"))
        }
        let corrupt = data.appendingPathComponent("trainA/0001.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: corrupt)
        let trainer = try Trainer(config: Self.config(dataRoot: data), output: TrainingOutput(folder: out.appendingPathComponent("o3")), seed: 0,
                                  maxIterations: 8, resume: false, makeRunner: { InterpreterRunner(graph: $0) })
        error = #expect(throws: TrainingError.self) { try trainer.train() }
        #expect(error?.description.contains(corrupt.path) == true)
        // Images smaller than the crop, with no resize.
        try FileManager.default.removeItem(at: corrupt)
        error = #expect(throws: TrainingError.self) {
            let t = try Trainer(config: Self.config(dataRoot: data, overrides: ["crop_image_height": "80", "crop_image_width": "80"]).withoutResize(),
                                output: TrainingOutput(folder: out.appendingPathComponent("o4")), seed: 0, resume: false,
                                makeRunner: { InterpreterRunner(graph: $0) })
            try t.train()
        }
        #expect(error?.description.contains("smaller than the crop") == true)
        // A truncated checkpoint.
        let run = out.appendingPathComponent("o5")
        _ = try Self.train(run, maxIterations: 1)
        let gen = run.appendingPathComponent("checkpoints/gen_00000001.safetensors")
        let bytes = try Data(contentsOf: gen)
        try bytes.prefix(bytes.count / 2).write(to: gen)
        error = #expect(throws: TrainingError.self) { _ = try Self.train(run, maxIterations: 2, resume: true) }
        #expect(error?.description.contains(gen.path) == true)
    }

    @Test func aLossThatBecomesInfiniteStopsTrainingAndNamesIt() throws {
        let out = Self.folder("nan")
        defer { try? FileManager.default.removeItem(at: out) }
        let error = #expect(throws: TrainingError.self) { _ = try Self.train(out, maxIterations: 6, overrides: ["lr": "1.0e+30"]) }
        #expect(error?.description.contains("loss '") == true)
        #expect(error?.description.contains("at iteration") == true)
    }
}

extension MUNITConfig {
    func withoutResize() -> MUNITConfig {
        var c = self
        c.newSize = nil
        return c
    }
}

extension TrainerTests {
    /// Compiled steps keep the state in their shared buffers (`ResidentSteps`); the same compiled steps
    /// driven through the generic tensor path must give the very same bits: checkpoints, grids, losses,
    /// also across a resume.
    /// For UNIT too: its noise inputs drawn and bound the same way on both paths.
    @Test(arguments: TrainerKind.allCases)
    func compiledStepsHoldingTheStateMatchTheTensorPathBitForBit(trainer: TrainerKind) throws {
        /// Hides that a runner is an `Executable`, so the trainer takes the generic path.
        struct Opaque: StepRunner {
            let executable: Executable
            func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] { try executable.run(inputs) }
        }
        let resident = Self.folder("resident"), opaque = Self.folder("opaque")
        defer { for url in [resident, opaque] { try? FileManager.default.removeItem(at: url) } }
        _ = try Self.train(resident, maxIterations: 2, trainer: trainer, makeRunner: { try Executable(graph: $0) })
        let resumed = try Self.train(resident, maxIterations: 3, resume: true, trainer: trainer, makeRunner: { try Executable(graph: $0) })
        let direct = try Self.train(opaque, maxIterations: 3, trainer: trainer, makeRunner: { Opaque(executable: try Executable(graph: $0)) })
        for file in ["checkpoints/gen_00000003.safetensors", "checkpoints/dis_00000003.safetensors", "checkpoints/optimizer.safetensors",
                     "images/gen_a2b_train_00000002.png", "images/gen_b2a_test_00000003.png"] {
            #expect(FileManager.default.contents(atPath: resident.appendingPathComponent(file).path)
                    == FileManager.default.contents(atPath: opaque.appendingPathComponent(file).path), "\(file)")
        }
        let (a, b) = (try resumed.state, try direct.state)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, t) in b { #expect(a[name]?.scalars == t.scalars, "\(name)") }
    }
}

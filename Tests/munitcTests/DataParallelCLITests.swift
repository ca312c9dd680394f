import Foundation
import Testing

/// `mpirun -np 2 munitc train` as a user runs it (skipped where Open MPI's `mpirun` is absent): the per-iteration
/// losses of 2 ranks agree with one process's, the same run twice gives identical checkpoints, a batch the
/// ranks cannot share is refused naming `batch_size`, and a run resumes with a different number of ranks.
@Suite(.serialized) struct DataParallelCLITests {
    /// Open MPI's launcher, if it is installed and can start 2 processes here (a container without shared
    /// memory or process limits may not let it; then these tests skip like where it is absent).
    static let mpirun: String? = {
        guard let path = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: path)
        probe.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "2", "/bin/true"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? path : nil
    }()

    /// `mpirun -np N munitc ARGS` (as root `mpirun` wants --allow-run-as-root; more ranks than cores,
    /// --oversubscribe).
    static func launch(_ ranks: Int, _ arguments: [String], in directory: URL) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", CLI.executable.path] + arguments
        process.currentDirectoryURL = directory
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: "", stderr: String(decoding: errData, as: UTF8.self))
    }

    /// The small images and the tiny config (with `batch_size`) in `dir`; returns the config's URL.
    static func setUp(_ dir: URL, batchSize: Int) throws -> URL {
        try TrainTranslateCLITests.makeData(dir.appendingPathComponent("data"))
        let config = dir.appendingPathComponent("dp.yaml")
        try TrainTranslateCLITests.tinyConfig(dataRoot: "data_root: data")
            .replacingOccurrences(of: "batch_size: 1", with: "batch_size: \(batchSize)")
            .write(to: config, atomically: true, encoding: .utf8)
        return config
    }

    static func losses(_ log: URL) throws -> [[String: Double]] {
        try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
        }
    }

    @Test(.enabled(if: mpirun != nil)) func twoRanksTrainAsOneProcess() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try Self.setUp(dir, batchSize: 2)
        let single = try CLI.run(["train", "--config", config.path, "-o", "one", "--max-iter", "3", "--threads", "1"], in: dir)
        #expect(single.status == 0, "\(single.stderr)")
        for run in ["two", "again"] {
            let result = try Self.launch(2, ["train", "--config", config.path, "-o", run, "--max-iter", "3", "--threads", "1"], in: dir)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let one = try Self.losses(dir.appendingPathComponent("one/log.jsonl"))
        let two = try Self.losses(dir.appendingPathComponent("two/log.jsonl"))
        #expect(one.count == 3 && two.count == 3)
        for (a, b) in zip(one, two) {
            #expect(a["ranks"] == 1 && b["ranks"] == 2)
            for (name, x) in a where name.hasPrefix("gen_") || name.hasPrefix("dis_") {
                let y = try #require(b[name])
                #expect(Swift.abs(x - y) <= 1e-4 * max(Swift.abs(x), 1e-6), "\(name): \(x) vs \(y)")
            }
        }
        for file in ["gen_00000003", "dis_00000003", "optimizer"] {
            let first = try Data(contentsOf: dir.appendingPathComponent("two/checkpoints/\(file).safetensors"))
            let second = try Data(contentsOf: dir.appendingPathComponent("again/checkpoints/\(file).safetensors"))
            #expect(first == second, "\(file): the same 2-rank run twice gives identical bytes")
        }
        // Resumed by one process, the 2-rank run continues.
        let resumed = try CLI.run(["train", "--config", config.path, "-o", "two", "--resume", "--max-iter", "4", "--threads", "1"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.losses(dir.appendingPathComponent("two/log.jsonl")).map { $0["iteration"] } == [1, 2, 3, 4])
    }

    @Test(.enabled(if: mpirun != nil)) func aBatchTheRanksCannotShareIsRefused() throws {
        let dir = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try Self.setUp(dir, batchSize: 3)
        let result = try Self.launch(2, ["train", "--config", config.path, "-o", "odd", "--max-iter", "1", "--threads", "1"], in: dir)
        #expect(result.status != 0)
        #expect(result.stderr.contains("batch_size 3") && result.stderr.contains("2 ranks"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("odd/checkpoints/optimizer.safetensors").path))
    }
}

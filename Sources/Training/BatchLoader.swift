import Dispatch
import Foundation
import GraphIR

/// Batches for iteration k as a pure function of (seed, domain, k): epoch e shuffles the images with a
/// generator seeded from (seed, domain, e); the batch is the next `batchSize` of them (an incomplete last
/// batch is dropped, as NVlabs' `drop_last=True`); each sample's transform draws from (seed, domain, k, its
/// place in the batch). So a resumed run needs nothing but the iteration count to continue bit for bit, and
/// the ranks of a data-parallel job, each loading its share, see the samples one process would.
struct BatchSchedule: Sendable {
    let count: Int, batchSize: Int, seed: UInt64, domain: UInt64

    var batchesPerEpoch: Int { count / batchSize }

    static func mix(_ values: UInt64...) -> UInt64 {
        var rng = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
        var h: UInt64 = 0
        for v in values {
            rng = SplitMix64(seed: h ^ v &* 0xBF58_476D_1CE4_E5B9)
            h = rng.next()
        }
        return h
    }

    /// Image indices of iteration `k` (0-based).
    func indices(iteration k: Int) -> [Int] {
        let epoch = k / batchesPerEpoch, position = k % batchesPerEpoch
        var rng = SplitMix64(seed: BatchSchedule.mix(seed, domain, 1, UInt64(epoch)))
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        return Array(order[(position * batchSize)..<((position + 1) * batchSize)])
    }

    /// The generator of the random transform (crop, flip) of sample `sample` (its place in the whole batch).
    func transformGenerator(iteration k: Int, sample: Int) -> SplitMix64 {
        SplitMix64(seed: BatchSchedule.mix(seed, domain, 2, UInt64(k), UInt64(sample)))
    }
}

/// One iteration's training batches.
struct TrainingBatch: @unchecked Sendable {
    var iteration: Int
    var a: Tensor, b: Tensor
}

/// Decodes and transforms the next iteration's images on a background queue while the current one trains.
final class BatchLoader: @unchecked Sendable {
    let source: DataSource
    let pipeline: ImagePipeline
    let scheduleA: BatchSchedule, scheduleB: BatchSchedule
    private let queue = DispatchQueue(label: "munitc.batches")
    private var pending: (iteration: Int, result: DispatchWorkItem, box: Box)?

    private final class Box: @unchecked Sendable { var value: Result<TrainingBatch, Error>? }

    /// This rank's consecutive share of each batch: samples `share` of 0 ..< batchSize.
    let share: Range<Int>

    /// `rank` of `ranks` loads its consecutive share of every batch (`batchSize` must be a multiple of `ranks`).
    init(source: DataSource, pipeline: ImagePipeline, batchSize: Int, seed: UInt64, rank: Int = 0, ranks: Int = 1) throws {
        let size = batchSize / ranks
        share = rank * size..<(rank + 1) * size
        for list in [source.trainA, source.trainB] where list.files.count < batchSize {
            throw TrainingError("\(list.files.first?.deletingLastPathComponent().path ?? list.name): \(list.name) has \(list.files.count) images, fewer than batch_size \(batchSize)")
        }
        self.source = source
        self.pipeline = pipeline
        scheduleA = BatchSchedule(count: source.trainA.files.count, batchSize: batchSize, seed: seed, domain: 0xA)
        scheduleB = BatchSchedule(count: source.trainB.files.count, batchSize: batchSize, seed: seed, domain: 0xB)
    }

    /// The batches of iteration `k` (0-based), then starts preparing `k + 1`.
    func batch(iteration k: Int) throws -> TrainingBatch {
        let batch: TrainingBatch
        if let pending, pending.iteration == k {
            pending.result.wait()
            batch = try pending.box.value!.get()
        } else {
            batch = try load(iteration: k)
        }
        let box = Box()
        let work = DispatchWorkItem { [self] in box.value = Result { try self.load(iteration: k + 1) } }
        queue.async(execute: work)
        pending = (k + 1, work, box)
        return batch
    }

    func load(iteration k: Int) throws -> TrainingBatch {
        func images(_ list: ImageList, _ schedule: BatchSchedule) throws -> Tensor {
            let indices = schedule.indices(iteration: k)
            let images = try share.map { sample in
                var rng = schedule.transformGenerator(iteration: k, sample: sample)
                return try pipeline.load(list.files[indices[sample]], of: list, train: true, rng: &rng)
            }
            return DomainTensors.batch(images, channels: list.channels)
        }
        return TrainingBatch(iteration: k, a: try images(source.trainA, scheduleA), b: try images(source.trainB, scheduleB))
    }

    /// NVlabs' display images: the first `count` of a list (test transform for test lists; the training
    /// transform with a fixed generator for train lists, as `dataset[i]` draws one).
    func display(_ list: ImageList, count: Int, train: Bool, seed: UInt64) throws -> Tensor {
        var rng = SplitMix64(seed: BatchSchedule.mix(seed, 3, train ? 1 : 0))
        let images = try list.files.prefix(count).map { try pipeline.load($0, of: list, train: train, rng: &rng) }
        return DomainTensors.batch(images, channels: list.channels)
    }
}

import Foundation
import GraphIR

/// `DIR/logs/`: TensorBoard event files (`events.out.tfevents.<time>.<host>`), one event per write, flushed
/// as written so a running TensorBoard follows the run. A fresh run removes old event files; a resumed run
/// first drops what the stopped run wrote after its snapshot (as `log.jsonl` is truncated), then appends to
/// the newest file, so every curve continues without a duplicate step.
public final class TensorBoardLog {
    public let folder: URL
    public let file: URL
    private let handle: FileHandle

    /// Opens the log. `resumeAt`: the snapshot's iteration when resuming (nil for a fresh run);
    /// `logInterval`: `log_iter`, to drop the end-of-run scalars a run stopped off the interval wrote.
    public init(folder: URL, resumeAt: Int?, logInterval: Int) throws {
        self.folder = folder
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw TrainingError("\(folder.path): cannot create the TensorBoard log folder (\(error.localizedDescription))")
        }
        let existing = TensorBoardLog.eventFiles(in: folder)
        var newest: URL?
        if let k = resumeAt {
            for url in existing {
                let kept = try TensorBoardLog.readEvents(url, tolerateTruncatedEnd: true).filter { TensorBoardLog.keeps($0, resumeAt: k, logInterval: logInterval) }
                do { try writeFileAtomically(kept.reduce(into: Data()) { $0.append(TFRecord.frame($1.encoded())) }, to: url) } catch {
                    throw TrainingError("\(url.path): cannot rewrite the event file (\(error))")
                }
            }
            newest = existing.last
        } else {
            for url in existing { try? FileManager.default.removeItem(at: url) }
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let url = newest ?? folder.appendingPathComponent("events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host)")
        if newest == nil {
            let header = TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: 0, fileVersion: "brain.Event:2")
            guard FileManager.default.createFile(atPath: url.path, contents: TFRecord.frame(header.encoded())) else {
                throw TrainingError("\(url.path): cannot create the event file")
            }
        }
        guard let handle = try? FileHandle(forWritingTo: url) else { throw TrainingError("\(url.path): cannot open the event file") }
        _ = try? handle.seekToEnd()
        (self.file, self.handle) = (url, handle)
    }

    deinit { try? handle.close() }

    /// A resumed run keeps scalars logged up to its snapshot (at the snapshot itself only if on the
    /// interval: the resumed run logs later ones again) and images up to the snapshot.
    static func keeps(_ event: TensorBoardEvent, resumeAt k: Int, logInterval: Int) -> Bool {
        if event.fileVersion != nil { return true }
        let step = Int(event.step)
        let images = event.values.contains { if case .image = $0.value { true } else { false } }
        return images ? step <= k : step < k || (step == k && step % logInterval == 0)
    }

    /// Appends one event of `values` at `step`.
    public func write(step: Int, values: [(tag: String, value: TensorBoardEvent.Value)]) throws {
        let event = TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: Int64(step), values: values)
        do { try handle.write(contentsOf: TFRecord.frame(event.encoded())) } catch {
            throw TrainingError("\(file.path): cannot append to the event file (\(error))")
        }
    }

    /// Scalars at `step`, one value each.
    public func scalars(_ values: [String: Double], step: Int) throws {
        try write(step: step, values: values.sorted { $0.key < $1.key }.map { ($0.key, .scalar(Float($0.value))) })
    }

    /// A PNG image at `step` (its size read from the PNG's header).
    public func image(_ tag: String, png: Data, step: Int) throws {
        let bytes = [UInt8](png.prefix(24))
        guard bytes.count == 24 else { throw TrainingError("internal: '\(tag)' is not a PNG") }
        let be = { (at: Int) in (0..<4).reduce(0) { $0 << 8 | Int(bytes[at + $1]) } }
        try write(step: step, values: [(tag, .image(width: be(16), height: be(20), colorspace: 3, png: png))])
    }

    /// The event files of `folder`, oldest first (their names start with the creation time).
    public static func eventFiles(in folder: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.contains("tfevents") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Every event of an event file, checksums checked. `tolerateTruncatedEnd`: a run killed mid-write may
    /// leave a partial last record, which is then dropped.
    public static func readEvents(_ url: URL, tolerateTruncatedEnd: Bool = false) throws -> [TensorBoardEvent] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TrainingError("\(url.path): cannot read the event file") }
        let records = try TFRecord.records(data, file: url.path, tolerateTruncatedEnd: tolerateTruncatedEnd)
        return try records.enumerated().map { i, record in
            do { return try TensorBoardEvent(decoding: record) } catch { throw TrainingError("\(url.path): record \(i): \(error)") }
        }
    }
}

import Foundation
import Testing
@testable import Training

/// TensorBoard's event files: CRC-32C, protobuf encoding against bytes written by TensorBoard's own
/// protobuf classes, TFRecord framing, and the log's resume rule.
struct TensorBoardTests {
    static func hex(_ s: String) -> Data {
        var data = Data(), chars = Array(s)
        for i in stride(from: 0, to: chars.count, by: 2) { data.append(UInt8(String(chars[i...i + 1]), radix: 16)!) }
        return data
    }

    @Test func crc32cMatchesTheCastagnoliCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// Bytes from `tensorboard.compat.proto.event_pb2` (Event.SerializeToString) for the same events.
    @Test func eventsEncodeAsProtobufDoesAndDecodeBack() throws {
        let scalars = TensorBoardEvent(wallTime: 1_700_000_000.25, step: 42,
                                       values: [("loss_gen_total", .scalar(1.5)), ("lr", .scalar(0.0001))])
        let image = TensorBoardEvent(wallTime: 2, step: 7, values: [("gen_a2b_train", .image(width: 3, height: 2, colorspace: 3, png: Data([0x89, 0x50, 0x4E, 0x47])))])
        let header = TensorBoardEvent(wallTime: 3.5, step: 0, fileVersion: "brain.Event:2")
        let expected = [
            "0900001040fc54d941102a2a220a150a0e6c6f73735f67656e5f746f74616c150000c03f0a090a026c721517b7d138",
            "09000000000000004010072a1f0a1d0a0d67656e5f6132625f747261696e220c080210031803220489504e47",
            "090000000000000c401a0d627261696e2e4576656e743a32",
        ]
        for (event, bytes) in zip([scalars, image, header], expected) {
            #expect(event.encoded() == Self.hex(bytes))
            #expect(try TensorBoardEvent(decoding: event.encoded()) == event)
        }
        // TensorBoard's RecordWriter framing of the header event.
        #expect(TFRecord.frame(header.encoded()) == Self.hex("1800000000000000a37f4b22" + expected[2] + "fd43f5f6"))
        let negative = TensorBoardEvent(wallTime: 1, step: -5)
        #expect(try TensorBoardEvent(decoding: negative.encoded()).step == -5)
    }

    @Test func recordsAreCheckedAndCorruptionIsNamed() throws {
        let framed = TFRecord.frame(Data("abc".utf8)) + TFRecord.frame(Data("defg".utf8))
        #expect(try TFRecord.records(framed, file: "f") == [Data("abc".utf8), Data("defg".utf8)])
        var corrupt = framed
        corrupt[13] ^= 1
        #expect(throws: TrainingError.self) { try TFRecord.records(corrupt, file: "f") }
        let cut = framed.dropLast(3)
        let error = #expect(throws: TrainingError.self) { try TFRecord.records(Data(cut), file: "events.x") }
        #expect(error?.description.contains("events.x") == true)
        #expect(try TFRecord.records(Data(cut), file: "f", tolerateTruncatedEnd: true) == [Data("abc".utf8)])
        #expect(throws: ProtobufError.self) { try ProtobufReader.fields(Data([0x0A, 0x05, 0x01])) }
    }

    @Test func aResumedLogDropsWhatCameAfterTheSnapshot() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("munitc-tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let log = try TensorBoardLog(folder: folder, resumeAt: nil, logInterval: 2)
            for step in [2, 4, 5] { try log.scalars(["loss_a": Double(step)], step: step) }
            for step in [4, 6] { try log.image("gen_a2b_train", png: Data(count: 24), step: step) }
        }
        _ = try TensorBoardLog(folder: folder, resumeAt: 5, logInterval: 2)
        let files = TensorBoardLog.eventFiles(in: folder)
        #expect(files.count == 1 && files[0].lastPathComponent.contains("tfevents"))
        let events = try TensorBoardLog.readEvents(files[0])
        #expect(events.first?.fileVersion == "brain.Event:2")
        #expect(events.dropFirst().map(\.step) == [2, 4, 4], "scalars at 2 and 4 (5 is off the interval), the image at 4")
        let fresh = try TensorBoardLog(folder: folder, resumeAt: nil, logInterval: 2)
        #expect(try TensorBoardLog.readEvents(fresh.file).count == 1, "a fresh run starts a new log")
    }
}

import Foundation
import Testing
@testable import GraphIR
import TestSupport

@Suite struct SafetensorsTests {
    func sample() -> SafetensorsFile {
        var rng = SplitMix64(seed: 7)
        return SafetensorsFile(
            tensors: [
                "a.weight": Tensor.random(TensorType(.f32, [2, 3, 1, 5]), using: &rng),
                "b": Tensor.random(TensorType(.f64, [7]), using: &rng),
                "scalar": Tensor(.f32, shape: [], scalars: [0.25]),
            ],
            metadata: ["format": "pt"])
    }

    @Test func roundTripsBitForBit() throws {
        let file = sample()
        let bytes = try file.serialized()
        let back = try SafetensorsFile.parse(bytes)
        #expect(back.tensors == file.tensors)
        #expect(back.metadata == file.metadata)
        #expect(try back.serialized() == bytes, "serialisation is deterministic")
        // Independent check of the layout: header length, then JSON starting with '{', padded to 8 bytes.
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(bytes[8] == UInt8(ascii: "{"))
        #expect(bytes.count == 8 + headerLength + (2 * 3 * 5) * 4 + 7 * 8 + 4)
    }

    @Test func writesAtomicallyAndReadsBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("w.safetensors")
        try sample().write(to: url)
        try sample().write(to: url)  // replacing an existing file
        #expect(try SafetensorsFile.read(contentsOf: url).tensors == sample().tensors)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["w.safetensors"])
    }

    @Test func rejectsCorruptFilesWithReasons() throws {
        let good = try sample().serialized()
        func message(_ data: Data) -> String {
            do { _ = try SafetensorsFile.parse(data); return "accepted" } catch { return "\(error)" }
        }
        #expect(message(Data([1, 2, 3])).contains("truncated"))
        #expect(message(good.prefix(good.count - 4)).contains("outside"))
        var huge = good
        huge.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(message(huge).contains("header length"))
        var notJSON = good
        notJSON[8] = UInt8(ascii: "!")
        #expect(message(notJSON).contains("JSON"))
        #expect(message(good + Data([0, 0, 0, 0])).contains("trailing"))
        // Every prefix of a valid file is rejected without crashing.
        for n in stride(from: 0, to: good.count, by: 3) { #expect(message(good.prefix(n)) != "accepted") }
    }

    @Test func rejectsUnsupportedDTypeAndBadSizes() throws {
        func file(_ header: String, dataBytes: Int) -> Data {
            var h = Data(header.utf8)
            while h.count % 8 != 0 { h.append(UInt8(ascii: " ")) }
            var d = Data()
            var length = UInt64(h.count).littleEndian
            withUnsafeBytes(of: &length) { d.append(contentsOf: $0) }
            return d + h + Data(repeating: 0, count: dataBytes)
        }
        let u8 = file(#"{"x":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile.parse(u8) }
        // Integer counters (BatchNorm's num_batches_tracked) load as float64 values.
        var counter = file(#"{"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#, dataBytes: 0)
        counter.append(contentsOf: [7, 1, 0, 0, 0, 0, 0, 0])
        #expect(try SafetensorsFile.parse(counter).tensors["n"] == Tensor(.f64, shape: [], scalars: [263]))
        let wrongSize = file(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile.parse(wrongSize) }
        let gap = file(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8)
        #expect(throws: SafetensorsError.self) { try SafetensorsFile.parse(gap) }
        let ok = file(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8)
        #expect(try SafetensorsFile.parse(ok).tensors["x"]?.scalars == [0, 0])
    }

    @Test func readsTheTinyMUNITReference() throws {
        guard let url = SharedFolder.tinyReference else { return }  // shared/ absent: nothing to check
        let file = try SafetensorsFile.read(contentsOf: url)
        let weight = try #require(file.tensors["param.gen_a.enc_content.model.0.conv.weight"])
        #expect(weight.shape == [8, 3, 7, 7])
        #expect(weight.dtype == .f32)
        let batch = try #require(file.tensors["iter1.x_a"])
        #expect(batch.shape == [2, 3, 32, 32])
        #expect(batch.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        #expect(file.tensors.keys.contains { $0.hasPrefix("iter2.after.") })
    }
}

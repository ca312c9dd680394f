import Foundation
import GraphIR
import Testing
@testable import ImageIO
import TestSupport

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("imageio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private func patterned(width: Int, height: Int, seed: UInt64 = 1) -> RGBImage {
    var rng = SplitMix64(seed: seed)
    return RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })
}

/// A smooth image that JPEG reproduces closely.
private func gradient(width: Int, height: Int) -> RGBImage {
    var image = RGBImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            image[x, y, 0] = UInt8(x * 255 / max(1, width - 1))
            image[x, y, 1] = UInt8(y * 255 / max(1, height - 1))
            image[x, y, 2] = 128
        }
    }
    return image
}

private func expectError(_ data: Data, name: String, _ reasons: Set<ImageError.Reason>? = nil) {
    do {
        let image = try RGBImage.decode(data, name: name)
        Issue.record("\(name): decoded \(image.width)x\(image.height) from \(data.count) bytes")
    } catch let error as ImageError {
        #expect(error.description.hasPrefix(name))
        if let reasons { #expect(reasons.contains(error.reason), "\(error)") }
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Suite struct PNGTests {
    @Test func roundTripIsExact() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (w, h) in [(1, 1), (7, 3), (64, 33)] {
            let image = patterned(width: w, height: h, seed: UInt64(w * 100 + h))
            let url = dir.appendingPathComponent("x\(w)x\(h).png")
            try image.writePNG(to: url)
            #expect(try RGBImage.decode(contentsOf: url) == image)
        }
    }

    @Test func grayscaleAndAlphaBecomeRGB() throws {
        // libpng writes gray and RGBA through the same simplified API.
        var gray = png_image_for_test(width: 2, height: 1, format: 0)
        let grayPNG = try writeRaw(&gray, [10, 200])
        let decoded = try RGBImage.decode(grayPNG, name: "gray.png")
        #expect(decoded.pixels == [10, 10, 10, 200, 200, 200])
        var rgba = png_image_for_test(width: 1, height: 1, format: 3)
        let rgbaPNG = try writeRaw(&rgba, [1, 2, 3, 0])
        #expect(try RGBImage.decode(rgbaPNG, name: "a.png").pixels == [1, 2, 3])
    }

    @Test func everyPrefixOfAPNGFails() throws {
        let data = try patterned(width: 5, height: 4).pngData()
        for n in 0..<data.count {
            expectError(data.prefix(n), name: "prefix\(n).png")
        }
        #expect(try RGBImage.decode(data, name: "whole.png").width == 5)
    }

    @Test func corruptedPNGFails() throws {
        var data = [UInt8](try patterned(width: 8, height: 8).pngData())
        data[data.count - 20] ^= 0xFF   // inside IDAT / CRC
        expectError(Data(data), name: "bitflip.png", [.corrupt, .truncated])
    }

    @Test func atomicWriteLeavesNoTemporary() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try patterned(width: 3, height: 3).writePNG(to: dir.appendingPathComponent("a.png"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.png"])
        #expect(throws: ImageError.self) {
            try patterned(width: 3, height: 3).writePNG(to: dir.appendingPathComponent("missing/a.png"))
        }
    }
}

import CPNG
private func png_image_for_test(width: UInt32, height: UInt32, format: UInt32) -> png_image {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = width
    image.height = height
    image.format = format
    return image
}

private func writeRaw(_ image: inout png_image, _ bytes: [UInt8]) throws -> Data {
    var size = 0
    guard png_image_write_to_memory(&image, nil, &size, 0, bytes, 0, nil) != 0 else { throw ImageError(path: "raw", reason: .encoding) }
    var out = [UInt8](repeating: 0, count: size)
    guard png_image_write_to_memory(&image, &out, &size, 0, bytes, 0, nil) != 0 else { throw ImageError(path: "raw", reason: .encoding) }
    return Data(out.prefix(size))
}

@Suite struct JPEGTests {
    /// The demo photos of the shared folder; none (and the tests that use them disabled) when it is absent.
    static var sharedFiles: [URL] {
        guard let folder = SharedFolder.file("data/demo_edges2handbags/trainA") else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".jpg") }.sorted().map { folder.appendingPathComponent($0) }
    }

    @Test(.enabled(if: !JPEGTests.sharedFiles.isEmpty)) func decodesSharedPhotos() throws {
        for url in JPEGTests.sharedFiles.prefix(20) {
            let image = try RGBImage.decode(contentsOf: url)
            #expect(image.width == 256 && image.height == 256)
            #expect(image.pixels.count == 256 * 256 * 3)
            #expect(Set(image.pixels).count > 10)
        }
    }

    @Test(.enabled(if: !JPEGTests.sharedFiles.isEmpty)) func truncatedSharedPhotoNeverCrashes() throws {
        let data = try Data(contentsOf: JPEGTests.sharedFiles[0])
        for n in stride(from: 0, to: data.count, by: max(1, data.count / 300)) {
            expectError(data.prefix(n), name: "cut\(n).jpg")
        }
    }

    @Test func encodeDecodeRoundTrip() throws {
        let image = gradient(width: 40, height: 24)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("g.jpg")
        try image.writeJPEG(to: url, quality: 95)
        let decoded = try RGBImage.decode(contentsOf: url)
        #expect(decoded.width == 40 && decoded.height == 24)
        let worst = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max()!
        #expect(worst <= 12)
    }

    @Test func everyPrefixOfAJPEGFailsWithoutCrashing() throws {
        let data = gradient(width: 16, height: 16).jpegData(quality: 80)
        #expect(try RGBImage.decode(data, name: "ok.jpg").width == 16)
        for n in 0..<data.count {
            expectError(data.prefix(n), name: "prefix\(n).jpg")
        }
    }

    @Test func corruptHeadersAreRejected() throws {
        let data = [UInt8](gradient(width: 16, height: 16).jpegData(quality: 80))
        var rng = SplitMix64(seed: 7)
        // Random byte edits: either an error or an image of some size, never a crash.
        for _ in 0..<400 {
            var bad = data
            let edits = Int.random(in: 1...4, using: &rng)
            for _ in 0..<edits {
                bad[Int.random(in: 2..<min(bad.count, 700), using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? RGBImage.decode(Data(bad), name: "edit.jpg")
        }
        // Specific structural damage.
        var noHuffman = data
        if let i = (0..<(data.count - 1)).first(where: { data[$0] == 0xFF && data[$0 + 1] == 0xC4 }) {
            noHuffman[i + 1] = 0xFE   // DHT becomes a comment: scan uses undefined tables
            expectError(Data(noHuffman), name: "nodht.jpg", [.corrupt])
        }
        var arithmetic = data
        if let i = (0..<(data.count - 1)).first(where: { data[$0] == 0xFF && data[$0 + 1] == 0xC0 }) {
            arithmetic[i + 1] = 0xC9
            expectError(Data(arithmetic), name: "arith.jpg", [.unsupported])
        }
    }

    @Test func progressiveAndGrayscale() throws {
        let gray = RGBImage(width: 9, height: 9, fill: (90, 90, 90))
        let decoded = try RGBImage.decode(gray.jpegData(quality: 100, grayscale: true), name: "g.jpg")
        #expect(decoded.width == 9 && decoded.pixels.allSatisfy { abs(Int($0) - 90) <= 2 })
        let image = gradient(width: 33, height: 17)
        let progressive = image.jpegData(quality: 95, progressive: true)
        let p = try RGBImage.decode(progressive, name: "p.jpg")
        #expect(zip(p.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max()! <= 12)
        for n in stride(from: 0, to: progressive.count, by: 7) {
            expectError(progressive.prefix(n), name: "pcut\(n).jpg")
        }
        var rng = SplitMix64(seed: 9)
        let bytes = [UInt8](progressive)
        for _ in 0..<300 {
            var bad = bytes
            bad[Int.random(in: 2..<bad.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = try? RGBImage.decode(Data(bad), name: "pedit.jpg")
        }
    }
}

@Suite struct GarbageTests {
    @Test func emptyAndNonImageFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.png")
        try Data().write(to: empty)
        #expect { try RGBImage.decode(contentsOf: empty) } throws: { ($0 as? ImageError)?.reason == .empty && "\($0)".contains(empty.path) }
        let text = dir.appendingPathComponent("notes.jpg")
        try Data("hello, world".utf8).write(to: text)
        #expect { try RGBImage.decode(contentsOf: text) } throws: { ($0 as? ImageError)?.reason == .notAnImage && "\($0)".contains("notes.jpg") }
        let missing = dir.appendingPathComponent("missing.png")
        #expect { try RGBImage.decode(contentsOf: missing) } throws: { ($0 as? ImageError)?.reason == .unreadable && "\($0)".contains("missing.png") }
    }

    @Test func randomGarbageWithImageMagic() {
        var rng = SplitMix64(seed: 3)
        for k in 0..<300 {
            let length = Int.random(in: 0...400, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if k % 3 == 0 { bytes = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + bytes }
            if k % 3 == 1 { bytes = [0xFF, 0xD8, 0xFF] + bytes }
            expectError(Data(bytes), name: "garbage\(k)")
        }
    }
}

@Suite struct TransformTests {
    @Test func shorterSideRule() {
        #expect(RGBImage.shorterSideSize(width: 256, height: 256, to: 256) == (256, 256))
        #expect(RGBImage.shorterSideSize(width: 400, height: 300, to: 256) == (341, 256))   // int(256*400/300)=341
        #expect(RGBImage.shorterSideSize(width: 300, height: 400, to: 256) == (256, 341))
        #expect(RGBImage.shorterSideSize(width: 100, height: 333, to: 50) == (50, 166))     // 166.5 truncated
        let image = patterned(width: 6, height: 4)
        let r = image.resized(shorterSide: 2)
        #expect(r.width == 3 && r.height == 2)
        #expect(image.resized(shorterSide: 4) == image)
    }

    @Test func bilinearHandWorked() {
        // 2x1 → 4x1: scale 0.5; output centres map to -0.25, 0.25, 0.75, 1.25 → clamp → 0, .25, .75, 1.
        let image = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 100, 200, 40])
        let up = image.resized(width: 4, height: 1)
        #expect(up.pixels == [0, 0, 0, 25, 50, 10, 75, 150, 30, 100, 200, 40])
        // 4x1 → 2x1: scale 2; centres map to 0.5 and 2.5.
        let row = RGBImage(width: 4, height: 1, pixels: [0, 0, 0, 10, 10, 10, 20, 20, 20, 31, 31, 31])
        #expect(row.resized(width: 2, height: 1).pixels == [5, 5, 5, 26, 26, 26])   // 25.5 rounds up
        // 2x2 → 3x3 at the centre: source (0.5, 0.5) = mean of the four.
        let square = RGBImage(width: 2, height: 2, pixels: [0, 0, 0, 40, 40, 40, 80, 80, 80, 120, 120, 120])
        let s = square.resized(width: 3, height: 3)
        #expect(s[1, 1, 0] == 60)
        #expect(s[0, 0, 0] == 0 && s[2, 2, 0] == 120)
        // Output x = 1 samples source x = 1.5 * 2/3 - 0.5 = 0.5: halfway between 0 and 40.
        #expect(s[1, 0, 0] == 20)
        // Constant images stay constant.
        let flat = RGBImage(width: 5, height: 3, fill: (9, 99, 199))
        #expect(flat.resized(width: 7, height: 2) == RGBImage(width: 7, height: 2, fill: (9, 99, 199)))
    }

    @Test func flip() {
        let image = RGBImage(width: 3, height: 2, pixels: Array(0..<18))
        let f = image.flippedHorizontally()
        #expect(f.pixels == [6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11])
        #expect(f.flippedHorizontally() == image)
    }

    @Test func crops() {
        let image = RGBImage(width: 4, height: 3, pixels: (0..<36).map(UInt8.init))
        let c = image.cropped(x: 1, y: 1, width: 2, height: 2)
        #expect(c.pixels == [15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32])
        let center = image.centerCropped(width: 2, height: 1)
        #expect(center == image.cropped(x: 1, y: 1, width: 2, height: 1))
        // Python round(0.5) == 0: (3 - 2) / 2 = 0.5 → top 0.
        #expect(image.centerCropped(width: 4, height: 2) == image.cropped(x: 0, y: 0, width: 4, height: 2))
        var rng = SplitMix64(seed: 11)
        var tops = Set<Int>(), lefts = Set<Int>()
        let big = RGBImage(width: 10, height: 8, pixels: (0..<240).map { UInt8($0 % 256) })
        for _ in 0..<500 {
            let r = big.randomCropped(width: 4, height: 5, using: &rng)
            #expect(r.width == 4 && r.height == 5)
            let first = Int(r.pixels[0]) / 3
            tops.insert(first / 10); lefts.insert(first % 10)
        }
        #expect(tops == Set(0...3) && lefts == Set(0...6))
        let t = patterned(width: 300, height: 200).trainingTransform(newSize: 64, cropWidth: 48, cropHeight: 40, using: &rng)
        #expect(t.width == 48 && t.height == 40)
    }

    @Test func tensorScalingBothWays() {
        let image = RGBImage(width: 2, height: 1, pixels: [0, 255, 128, 64, 1, 254])
        let t = ImageTensor.batch([image, image.flippedHorizontally()])
        #expect(t.shape == [2, 3, 1, 2] && t.dtype == .f32)
        // NCHW: channel R of image 0 = [0, 64].
        #expect(t.scalars[0] == -1 && abs(t.scalars[1] - (64.0 / 255 * 2 - 1)) < 1e-6)
        #expect(t.scalars[2] == 1)   // G, x=0: 255
        #expect(abs(t.scalars[4] - (128.0 / 255 * 2 - 1)) < 1e-6)
        #expect(ImageTensor.image(t, index: 0) == image)
        #expect(ImageTensor.image(t, index: 1) == image.flippedHorizontally())
        let all = patterned(width: 7, height: 5)
        #expect(ImageTensor.image(ImageTensor.batch([all])) == all)
        let clamped = ImageTensor.image(Tensor(.f32, shape: [1, 3, 1, 1], scalars: [-3, 5, 0]))
        #expect(clamped.pixels == [0, 255, 128])
    }
}

@Suite struct GridTests {
    @Test func layoutAndNormalization() throws {
        // 5 images of 1x2 (h=1, w=2), nrow 2 → 2 columns, 3 rows; the 6th cell is black.
        var scalars: [Double] = []
        for k in 0..<5 { scalars += [Double](repeating: Double(k), count: 3 * 2) }
        let t = Tensor(.f32, shape: [5, 3, 1, 2], scalars: scalars)
        let grid = ImageGrid.make(t, nrow: 2)
        #expect(grid.width == 4 && grid.height == 3)
        // values 0...4 normalised to 0, 64, 128, 191, 255 (floor(v*255+0.5)).
        let expected: [UInt8] = [0, 64, 128, 191, 255]
        #expect(grid[0, 0, 0] == expected[0] && grid[1, 0, 1] == expected[0])
        #expect(grid[2, 0, 0] == expected[1] && grid[3, 0, 2] == expected[1])
        #expect(grid[0, 1, 0] == expected[2] && grid[2, 1, 0] == expected[3])
        #expect(grid[0, 2, 0] == expected[4] && grid[3, 2, 0] == 0)
        // Fewer images than nrow: one row.
        #expect(ImageGrid.make(Tensor(.f32, shape: [2, 3, 1, 2], scalars: scalars.prefix(12).map { $0 }), nrow: 4).width == 4)
        // Constant tensor: (v - min) / 1e-5 = 0.
        #expect(ImageGrid.make(Tensor(TensorType(.f32, [1, 3, 2, 2]), repeating: 0.3), nrow: 1).pixels.allSatisfy { $0 == 0 })
    }

    @Test func writeImagesLikeNVlabs() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 5)
        let a = Tensor.random(TensorType(.f32, [3, 3, 4, 5]), using: &rng)
        let b = Tensor.random(TensorType(.f32, [3, 3, 4, 5]), using: &rng)
        let url = dir.appendingPathComponent("gen_a2b_train_current.png")
        try ImageGrid.writeImages([a, b], displayCount: 2, to: url)
        let grid = try RGBImage.decode(contentsOf: url)
        #expect(grid.width == 10 && grid.height == 8)
        let direct = ImageGrid.make(ImageGrid.concatenate([a, b], first: 2), nrow: 2)
        #expect(grid == direct)
        // Row 1 holds b's first two images.
        #expect(ImageGrid.concatenate([a, b], first: 2).shape == [4, 3, 4, 5])
    }
}

import Foundation
import Testing
@testable import ImageIO

/// Issue 17: a tiny file must not turn into billions of pixels, decoded or resized.
@Suite struct ImageBoundsTests {
    @Test func resizeTargetsAreBounded() throws {
        // A 357-byte PNG can be 100000×1: resizing its shorter side to 256 would make 2.56e9 pixels.
        let wide = RGBImage(width: 100_000, height: 1)
        let data = try wide.pngData()
        #expect(data.count < 1000)
        let decoded = try RGBImage.decode(data, name: "wide.png")
        let start = Date()
        let error = #expect(throws: ImageError.self) { _ = try decoded.resizedSize(newSize: 256, name: "wide.png") }
        #expect(error?.description.hasPrefix("wide.png: unsupported: resizing this 100000×1 image so its shorter side is 256") == true)
        // The side limit alone: 16 × 1.6 million is under the pixel limit but longer than PNG allows.
        #expect(throws: ImageError.self) { _ = try decoded.resizedSize(newSize: 16, name: "wide.png") }
        #expect(Date().timeIntervalSince(start) < 1)
        let atLimit = try decoded.resizedSize(newSize: 10, name: "wide.png")
        #expect(atLimit.width == 1_000_000 && atLimit.height == 10)
        let small = try RGBImage(width: 20, height: 18).resizedSize(newSize: 16, name: "x")
        #expect(small.width == 17 && small.height == 16)
        let unchanged = try RGBImage(width: 20, height: 18).resizedSize(newSize: nil, name: "x")
        #expect(unchanged.width == 20 && unchanged.height == 18)
    }

}

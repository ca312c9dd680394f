import Foundation
import GraphIR
import Testing
@testable import ImageIO

/// Inputs the fuzz targets (fuzz/README.md) found crashing, each now a clean error.
@Suite struct ImageFuzzRegressionTests {
    /// fuzz-images, issue 17: a sequential JPEG whose one scan holds every component, followed by a second
    /// scan. libjpeg stops with "Didn't expect more than one scan" through error_exit, which the codec can
    /// only answer with fatalError; the validator must reject the file first.
    static let secondScanCrash = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAAEAAQBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBABoKAAAADQkAPwCK/wBOtLu9ke6h86RcAuXZc5APRSAOvYD16kk4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODjT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBABoKAAAADQkAPwCK/wBOtLu9ke6h86RcAuXZc5APRSAOvYD16kk4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4OD//2Q=="

    @Test func theFuzzedSecondScanIsCorrupt() throws {
        let data = try #require(Data(base64Encoded: Self.secondScanCrash))
        #expect {
            _ = try RGBImage.decode(data, name: "second_scan.jpg")
        } throws: { error in
            (error as? ImageError)?.reason == .corrupt && "\(error)".contains("second scan")
        }
    }

    /// The same damage made to libjpeg's own baseline output, grey and colour: the first scan repeated
    /// before EOI.
    @Test(arguments: [true, false]) func aRepeatedSingleScanIsCorrupt(grayscale: Bool) throws {
        var image = RGBImage(width: 12, height: 10)
        for i in image.pixels.indices { image.pixels[i] = UInt8(truncatingIfNeeded: i * 7) }
        let bytes = [UInt8](image.jpegData(quality: 90, grayscale: grayscale))
        #expect(try RGBImage.decode(Data(bytes), name: "ok.jpg").width == 12)
        let sos = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA })
        let eoi = bytes.count - 2
        let doubled = Array(bytes[..<eoi]) + Array(bytes[sos..<eoi]) + [0xFF, 0xD9]
        #expect {
            _ = try RGBImage.decode(Data(doubled), name: "doubled.jpg")
        } throws: { error in
            (error as? ImageError)?.reason == .corrupt
        }
    }
}

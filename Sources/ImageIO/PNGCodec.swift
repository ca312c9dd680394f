import CPNG
import Foundation

/// PNG through libpng's simplified API (`png_image_*`), which reports errors in `png_image.message` and
/// returns 0 instead of longjmp'ing into the caller: safe from Swift.
enum PNGCodec {
    static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Walks the chunk list to IEND: libpng's reader stops after the image data, so a file cut inside or
    /// before its IEND chunk would otherwise decode; such a file is reported as truncated.
    static func checkChunks(_ data: Data, name: String) throws {
        let bytes = [UInt8](data)
        var pos = 8
        while true {
            guard pos + 12 <= bytes.count else {
                throw ImageError(path: name, reason: .truncated, detail: "data ends before the IEND chunk")
            }
            let length = Int(bytes[pos]) << 24 | Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
            guard length < 0x8000_0000 else { throw ImageError(path: name, reason: .corrupt, detail: "chunk length \(length)") }
            let type = bytes[(pos + 4)..<(pos + 8)]
            pos += 12 + length
            guard pos <= bytes.count else {
                throw ImageError(path: name, reason: .truncated, detail: "chunk \(String(decoding: type, as: UTF8.self)) runs past the end")
            }
            if type.elementsEqual([0x49, 0x45, 0x4E, 0x44]) { return }
        }
    }

    static func decode(_ data: Data, name: String) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let begun = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard begun != 0 else {
            let text = message(&image)
            png_image_free(&image)
            throw ImageError(path: name, reason: classify(text), detail: text)
        }
        let width = Int(image.width), height = Int(image.height)
        // RGBA then drop alpha: PIL's convert('RGB') discards alpha rather than compositing.
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        guard width > 0, height > 0, width <= RGBImage.maximumPixels / height else {
            png_image_free(&image)
            throw ImageError(path: name, reason: .unsupported, detail: "size \(width)x\(height)")
        }
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let finished = data.withUnsafeBytes { _ in   // keep `data` alive while libpng reads from it
            rgba.withUnsafeMutableBytes { out in
                png_image_finish_read(&image, nil, out.baseAddress, Int32(width * 4), nil)
            }
        }
        guard finished != 0 else {
            let text = message(&image)
            png_image_free(&image)
            throw ImageError(path: name, reason: classify(text), detail: text)
        }
        png_image_free(&image)
        try checkChunks(data, name: name)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            rgb[3 * i] = rgba[4 * i]; rgb[3 * i + 1] = rgba[4 * i + 1]; rgb[3 * i + 2] = rgba[4 * i + 2]
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    static func classify(_ message: String) -> ImageError.Reason {
        let lower = message.lowercased()
        if lower.contains("eof") || lower.contains("end of") || lower.contains("truncat") || lower.contains("not enough") {
            return .truncated
        }
        if lower.contains("unsupported") || lower.contains("too large") { return .unsupported }
        return .corrupt
    }

    static func encode(_ picture: RGBImage, name: String) throws -> Data {
        guard picture.width > 0, picture.height > 0 else {
            throw ImageError(path: name, reason: .encoding, detail: "empty image \(picture.width)x\(picture.height)")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(picture.width)
        image.height = UInt32(picture.height)
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR)
        let stride = Int32(picture.width * 3)
        var size = 0
        let sized = picture.pixels.withUnsafeBytes { pixels in
            png_image_write_to_memory(&image, nil, &size, 0, pixels.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else {
            let text = message(&image)
            png_image_free(&image)
            throw ImageError(path: name, reason: .encoding, detail: text)
        }
        var out = [UInt8](repeating: 0, count: size)
        let written = picture.pixels.withUnsafeBytes { pixels in
            out.withUnsafeMutableBytes { memory in
                png_image_write_to_memory(&image, memory.baseAddress, &size, 0, pixels.baseAddress, stride, nil)
            }
        }
        guard written != 0 else {
            let text = message(&image)
            png_image_free(&image)
            throw ImageError(path: name, reason: .encoding, detail: text)
        }
        png_image_free(&image)
        return Data(out.prefix(size))
    }
}

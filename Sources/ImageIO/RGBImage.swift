import Foundation
import GraphIR

/// An 8-bit RGB image: `width × height` pixels stored row-major, interleaved R, G, B (`pixels.count ==
/// width * height * 3`). UInt8 storage matches what PIL hands to torchvision in NVlabs' loader
/// (`Image.open(path).convert('RGB')`): every transform before `ToTensor` works on 8-bit pixels.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black (or `fill`-coloured) image.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = fill.0; pixels[3 * i + 1] = fill.1; pixels[3 * i + 2] = fill.2 }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Channel `c` (0 R, 1 G, 2 B) of pixel (x, y).
    @inlinable public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * 3 + c] }
        set { pixels[(y * width + x) * 3 + c] = newValue }
    }
}

/// Why an image could not be read or written; `description` names the file and the reason.
public struct ImageError: DescribedError, Equatable, Sendable {
    public enum Reason: String, Sendable {
        case unreadable = "cannot read file"
        case empty = "empty file"
        case notAnImage = "not an image (neither JPEG nor PNG)"
        case truncated = "truncated"
        case corrupt = "corrupt"
        case unsupported = "unsupported"
        case encoding = "cannot encode"
        case writing = "cannot write"
    }
    public var path: String
    public var reason: Reason
    public var detail: String

    public init(path: String, reason: Reason, detail: String = "") {
        self.path = path
        self.reason = reason
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(path): \(reason.rawValue)" : "\(path): \(reason.rawValue): \(detail)"
    }
}

/// The container formats `RGBImage.decode` recognises by their magic bytes.
public enum ImageFormat: Sendable, Equatable {
    case jpeg, png

    /// JPEG starts FF D8 FF; PNG starts 89 'P' 'N' 'G' 0D 0A 1A 0A.
    public static func sniff(_ data: Data) -> ImageFormat? {
        let bytes = [UInt8](data.prefix(8))
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }
}

extension RGBImage {
    /// The most pixels an image may have, decoded or resized (8192 × 8192; 192 MB of RGB, 1.6 GB as a
    /// float64 tensor): larger ones are refused before any pixel is allocated.
    public static let maximumPixels = 1 << 26
    /// The longest side an image may have: what libpng reads and writes (`PNG_USER_WIDTH_MAX`).
    public static let maximumSide = 1_000_000

    /// Reads a JPEG or PNG file (sniffed by magic bytes, not by extension); grayscale and alpha images are
    /// converted to RGB (alpha dropped, as PIL's `convert('RGB')` does). Throws `ImageError` naming the file.
    public static func decode(contentsOf url: URL) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageError(path: url.path, reason: .unreadable, detail: fileErrorReason(error))
        }
        return try decode(data, name: url.path)
    }

    /// Decodes JPEG or PNG bytes; `name` is used in error messages.
    public static func decode(_ data: Data, name: String) throws -> RGBImage {
        if data.isEmpty { throw ImageError(path: name, reason: .empty) }
        switch ImageFormat.sniff(data) {
        case .jpeg: return try JPEGCodec.decode(data, name: name)
        case .png: return try PNGCodec.decode(data, name: name)
        case nil:
            // A prefix of a valid magic number is a truncated file rather than a foreign one.
            let bytes = [UInt8](data.prefix(8))
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF]
            if bytes.count < png.count, Array(png.prefix(bytes.count)) == bytes {
                throw ImageError(path: name, reason: .truncated, detail: "PNG signature cut short")
            }
            if bytes.count < jpeg.count, Array(jpeg.prefix(bytes.count)) == bytes {
                throw ImageError(path: name, reason: .truncated, detail: "JPEG signature cut short")
            }
            throw ImageError(path: name, reason: .notAnImage)
        }
    }

    /// PNG bytes of this image (8-bit RGB, no alpha).
    public func pngData(name: String = "<memory>") throws -> Data { try PNGCodec.encode(self, name: name) }

    /// Writes this image as PNG, atomically (temporary file, fsync, rename).
    public func writePNG(to url: URL) throws {
        try RGBImage.write(pngData(name: url.path), to: url)
    }

    /// JPEG bytes of this image (4:2:0 YCbCr, `quality` 1...100; baseline unless `progressive`; `grayscale`
    /// stores luma only).
    public func jpegData(quality: Int = 90, progressive: Bool = false, grayscale: Bool = false) -> Data {
        JPEGCodec.encode(self, quality: quality, progressive: progressive, grayscale: grayscale)
    }

    /// Writes this image as JPEG, atomically.
    public func writeJPEG(to url: URL, quality: Int = 90) throws {
        try RGBImage.write(jpegData(quality: quality), to: url)
    }

    /// Writes an encoded image atomically; the error names the file once.
    private static func write(_ data: Data, to url: URL) throws {
        do { try writeFileAtomically(data, to: url) } catch {
            let detail = "\(error)", prefix = url.path + ": "
            throw ImageError(path: url.path, reason: .writing, detail: detail.hasPrefix(prefix) ? String(detail.dropFirst(prefix.count)) : detail)
        }
    }
}

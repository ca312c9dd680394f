import Foundation
import ImageIO

/// libFuzzer entry point for the image decoders (PNG through libpng, JPEG through libjpeg, chosen by the
/// bytes' signature): any bytes must decode to a consistent image or throw an `ImageError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImages(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let image = try RGBImage.decode(bytes, name: "fuzz")
        guard image.width > 0, image.height > 0 else { fatalError("decoded an empty image") }
    } catch is ImageError {
    } catch {
        fatalError("not an ImageError: \(error)")
    }
    return 0
}

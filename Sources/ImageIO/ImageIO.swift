import CJPEG
import CPNG

/// The image module: decoding and encoding with the system's libjpeg-turbo and libpng (issue: training
/// for real). This names the libraries it links.
public enum ImageLibraries {
    /// libpng's version string.
    public static var pngVersion: String { String(cString: png_get_libpng_ver(nil)) }
    /// libjpeg's API version (62 for libjpeg-turbo's default ABI).
    public static var jpegVersion: Int { Int(JPEG_LIB_VERSION) }
}

import Testing
@testable import ImageIO

@Test func linksLibjpegAndLibpng() {
    #expect(ImageLibraries.pngVersion.hasPrefix("1.6"))
    #expect(ImageLibraries.jpegVersion >= 62)
}

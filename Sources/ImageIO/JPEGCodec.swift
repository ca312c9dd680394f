import CJPEG
import Foundation

/// JPEG through libjpeg(-turbo)'s classic API.
///
/// Safety: libjpeg reports fatal errors through `error_exit`, which must not return; C code longjmp's out,
/// but Swift cannot call setjmp, turbojpeg.h (whose `tj*` API returns error codes) is not installed, and this
/// target cannot contain C. So decoding never gives libjpeg a file it would reject: `JPEGValidator` first walks
/// the whole marker structure and checks every condition under which libjpeg's decompressor raises an error
/// for baseline/extended/progressive Huffman 8-bit files (segment lengths, SOF/DHT/DQT/SOS contents, table
/// indices and definitions, Huffman code validity, sampling factors, progression parameters, MCU size,
/// image size) and rejects everything else (arithmetic, lossless, 12-bit, CMYK, unknown markers) as
/// unsupported or corrupt, with a Swift error. Corrupt entropy-coded data is only a *warning* in libjpeg
/// (it substitutes zeros), which `output_message` records; a premature end of data becomes `.truncated`.
/// If libjpeg still calls `error_exit` (a case the validator missed, or out of memory), the callback stops
/// the process with `fatalError` naming the file and libjpeg's message: it must not return into libjpeg.
enum JPEGCodec {
    /// Largest accepted pixel count; bounds libjpeg's allocations (progressive files keep all coefficients).

    final class ErrorBox {
        let name: String
        var warnings: [String] = []
        init(name: String) { self.name = name }
    }

    static func formattedMessage(_ cinfo: j_common_ptr) -> String {
        var buffer = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX) + 1)
        cinfo.pointee.err.pointee.format_message(cinfo, &buffer)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func decode(_ data: Data, name: String) throws -> RGBImage {
        let info = try JPEGValidator.validate([UInt8](data), name: name)
        guard info.width * info.height <= RGBImage.maximumPixels else {
            throw ImageError(path: name, reason: .unsupported, detail: "size \(info.width)x\(info.height) too large")
        }
        let box = ErrorBox(name: name)
        let cinfo = UnsafeMutablePointer<jpeg_decompress_struct>.allocate(capacity: 1)
        cinfo.initialize(to: jpeg_decompress_struct())
        let err = UnsafeMutablePointer<jpeg_error_mgr>.allocate(capacity: 1)
        err.initialize(to: jpeg_error_mgr())
        defer { cinfo.deallocate(); err.deallocate() }
        cinfo.pointee.err = jpeg_std_error(err)
        err.pointee.error_exit = { common in
            guard let common else { fatalError("libjpeg error without context") }
            let box = Unmanaged<ErrorBox>.fromOpaque(common.pointee.client_data!).takeUnretainedValue()
            fatalError("\(box.name): libjpeg error the validator did not anticipate: \(JPEGCodec.formattedMessage(common))")
        }
        err.pointee.output_message = { common in
            guard let common, let client = common.pointee.client_data else { return }
            let box = Unmanaged<ErrorBox>.fromOpaque(client).takeUnretainedValue()
            box.warnings.append(JPEGCodec.formattedMessage(common))
        }
        cinfo.pointee.client_data = Unmanaged.passUnretained(box).toOpaque()
        return try withExtendedLifetime(box) {
            jpeg_CreateDecompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
            defer { jpeg_destroy_decompress(cinfo) }
            // Report every warning through output_message (default: only the first).
            err.pointee.trace_level = 0
            return try data.withUnsafeBytes { raw -> RGBImage in
                jpeg_mem_src(cinfo, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count))
                _ = jpeg_read_header(cinfo, 1)
                cinfo.pointee.out_color_space = JCS_RGB
                _ = jpeg_start_decompress(cinfo)
                let width = Int(cinfo.pointee.output_width), height = Int(cinfo.pointee.output_height)
                guard Int(cinfo.pointee.output_components) == 3 else {
                    jpeg_abort_decompress(cinfo)
                    throw ImageError(path: name, reason: .unsupported, detail: "\(cinfo.pointee.output_components) output components")
                }
                var pixels = [UInt8](repeating: 0, count: width * height * 3)
                pixels.withUnsafeMutableBufferPointer { out in
                    while Int(cinfo.pointee.output_scanline) < height {
                        let line = Int(cinfo.pointee.output_scanline)
                        var row: JSAMPROW? = out.baseAddress! + line * width * 3
                        if jpeg_read_scanlines(cinfo, &row, 1) != 1 { break }
                    }
                }
                let complete = Int(cinfo.pointee.output_scanline) == height
                if complete { _ = jpeg_finish_decompress(cinfo) } else { jpeg_abort_decompress(cinfo) }
                if let eof = box.warnings.first(where: { $0.contains("Premature end") }) {
                    throw ImageError(path: name, reason: .truncated, detail: eof)
                }
                guard complete else { throw ImageError(path: name, reason: .corrupt, detail: "decoding stopped early") }
                return RGBImage(width: width, height: height, pixels: pixels)
            }
        }
    }

    /// Baseline JPEG (libjpeg defaults: 4:2:0 YCbCr, standard Huffman tables) at `quality` 1...100.
    /// Encoding valid in-memory pixels raises no libjpeg error.
    /// `progressive` uses libjpeg's simple progression script; `grayscale` stores one channel (the luma
    /// libjpeg computes from RGB).
    static func encode(_ image: RGBImage, quality: Int, progressive: Bool = false, grayscale: Bool = false) -> Data {
        precondition(image.width > 0 && image.height > 0 && image.width <= 65500 && image.height <= 65500,
                     "JPEG encode: bad size \(image.width)x\(image.height)")
        let cinfo = UnsafeMutablePointer<jpeg_compress_struct>.allocate(capacity: 1)
        cinfo.initialize(to: jpeg_compress_struct())
        let err = UnsafeMutablePointer<jpeg_error_mgr>.allocate(capacity: 1)
        err.initialize(to: jpeg_error_mgr())
        defer { cinfo.deallocate(); err.deallocate() }
        cinfo.pointee.err = jpeg_std_error(err)
        err.pointee.error_exit = { common in
            fatalError("libjpeg compression error: \(common.map(JPEGCodec.formattedMessage) ?? "?")")
        }
        err.pointee.output_message = { _ in }
        jpeg_CreateCompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_compress_struct>.size)
        defer { jpeg_destroy_compress(cinfo) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        jpeg_mem_dest(cinfo, &buffer, &size)
        cinfo.pointee.image_width = JDIMENSION(image.width)
        cinfo.pointee.image_height = JDIMENSION(image.height)
        cinfo.pointee.input_components = 3
        cinfo.pointee.in_color_space = JCS_RGB
        jpeg_set_defaults(cinfo)
        jpeg_set_quality(cinfo, Int32(max(1, min(100, quality))), 1)
        if grayscale { jpeg_set_colorspace(cinfo, JCS_GRAYSCALE) }
        if progressive { jpeg_simple_progression(cinfo) }
        jpeg_start_compress(cinfo, 1)
        var pixels = image.pixels
        pixels.withUnsafeMutableBufferPointer { input in
            while Int(cinfo.pointee.next_scanline) < image.height {
                var row: JSAMPROW? = input.baseAddress! + Int(cinfo.pointee.next_scanline) * image.width * 3
                _ = jpeg_write_scanlines(cinfo, &row, 1)
            }
        }
        jpeg_finish_compress(cinfo)
        defer { free(buffer) }
        guard let buffer else { return Data() }
        return Data(bytes: buffer, count: Int(size))
    }
}

/// The structural checks that keep libjpeg's decompressor from ever raising a fatal error (see `JPEGCodec`).
enum JPEGValidator {
    struct Info { var width: Int; var height: Int; var components: Int; var progressive: Bool }

    struct Component { var id: UInt8; var h: Int; var v: Int; var tq: Int }

    static func validate(_ b: [UInt8], name: String) throws -> Info {
        func corrupt(_ why: String) -> ImageError { ImageError(path: name, reason: .corrupt, detail: why) }
        func truncated(_ why: String) -> ImageError { ImageError(path: name, reason: .truncated, detail: why) }
        func unsupported(_ why: String) -> ImageError { ImageError(path: name, reason: .unsupported, detail: why) }

        guard b.count >= 2, b[0] == 0xFF, b[1] == 0xD8 else { throw corrupt("no SOI marker") }
        var pos = 2
        var frame: [Component] = []
        var info: Info? = nil
        var progressive = false
        var quant = [Bool](repeating: false, count: 4)
        var dcTables = [Bool](repeating: false, count: 4)
        var acTables = [Bool](repeating: false, count: 4)
        var scans = 0
        // libjpeg's `has_multiple_scans`: a sequential file whose first scan holds every component must have
        // no other (jdinput.c raises "Didn't expect more than one scan").
        var singleScan = false

        while true {
            // Expect a marker: FF (fill FFs) code.
            guard pos < b.count else { throw truncated("data ends before EOI marker") }
            guard b[pos] == 0xFF else { throw corrupt(String(format: "expected a marker at byte %d", pos)) }
            while pos < b.count, b[pos] == 0xFF { pos += 1 }
            guard pos < b.count else { throw truncated("data ends inside a marker") }
            let marker = b[pos]
            pos += 1
            switch marker {
            case 0xD9:  // EOI
                guard scans > 0, let info else { throw corrupt("EOI before any image data") }
                return info
            case 0xD0...0xD7, 0x01:  // RSTn outside a scan, TEM: ignored by libjpeg
                continue
            case 0x00, 0xD8:
                throw corrupt(String(format: "unexpected marker 0x%02X", marker))
            default:
                break
            }
            // Every other accepted marker has a length.
            guard pos + 2 <= b.count else { throw truncated("data ends inside a segment length") }
            let length = Int(b[pos]) << 8 | Int(b[pos + 1])
            guard length >= 2 else { throw corrupt(String(format: "segment 0x%02X has length %d", marker, length)) }
            guard pos + length <= b.count else { throw truncated(String(format: "segment 0x%02X runs past the end", marker)) }
            let seg = Array(b[(pos + 2)..<(pos + length)])
            pos += length
            switch marker {
            case 0xC0, 0xC1, 0xC2:
                guard info == nil else { throw corrupt("second SOF marker") }
                guard seg.count >= 6 else { throw corrupt("short SOF") }
                guard seg[0] == 8 else { throw unsupported("\(seg[0])-bit samples") }
                let height = Int(seg[1]) << 8 | Int(seg[2]), width = Int(seg[3]) << 8 | Int(seg[4])
                let n = Int(seg[5])
                guard width > 0, height > 0 else { throw unsupported("size \(width)x\(height) (DNL not supported)") }
                guard width <= 65500, height <= 65500 else { throw unsupported("size \(width)x\(height)") }
                guard n == 1 || n == 3 else { throw unsupported("\(n) colour components") }
                guard seg.count == 6 + 3 * n else { throw corrupt("SOF length") }
                for c in 0..<n {
                    let id = seg[6 + 3 * c], hv = seg[7 + 3 * c], tq = Int(seg[8 + 3 * c])
                    let h = Int(hv >> 4), v = Int(hv & 15)
                    guard (1...4).contains(h), (1...4).contains(v) else { throw corrupt("sampling factors \(h)x\(v)") }
                    guard tq < 4 else { throw corrupt("quantisation table index \(tq)") }
                    guard !frame.contains(where: { $0.id == id }) else { throw corrupt("duplicate component id \(id)") }
                    frame.append(Component(id: id, h: h, v: v, tq: tq))
                }
                let maxH = frame.map(\.h).max()!, maxV = frame.map(\.v).max()!
                for c in frame where maxH % c.h != 0 || maxV % c.v != 0 {
                    throw unsupported("fractional sampling \(c.h)x\(c.v) of \(maxH)x\(maxV)")
                }
                progressive = marker == 0xC2
                info = Info(width: width, height: height, components: n, progressive: progressive)
            case 0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                throw unsupported(String(format: "JPEG process SOF%d (lossless, hierarchical or arithmetic)", Int(marker) - 0xC0))
            case 0xCC:
                throw unsupported("arithmetic coding (DAC)")
            case 0xC4:  // DHT
                var p = 0
                while p < seg.count {
                    let tc = Int(seg[p] >> 4), th = Int(seg[p] & 15)
                    guard tc <= 1, th < 4 else { throw corrupt("Huffman table index") }
                    guard p + 17 <= seg.count else { throw corrupt("short DHT") }
                    let counts = (1...16).map { Int(seg[p + $0]) }
                    let total = counts.reduce(0, +)
                    guard total <= 256, p + 17 + total <= seg.count else { throw corrupt("bad Huffman table size") }
                    var code = 0, assigned = 0
                    for si in 1...16 where assigned < total {
                        code += counts[si - 1]; assigned += counts[si - 1]
                        guard code < (1 << si) else { throw corrupt("bad Huffman code lengths") }
                        code <<= 1
                    }
                    if tc == 0, seg[(p + 17)..<(p + 17 + total)].contains(where: { $0 > 15 }) {
                        throw corrupt("bad DC Huffman symbol")
                    }
                    if tc == 0 { dcTables[th] = true } else { acTables[th] = true }
                    p += 17 + total
                }
            case 0xDB:  // DQT
                var p = 0
                while p < seg.count {
                    let pq = Int(seg[p] >> 4), tq = Int(seg[p] & 15)
                    guard pq <= 1, tq < 4 else { throw corrupt("quantisation table index") }
                    let size = pq == 0 ? 64 : 128
                    guard p + 1 + size <= seg.count else { throw corrupt("short DQT") }
                    quant[tq] = true
                    p += 1 + size
                }
            case 0xDD:  // DRI
                guard seg.count == 2 else { throw corrupt("DRI length") }
            case 0xDC, 0xE0...0xEF, 0xFE:  // DNL (ignored by libjpeg), APPn, COM
                break
            case 0xDA:  // SOS
                guard info != nil else { throw corrupt("SOS before SOF") }
                guard !singleScan else { throw corrupt("a second scan in a sequential JPEG whose first scan held every component") }
                guard let ns = seg.first.map(Int.init), (1...4).contains(ns), seg.count == 4 + 2 * ns else {
                    throw corrupt("bad SOS header")
                }
                var blocks = 0
                var seen: Set<UInt8> = []
                let ss = Int(seg[1 + 2 * ns]), se = Int(seg[2 + 2 * ns])
                let ah = Int(seg[3 + 2 * ns] >> 4), al = Int(seg[3 + 2 * ns] & 15)
                for c in 0..<ns {
                    let id = seg[1 + 2 * c], td = Int(seg[2 + 2 * c] >> 4), ta = Int(seg[2 + 2 * c] & 15)
                    guard let comp = frame.first(where: { $0.id == id }) else { throw corrupt("scan names unknown component \(id)") }
                    guard seen.insert(id).inserted else { throw corrupt("scan names component \(id) twice") }
                    guard quant[comp.tq] else { throw corrupt("quantisation table \(comp.tq) not defined") }
                    guard td < 4, ta < 4 else { throw corrupt("Huffman table index in scan") }
                    let needDC = progressive ? (ss == 0 && ah == 0) : true
                    let needAC = progressive ? ss > 0 : true
                    if needDC, !dcTables[td] { throw corrupt("DC Huffman table \(td) not defined") }
                    if needAC, !acTables[ta] { throw corrupt("AC Huffman table \(ta) not defined") }
                    blocks += comp.h * comp.v
                }
                if ns > 1, blocks > 10 { throw corrupt("MCU of \(blocks) blocks") }
                if progressive {
                    var bad = false
                    if ss == 0 { if se != 0 { bad = true } } else { if se < ss || se > 63 || ns != 1 { bad = true } }
                    if ah != 0, al != ah - 1 { bad = true }
                    if al > 13 { bad = true }
                    if bad { throw corrupt("bad progression parameters Ss=\(ss) Se=\(se) Ah=\(ah) Al=\(al)") }
                }
                if scans == 0 { singleScan = !progressive && ns == frame.count }
                scans += 1
                // Entropy-coded data runs to the next marker other than stuffed FF00 and RSTn.
                while true {
                    guard pos + 1 < b.count else { throw truncated("data ends inside scan \(scans)") }
                    if b[pos] == 0xFF {
                        let next = b[pos + 1]
                        if next == 0x00 || (0xD0...0xD7).contains(next) || next == 0xFF { pos += next == 0xFF ? 1 : 2; continue }
                        break
                    }
                    pos += 1
                }
            default:
                throw corrupt(String(format: "unknown marker 0x%02X", marker))
            }
        }
    }
}

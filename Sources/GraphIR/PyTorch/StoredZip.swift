import Foundation

/// The entries of a zip archive as PyTorch (≥ 1.6) writes them: stored, not compressed, possibly with zip64
/// sizes. Only the central directory is trusted for names and sizes, and every range is checked against
/// the file, so a hostile archive is refused rather than read out of bounds.
struct StoredZip {
    /// Entry name → byte range of its data in the file.
    let entries: [String: Range<Int>]

    static func isZip(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) }

    init(_ bytes: [UInt8]) throws {
        func u(_ at: Int, _ n: Int) throws -> UInt64 {
            guard at >= 0, n <= 8, at <= bytes.count - n else { throw PyTorchFileError("zip: a record at byte \(at) runs past the end of the file") }
            return bytes[at..<(at + n)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        // The end-of-central-directory record: the last signature within the maximal comment length.
        let eocdSignature: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
        guard bytes.count >= 22, let eocd = stride(from: bytes.count - 22, through: max(0, bytes.count - 22 - 65_535), by: -1)
            .first(where: { Array(bytes[$0..<($0 + 4)]) == eocdSignature }) else {
            throw PyTorchFileError("zip: no end of central directory (truncated?)")
        }
        var count = try u(eocd + 10, 2), directory = try u(eocd + 16, 4)
        if count == 0xFFFF || directory == 0xFFFF_FFFF {
            // zip64: the locator just before names the zip64 end record.
            guard eocd >= 20, try u(eocd - 20, 4) == 0x0706_4B50 else { throw PyTorchFileError("zip: zip64 sizes without a zip64 locator") }
            let record = try u(eocd - 20 + 8, 8)
            guard record < UInt64(bytes.count), try u(Int(record), 4) == 0x0606_4B50 else { throw PyTorchFileError("zip: bad zip64 end record") }
            (count, directory) = (try u(Int(record) + 32, 8), try u(Int(record) + 48, 8))
        }
        guard directory < UInt64(bytes.count), count <= UInt64(bytes.count / 46) else {
            throw PyTorchFileError("zip: the central directory (\(count) entries at \(directory)) does not fit the file")
        }
        var entries: [String: Range<Int>] = [:], at = Int(directory)
        for _ in 0..<Int(count) {
            guard try u(at, 4) == 0x0201_4B50 else { throw PyTorchFileError("zip: bad central directory entry at byte \(at)") }
            let method = try u(at + 10, 2)
            var size = try u(at + 24, 4), offset = try u(at + 42, 4)
            let nameLength = Int(try u(at + 28, 2)), extraLength = Int(try u(at + 30, 2)), commentLength = Int(try u(at + 32, 2))
            guard at + 46 + nameLength <= bytes.count else { throw PyTorchFileError("zip: entry name runs past the end") }
            let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            // zip64 extra field: the sizes and offset that did not fit, in this order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let (id, length) = (try u(extra, 2), Int(try u(extra + 2, 2)))
                if id == 1 {
                    var field = extra + 4
                    if try u(at + 24, 4) == 0xFFFF_FFFF { size = try u(field, 8); field += 8 }
                    if try u(at + 20, 4) == 0xFFFF_FFFF { field += 8 }
                    if try u(at + 42, 4) == 0xFFFF_FFFF { offset = try u(field, 8) }
                }
                extra += 4 + length
            }
            guard method == 0 else { throw PyTorchFileError("zip: entry '\(name)' is compressed (method \(method)); PyTorch stores entries uncompressed") }
            guard offset < UInt64(bytes.count) else { throw PyTorchFileError("zip: entry '\(name)' starts past the end of the file") }
            let local = Int(offset)
            guard try u(local, 4) == 0x0403_4B50 else { throw PyTorchFileError("zip: entry '\(name)' has no local header") }
            let start = local + 30 + Int(try u(local + 26, 2)) + Int(try u(local + 28, 2))
            guard size <= UInt64(bytes.count), start <= bytes.count - Int(size) else {
                throw PyTorchFileError("zip: entry '\(name)' (\(size) bytes) runs past the end of the file (truncated?)")
            }
            entries[name] = start..<(start + Int(size))
            at = extraEnd + commentLength
        }
        self.entries = entries
    }
}

import Foundation

/// An error reading or writing a safetensors file; the message names the file and what is wrong.
public struct SafetensorsError: DescribedError, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A safetensors file (the format PyTorch users load weights from): an 8-byte little-endian header length,
/// a JSON header mapping each tensor name to dtype, shape and byte range, then the raw little-endian data.
/// F32 and F64 tensors are supported; anything else is a clear error.
public struct SafetensorsFile: Sendable {
    public var tensors: [String: Tensor]
    /// The header's `__metadata__` entry (string to string).
    public var metadata: [String: String]

    /// Headers larger than this are treated as corrupt rather than allocated.
    static let maxHeaderBytes = 100 << 20

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads and checks a file; errors name the file.
    public static func read(contentsOf url: URL) throws -> SafetensorsFile {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SafetensorsError("\(url.path): cannot read: \(fileErrorReason(error))")
        }
        do { return try parse(data) } catch let error as SafetensorsError {
            throw SafetensorsError("\(url.path): \(error.message)")
        }
    }

    /// Parses the bytes of a safetensors file.
    public static func parse(_ data: Data) throws -> SafetensorsFile {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw SafetensorsError("truncated: \(bytes.count) bytes, no header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(maxHeaderBytes), Int(headerLength) <= bytes.count - 8 else {
            throw SafetensorsError("header length \(headerLength) does not fit a file of \(bytes.count) bytes")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) } catch {
            throw SafetensorsError("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw SafetensorsError("header is not a JSON object") }

        var file = SafetensorsFile()
        let dataSize = bytes.count - headerEnd
        var ranges: [(Int, Int, String)] = []
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let meta = entry as? [String: String] else {
                    throw SafetensorsError("__metadata__ must map strings to strings")
                }
                file.metadata = meta
                continue
            }
            guard let fields = entry as? [String: Any], let dtypeName = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int],
                  offsets.count == 2
            else { throw SafetensorsError("tensor '\(name)': entry needs dtype, shape and data_offsets [begin, end]") }
            // Integer tensors (PyTorch's `num_batches_tracked` counters) are read as float64 values, exact
            // below 2^53, so state dicts that carry them load.
            let dtype: DType, storedWidth: Int
            switch dtypeName {
            case "F32": (dtype, storedWidth) = (.f32, 4)
            case "F64": (dtype, storedWidth) = (.f64, 8)
            case "I64": (dtype, storedWidth) = (.f64, 8)
            case "I32": (dtype, storedWidth) = (.f64, 4)
            default: throw SafetensorsError("tensor '\(name)': dtype \(dtypeName) is not supported (F32, F64, I64, I32)")
            }
            if let problem = TensorType.validate(shape: shape) {
                throw SafetensorsError("tensor '\(name)': \(problem)")
            }
            let type = TensorType(dtype, shape)
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataSize else {
                throw SafetensorsError("tensor '\(name)': data_offsets [\(begin), \(end)] outside the \(dataSize) data bytes")
            }
            guard end - begin == type.elementCount * storedWidth else {
                throw SafetensorsError("tensor '\(name)': \(end - begin) bytes for \(dtypeName)\(shape), which needs \(type.elementCount * storedWidth)")
            }
            ranges.append((begin, end, name))
            file.tensors[name] = decode(bytes, from: headerEnd + begin, type: type, stored: dtypeName)
        }
        // The format requires tensors to tile the data section without gaps or overlaps.
        ranges.sort { $0.0 < $1.0 }
        var cursor = 0
        for (begin, end, name) in ranges {
            guard begin == cursor else {
                throw SafetensorsError("tensor '\(name)': data at byte \(begin) \(begin < cursor ? "overlaps the previous tensor" : "leaves a gap after byte \(cursor)")")
            }
            cursor = end
        }
        guard cursor == dataSize else { throw SafetensorsError("\(dataSize - cursor) trailing bytes after the last tensor") }
        return file
    }

    private static func decode(_ bytes: [UInt8], from start: Int, type: TensorType, stored: String) -> Tensor {
        let count = type.elementCount
        var scalars = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                switch stored {
                case "F32":
                    let bits = raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)
                    scalars[i] = Double(Float(bitPattern: UInt32(littleEndian: bits)))
                case "I64":
                    scalars[i] = Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: Int64.self)))
                case "I32":
                    scalars[i] = Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: Int32.self)))
                default:
                    let bits = raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self)
                    scalars[i] = Double(bitPattern: UInt64(littleEndian: bits))
                }
            }
        }
        return Tensor(type, scalars: scalars)
    }

    /// The file's bytes: tensors in name order (deterministic output), header padded to 8 bytes.
    public func serialized() throws -> Data {
        var out = try SafetensorsFile.header(types: tensors.mapValues(\.type), metadata: metadata)
        for name in tensors.keys.sorted() { out.append(SafetensorsFile.bytes(of: tensors[name]!)) }
        return out
    }

    /// The 8-byte length and the JSON header for tensors of these types, laid out in name order.
    static func header(types: [String: TensorType], metadata: [String: String]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in types.keys.sorted() {
            let type = types[name]!
            header[name] = [
                "dtype": type.dtype == .f32 ? "F32" : "F64", "shape": type.shape, "data_offsets": [offset, offset + type.byteCount],
            ] as [String: Any]
            offset += type.byteCount
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + json.count)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        return out
    }

    /// A tensor's little-endian bytes in its dtype.
    public static func bytes(of t: Tensor) -> Data {
        switch t.dtype {
        case .f32:
            var bits = t.scalars.map { Float($0).bitPattern.littleEndian }
            return bits.withUnsafeMutableBytes { Data($0) }
        case .f64:
            var bits = t.scalars.map { $0.bitPattern.littleEndian }
            return bits.withUnsafeMutableBytes { Data($0) }
        }
    }

    /// Writes a file of tensors of these types atomically, one tensor at a time: `bytes(name)` gives each
    /// tensor's little-endian bytes (`type.byteCount` of them) when it is written, so a file larger than
    /// memory allows twice (a training state read out of native buffers) never exists whole in memory.
    public static func write(to url: URL, types: [String: TensorType], metadata: [String: String] = [:],
                             bytes: (String) throws -> Data) throws {
        let header = try header(types: types, metadata: metadata)
        try writeFileAtomically(to: url) { handle in
            try handle.write(contentsOf: header)
            for name in types.keys.sorted() {
                let data = try bytes(name)
                guard data.count == types[name]!.byteCount else {
                    throw SafetensorsError("\(url.path): '\(name)' has \(data.count) bytes, its type \(types[name]!) needs \(types[name]!.byteCount)")
                }
                try handle.write(contentsOf: data)
            }
        }
    }

    /// Writes the file atomically: a temporary file beside it, flushed to disk, then renamed over the target,
    /// so a crash at any moment leaves either the old file or the new one.
    public func write(to url: URL) throws {
        try writeFileAtomically(try serialized(), to: url)
    }
}

/// Writes `data` to `url` through a temporary file that is fsync'ed and renamed into place.
public func writeFileAtomically(_ data: Data, to url: URL) throws {
    try writeFileAtomically(to: url) { try $0.write(contentsOf: data) }
}

/// Writes `url` through a temporary file that `write` fills, then fsync'ed and renamed into place, so a
/// crash at any moment leaves either the old file or the new one.
public func writeFileAtomically(to url: URL, _ write: (FileHandle) throws -> Void) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    // open(2) itself, so the message can give the system's reason.
    let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
        throw SafetensorsError("\(url.path): cannot create \(temporary.lastPathComponent) beside it (\(String(cString: strerror(errno))))")
    }
    do {
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        defer { try? handle.close() }
        try write(handle)
        try handle.synchronize()
    } catch let error as SafetensorsError {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw SafetensorsError("\(url.path): cannot write: \(fileErrorReason(error))")
    }
    guard rename(temporary.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw SafetensorsError("\(url.path): cannot replace: \(reason)")
    }
}

import Foundation

/// A PyTorch file that cannot be read or is refused; the message names the file and what is wrong.
public struct PyTorchFileError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What `torch.save` writes for state dicts, read without Python and without running anything: the zip
/// format of PyTorch ≥ 1.6 (`archive/data.pkl` + `archive/data/<key>`) and the legacy format (magic number,
/// protocol and system-info pickles, the pickled object, the storage keys, then each storage's bytes).
public struct PyTorchFile {
    /// The pickled object (dicts of tensors for a state dict).
    public let root: PickleValue
    private let bytes: [UInt8]
    /// Storage key → its bytes in the file.
    private let storages: [String: Range<Int>]
    public let path: String

    /// The legacy format's first pickle: protocol 2, LONG1 0x1950a86a20f9469cfc6c (torch's magic number), STOP.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    /// Whether the file starts as a `torch.save` file of either format.
    public static func looksLikePyTorch(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: legacyMagic.count)) ?? Data())
        return StoredZip.isZip(head) || head == legacyMagic
    }

    /// Reads and checks a file; every error names it.
    public init(contentsOf url: URL) throws {
        path = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw PyTorchFileError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        do { (root, bytes, storages) = try PyTorchFile.parse([UInt8](data)) } catch let error as PyTorchFileError {
            throw PyTorchFileError("\(url.path): \(error.description)")
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> (PickleValue, [UInt8], [String: Range<Int>]) {
        var refs: [String: PyTorchStorageRef] = [:]
        let persistentLoad = { (id: PickleValue) throws -> PickleValue in
            guard case .tuple(let fields) = id, fields.count >= 5, case .string("storage") = fields[0],
                  case .global(let type) = fields[1], let element = type.storageElement,
                  case .string(let key) = fields[2], case .int(let count) = fields[4] else {
                throw PyTorchFileError("a persistent id is \(id), not ('storage', torch.<Type>Storage, key, location, numel)")
            }
            if fields.count > 5, case .tuple = fields[5] { throw PyTorchFileError("storage '\(key)' is a view of another storage (not supported)") }
            guard count >= 0, count <= Int64(bytes.count / element.size) else {
                throw PyTorchFileError("storage '\(key)' claims \(count) elements, more than the file holds")
            }
            let ref = PyTorchStorageRef(element: element, key: key, count: Int(count))
            refs[key] = ref
            return .storage(ref)
        }
        if StoredZip.isZip(bytes) {
            let zip = try StoredZip(bytes)
            guard let pickle = zip.entries.keys.filter({ $0.hasSuffix("/data.pkl") || $0 == "data.pkl" }).min() else {
                throw PyTorchFileError("a zip without data.pkl: not a torch.save file")
            }
            let prefix = String(pickle.dropLast("data.pkl".count))
            if let order = zip.entries[prefix + "byteorder"], String(decoding: bytes[order], as: UTF8.self) != "little" {
                throw PyTorchFileError("saved big-endian; only little-endian files are read")
            }
            let range = zip.entries[pickle]!
            var machine = PickleMachine(bytes: Array(bytes[range]), persistentLoad: persistentLoad)
            let root = try machine.run()
            var storages: [String: Range<Int>] = [:]
            for (key, ref) in refs {
                guard let data = zip.entries[prefix + "data/" + key] else { throw PyTorchFileError("storage '\(key)' has no entry \(prefix)data/\(key)") }
                guard data.count >= ref.count * ref.element.size else {
                    throw PyTorchFileError("storage '\(key)' holds \(data.count) bytes, its \(ref.count) \(ref.element.rawValue) elements need \(ref.count * ref.element.size)")
                }
                storages[key] = data
            }
            return (root, bytes, storages)
        }
        guard bytes.starts(with: legacyMagic) else {
            throw PyTorchFileError("neither a zip nor a legacy torch.save file (no magic number)")
        }
        var machine = PickleMachine(bytes: bytes, position: legacyMagic.count) { _ in throw PyTorchFileError("a persistent id in the header") }
        guard case .int(1001) = try machine.run() else { throw PyTorchFileError("legacy protocol version is not 1001") }
        machine = PickleMachine(bytes: bytes, position: machine.position, persistentLoad: machine.persistentLoad)
        guard case .dict(let sysInfo) = try machine.run() else { throw PyTorchFileError("legacy system info is not a dict") }
        if case .bool(false) = sysInfo["little_endian"] { throw PyTorchFileError("saved big-endian; only little-endian files are read") }
        machine = PickleMachine(bytes: bytes, position: machine.position, persistentLoad: persistentLoad)
        let root = try machine.run()
        machine = PickleMachine(bytes: bytes, position: machine.position) { _ in throw PyTorchFileError("a persistent id in the storage keys") }
        guard case .list(let keys) = try machine.run() else { throw PyTorchFileError("legacy storage keys are not a list") }
        // Each storage: its element count (int64), then its bytes, in the order of the keys.
        var at = machine.position, storages: [String: Range<Int>] = [:]
        for case .string(let key) in keys.items {
            guard let ref = refs[key] else { throw PyTorchFileError("storage key '\(key)' is not used by the pickle") }
            guard bytes.count - at >= 8 else { throw PyTorchFileError("truncated: storage '\(key)' is missing") }
            let count = bytes[at..<(at + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard count == UInt64(ref.count) else { throw PyTorchFileError("storage '\(key)' holds \(count) elements, the pickle says \(ref.count)") }
            let size = ref.count * ref.element.size
            guard bytes.count - at - 8 >= size else { throw PyTorchFileError("truncated: storage '\(key)' needs \(size) bytes, \(bytes.count - at - 8) left") }
            storages[key] = (at + 8)..<(at + 8 + size)
            at += 8 + size
        }
        if let missing = refs.keys.sorted().first(where: { storages[$0] == nil }) { throw PyTorchFileError("storage '\(missing)' has no data") }
        return (root, bytes, storages)
    }

    /// A tensor's elements, in row-major order, as a munitc tensor (float64 and 32/64-bit integer storages
    /// as f64, the rest as f32).
    public func tensor(_ ref: PyTorchTensorRef) throws -> Tensor {
        guard let range = storages[ref.storage.key] else { throw PyTorchFileError("\(path): storage '\(ref.storage.key)' is unknown") }
        var count = 1, extent = ref.offset
        for (size, stride) in zip(ref.size, ref.stride) {
            let (c, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw PyTorchFileError("\(path): tensor size \(ref.size) overflows") }
            count = c
            if size > 0 { extent += (size - 1) * stride }
        }
        guard count == 0 || extent < ref.storage.count else {
            throw PyTorchFileError("\(path): tensor of size \(ref.size), stride \(ref.stride), offset \(ref.offset) reaches past its storage of \(ref.storage.count) elements")
        }
        // Zero strides could make a tiny file expand into any amount of memory; state dicts never need them.
        guard count <= ref.storage.count else {
            throw PyTorchFileError("\(path): tensor of size \(ref.size) repeats its storage of \(ref.storage.count) elements (stride \(ref.stride)); refused")
        }
        let element = ref.storage.element, base = range.lowerBound
        var scalars = [Double](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: ref.size.count)
        for i in 0..<count {
            let at = base + (ref.offset + zip(index, ref.stride).reduce(0) { $0 + $1.0 * $1.1 }) * element.size
            scalars[i] = PyTorchFile.decode(element, bytes[at..<(at + element.size)])
            var d = index.count - 1
            while d >= 0 { index[d] += 1; if index[d] < ref.size[d] { break }; index[d] = 0; d -= 1 }
        }
        return Tensor(element.dtype, shape: ref.size, scalars: scalars)
    }

    static func decode(_ element: PyTorchElement, _ raw: ArraySlice<UInt8>) -> Double {
        let bits = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        switch element {
        case .float32: return Double(Float(bitPattern: UInt32(bits)))
        case .float64: return Double(bitPattern: bits)
        case .bfloat16: return Double(Float(bitPattern: UInt32(bits) << 16))
        case .float16:
            // IEEE half → single: rebias the exponent, shift the mantissa; subnormals by scaling.
            let h = UInt32(bits), sign: Double = h & 0x8000 != 0 ? -1 : 1
            let exponent = Int((h >> 10) & 0x1F), mantissa = Double(h & 0x3FF)
            if exponent == 0 { return sign * mantissa * 0x1p-24 }
            if exponent == 31 { return mantissa == 0 ? sign * .infinity : .nan }
            return sign * (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        case .int64: return Double(Int64(bitPattern: bits))
        case .int32: return Double(Int32(truncatingIfNeeded: bits))
        case .int16: return Double(Int16(truncatingIfNeeded: bits))
        case .int8: return Double(Int8(truncatingIfNeeded: bits))
        case .uint8, .bool: return Double(bits)
        }
    }

    /// Every tensor under nested dicts, named by their keys joined with "." (NVlabs' `{'a': state_dict,
    /// 'b': state_dict}` → `a.enc_style.model.0.conv.weight`, …); other values are skipped. Bounded in depth
    /// and in work, so a self-referencing pickle cannot loop.
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:], visited = 0, elements = 0
        func walk(_ value: PickleValue, _ name: String, depth: Int) throws {
            visited += 1
            guard depth < 32, visited <= bytes.count else { throw PyTorchFileError("\(path): nested too deeply (a self-referencing pickle?)") }
            switch value {
            case .tensor(let ref):
                // Many tensors over one storage would multiply the memory a small file asks for.
                elements += ref.size.reduce(1) { $0 &* $1 }
                guard elements <= bytes.count else {
                    throw PyTorchFileError("\(path): its tensors hold more elements than the file has bytes (storages shared many times over); refused")
                }
                result[name] = try tensor(ref)
            case .dict(let dict):
                for (key, item) in dict.items {
                    let part: String
                    switch key { case .string(let s): part = s; case .int(let i): part = "\(i)"; default: continue }
                    try walk(item, name.isEmpty ? part : name + "." + part, depth: depth + 1)
                }
            default: break
            }
        }
        try walk(root, "", depth: 0)
        return result
    }
}

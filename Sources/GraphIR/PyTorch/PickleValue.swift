import Foundation

/// What the restricted unpickler (`PickleMachine`) builds: Python's plain data, plus the PyTorch objects it
/// knows (storages and tensors). Nothing here can run code.
public indirect enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple([PickleValue])
    /// Lists and dicts are shared objects, as in Python: a pickle memoizes one, then fills it.
    case list(PickleList)
    case dict(PickleDict)
    /// A global the machine allows, before it is called (`torch._utils._rebuild_tensor_v2`, …).
    case global(PickleGlobal)
    /// A storage named by a persistent id: its element type and its key in the file.
    case storage(PyTorchStorageRef)
    /// A tensor as `_rebuild_tensor_v2` describes it; its elements are read once the storages are known.
    case tensor(PyTorchTensorRef)

    public var description: String {
        switch self {
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): "\(i)"
        case .float(let f): "\(f)"
        case .string(let s): "'\(s)'"
        case .bytes(let d): "bytes(\(d.count))"
        case .tuple(let items): "tuple(\(items.count))"
        case .list(let list): "list(\(list.items.count))"
        case .dict(let dict): "dict(\(dict.items.count))"
        case .global(let g): g.rawValue
        case .storage(let s): "storage \(s.key)"
        case .tensor(let t): "tensor \(t.size)"
        }
    }
}

/// A Python list being built.
public final class PickleList {
    public var items: [PickleValue] = []
    init() {}
}

/// A Python dict (or `collections.OrderedDict`) in insertion order; keys are strings or integers.
public final class PickleDict {
    public private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]
    init() {}

    /// `d[key] = value`: replaces an existing key in place, as Python does.
    func set(_ key: PickleValue, _ value: PickleValue) throws {
        let id: String
        switch key {
        case .string(let s): id = "s" + s
        case .int(let i): id = "i\(i)"
        default: throw PyTorchFileError("a dict key is \(key); only strings and integers are read")
        }
        if let at = index[id] { items[at].value = value } else {
            index[id] = items.count
            items.append((key, value))
        }
    }

    /// The value under a string key.
    public subscript(key: String) -> PickleValue? { index["s" + key].map { items[$0].value } }
}

/// The only globals a PyTorch state dict needs; any other name in a pickle is refused.
public enum PickleGlobal: String, CaseIterable {
    case rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
    case rebuildTensor = "torch._utils._rebuild_tensor"
    case rebuildParameter = "torch._utils._rebuild_parameter"
    case orderedDict = "collections.OrderedDict"
    case floatStorage = "torch.FloatStorage", doubleStorage = "torch.DoubleStorage", halfStorage = "torch.HalfStorage"
    case bfloat16Storage = "torch.BFloat16Storage", longStorage = "torch.LongStorage", intStorage = "torch.IntStorage"
    case shortStorage = "torch.ShortStorage", charStorage = "torch.CharStorage", byteStorage = "torch.ByteStorage"
    case boolStorage = "torch.BoolStorage"

    /// A storage class's element type.
    var storageElement: PyTorchElement? {
        switch self {
        case .floatStorage: .float32
        case .doubleStorage: .float64
        case .halfStorage: .float16
        case .bfloat16Storage: .bfloat16
        case .longStorage: .int64
        case .intStorage: .int32
        case .shortStorage: .int16
        case .charStorage: .int8
        case .byteStorage: .uint8
        case .boolStorage: .bool
        default: nil
        }
    }
}

/// The element types of PyTorch storages, with their sizes in bytes.
public enum PyTorchElement: String {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// munitc keeps float64 storages as f64 and every other type as f32 (integers become exact float64
    /// values only where 32 bits cannot hold them: int32/int64 go to f64).
    var dtype: DType { self == .float64 || self == .int64 || self == .int32 ? .f64 : .f32 }
}

/// A storage as a persistent id names it.
public struct PyTorchStorageRef {
    public let element: PyTorchElement
    public let key: String
    /// Its length in elements, as the pickle claims (checked against the bytes present).
    public let count: Int
}

/// A view of a storage: `storage[offset + Σ index_i · stride_i]` for every index within `size`.
public struct PyTorchTensorRef {
    public let storage: PyTorchStorageRef
    public let offset: Int
    public let size: [Int]
    public let stride: [Int]
}

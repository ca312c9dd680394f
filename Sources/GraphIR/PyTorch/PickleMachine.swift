import Foundation

/// A restricted unpickler for what `torch.save` writes for state dicts: it knows Python's plain data
/// opcodes, the globals in `PickleGlobal` and persistent ids, and refuses anything else, so loading a
/// file can never run code. Every length is checked against the bytes left, so a hostile file cannot make
/// it allocate more than the file's own size (a few times over).
struct PickleMachine {
    let bytes: [UInt8]
    /// Where the pickle starts; after `run`, where it ended (the byte after STOP).
    var position: Int
    /// Resolves a persistent id (`('storage', torch.FloatStorage, key, location, numel, …)`).
    let persistentLoad: (PickleValue) throws -> PickleValue

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], position: Int = 0, persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        (self.bytes, self.position, self.persistentLoad) = (bytes, position, persistentLoad)
    }

    private func error(_ message: String) -> PyTorchFileError { PyTorchFileError("pickle byte \(position): \(message)") }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - position >= n else { throw error("truncated: needs \(n) bytes, \(bytes.count - position) left") }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private mutating func unsigned(_ n: Int) throws -> UInt64 {
        try take(n).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A little-endian length, checked against what is left of the file before anything is allocated.
    private mutating func length(_ n: Int) throws -> Int {
        let value = try unsigned(n)
        guard value <= UInt64(bytes.count - position) else { throw error("a length of \(value) bytes exceeds the \(bytes.count - position) left") }
        return Int(value)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw error("truncated: unterminated GLOBAL name") }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw error("stack underflow") }
        if let mark = marks.last, stack.count < mark { throw error("stack underflow past a MARK") }
        return value
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw error("no MARK") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        guard let known = PickleGlobal(rawValue: module + "." + name) else {
            throw PyTorchFileError("refused: the pickle names the global '\(module).\(name)'; only tensors, storages and "
                + "(ordered) dicts are read from PyTorch files, and nothing in them is executed")
        }
        return .global(known)
    }

    /// Runs to STOP and returns the pickled value.
    mutating func run() throws -> PickleValue {
        while true {
            let op = try take(1).first!
            switch op {
            case 0x80: _ = try take(1)  // PROTO
            case 0x95: _ = try take(8)  // FRAME: a hint only
            case UInt8(ascii: "."):
                guard stack.count == 1, marks.isEmpty else { throw error("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case UInt8(ascii: "c"): stack.append(try global(line(), line()))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else { throw error("STACK_GLOBAL needs two strings") }
                stack.append(try global(module, name))
            case UInt8(ascii: "q"): try put(Int(unsigned(1)))
            case UInt8(ascii: "r"): try put(Int(unsigned(4)))
            case 0x94: try put(memo.count)  // MEMOIZE
            case UInt8(ascii: "h"), UInt8(ascii: "j"):
                let key = Int(try unsigned(op == UInt8(ascii: "h") ? 1 : 4))
                guard let value = memo[key] else { throw error("memo \(key) was never set") }
                stack.append(value)
            case UInt8(ascii: "}"): stack.append(.dict(PickleDict()))
            case UInt8(ascii: "]"): stack.append(.list(PickleList()))
            case UInt8(ascii: ")"): stack.append(.tuple([]))
            case UInt8(ascii: "("): marks.append(stack.count)
            case UInt8(ascii: "X"), 0x8C, 0x8D:
                let n = try length(op == 0x8C ? 1 : op == 0x8D ? 8 : 4)
                stack.append(.string(String(decoding: try take(n), as: UTF8.self)))
            case UInt8(ascii: "B"), UInt8(ascii: "C"), 0x8E:
                let n = try length(op == UInt8(ascii: "C") ? 1 : op == 0x8E ? 8 : 4)
                stack.append(.bytes(Data(try take(n))))
            case UInt8(ascii: "J"): stack.append(.int(Int64(Int32(truncatingIfNeeded: try unsigned(4)))))
            case UInt8(ascii: "K"): stack.append(.int(Int64(try unsigned(1))))
            case UInt8(ascii: "M"): stack.append(.int(Int64(try unsigned(2))))
            case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement
                let n = try length(op == 0x8A ? 1 : 4)
                guard n <= 8 else { throw error("an integer of \(n) bytes is larger than 64 bits") }
                let raw = try unsigned(n)
                let shift = UInt64(64 - 8 * n)
                stack.append(.int(n == 0 ? 0 : Int64(bitPattern: raw << shift) >> Int64(shift)))
            case UInt8(ascii: "G"): stack.append(.float(Double(bitPattern: try take(8).reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case UInt8(ascii: "N"): stack.append(.none)
            case UInt8(ascii: "t"): stack.append(.tuple(try popMark()))
            case 0x85, 0x86, 0x87:
                var items: [PickleValue] = []
                for _ in 0..<Int(op - 0x84) { items.insert(try pop(), at: 0) }
                stack.append(.tuple(items))
            case UInt8(ascii: "l"): let list = PickleList(); list.items = try popMark(); stack.append(.list(list))
            case UInt8(ascii: "d"): let dict = PickleDict(); try fill(dict, try popMark()); stack.append(.dict(dict))
            case UInt8(ascii: "a"):
                let value = try pop()
                guard case .list(let list) = stack.last else { throw error("APPEND to \(stack.last.map { "\($0)" } ?? "nothing")") }
                list.items.append(value)
            case UInt8(ascii: "e"):
                let values = try popMark()
                guard case .list(let list) = stack.last else { throw error("APPENDS to a non-list") }
                list.items += values
            case UInt8(ascii: "s"):
                let value = try pop(), key = try pop()
                guard case .dict(let dict) = stack.last else { throw error("SETITEM on a non-dict") }
                try dict.set(key, value)
            case UInt8(ascii: "u"):
                let pairs = try popMark()
                guard case .dict(let dict) = stack.last else { throw error("SETITEMS on a non-dict") }
                try fill(dict, pairs)
            case UInt8(ascii: "R"):
                let arguments = try pop(), callable = try pop()
                guard case .global(let function) = callable, case .tuple(let args) = arguments else {
                    throw error("REDUCE calls \(callable) with \(arguments); only the allowed torch globals are called")
                }
                stack.append(try PickleMachine.call(function, args))
            case UInt8(ascii: "b"):
                // BUILD: OrderedDict's instance state (a state dict's `_metadata`), which loading ignores.
                _ = try pop()
                guard case .dict = stack.last else { throw error("BUILD on \(stack.last.map { "\($0)" } ?? "nothing"); only dicts are read") }
            case UInt8(ascii: "Q"): stack.append(try persistentLoad(try pop()))
            default:
                throw error(String(format: "opcode 0x%02X is not one a PyTorch state dict uses; refused", op))
            }
        }
    }

    private mutating func put(_ key: Int) throws {
        guard let top = stack.last else { throw error("memoizing an empty stack") }
        memo[key] = top
    }

    private func fill(_ dict: PickleDict, _ items: [PickleValue]) throws {
        guard items.count % 2 == 0 else { throw error("SETITEMS with an odd number of values") }
        for i in stride(from: 0, to: items.count, by: 2) { try dict.set(items[i], items[i + 1]) }
    }

    /// The calls an allowed global makes: building a dict or describing a tensor, nothing else.
    static func call(_ function: PickleGlobal, _ args: [PickleValue]) throws -> PickleValue {
        switch function {
        case .orderedDict:
            guard args.isEmpty else { throw PyTorchFileError("collections.OrderedDict called with \(args.count) arguments; expected none") }
            return .dict(PickleDict())
        case .rebuildTensorV2, .rebuildTensor:
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                  case .tuple(let size) = args[2], case .tuple(let stride) = args[3] else {
                throw PyTorchFileError("\(function.rawValue) called with (\(args.map(\.description).joined(separator: ", "))); "
                    + "expected (storage, offset, size, stride, …)")
            }
            let ints = { (values: [PickleValue], what: String) throws -> [Int] in
                try values.map {
                    guard case .int(let v) = $0, v >= 0, v < Int64(Int32.max) else { throw PyTorchFileError("tensor \(what) \($0) is not a small non-negative integer") }
                    return Int(v)
                }
            }
            guard offset >= 0, offset <= Int64(storage.count) else { throw PyTorchFileError("tensor offset \(offset) is outside its storage of \(storage.count)") }
            let (sizes, strides) = (try ints(size, "size"), try ints(stride, "stride"))
            guard sizes.count == strides.count else { throw PyTorchFileError("tensor size \(sizes) and stride \(strides) differ in rank") }
            return .tensor(PyTorchTensorRef(storage: storage, offset: Int(offset), size: sizes, stride: strides))
        case .rebuildParameter:
            guard let data = args.first, case .tensor = data else { throw PyTorchFileError("torch._utils._rebuild_parameter without a tensor") }
            return data
        default:
            throw PyTorchFileError("\(function.rawValue) is a storage type, not something a state dict calls; refused")
        }
    }
}

/// Element types a tensor can hold.
public enum DType: String, Sendable, CaseIterable, Hashable {
    case f32, f64

    /// Bytes per element.
    public var byteWidth: Int { self == .f32 ? 4 : 8 }

    /// Rounds a value to this type's precision (the interpreter keeps every value as a Double).
    @inline(__always)
    public func round(_ x: Double) -> Double { self == .f32 ? Double(Float(x)) : x }
}

/// The largest number of elements a tensor may have: keeps shape arithmetic far from overflow and stops a
/// malformed file from asking for an absurd allocation.
public let maxTensorElements = 1 << 40

/// A tensor's static type: element type and shape (NCHW for images; rank 0 is a scalar).
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: [Int]

    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    public var rank: Int { shape.count }

    /// Number of elements; callers must have validated the shape (see `TensorType.validate`).
    public var elementCount: Int { shape.reduce(1, *) }

    public var byteCount: Int { elementCount * dtype.byteWidth }

    /// `f32[1, 3, 16, 16]`; the text format's spelling.
    public var description: String { "\(dtype.rawValue)[\(shape.map(String.init).joined(separator: ", "))]" }

    /// Checks that every dimension is positive and the element count stays below `maxTensorElements`.
    public static func validate(shape: [Int]) -> String? {
        var count = 1
        for d in shape {
            if d <= 0 { return "dimension \(d) must be positive" }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow || product > maxTensorElements {
                return "shape \(shape) has more than \(maxTensorElements) elements"
            }
            count = product
        }
        return nil
    }

    /// Row-major strides of the shape.
    public var strides: [Int] { Strides.rowMajor(shape) }

    /// PyTorch's fans of a weight of this shape [out, in, k…]: fan_in = in · Πk, fan_out = out · Πk (a rank-1
    /// shape has fan_in = its length). What initialisations scale by.
    public var fans: (fanIn: Int, fanOut: Int) {
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape.count > 1 ? shape[1] * receptive : shape.first ?? 1, (shape.first ?? 1) * receptive)
    }
}

/// Element strides of shapes, one definition for the interpreter and the backend's lowerings.
public enum Strides {
    /// Row-major strides of `shape`.
    public static func rowMajor(_ shape: [Int]) -> [Int] {
        var result = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            result[i] = s
            s *= shape[i]
        }
        return result
    }

    /// Strides that read a tensor of `shape` as if broadcast (NumPy rules) to `target`: 0 on stretched axes.
    @inline(__always)
    public static func broadcast(_ shape: [Int], to target: [Int]) -> [Int] {
        let offset = target.count - shape.count
        var strides = [Int](repeating: 0, count: target.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i + offset] = shape[i] == 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }
}

/// A host tensor. Values are stored as Doubles whatever the dtype; a float32 tensor holds values that are
/// exactly representable as Float (the interpreter rounds every result to its dtype).
public struct Tensor: Equatable, Sendable {
    public var type: TensorType
    public var scalars: [Double]

    public var shape: [Int] { type.shape }
    public var dtype: DType { type.dtype }

    /// A tensor from scalars, rounded to `dtype`.
    public init(_ dtype: DType, shape: [Int], scalars: [Double]) {
        precondition(scalars.count == shape.reduce(1, *), "Tensor: \(scalars.count) scalars for shape \(shape)")
        self.type = TensorType(dtype, shape)
        self.scalars = dtype == .f64 ? scalars : scalars.map { Double(Float($0)) }
    }

    public init(_ type: TensorType, scalars: [Double]) {
        self.init(type.dtype, shape: type.shape, scalars: scalars)
    }

    /// A tensor filled with one value.
    public init(_ type: TensorType, repeating value: Double) {
        self.type = type
        self.scalars = [Double](repeating: type.dtype.round(value), count: type.elementCount)
    }

    public static func zeros(_ type: TensorType) -> Tensor { Tensor(type, repeating: 0) }

    /// The values as Float, for float32 consumers (safetensors F32, the native backend).
    public var floats: [Float] { scalars.map(Float.init) }

    /// This tensor converted to another dtype.
    public func converted(to dtype: DType) -> Tensor { Tensor(dtype, shape: shape, scalars: scalars) }

    /// Largest absolute elementwise difference to `other` (shapes must match).
    public func maxAbsDifference(_ other: Tensor) -> Double {
        precondition(shape == other.shape, "maxAbsDifference: shapes \(shape) and \(other.shape)")
        var worst = 0.0
        for i in scalars.indices { worst = Swift.max(worst, Swift.abs(scalars[i] - other.scalars[i])) }
        return worst
    }
}

/// A small deterministic generator (SplitMix64) for test data and initialisation that must not depend on the
/// platform's random source.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func nextNormal() -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}

extension Tensor {
    /// A tensor of uniform values in `range`, reproducible from `rng`.
    public static func random<G: RandomNumberGenerator>(
        _ type: TensorType, in range: ClosedRange<Double> = -1...1, using rng: inout G
    ) -> Tensor {
        // Filled in place: one array of the tensor's size, never a second for the rounding.
        var t = Tensor(type, repeating: 0)
        for i in t.scalars.indices { t.scalars[i] = type.dtype.round(Double.random(in: range, using: &rng)) }
        return t
    }
}

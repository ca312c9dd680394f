import Foundation
import GraphIR

/// Fresh trainer parameters and buffers for `config`, reproducible from `seed`, as NVlabs' trainer
/// initialises them (`weights_init(init)` on everything, then `weights_init('gaussian')` on both
/// discriminators):
/// - every convolution and linear weight of the generators by `init`: kaiming = Kaiming normal
///   (std √(2 / fan_in)); gaussian = N(0, 0.02); xavier = Xavier normal with gain √2; orthogonal =
///   orthogonal with gain √2;
/// - every discriminator convolution weight from N(0, 0.02) (drawn once: the values `init` would draw are
///   overwritten in PyTorch, so they are not drawn here);
/// - all convolution and linear biases 0; LayerNorm γ ~ U[0, 1), β = 0; PReLU slopes 0.25; BatchNorm γ = 1,
///   β = 0; buffers at PyTorch's initial values (means 0, variances 1).
///
/// Draws come from one SplitMix64 stream in `state_dict` order. The result maps every `MUNITLayout`
/// parameter and buffer name to a float32 tensor.
public func initialMUNITParameters(config: MUNITConfig, seed: UInt64) -> [String: Tensor] {
    var rng = SplitMix64(seed: seed)
    let layout = MUNITLayout(config: config)
    var tensors: [String: Tensor] = [:]
    for p in layout.parameters {
        let type = TensorType(.f32, p.shape)
        let isDiscriminator = p.network == .disA || p.network == .disB
        switch p.role {
        case .convolutionWeight, .linearWeight:
            let scheme: MUNITConfig.Initialization = isDiscriminator ? .gaussian : config.initialization
            tensors[p.name] = Tensor(type, scalars: initialWeight(shape: p.shape, scheme, using: &rng))
        case .convolutionBias, .linearBias, .layerNormBeta, .batchNormBias:
            tensors[p.name] = Tensor(type, repeating: 0)
        case .layerNormGamma:
            tensors[p.name] = Tensor(type, scalars: (0..<type.elementCount).map { _ in Double.random(in: 0..<1, using: &rng) })
        case .preluSlope:
            tensors[p.name] = Tensor(type, repeating: 0.25)
        case .batchNormWeight:
            tensors[p.name] = Tensor(type, repeating: 1)
        }
    }
    for buffer in layout.buffers { tensors[buffer.name] = buffer.initialTensor }
    return tensors
}

/// One weight's values, row-major, by `scheme`.
func initialWeight(shape: [Int], _ scheme: MUNITConfig.Initialization, using rng: inout SplitMix64) -> [Double] {
    let count = shape.reduce(1, *)
    let (fanIn, fanOut) = TensorType(.f32, shape).fans
    func normal(_ std: Double) -> [Double] { (0..<count).map { _ in std * rng.nextNormal() } }
    switch scheme {
    case .gaussian: return normal(0.02)
    case .kaiming: return normal((2 / Double(fanIn)).squareRoot())  // a = 0, mode fan_in: gain √2
    case .xavier: return normal(2.0.squareRoot() * (2 / Double(fanIn + fanOut)).squareRoot())
    case .orthogonal:
        return orthogonalMatrix(rows: shape[0], columns: count / shape[0], using: &rng).map { $0 * 2.0.squareRoot() }
    }
}

/// PyTorch's `orthogonal_` without the gain: a rows × columns matrix (row-major) with orthonormal rows
/// (if rows ≤ columns) or columns (otherwise), from the QR decomposition of a standard normal matrix with
/// the signs fixed so R's diagonal is positive. Modified Gram–Schmidt on the columns of the tall
/// orientation gives exactly that Q (its R has a positive diagonal by construction); a second pass keeps
/// the columns orthogonal to rounding.
func orthogonalMatrix(rows: Int, columns: Int, using rng: inout SplitMix64) -> [Double] {
    let transposed = rows < columns
    let (m, n) = transposed ? (columns, rows) : (rows, columns)  // m ≥ n
    // Column-major m × n: column j is q[j*m ..< (j+1)*m].
    let drawn = (0..<rows * columns).map { _ in rng.nextNormal() }
    var q = [Double](repeating: 0, count: m * n)
    for r in 0..<rows {
        for c in 0..<columns {
            // The drawn matrix is rows × columns; the tall one is its transpose when rows < columns.
            let (i, j) = transposed ? (c, r) : (r, c)
            q[j * m + i] = drawn[r * columns + c]
        }
    }
    q.withUnsafeMutableBufferPointer { q in
        for j in 0..<n {
            for _ in 0..<2 {
                for k in 0..<j {
                    var dot = 0.0
                    for i in 0..<m { dot += q[k * m + i] * q[j * m + i] }
                    for i in 0..<m { q[j * m + i] -= dot * q[k * m + i] }
                }
            }
            var norm = 0.0
            for i in 0..<m { norm += q[j * m + i] * q[j * m + i] }
            let inverse = norm > 0 ? 1 / norm.squareRoot() : 0
            for i in 0..<m { q[j * m + i] *= inverse }
        }
    }
    var result = [Double](repeating: 0, count: rows * columns)
    for r in 0..<rows {
        for c in 0..<columns {
            let (i, j) = transposed ? (c, r) : (r, c)
            result[r * columns + c] = q[j * m + i]
        }
    }
    return result
}

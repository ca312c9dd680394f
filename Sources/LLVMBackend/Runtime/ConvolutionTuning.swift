import Foundation

/// Choices of convolution algorithm that depend on the machine, fixed per compile: the lowerings read
/// them through `current` while a `GraphCompiler` lowers a graph on its thread.
struct ConvolutionTuning: Equatable, Sendable {
    /// Winograd F(2×2, 3×3) needs at least this many tiles per sample to be chosen (counted per sample, so
    /// that a sample's result does not depend on how many others share its batch).
    ///
    /// 64 (a 16×16 plane) on every target: below it the speed does not matter and Winograd's larger float32
    /// rounding does. NVlabs' `unit_tiny` recording (8×8 residual planes, 16 tiles a sample) fails the update
    /// rule at iteration 2 with Winograd (849 of 247,642 elements beyond 1% of lr, a ReLU gate within
    /// rounding of 0 taken the other way) and holds with the direct product.
    ///
    /// Measured on a Xeon (sapphirerapids, AVX-512, OpenBLAS SkylakeX), MUNIT's residual blocks
    /// (256 channels): at 16×16 planes (64 tiles) Winograd with OpenBLAS's 16 narrow products made the whole
    /// 64×64 iteration 1.01 s against 0.87 s for one gathered GEMM, but with generated products
    /// (`generatedProductsBelowTiles`) and gathered transforms it beats the GEMM (0.62–0.70 against 0.79 s);
    /// at 32×32 (256 tiles) and 64×64 planes Winograd with OpenBLAS products wins (2.17 against 2.54 s at
    /// 128×128, 7.09 against 8.72 s at 256×256). On AVX2 (Zen 3) Winograd was measured faster at 16×16
    /// already.
    var winogradMinimumTiles: Int
    /// Winograd products narrower than this many tiles are generated register-blocked kernels
    /// (`RegisterBlockedProduct`) rather than BLAS calls; 0: always BLAS, `.max`: always generated.
    var generatedProductsBelowTiles: Int
    /// Gathered convolutions whose families are all at most this wide (N·positions) run generated skinny
    /// products (`SkinnyProduct`) on transposed columns instead of BLAS calls; 0: always BLAS.
    var skinnyProductsUpToWidth: Int
    /// The vector class the kernels are generated for.
    let isa: VectorISA
    /// float lanes of the generated products' and gathered transforms' vectors.
    var vectorLanes: Int { isa.floatLanes }
    /// Winograd's transforms gather into vectors (cheap on AVX-512): the weight transform each channel
    /// pair's taps (instead of two interleaved passes), the input transform of generated products each
    /// window cell across channels.
    var gathers: Bool { isa >= .avx512 }

    /// The defaults for code generated for `target`.
    ///
    /// AVX-512: Winograd with generated products on every plane of at least 16×16. Measured on the Xeon
    /// (2 threads, `munitc bench --size N`): 64×64 iteration 0.79 s (a gathered GEMM per convolution, which
    /// beat Winograd with OpenBLAS's products there) → 0.62–0.70 s; 128×128 2.19 → 1.8 s (the products of the
    /// 64 backward passes per iteration 400 → 239 ms); 256×256 6.9 → 6.6 s.
    ///
    /// AVX2: generated products (6 rows × 2 vectors of 8 lanes, BLIS's Haswell shape) below 256 tiles, where
    /// OpenBLAS's packing outweighs the narrow products, and OpenBLAS's products from 256 tiles (what Zen 3
    /// measured fastest). Measured as AVX2 code on the Xeon (`--target-cpu haswell`, `OPENBLAS_CORETYPE=Haswell`):
    /// 64×64 iteration 1.06–1.10 → 0.93 s; 128×128 (256 tiles) 2.66–2.75 s either way. Gathers stay off: on
    /// Zen 3 an 8-lane gather is 39 micro-ops at about one element per cycle, no faster than scalar loads.
    init(for target: TargetCPU) {
        self.init(winogradMinimumTiles: 64, generatedProductsBelowTiles: target.isa >= .avx512 ? .max : 256,
                  skinnyProductsUpToWidth: SkinnyProduct.defaultMaximumWidth, isa: target.isa)
    }

    private init(winogradMinimumTiles: Int, generatedProductsBelowTiles: Int, skinnyProductsUpToWidth: Int, isa: VectorISA) {
        (self.winogradMinimumTiles, self.generatedProductsBelowTiles, self.skinnyProductsUpToWidth, self.isa)
            = (winogradMinimumTiles, generatedProductsBelowTiles, skinnyProductsUpToWidth, isa)
    }

    private static let key = "munitc.convolution-tuning"

    /// The tuning of the compile lowering on this thread; outside one, every algorithm is allowed.
    static var current: ConvolutionTuning {
        Thread.current.threadDictionary[key] as? ConvolutionTuning ?? ConvolutionTuning(winogradMinimumTiles: 0, generatedProductsBelowTiles: 0, skinnyProductsUpToWidth: 0, isa: .avx2)
    }

    /// Runs `body` with `self` as this thread's `current`, restoring the previous one after.
    func during<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let dictionary = Thread.current.threadDictionary
        let previous = dictionary[Self.key]
        dictionary[Self.key] = self
        defer { dictionary[Self.key] = previous }
        return try body()
    }
}

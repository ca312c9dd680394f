import Foundation

/// Choices of convolution algorithm that depend on the machine, fixed per compile: the lowerings read
/// them through `current` while a `GraphCompiler` lowers a graph on its thread.
struct ConvolutionTuning: Equatable, Sendable {
    /// Winograd F(2×2, 3×3) needs at least this many tiles (its 16 GEMMs' width) to be chosen.
    ///
    /// Measured on a Xeon (sapphirerapids, AVX-512, OpenBLAS SkylakeX), MUNIT's residual blocks
    /// (256 channels): at 16×16 planes (64 tiles) Winograd's 16 narrow GEMMs and transforms made the whole
    /// 64×64 iteration 1.01 s against 0.87 s for one gathered GEMM; at 32×32 (256 tiles) Winograd won
    /// (2.17 against 2.54 s at 128×128), at 64×64 planes too (7.09 against 8.72 s at 256×256). AVX-512 GEMMs
    /// reach twice AVX2's rate on wide products, so narrow ones and the memory-bound transforms weigh more;
    /// on AVX2 (Zen 3) Winograd was measured faster at 16×16 already, so there is no minimum there.
    var winogradMinimumTiles: Int

    /// The defaults for code generated for `target`.
    init(for target: TargetCPU) {
        winogradMinimumTiles = target.isa >= .avx512 ? 128 : 0
    }

    init(winogradMinimumTiles: Int) { self.winogradMinimumTiles = winogradMinimumTiles }

    private static let key = "munitc.convolution-tuning"

    /// The tuning of the compile lowering on this thread; outside one, every algorithm is allowed.
    static var current: ConvolutionTuning {
        Thread.current.threadDictionary[key] as? ConvolutionTuning ?? ConvolutionTuning(winogradMinimumTiles: 0)
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

import GraphIR

extension GatheredConvolution {
    /// Whether the products run as skinny products (`SkinnyProduct`) on transposed columns rather than BLAS:
    /// every family with taps is at most the tuning's threshold wide (N·positions). All or none: the
    /// decoder's upsampling convolutions have narrow corner families beside wide ones, and moving only those
    /// out of the BLAS phase added a phase and about 1 ms per 64×64 iteration, their BLAS calls costing
    /// nothing measurable.
    var hasSkinnyProducts: Bool {
        let width = ConvolutionTuning.current.skinnyProductsUpToWidth
        return families.contains { $0.taps > 0 } && families.allSatisfy { $0.taps == 0 || n * $0.positions <= width }
    }
}

extension FusedConvolution {
    /// Where every family's columns lie in the columns scratch, side by side: [C·taps, N·positions], row-major,
    /// for BLAS; for skinny products transposed, [N·positions, C·taps], each row padded by a cache line. Why
    /// the padding: rows of MUNIT's K = 4096 floats are 16 KB apart, so unpadded every position's vector at
    /// one k falls in the same L1 set, more lines than its ways (measured, data gradient, P = 16, one thread:
    /// 1.11 → 0.69 ms).
    struct ColumnLayout {
        /// Family column entry (k, p), k < C·taps and p < N·positions, is element `base + k·kStride + p·pStride`.
        struct Family { let base, kStride, pStride: Int }

        let families: [Family]
        /// The whole scratch's elements.
        let elements: Int

        /// Decided by the tuning in force (`GatheredConvolution.hasSkinnyProducts`): build it while lowering.
        init(_ g: GatheredConvolution, dtype: DType) {
            var families: [Family] = [], base = 0
            let transposed = g.hasSkinnyProducts
            for family in g.families {
                let (depth, width) = (g.c * family.taps, g.n * family.positions)
                let row = depth + 64 / dtype.byteWidth
                families.append(transposed ? Family(base: base, kStride: 1, pStride: row) : Family(base: base, kStride: width, pStride: 1))
                base += transposed ? width * row : depth * width
            }
            (self.families, elements) = (families, base)
        }
    }
}

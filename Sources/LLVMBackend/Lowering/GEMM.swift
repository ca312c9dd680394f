import GraphIR

extension KernelEmitter {
    /// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, through OpenBLAS (sgemm or dgemm by dtype).
    func gemm(_ dtype: DType, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
              a: IRValue, lda: Int, b: IRValue, ldb: Int, beta: IRValue, c: IRValue, ldc: Int) {
        gemm(dtype, transA: transA, transB: transB, m: index(m), n: index(n), k: index(k), a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
    }

    /// The same with sizes known only at run time (blocked loops).
    func gemm(_ dtype: DType, transA: Bool, transB: Bool, m: IRValue, n: IRValue, k: IRValue,
              a: IRValue, lda: Int, b: IRValue, ldb: Int, beta: IRValue, c: IRValue, ldc: Int) {
        let real = ir.type(of: dtype), i = ir.i32, p = ir.pointer
        let rowMajor = 101, noTrans = 111, trans = 112
        callVoid(dtype == .f32 ? "cblas_sgemm" : "cblas_dgemm",
                 [i, i, i, i, i, i, real, p, i, p, i, real, p, i],
                 [int32(rowMajor), int32(transA ? trans : noTrans), int32(transB ? trans : noTrans),
                  int32(m), int32(n), int32(k), self.real(1, dtype), a, int32(lda), b, int32(ldb),
                  convert(beta, to: dtype), c, int32(ldc)])
    }
}

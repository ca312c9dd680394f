import GraphIR

/// Matrix products (`matmul`, `linear`): one BLAS call each. Convolutions are in `Convolution/`.
extension Lowerings {
    static let contraction: [String: Lowering] = [
        "matmul": .kernel { input in
            let (m, k, n) = (input.operands[0].shape[0], input.operands[0].shape[1], input.operands[1].shape[1])
            return KernelPlan(name: "matmul_\(m)x\(k)_\(k)x\(n)", parallelCount: 1, usesBLAS: true) { e in
                e.gemm(input.dtype, transA: false, transB: false, m: m, n: n, k: k, a: e.pointer(0, offset: e.index(0)), lda: k,
                       b: e.pointer(1, offset: e.index(0)), ldb: n, beta: e.real(0, input.dtype), c: e.pointer(2, offset: e.index(0)), ldc: n)
            }
        },
        "linear": .kernel { input in
            let (batch, features, outs) = (input.operands[0].shape[0], input.operands[0].shape[1], input.operands[1].shape[0])
            let hasBias = input.operands.count == 3, y = input.operands.count
            return KernelPlan(name: "linear_\(batch)x\(features)_to\(outs)", parallelCount: 1, usesBLAS: true) { e in
                if hasBias { e.loop(batch) { r in e.loop(outs) { j in e.store(e.load(2, j), y, r * outs + j) } } }
                e.gemm(input.dtype, transA: false, transB: true, m: batch, n: outs, k: features, a: e.pointer(0, offset: e.index(0)),
                       lda: features, b: e.pointer(1, offset: e.index(0)), ldb: features,
                       beta: e.real(hasBias ? 1 : 0, input.dtype), c: e.pointer(y, offset: e.index(0)), ldc: outs)
            }
        },
    ]
}

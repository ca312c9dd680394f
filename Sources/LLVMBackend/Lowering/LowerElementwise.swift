import GraphIR

/// The scalar function of each pointwise op, evaluated in the result's dtype.
typealias ScalarFunction = @Sendable (KernelEmitter, [IRValue], Attributes) -> IRValue

extension Lowerings {
    // Swift's max/min: `y >= x ? y : x` and `y < x ? y : x`, kept exactly for NaN behaviour.
    static func swiftMax(_ e: KernelEmitter, _ x: IRValue, _ y: IRValue) -> IRValue { e.select(y.greaterEqual(x), y, x) }
    static func swiftMin(_ e: KernelEmitter, _ x: IRValue, _ y: IRValue) -> IRValue { e.select(y.lessThan(x), y, x) }

    static let scalarFunctions: [String: ScalarFunction] = [
        "add": { _, v, _ in v[0] + v[1] },
        "sub": { _, v, _ in v[0] - v[1] },
        "mul": { _, v, _ in v[0] * v[1] },
        "div": { _, v, _ in v[0] / v[1] },
        "maximum": { e, v, _ in swiftMax(e, v[0], v[1]) },
        "minimum": { e, v, _ in swiftMin(e, v[0], v[1]) },
        "neg": { _, v, _ in -v[0] },
        "abs": { e, v, _ in e.intrinsic("llvm.fabs", [v[0]]) },
        "sign": { e, v, _ in
            e.select(v[0].greaterThan(0), e.real(1, like: v[0]), e.select(v[0].lessThan(0), e.real(-1, like: v[0]), e.real(0, like: v[0])))
        },
        "step": { e, v, _ in e.select(v[0].greaterThan(0), e.real(1, like: v[0]), e.real(0, like: v[0])) },
        "square": { _, v, _ in v[0] * v[0] },
        "sqrt": { e, v, _ in e.intrinsic("llvm.sqrt", [v[0]]) },
        "exp": { e, v, _ in e.intrinsic("llvm.exp", [v[0]]) },
        "log": { e, v, _ in e.intrinsic("llvm.log", [v[0]]) },
        "reciprocal": { _, v, _ in 1.0 / v[0] },
        "scale": { _, v, a in v[0] * a.float("factor") },
        "shift": { _, v, a in v[0] + a.float("offset") },
        "relu": { e, v, _ in e.select(v[0].lessThan(0), e.real(0, like: v[0]), v[0]) },
        "leaky_relu": { e, v, a in e.select(v[0].lessThan(0), v[0] * a.float("slope"), v[0]) },
        "selu": { e, v, _ in
            let negative = e.libm("expm1", v[0]) * Ops.seluAlpha
            return e.select(v[0].greaterThan(0), v[0], negative) * Ops.seluScale
        },
        "tanh": { e, v, _ in e.libm("tanh", v[0]) },
        "sigmoid": { e, v, _ in
            // exp(−|x|) never overflows; x ≥ 0 gives 1/(1 + e), x < 0 gives e/(1 + e) (the interpreter's forms).
            let t = e.intrinsic("llvm.exp", [-e.intrinsic("llvm.fabs", [v[0]])])
            let denominator = t + 1.0
            return e.select(v[0].greaterEqual(0), 1.0 / denominator, t / denominator)
        },
        "cast": { _, v, _ in v[0] },
        "binary_cross_entropy": { e, v, _ in
            // PyTorch's CPU formula, as the interpreter evaluates it.
            let (p, t) = (v[0], v[1])
            let floor = e.real(-100, like: p)
            let logOneMinus = swiftMax(e, e.libm("log1p", -p), floor)
            let logP = swiftMax(e, e.intrinsic("llvm.log", [p]), floor)
            return (t - 1.0) * logOneMinus - t * logP
        },
    ]

    static let elementwise: [String: Lowering] = {
        var table: [String: Lowering] = [:]
        for (name, function) in scalarFunctions {
            table[name] = .kernel { input in pointwisePlan(input, function) }
        }
        table["prelu"] = .kernel(preluPlan)
        table["constant"] = .kernel { input in
            let nest = StridedNest(shape: [input.result.elementCount], strides: [[1]])
            return KernelPlan(name: "constant_\(KernelName.shape(input.result.shape))", parallelCount: nest.parallelCount) { e in
                let value = e.real(input.attributes.float("value"), input.dtype)
                nest.emit(e) { offsets in e.store(value, 0, offsets[0]) }
            }
        }
        return table
    }()

    /// Operands broadcast to the result; each result element is `function` of the operands' elements.
    static func pointwisePlan(_ input: LoweringInput, _ function: @escaping ScalarFunction) -> KernelPlan {
        let shape = input.result.shape
        let strides = input.operands.map { Strides.broadcast($0.shape, to: shape) } + [Strides.rowMajor(shape)]
        let nest = StridedNest(shape: shape, strides: strides)
        let operandCount = input.operands.count
        return KernelPlan(name: "\(input.op.name)_\(KernelName.shape(shape))", parallelCount: nest.parallelCount) { e in
            nest.emit(e) { offsets in
                let values = (0..<operandCount).map { e.load($0, offsets[$0]) }
                e.store(function(e, values, input.attributes), operandCount, offsets[operandCount])
            }
        }
    }

    /// PReLU: x viewed as [N, C, inner] with the slope indexed by channel (or shared).
    static let preluPlan: @Sendable (LoweringInput) -> KernelPlan = { input in
        let x = input.operands[0].shape, slopes = input.operands[1].shape[0]
        let (n, c) = x.count >= 2 ? (x[0], x[1]) : (1, x.first ?? 1)
        let inner = x.count >= 2 ? x.dropFirst(2).reduce(1, *) : 1
        let view = x.count >= 2 ? [n, c, inner] : [1, 1, x.first ?? 1]
        let contiguous = Strides.rowMajor(view)
        let slopeStrides = [0, slopes == 1 ? 0 : 1, 0]
        let nest = StridedNest(shape: view, strides: [contiguous, slopeStrides, contiguous])
        return KernelPlan(name: "prelu_\(KernelName.shape(x))", parallelCount: nest.parallelCount) { e in
            nest.emit(e) { offsets in
                let v = e.load(0, offsets[0]), slope = e.load(1, offsets[1])
                e.store(e.select(v.lessThan(0), v * slope, v), 2, offsets[2])
            }
        }
    }
}

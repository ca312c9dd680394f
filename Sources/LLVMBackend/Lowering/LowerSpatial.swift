import GraphIR

/// Padding, upsampling and pooling, parallel over the N·C planes.
extension Lowerings {
    /// Where padded index `i` reads from on an axis of `size` (nil: a zero cell); the forward and backward
    /// share it, as the interpreter's do.
    static func padSource(_ mode: String, _ i: Int, size: Int) -> Int? {
        if i >= 0 && i < size { return i }
        switch mode {
        case "reflect": return i < 0 ? -i : 2 * (size - 1) - i
        case "replicate": return i < 0 ? 0 : size - 1
        default: return nil
        }
    }

    /// The border rows/columns of a padded axis with their sources, and the middle run copied straight.
    struct PaddedAxis {
        let before: [(index: Int, source: Int?)]
        let after: [(index: Int, source: Int?)]
        let middle: Range<Int>  // indices in the padded axis; source = index − lowerBound
        init(mode: String, size: Int, padBefore: Int, padAfter: Int) {
            before = (0..<padBefore).map { ($0, Lowerings.padSource(mode, $0 - padBefore, size: size)) }
            after = (padBefore + size..<padBefore + size + padAfter).map { ($0, Lowerings.padSource(mode, $0 - padBefore, size: size)) }
            middle = padBefore..<padBefore + size
        }

        /// Calls `body(paddedIndex, sourceIndex?)` for every index, middle ones in a loop.
        func forEach(_ e: KernelEmitter, _ body: (IRValue, IRValue?) -> Void) {
            for (i, s) in before { body(e.index(i), s.map(e.index)) }
            e.loop(middle.lowerBound, middle.upperBound) { i in body(i, i - middle.lowerBound) }
            for (i, s) in after { body(e.index(i), s.map(e.index)) }
        }
    }

    static let spatial: [String: Lowering] = [
        "pad": .kernel { input in
            let x = input.operands[0].shape, y = input.result.shape, p = input.attributes.ints("pad")
            let mode = input.attributes.string("mode")
            let rows = PaddedAxis(mode: mode, size: x[2], padBefore: p[2], padAfter: p[3])
            let cols = PaddedAxis(mode: mode, size: x[3], padBefore: p[0], padAfter: p[1])
            let (h, w, oh, ow) = (x[2], x[3], y[2], y[3])
            return KernelPlan(name: "pad_\(mode)_\(KernelName.pad(p))_\(KernelName.shape(x))", parallelCount: x[0] * x[1]) { e in
                let zero = e.real(0, input.dtype)
                e.loop(e.begin, e.end) { plane in
                    rows.forEach(e) { oy, iy in
                        let yRow = (plane * oh + oy) * ow
                        guard let iy else { return e.loop(ow) { ox in e.store(zero, 1, yRow + ox) } }
                        let xRow = (plane * h + iy) * w
                        for (ox, ix) in cols.before { e.store(ix.map { e.load(0, xRow + $0) } ?? zero, 1, yRow + ox) }
                        e.loop(w) { j in e.store(e.load(0, xRow + j), 1, yRow + (j + cols.middle.lowerBound)) }
                        for (ox, ix) in cols.after { e.store(ix.map { e.load(0, xRow + $0) } ?? zero, 1, yRow + ox) }
                    }
                }
            }
        },
        "upsample_nearest": .kernel { input in
            let x = input.operands[0].shape, s = input.attributes.ints("scale")
            let (h, w, ow) = (x[2], x[3], x[3] * s[1])
            return KernelPlan(name: "upsample_nearest_\(KernelName.pair("x", s))_\(KernelName.shape(x))", parallelCount: x[0] * x[1]) { e in
                e.loop(e.begin, e.end) { plane in
                    e.loop(h) { iy in
                        let xRow = (plane * h + iy) * w
                        e.loop(s[0]) { r in
                            let yRow = ((plane * h + iy) * s[0] + r) * ow
                            e.loop(w) { ix in
                                let v = e.load(0, xRow + ix)
                                for c in 0..<s[1] { e.store(v, 1, yRow + (ix * s[1] + c)) }
                            }
                        }
                    }
                }
            }
        },
        "avg_pool2d": .kernel { input in
            let window = PoolWindow(input.attributes, input: input.operands[0].shape, output: input.result.shape)
            let includePad = input.attributes.bool("count_include_pad")
            return KernelPlan(name: "avg_pool2d_\(window.name)", parallelCount: window.planes) { e in
                window.forEachWindow(e) { plane, out, rows, cols in
                    let sum = e.variable(e.real(0, .f64))
                    e.loop(rows.0, rows.1) { iy in
                        e.loop(cols.0, cols.1) { ix in
                            sum.value = sum.value + e.convert(e.load(0, window.inputIndex(plane, iy, ix)), to: .f64)
                        }
                    }
                    e.store(sum.value / window.divisor(e, includePad: includePad, rows, cols), 1, out)
                }
            }
        },
        "max_pool2d": .kernel { input in
            let window = PoolWindow(input.attributes, input: input.operands[0].shape, output: input.result.shape)
            return KernelPlan(name: "max_pool2d_\(window.name)", parallelCount: window.planes) { e in
                window.forEachWindow(e) { plane, out, rows, cols in
                    let best = e.variable(e.real(-.infinity, input.dtype))
                    e.loop(rows.0, rows.1) { iy in
                        e.loop(cols.0, cols.1) { ix in
                            // Once NaN, the maximum stays NaN (PyTorch propagates it).
                            let v = e.load(0, window.inputIndex(plane, iy, ix))
                            best.value = e.select(v.greaterThan(best.value).or(v.isNaN), v, best.value)
                        }
                    }
                    e.store(best.value, 1, out)
                }
            }
        },
    ]
}

/// A pooling window's geometry: the input range of each output cell, clamped to the input.
struct PoolWindow {
    let kernel: [Int], stride: [Int], pad: [Int]
    let input: [Int], output: [Int]
    var planes: Int { input[0] * input[1] }
    var name: String {
        "\(KernelName.pair("k", kernel))_\(KernelName.pair("s", stride))_\(KernelName.pad(pad))_\(KernelName.shape(input))"
    }

    init(_ attrs: Attributes, input: [Int], output: [Int]) {
        kernel = attrs.ints("kernel")
        stride = attrs.ints("stride")
        pad = attrs.ints("pad")
        self.input = input
        self.output = output
    }

    func inputIndex(_ plane: IRValue, _ iy: IRValue, _ ix: IRValue) -> IRValue { (plane * input[2] + iy) * input[3] + ix }

    /// For each plane in this call's range and each output cell: the plane, the output's flat index, and
    /// the clamped input row and column ranges.
    func forEachWindow(_ e: KernelEmitter, beforePlane: (IRValue) -> Void = { _ in },
                       _ body: (IRValue, IRValue, (IRValue, IRValue), (IRValue, IRValue)) -> Void) {
        e.loop(e.begin, e.end) { plane in
            beforePlane(plane)
            e.loop(output[2]) { oy in
                let rows = range(e, oy, stride: stride[0], before: pad[2], kernel: kernel[0], size: input[2])
                e.loop(output[3]) { ox in
                    let cols = range(e, ox, stride: stride[1], before: pad[0], kernel: kernel[1], size: input[3])
                    body(plane, (plane * output[2] + oy) * output[3] + ox, rows, cols)
                }
            }
        }
    }

    func range(_ e: KernelEmitter, _ o: IRValue, stride: Int, before: Int, kernel: Int, size: Int) -> (IRValue, IRValue) {
        let start = o * stride - before
        return (e.max(start, e.index(0)), e.min(start + kernel, e.index(size)))
    }

    /// The kernel area, or with `count_include_pad` false the cells inside the input.
    func divisor(_ e: KernelEmitter, includePad: Bool, _ rows: (IRValue, IRValue), _ cols: (IRValue, IRValue)) -> IRValue {
        if includePad { return e.real(Double(kernel[0] * kernel[1]), .f64) }
        return e.toReal((rows.1 - rows.0) * (cols.1 - cols.0), .f64)
    }
}

import GraphIR

/// The spatial ops' gradients: each plane's result is zeroed, then upstream cells are added where the
/// forward read them, in the interpreter's order.
extension Lowerings {
    static func zeroPlane(_ e: KernelEmitter, _ buffer: Int, _ plane: IRValue, size: Int, _ dtype: DType) {
        let zero = e.real(0, dtype)
        e.loop(size) { i in e.store(zero, buffer, plane * size + i) }
    }

    static let spatialBackward: [String: Lowering] = [
        "pad_backward": .kernel { input in
            let g = input.operands[0].shape, x = input.result.shape, p = input.attributes.ints("pad")
            let mode = input.attributes.string("mode")
            let rows = PaddedAxis(mode: mode, size: x[2], padBefore: p[2], padAfter: p[3])
            let cols = PaddedAxis(mode: mode, size: x[3], padBefore: p[0], padAfter: p[1])
            let (h, w, gh, gw) = (x[2], x[3], g[2], g[3])
            return KernelPlan(name: "pad_backward_\(mode)_\(KernelName.pad(p))_\(KernelName.shape(x))", parallelCount: x[0] * x[1]) { e in
                e.loop(e.begin, e.end) { plane in
                    zeroPlane(e, 1, plane, size: h * w, input.dtype)
                    rows.forEach(e) { gy, iy in
                        guard let iy else { return }
                        let (xRow, gRow) = ((plane * h + iy) * w, (plane * gh + gy) * gw)
                        for (gx, ix) in cols.before { if let ix { e.accumulate(e.load(0, gRow + gx), 1, xRow + ix) } }
                        e.loop(w) { j in e.accumulate(e.load(0, gRow + (j + cols.middle.lowerBound)), 1, xRow + j) }
                        for (gx, ix) in cols.after { if let ix { e.accumulate(e.load(0, gRow + gx), 1, xRow + ix) } }
                    }
                }
            }
        },
        "upsample_nearest_backward": .kernel { input in
            let x = input.result.shape, s = input.attributes.ints("scale")
            let (h, w, gw) = (x[2], x[3], x[3] * s[1])
            return KernelPlan(name: "upsample_nearest_backward_\(KernelName.pair("x", s))_\(KernelName.shape(x))",
                              parallelCount: x[0] * x[1]) { e in
                e.loop(e.begin, e.end) { plane in
                    e.loop(h) { iy in
                        e.loop(w) { ix in
                            let sum = e.variable(e.real(0, .f64))
                            e.loop(s[0]) { r in
                                let gRow = ((plane * h + iy) * s[0] + r) * gw
                                e.loop(s[1]) { c in
                                    sum.value = sum.value + e.convert(e.load(0, gRow + (ix * s[1] + c)), to: .f64)
                                }
                            }
                            e.store(sum.value, 1, (plane * h + iy) * w + ix)
                        }
                    }
                }
            }
        },
        "avg_pool2d_backward": .kernel { input in
            let window = PoolWindow(input.attributes, input: input.result.shape, output: input.operands[0].shape)
            let includePad = input.attributes.bool("count_include_pad")
            let planeSize = window.input[2] * window.input[3]
            return KernelPlan(name: "avg_pool2d_backward_\(window.name)", parallelCount: window.planes) { e in
                window.forEachWindow(e, beforePlane: { plane in zeroPlane(e, 1, plane, size: planeSize, input.dtype) }) { plane, out, rows, cols in
                    let share = e.convert(e.load(0, out), to: .f64) / window.divisor(e, includePad: includePad, rows, cols)
                    e.loop(rows.0, rows.1) { iy in
                        e.loop(cols.0, cols.1) { ix in e.accumulate(share, 1, window.inputIndex(plane, iy, ix)) }
                    }
                }
            }
        },
        "max_pool2d_backward": .kernel { input in
            let window = PoolWindow(input.attributes, input: input.result.shape, output: input.operands[1].shape)
            let planeSize = window.input[2] * window.input[3]
            return KernelPlan(name: "max_pool2d_backward_\(window.name)", parallelCount: window.planes) { e in
                window.forEachWindow(e, beforePlane: { plane in zeroPlane(e, 2, plane, size: planeSize, input.dtype) }) { plane, out, rows, cols in
                    // The first maximal cell in row-major order wins; a NaN cell always takes over.
                    let best = e.variable(e.real(-.infinity, input.dtype))
                    let winner = e.variable(window.inputIndex(plane, rows.0, cols.0))
                    e.loop(rows.0, rows.1) { iy in
                        e.loop(cols.0, cols.1) { ix in
                            let cell = window.inputIndex(plane, iy, ix)
                            let v = e.load(0, cell)
                            let takes = v.greaterThan(best.value).or(v.isNaN)
                            best.value = e.select(takes, v, best.value)
                            winner.value = e.select(takes, cell, winner.value)
                        }
                    }
                    e.accumulate(e.load(1, out), 2, winner.value)
                }
            }
        },
    ]
}

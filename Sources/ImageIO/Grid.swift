import Foundation
import GraphIR

/// torchvision `make_grid(tensor, nrow, padding=0, normalize=True)` and NVlabs' `write_2images`.
public enum ImageGrid {
    /// Lays out an NCHW tensor (3 channels) as a grid: `min(nrow, N)` images per row, `ceil(N / that)` rows,
    /// no padding; empty cells are black. With `normalize` the whole tensor's min...max is mapped to 0...1
    /// (torchvision `norm_ip`: clamp to [min, max], subtract min, divide by max(max − min, 1e−5));
    /// without it values are taken as [0, 1] (clamped), as torchvision does. Pixels become bytes as
    /// `save_image` does: floor(v · 255 + 0.5).
    public static func make(_ tensor: Tensor, nrow: Int, normalize: Bool = true) -> RGBImage {
        precondition(tensor.shape.count == 4 && tensor.shape[1] == 3 && tensor.shape[0] > 0 && nrow > 0,
                     "make_grid: shape \(tensor.shape), nrow \(nrow)")
        let n = tensor.shape[0], h = tensor.shape[2], w = tensor.shape[3]
        let columns = min(nrow, n), rows = (n + columns - 1) / columns
        var low = 0.0, scale = 1.0
        if normalize {
            low = tensor.scalars.min() ?? 0
            let high = tensor.scalars.max() ?? 0
            scale = 1 / max(high - low, 1e-5)
        }
        let gridWidth = columns * w, gridHeight = rows * h
        var grid = RGBImage(width: gridWidth, height: gridHeight)
        for k in 0..<n {
            let ox = (k % columns) * w, oy = (k / columns) * h
            for c in 0..<3 {
                let base = (k * 3 + c) * h * w
                for y in 0..<h {
                    for x in 0..<w {
                        let v = (tensor.scalars[base + y * w + x] - low) * scale
                        grid.pixels[((oy + y) * gridWidth + ox + x) * 3 + c] = ImageTensor.byte(v)
                    }
                }
            }
        }
        return grid
    }

    /// NVlabs `write_2images` → `__write_images`: concatenate the first `displayCount` images of each output
    /// (along N), `make_grid(nrow: displayCount, padding: 0, normalize: true)`, save as PNG (atomically).
    /// Returns the PNG bytes written.
    @discardableResult
    public static func writeImages(_ outputs: [Tensor], displayCount: Int, to url: URL) throws -> Data {
        let png = try make(concatenate(outputs, first: displayCount), nrow: displayCount).pngData(name: url.path)
        do { try writeFileAtomically(png, to: url) } catch {
            throw ImageError(path: url.path, reason: .writing, detail: "\(error)")
        }
        return png
    }

    /// The first `count` images of each tensor, stacked along N (all must share C, H, W).
    public static func concatenate(_ tensors: [Tensor], first count: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let inner = Array(tensors[0].shape.dropFirst())
        let per = inner.reduce(1, *)
        var scalars: [Double] = []
        var total = 0
        for t in tensors {
            precondition(Array(t.shape.dropFirst()) == inner, "concatenate: shape \(t.shape) vs \(inner)")
            let take = min(count, t.shape[0])
            scalars.append(contentsOf: t.scalars[0..<(take * per)])
            total += take
        }
        return Tensor(tensors[0].dtype, shape: [total] + inner, scalars: scalars)
    }
}

import GraphIR

/// NVlabs MUNIT's data transforms (torchvision on PIL images), on `RGBImage`s.
///
/// Training (`get_data_loader_folder`): `RandomHorizontalFlip` → `Resize(new_size)` → `RandomCrop((h, w))`
/// → `ToTensor` → `Normalize((0.5,)*3, (0.5,)*3)`; `trainingTransform` composes them.
extension RGBImage {
    /// Mirror left-right (torchvision `hflip`).
    public func flippedHorizontally() -> RGBImage {
        var out = self
        for y in 0..<height {
            for x in 0..<width {
                let s = (y * width + (width - 1 - x)) * 3, d = (y * width + x) * 3
                out.pixels[d] = pixels[s]; out.pixels[d + 1] = pixels[s + 1]; out.pixels[d + 2] = pixels[s + 2]
            }
        }
        return out
    }

    /// torchvision `Resize(size)` with an int: the shorter side becomes `size`, the longer side
    /// `int(size * long / short)` (truncated). An image whose shorter side already is `size` is returned as is.
    public static func shorterSideSize(width: Int, height: Int, to size: Int) -> (width: Int, height: Int) {
        if width <= height {
            return width == size ? (width, height) : (size, size * height / width)
        } else {
            return height == size ? (width, height) : (size * width / height, size)
        }
    }

    /// Resize so the shorter side is `size` (see `shorterSideSize`), bilinear.
    public func resized(shorterSide size: Int) -> RGBImage {
        precondition(size > 0 && width > 0 && height > 0, "resize: size \(size) of \(width)x\(height)")
        let target = RGBImage.shorterSideSize(width: width, height: height, to: size)
        if target.width == width && target.height == height { return self }
        return resized(width: target.width, height: target.height)
    }

    /// Plain bilinear resampling with half-pixel centres (PyTorch `interpolate(mode="bilinear",
    /// align_corners=False, antialias=False)`): output pixel i samples source coordinate
    /// `(i + 0.5) * in / out - 0.5`, clamped to [0, in - 1]; results are rounded half away from zero to UInt8.
    ///
    /// Difference from NVlabs' PIL path: PIL's BILINEAR *downsampling* is a triangle filter whose support is
    /// widened by the scale factor (antialiasing), so for shrinking by more than 2× PIL averages more source
    /// pixels than this does; for upsampling and scale factors in (0.5, 1] the two differ by at most rounding
    /// and PIL's fixed-point arithmetic (up to a few levels at edges).
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0 && width > 0 && height > 0, "resize to \(newWidth)x\(newHeight)")
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, Int, Double)] {
            let scale = Double(inSize) / Double(outSize)
            return (0..<outSize).map { i in
                let src = max(0, min(Double(inSize - 1), (Double(i) + 0.5) * scale - 0.5))
                let i0 = Int(src.rounded(.down)), i1 = min(i0 + 1, inSize - 1)
                return (i0, i1, src - Double(i0))
            }
        }
        let xs = taps(newWidth, width), ys = taps(newHeight, height)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for (oy, (y0, y1, fy)) in ys.enumerated() {
            for (ox, (x0, x1, fx)) in xs.enumerated() {
                for c in 0..<3 {
                    let top = Double(self[x0, y0, c]) * (1 - fx) + Double(self[x1, y0, c]) * fx
                    let bottom = Double(self[x0, y1, c]) * (1 - fx) + Double(self[x1, y1, c]) * fx
                    let v = top * (1 - fy) + bottom * fy
                    out[(oy * newWidth + ox) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// The `width × height` window whose top-left pixel is (x, y); it must lie inside the image.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        precondition(x >= 0 && y >= 0 && cropWidth >= 0 && cropHeight >= 0 && x + cropWidth <= width && y + cropHeight <= height,
                     "crop \(cropWidth)x\(cropHeight) at (\(x), \(y)) outside \(width)x\(height)")
        var out = [UInt8]()
        out.reserveCapacity(cropWidth * cropHeight * 3)
        for row in y..<(y + cropHeight) {
            let start = (row * width + x) * 3
            out.append(contentsOf: pixels[start..<(start + cropWidth * 3)])
        }
        return RGBImage(width: cropWidth, height: cropHeight, pixels: out)
    }

    /// torchvision `CenterCrop`: top = int(round((h - th) / 2)), left = int(round((w - tw) / 2)), Python's
    /// round-half-to-even.
    public func centerCropped(width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        let top = Int((Double(height - cropHeight) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(width - cropWidth) / 2).rounded(.toNearestOrEven))
        return cropped(x: left, y: top, width: cropWidth, height: cropHeight)
    }

    /// torchvision `RandomCrop` (no padding): top uniform in 0...h-th, left uniform in 0...w-tw, drawn from
    /// `rng` (top first, as torchvision's `get_params`).
    public func randomCropped<G: RandomNumberGenerator>(width cropWidth: Int, height cropHeight: Int, using rng: inout G) -> RGBImage {
        precondition(cropWidth <= width && cropHeight <= height, "random crop \(cropWidth)x\(cropHeight) of \(width)x\(height)")
        let top = Int.random(in: 0...(height - cropHeight), using: &rng)
        let left = Int.random(in: 0...(width - cropWidth), using: &rng)
        return cropped(x: left, y: top, width: cropWidth, height: cropHeight)
    }

    /// NVlabs' training transform: flip with probability 0.5 (if `flip`), resize the shorter side to
    /// `newSize` (nil: no resize, as NVlabs without `new_size`), random crop to `cropWidth × cropHeight`.
    /// The resized image must cover the crop (see `resizedSize`).
    public func trainingTransform<G: RandomNumberGenerator>(
        newSize: Int?, cropWidth: Int, cropHeight: Int, flip: Bool = true, using rng: inout G
    ) -> RGBImage {
        var image = self
        if flip, Double.random(in: 0..<1, using: &rng) < 0.5 { image = image.flippedHorizontally() }
        if let newSize { image = image.resized(shorterSide: newSize) }
        return image.randomCropped(width: cropWidth, height: cropHeight, using: &rng)
    }

    /// NVlabs' test transform: resize the shorter side to `newSize` (nil: no resize), center crop. The
    /// resized image must cover the crop (see `resizedSize`).
    public func testTransform(newSize: Int?, cropWidth: Int, cropHeight: Int) -> RGBImage {
        (newSize.map { resized(shorterSide: $0) } ?? self).centerCropped(width: cropWidth, height: cropHeight)
    }

    /// The size the transforms crop from: this image's with the shorter side resized to `newSize` (nil: as is).
    /// Throws, naming `name`, when that image would have more than `maximumPixels` pixels (a 100000×1 image
    /// resized to a shorter side of 256 would be 6.5 billion).
    public func resizedSize(newSize: Int?, name: String) throws -> (width: Int, height: Int) {
        guard let newSize else { return (width, height) }
        let longer = Double(newSize) * Double(Swift.max(width, height)) / Double(Swift.min(width, height))
        guard Double(newSize) * longer <= Double(RGBImage.maximumPixels), longer <= Double(RGBImage.maximumSide) else {
            throw ImageError(path: name, reason: .unsupported, detail: "resizing this \(width)×\(height) image so its "
                + "shorter side is \(newSize) (new_size) would make it \(String(format: "%.0f", longer)) pixels long and "
                + "\(String(format: "%.3g", Double(newSize) * longer)) pixels in all; the limits are \(RGBImage.maximumSide) "
                + "a side and \(RGBImage.maximumPixels) in all")
        }
        return RGBImage.shorterSideSize(width: width, height: height, to: newSize)
    }
}

/// Conversions between images and NCHW tensors in [−1, 1].
public enum ImageTensor {
    /// `ToTensor` + `Normalize(0.5, 0.5)`: value (x / 255 − 0.5) / 0.5, NCHW, f32 (or `dtype`).
    /// All images must have the same size.
    public static func batch(_ images: [RGBImage], dtype: DType = .f32) -> Tensor {
        precondition(!images.isEmpty, "batch of no images")
        let w = images[0].width, h = images[0].height
        var scalars = [Double](repeating: 0, count: images.count * 3 * h * w)
        for (n, image) in images.enumerated() {
            precondition(image.width == w && image.height == h, "batch: image \(n) is \(image.width)x\(image.height), not \(w)x\(h)")
            for c in 0..<3 {
                let base = (n * 3 + c) * h * w
                for i in 0..<(h * w) {
                    scalars[base + i] = (Double(Float(image.pixels[3 * i + c]) / 255) - 0.5) / 0.5
                }
            }
        }
        return Tensor(dtype, shape: [images.count, 3, h, w], scalars: scalars)
    }

    /// Image `index` of an NCHW tensor (3 channels) in [−1, 1]: clamped, mapped by (v + 1) / 2 · 255 and
    /// rounded to nearest (torchvision `save_image`'s `mul(255).add(0.5).clamp(0, 255)` then truncation).
    public static func image(_ tensor: Tensor, index: Int = 0) -> RGBImage {
        precondition(tensor.shape.count == 4 && tensor.shape[1] == 3 && index < tensor.shape[0], "image: shape \(tensor.shape)")
        let h = tensor.shape[2], w = tensor.shape[3]
        var pixels = [UInt8](repeating: 0, count: h * w * 3)
        for c in 0..<3 {
            let base = (index * 3 + c) * h * w
            for i in 0..<(h * w) {
                let unit = (max(-1, min(1, tensor.scalars[base + i])) + 1) / 2
                pixels[3 * i + c] = byte(unit)
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// A value in [0, 1] (clamped) as a byte: floor(v · 255 + 0.5), as torchvision's `save_image`.
    @inlinable public static func byte(_ unit: Double) -> UInt8 {
        guard unit.isFinite else { return 0 }
        return UInt8(max(0, min(255, (unit * 255 + 0.5).rounded(.down))))
    }
}

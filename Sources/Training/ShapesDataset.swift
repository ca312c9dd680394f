import Foundation
import GraphIR
import ImageIO
import MUNITGraphs

/// The embedded default: a two-domain data set munitc draws itself. Domain A: black line drawings of
/// circles, squares and triangles on white; domain B: the same kinds of shapes filled with a colour and
/// shaded as if lit from the top left, on a soft background. Unpaired, as MUNIT's data is.
public enum ShapesDataset {
    public static let size = 64

    /// The config `munitc train` uses without `--config`: the built-in one (`MUNITConfig.defaultYAML`, small
    /// networks, 64×64 crops) with its data under `root`.
    public static func config(dataRoot: String, trainer: TrainerKind = .munit) -> String {
        MUNITConfig.defaultYAML(for: trainer).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("data_root:") ? "data_root: \(dataRoot)" : String($0) }
            .joined(separator: "\n")
    }

    /// Writes `trainA`, `trainB`, `testA`, `testB` under `root` (unless they are already there).
    public static func generate(at root: URL, trainCount: Int = 240, testCount: Int = 8, seed: UInt64 = 2026) throws {
        let marker = root.appendingPathComponent(".complete")
        if FileManager.default.fileExists(atPath: marker.path) { return }
        var rng = SplitMix64(seed: seed)
        for (split, count) in [("train", trainCount), ("test", testCount)] {
            for domain in ["A", "B"] {
                let folder = root.appendingPathComponent(split + domain)
                do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                    throw TrainingError("\(folder.path): cannot create the generated data folder (\(fileErrorReason(error)))")
                }
                for i in 0..<count {
                    let shape = Shape.random(using: &rng)
                    let image = domain == "A" ? drawLines(shape) : drawFilled(shape, using: &rng)
                    try image.writePNG(to: folder.appendingPathComponent(String(format: "%04d.png", i)))
                }
            }
        }
        FileManager.default.createFile(atPath: marker.path, contents: Data())
    }

    struct Shape {
        enum Kind: CaseIterable { case circle, square, triangle }
        var kind: Kind
        var cx, cy, radius, angle: Double

        static func random(using rng: inout SplitMix64) -> Shape {
            let radius = Double.random(in: 10...22, using: &rng)
            return Shape(kind: Kind.allCases.randomElement(using: &rng)!,
                         cx: Double.random(in: radius + 4...Double(size) - radius - 4, using: &rng),
                         cy: Double.random(in: radius + 4...Double(size) - radius - 4, using: &rng),
                         radius: radius, angle: Double.random(in: 0..<(2 * .pi), using: &rng))
        }

        /// Signed distance-like value: negative inside, positive outside, about one unit per pixel at the edge.
        func distance(_ x: Double, _ y: Double) -> Double {
            let (dx, dy) = (x - cx, y - cy)
            switch kind {
            case .circle: return (dx * dx + dy * dy).squareRoot() - radius
            case .square:
                let (c, s) = (cos(angle), sin(angle))
                let (u, v) = (abs(c * dx + s * dy), abs(-s * dx + c * dy))
                return max(u, v) - radius * 0.8
            case .triangle:
                var d = -Double.infinity
                for k in 0..<3 {
                    let a = angle + Double(k) * 2 * .pi / 3
                    d = max(d, cos(a) * dx + sin(a) * dy - radius * 0.5)
                }
                return d
            }
        }
    }

    static func drawLines(_ shape: Shape) -> RGBImage {
        var image = RGBImage(width: size, height: size, fill: (255, 255, 255))
        for y in 0..<size {
            for x in 0..<size {
                let d = abs(shape.distance(Double(x) + 0.5, Double(y) + 0.5))
                let ink = max(0, min(1, 1.6 - d))  // a line about two pixels wide, antialiased
                let v = UInt8(255 * (1 - ink))
                for c in 0..<3 { image.pixels[(y * size + x) * 3 + c] = v }
            }
        }
        return image
    }

    static func drawFilled(_ shape: Shape, using rng: inout SplitMix64) -> RGBImage {
        let hue = Double.random(in: 0..<1, using: &rng)
        let base = rgb(hue: hue, saturation: 0.75, value: 0.9)
        let background = rgb(hue: Double.random(in: 0..<1, using: &rng), saturation: 0.12, value: 0.95)
        var image = RGBImage(width: size, height: size)
        for y in 0..<size {
            for x in 0..<size {
                let (px, py) = (Double(x) + 0.5, Double(y) + 0.5)
                let inside = max(0, min(1, 0.5 - shape.distance(px, py)))
                // Lit from the top left: brighter towards it, darker away.
                let light = 1.15 - 0.55 * ((px - shape.cx) + (py - shape.cy) + 2 * shape.radius) / (4 * shape.radius)
                for c in 0..<3 {
                    let fill = min(1, base[c] * light), back = background[c] * (0.9 + 0.1 * Double(y) / Double(size))
                    image.pixels[(y * size + x) * 3 + c] = UInt8(255 * (inside * fill + (1 - inside) * back))
                }
            }
        }
        return image
    }

    static func rgb(hue: Double, saturation s: Double, value v: Double) -> [Double] {
        let h = hue * 6, i = Int(h) % 6, f = h - Double(Int(h))
        let (p, q, t) = (v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f)))
        switch i {
        case 0: return [v, t, p]
        case 1: return [q, v, p]
        case 2: return [p, v, t]
        case 3: return [p, q, v]
        case 4: return [t, p, v]
        default: return [v, p, q]
        }
    }
}

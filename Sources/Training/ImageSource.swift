import Foundation
import GraphIR
import ImageIO
import MUNITGraphs

/// A training or reporting failure the user can act on: names the file, folder or config key.
public struct TrainingError: DescribedError, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The image files of one split of one domain (NVlabs' `trainA`, `testB`, …), in a fixed order.
public struct ImageList: Sendable {
    public var name: String
    public var files: [URL]
    /// Channels the domain's network takes (`input_dim_a`/`_b`): 3, or 1 for grayscale.
    public var channels: Int
    /// The shorter side images are resized to (`new_size`, else `new_size_a`/`_b`); nil: no resize.
    public var newSize: Int? = nil

    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// The images of `folder`, sorted by name (NVlabs' `ImageFolder` sorts too).
    public static func folder(_ folder: URL, name: String, channels: Int) throws -> ImageList {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainingError("\(folder.path): the \(name) image folder does not exist")
        }
        // Listed through its resolved path: a symlinked folder lists as its target does.
        let entries: [URL]
        do { entries = try FileManager.default.contentsOfDirectory(at: folder.resolvingSymlinksInPath(), includingPropertiesForKeys: nil) } catch {
            throw TrainingError("\(folder.path): cannot list the \(name) image folder (\(fileErrorReason(error)))")
        }
        let files = entries.filter { extensions.contains($0.pathExtension.lowercased()) }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !files.isEmpty else { throw TrainingError("\(folder.path): the \(name) folder has no .jpg, .jpeg or .png images") }
        return ImageList(name: name, files: files, channels: channels)
    }

    /// NVlabs' list-file form: one path per line, relative to `root`.
    static func list(_ listFile: URL, root: URL, name: String, channels: Int) throws -> ImageList {
        guard let text = try? String(contentsOf: listFile, encoding: .utf8) else {
            throw TrainingError("\(listFile.path): cannot read the \(name) image list")
        }
        let files = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { root.appendingPathComponent($0).standardizedFileURL }
        guard !files.isEmpty else { throw TrainingError("\(listFile.path): the \(name) image list is empty") }
        for file in files where !FileManager.default.fileExists(atPath: file.path) {
            throw TrainingError("\(file.path): listed in \(listFile.path) but missing")
        }
        return ImageList(name: name, files: files, channels: channels)
    }
}

/// The four image lists of a config: `data_root/{trainA,trainB,testA,testB}` or NVlabs' list-file keys.
/// Relative paths resolve against the working directory, as NVlabs' scripts do.
public struct DataSource: Sendable {
    public var trainA, trainB, testA, testB: ImageList

    public init(config: MUNITConfig, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) throws {
        func resolve(_ path: String) -> URL {
            path.hasPrefix("/") ? URL(fileURLWithPath: path) : workingDirectory.appendingPathComponent(path).standardizedFileURL
        }
        let channels = (a: config.inputDimA, b: config.inputDimB)
        // Checked before any graph is built: a domain whose channels images cannot give would only fail after
        // compiling, on a tensor shape.
        try DomainTensors.checkImageChannels(channels.a, key: "input_dim_a", images: "the trainA and testA images")
        try DomainTensors.checkImageChannels(channels.b, key: "input_dim_b", images: "the trainB and testB images")
        if let root = config.dataRoot {
            let base = resolve(root)
            trainA = try .folder(base.appendingPathComponent("trainA"), name: "trainA", channels: channels.a)
            trainB = try .folder(base.appendingPathComponent("trainB"), name: "trainB", channels: channels.b)
            testA = try .folder(base.appendingPathComponent("testA"), name: "testA", channels: channels.a)
            testB = try .folder(base.appendingPathComponent("testB"), name: "testB", channels: channels.b)
            setSizes(config)
            return
        }
        func list(_ split: String, _ domain: String, _ channels: Int) throws -> ImageList {
            let folderKey = "data_folder_\(split)_\(domain)", listKey = "data_list_\(split)_\(domain)"
            guard let folder = config.dataLists[folderKey], let listFile = config.dataLists[listKey] else {
                throw TrainingError("the config names no images: set data_root (with trainA, trainB, testA, testB), "
                    + "or \(folderKey) and \(listKey) and their train/test, a/b siblings")
            }
            return try .list(resolve(listFile), root: resolve(folder), name: "\(split)\(domain.uppercased())", channels: channels)
        }
        trainA = try list("train", "a", channels.a)
        trainB = try list("train", "b", channels.b)
        testA = try list("test", "a", channels.a)
        testB = try list("test", "b", channels.b)
        setSizes(config)
    }

    /// NVlabs: `new_size` for both domains, else `new_size_a` and `new_size_b`.
    private mutating func setSizes(_ config: MUNITConfig) {
        let (a, b) = (config.newSize ?? config.newSizeA, config.newSize ?? config.newSizeB)
        (trainA.newSize, testA.newSize, trainB.newSize, testB.newSize) = (a, a, b, b)
    }
}

/// Decodes an image and applies NVlabs' transforms (ImageIO's `trainingTransform`, `testTransform`): resize
/// the shorter side to the domain's new size (if set), crop, and for training flip first.
struct ImagePipeline: Sendable {
    var cropWidth: Int
    var cropHeight: Int

    func load(_ file: URL, of list: ImageList, train: Bool, rng: inout SplitMix64) throws -> RGBImage {
        let newSize = list.newSize
        let image: RGBImage, resized: (width: Int, height: Int)
        do {
            image = try RGBImage.decode(contentsOf: file)
            resized = try image.resizedSize(newSize: newSize, name: file.path)
        } catch { throw TrainingError("\(error)") }
        // The transforms' crops require the resized image to cover the crop; say which file does not.
        guard resized.width >= cropWidth, resized.height >= cropHeight else {
            throw TrainingError("\(file.path): the image is \(image.width)×\(image.height), "
                + "\(newSize.map { "\(resized.width)×\(resized.height) after resizing its shorter side to new_size \($0), " } ?? "")"
                + "smaller than the crop \(cropWidth)×\(cropHeight) (crop_image_width × crop_image_height)")
        }
        return train ? image.trainingTransform(newSize: newSize, cropWidth: cropWidth, cropHeight: cropHeight, using: &rng)
                     : image.testTransform(newSize: newSize, cropWidth: cropWidth, cropHeight: cropHeight)
    }
}

/// The tensors training and translation feed the networks and read back: images of a domain, style codes.
public enum DomainTensors {
    /// The channel counts an image domain can have (`input_dim_a`/`_b`): RGB, or grayscale made from RGB.
    public static let imageChannels: Set<Int> = [1, 3]

    /// Throws naming the config key when `images` (decoded as RGB) cannot feed a domain of `channels`.
    public static func checkImageChannels(_ channels: Int, key: String, images: String) throws {
        guard !imageChannels.contains(channels) else { return }
        throw TrainingError("key '\(key)' is \(channels), but \(images) are read as RGB, which gives a "
            + "domain 3 channels (or 1, as grayscale); set \(key) to 3 or 1")
    }

    /// A batch [N, channels, H, W] in [−1, 1]: NVlabs' ToTensor + Normalize, grayscale by torchvision's
    /// weights for 1-channel domains.
    public static func batch(_ images: [RGBImage], channels: Int) -> Tensor {
        let rgb = ImageTensor.batch(images)
        guard channels == 1 else { return rgb }
        let (n, plane) = (images.count, rgb.shape[2] * rgb.shape[3])
        var gray = [Double](repeating: 0, count: n * plane)
        for i in 0..<n {
            for p in 0..<plane {
                let (r, g, b) = (rgb.scalars[(i * 3) * plane + p], rgb.scalars[(i * 3 + 1) * plane + p], rgb.scalars[(i * 3 + 2) * plane + p])
                gray[i * plane + p] = 0.299 * r + 0.587 * g + 0.114 * b
            }
        }
        return Tensor(.f32, shape: [n, 1, rgb.shape[2], rgb.shape[3]], scalars: gray)
    }

    /// Three channels for pictures (NVlabs' `expand(-1, 3, -1, -1)` of grayscale domains).
    public static func rgb(_ t: Tensor) -> Tensor {
        guard t.shape[1] == 1 else { return t }
        let (n, plane) = (t.shape[0], t.shape[2] * t.shape[3])
        var scalars: [Double] = []
        scalars.reserveCapacity(n * 3 * plane)
        for i in 0..<n { for _ in 0..<3 { scalars += t.scalars[(i * plane)..<((i + 1) * plane)] } }
        return Tensor(t.dtype, shape: [n, 3, t.shape[2], t.shape[3]], scalars: scalars)
    }

    /// `count` standard-normal style codes [count, dim, 1, 1] (NVlabs' `torch.randn`).
    public static func styles(count: Int, dim: Int, using rng: inout SplitMix64) -> Tensor {
        let type = TensorType(.f32, [count, dim, 1, 1])
        return Tensor(type, scalars: (0..<type.elementCount).map { _ in rng.nextNormal() })
    }
}

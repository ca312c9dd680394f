import Foundation
import struct GraphIR.MemoryBudget
import func GraphIR.fileErrorReason
import Yams

extension MUNITConfig {
    /// What a config is read for: training needs every key MUNIT's trainer reads; translation only the
    /// generators' (`gen`, `input_dim_a`/`_b`, `new_size*`), the rest defaulting to NVlabs' values.
    public enum Purpose: Sendable {
        case training, translation
    }

    /// Reads and checks an NVlabs-style YAML config file for `trainer`; errors and warnings name the file.
    public static func load(contentsOf url: URL, for purpose: Purpose = .training, trainer: TrainerKind = .munit) throws -> MUNITConfig {
        // Messages use the path as the user gave it (relative stays relative).
        let name = url.relativePath
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw MUNITConfigError(file: name, key: nil, "cannot read the config: \(fileErrorReason(error))")
        }
        return try parse(yaml: text, file: name, for: purpose, trainer: trainer)
    }

    /// Parses and checks NVlabs-style YAML text. `file` names the text in messages.
    ///
    /// Every key `trainer` uses is type-checked; a missing key the model needs, or a value outside a key's
    /// choices, is a `MUNITConfigError`. Keys NVlabs' code reads but the graphs do not (`num_workers`, the
    /// data paths, …) are accepted; unknown keys, and in a UNIT config MUNIT's own keys, become `warnings`.
    /// Logging intervals default to NVlabs'.
    /// Values are bounded by what the networks can be (`MUNITConfigBounds`), and the nesting of the YAML
    /// by `maximumNesting` before it is parsed.
    public static func parse(yaml: String, file: String = "<config>", for purpose: Purpose = .training,
                             trainer: TrainerKind = .munit) throws -> MUNITConfig {
        if let at = YAMLNesting.firstExcess(in: yaml, limit: MUNITConfigBounds.maximumNesting) {
            throw MUNITConfigError(file: file, line: at.line, column: at.column, key: nil,
                                   "nested more than \(MUNITConfigBounds.maximumNesting) levels deep; a MUNIT config nests 2")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw MUNITConfigError(file: file, key: nil, "not valid YAML: \(error)")
        }
        guard let root else { throw MUNITConfigError(file: file, key: nil, "the config is empty") }
        var (config, warnings) = try ConfigReader(file: file, purpose: purpose, trainer: trainer).read(root)
        config.source = file
        config.warnings = warnings
        return config
    }
}

/// UNIT's loss weights: a MUNIT config may carry them (the configs share one layout) without a warning.
private let unitOnlyTopLevelKeys: Set<String> = ["recon_kl_w", "recon_kl_cyc_w"]

/// The list-file data keys of NVlabs' `*_list.yaml` configs.
private let dataListKeys: [String] = ["train", "test"].flatMap { split in
    ["a", "b"].flatMap { domain in ["data_folder_\(split)_\(domain)", "data_list_\(split)_\(domain)"] }
}

/// Walks the YAML tree of a config, checking each key as it is read.
private struct ConfigReader {
    let file: String
    let purpose: MUNITConfig.Purpose
    let trainer: TrainerKind

    /// The config and the warnings about unknown keys.
    func read(_ root: Node) throws -> (MUNITConfig, [MUNITConfigWarning]) {
        let top = try section(root, path: nil)
        var c = MUNITConfig()
        c.source = file
        c.batchSize = try trainingValue(top, "batch_size", int(minimum: 1), c.batchSize)
        c.lr = try trainingValue(top, "lr", number(minimum: 0), c.lr)
        c.beta1 = try trainingValue(top, "beta1", number(minimum: 0, below: 1), c.beta1)
        c.beta2 = try trainingValue(top, "beta2", number(minimum: 0, below: 1), c.beta2)
        c.weightDecay = try trainingValue(top, "weight_decay", number(minimum: 0), c.weightDecay)
        c.emaBeta = try top.optional("ema_beta", number(minimum: 0, below: 1))
        c.emaStartIter = try top.optional("ema_start_iter", int(minimum: 0)) ?? 0
        c.initialization = try trainingValue(top, "init", choice(MUNITConfig.Initialization.self), c.initialization)
        // NVlabs' get_scheduler treats a missing lr_policy as constant.
        c.lrPolicy = try top.optional("lr_policy", choice(MUNITConfig.LearningRatePolicy.self)) ?? .constant
        if c.lrPolicy == .step && purpose == .training {
            c.stepSize = try top.required("step_size", int(minimum: 1))
            c.gamma = try top.required("gamma", number(minimum: 0))
        } else {
            c.stepSize = try top.optional("step_size", int(minimum: 1)) ?? c.stepSize
            c.gamma = try top.optional("gamma", number(minimum: 0)) ?? c.gamma
        }
        c.ganW = try trainingValue(top, "gan_w", number(minimum: 0), c.ganW)
        c.reconXW = try trainingValue(top, "recon_x_w", number(minimum: 0), c.reconXW)
        c.trainer = trainer
        switch trainer {
        case .munit:
            c.reconSW = try trainingValue(top, "recon_s_w", number(minimum: 0), c.reconSW)
            c.reconCW = try trainingValue(top, "recon_c_w", number(minimum: 0), c.reconCW)
            for key in unitOnlyTopLevelKeys { _ = top.accept(key) }
        case .unit:
            c.reconKLW = try trainingValue(top, "recon_kl_w", number(minimum: 0), c.reconKLW)
            c.reconKLCycW = try trainingValue(top, "recon_kl_cyc_w", number(minimum: 0), c.reconKLCycW)
        }
        c.reconXCycW = try trainingValue(top, "recon_x_cyc_w", number(minimum: 0), c.reconXCycW)
        c.vggW = try trainingValue(top, "vgg_w", number(minimum: 0), c.vggW)
        c.vggModelPath = try top.optional("vgg_model_path", string)
        c.inputDimA = try top.required("input_dim_a", int(minimum: 1))
        c.inputDimB = try top.required("input_dim_b", int(minimum: 1))
        c.cropImageHeight = try trainingValue(top, "crop_image_height", int(minimum: 1), c.cropImageHeight)
        c.cropImageWidth = try trainingValue(top, "crop_image_width", int(minimum: 1), c.cropImageWidth)
        c.newSize = try top.optional("new_size", int(minimum: 1))
        c.newSizeA = try top.optional("new_size_a", int(minimum: 1))
        c.newSizeB = try top.optional("new_size_b", int(minimum: 1))
        c.maxIter = try trainingValue(top, "max_iter", int(minimum: 1), c.maxIter)
        c.logIter = try top.optional("log_iter", int(minimum: 1)) ?? c.logIter
        c.imageSaveIter = try top.optional("image_save_iter", int(minimum: 1)) ?? c.imageSaveIter
        c.imageDisplayIter = try top.optional("image_display_iter", int(minimum: 1)) ?? c.imageDisplayIter
        c.snapshotSaveIter = try top.optional("snapshot_save_iter", int(minimum: 1)) ?? c.snapshotSaveIter
        c.displaySize = try top.optional("display_size", int(minimum: 1)) ?? c.displaySize
        c.numWorkers = try top.optional("num_workers", int(minimum: 0))
        c.dataRoot = try top.optional("data_root", string)
        for key in dataListKeys {
            if let value = try top.optional(key, string) { c.dataLists[key] = value }
        }

        let gen = try section(try top.required("gen", node), path: "gen")
        c.gen.dim = try gen.required("dim", int(minimum: 1))
        if trainer.hasStyle {
            c.gen.mlpDim = try gen.required("mlp_dim", int(minimum: 1))
            c.gen.styleDim = try gen.required("style_dim", int(minimum: 1))
        }
        c.gen.activ = try gen.required("activ", choice(MUNITConfig.Activation.self))
        c.gen.nDownsample = try gen.required("n_downsample", int(minimum: 0))
        c.gen.nRes = try gen.required("n_res", int(minimum: 0))
        c.gen.padType = try gen.required("pad_type", choice(MUNITConfig.PadType.self))

        // Translation reads no discriminator: its section may be missing.
        var sections = [top, gen]
        if let disNode = purpose == .training ? try top.required("dis", node) : try top.optional("dis", node) {
            let dis = try section(disNode, path: "dis")
            sections.append(dis)
            c.dis.dim = try trainingValue(dis, "dim", int(minimum: 1), c.dis.dim)
            c.dis.norm = try trainingValue(dis, "norm", choice(MUNITConfig.DiscriminatorNorm.self), c.dis.norm)
            c.dis.activ = try trainingValue(dis, "activ", choice(MUNITConfig.Activation.self), c.dis.activ)
            c.dis.nLayer = try trainingValue(dis, "n_layer", int(minimum: 1), c.dis.nLayer)
            c.dis.ganType = try trainingValue(dis, "gan_type", choice(MUNITConfig.GANType.self), c.dis.ganType)
            c.dis.numScales = try trainingValue(dis, "num_scales", int(minimum: 1), c.dis.numScales)
            c.dis.padType = try trainingValue(dis, "pad_type", choice(MUNITConfig.PadType.self), c.dis.padType)
        }

        try checkBounds(c, sections: sections)
        try checkConsistency(c, top: top)
        return (c, sections.flatMap { $0.unknownKeyWarnings(otherTrainer: otherTrainerKeys) })
    }

    /// A key only training reads: required for training, else optional with NVlabs' default.
    func trainingValue<T>(_ s: Section, _ key: String, _ parse: (Node, String) throws -> T, _ fallback: T) throws -> T {
        purpose == .training ? try s.required(key, parse) : try s.optional(key, parse) ?? fallback
    }

    /// The networks' geometry and the memory training needs, against the machine-independent ceiling;
    /// a refusal points at the key it names.
    func checkBounds(_ c: MUNITConfig, sections: [Section]) throws {
        func positioned(_ error: MUNITConfigError) -> MUNITConfigError {
            guard let key = error.key else { return error }
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            let owner = parts.count == 2 ? sections.first { $0.path == parts[0] } : sections.first
            return owner?.error(parts.last ?? key, error.message) ?? error
        }
        // Translation sees images of any size, not the training crop the geometry is checked at.
        let ceiling = MemoryBudget(bytes: MUNITConfigBounds.maximumBytes, origin: "munitc's limit for any machine")
        do { try c.checkTrainingMemory(against: ceiling, geometry: purpose == .training, held: 0) }
        catch let error as MUNITConfigError { throw positioned(error) }
    }

    /// Keys only the other trainer reads (dotted), for the warning's wording.
    var otherTrainerKeys: Set<String> {
        trainer == .unit ? ["recon_s_w", "recon_c_w", "gen.mlp_dim", "gen.style_dim"] : []
    }

    /// Rules that tie keys together.
    func checkConsistency(_ c: MUNITConfig, top: Section) throws {
        // The decoder upsamples the content code by 2^n_downsample; anything else breaks the recon losses.
        let factor = 1 << c.gen.nDownsample
        for (key, size) in [("crop_image_height", c.cropImageHeight), ("crop_image_width", c.cropImageWidth)]
        where size % factor != 0 {
            throw top.error(key, "\(size) is not a multiple of 2^gen.n_downsample = \(factor), so the decoder "
                + "cannot restore the image size")
        }
        if c.vggW > 0 {
            for (key, dim) in [("input_dim_a", c.inputDimA), ("input_dim_b", c.inputDimB)] where dim != 3 {
                throw top.error(key, "is \(dim), but the perceptual loss (vgg_w > 0) needs RGB images (3 channels)")
            }
        }
    }

    // MARK: Sections

    /// One YAML mapping of the config, remembering which keys were read.
    final class Section {
        let reader: ConfigReader
        let path: String?
        let mark: Mark?
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        var read: Set<String> = []

        init(reader: ConfigReader, path: String?, mark: Mark?) {
            self.reader = reader
            self.path = path
            self.mark = mark
        }

        func dotted(_ key: String) -> String { path.map { "\($0).\(key)" } ?? key }

        func accept(_ key: String) -> Node? {
            read.insert(key)
            return entries.first { $0.key == key }?.value
        }

        func required<T>(_ key: String, _ parse: (Node, String) throws -> T) throws -> T {
            guard let value = accept(key) else {
                // Point into a gen:/dis: section; a missing top-level key has no useful position.
                let at = path == nil ? nil : mark
                throw MUNITConfigError(file: reader.file, line: at?.line, column: at?.column, key: dotted(key),
                                       "missing; \(reader.trainer.rawValue) needs it" + (path.map { " (in the '\($0):' section)" } ?? ""))
            }
            return try parse(value, dotted(key))
        }

        func optional<T>(_ key: String, _ parse: (Node, String) throws -> T) throws -> T? {
            try accept(key).map { try parse($0, dotted(key)) }
        }

        func error(_ key: String, _ message: String) -> MUNITConfigError {
            let mark = entries.first { $0.key == key }?.value.mark
            return MUNITConfigError(file: reader.file, line: mark?.line, column: mark?.column, key: dotted(key), message)
        }

        /// Keys nobody read; those in `otherTrainer` are named as the other trainer's.
        func unknownKeyWarnings(otherTrainer: Set<String>) -> [MUNITConfigWarning] {
            entries.filter { !read.contains($0.key) }.map { entry in
                let key = dotted(entry.key)
                let message = otherTrainer.contains(key) ? "only the MUNIT trainer uses it, ignored" : "unknown key, ignored"
                return MUNITConfigWarning(file: reader.file, line: entry.keyNode.mark?.line, column: entry.keyNode.mark?.column,
                                          key: key, message)
            }
        }
    }

    func section(_ node: Node, path: String?) throws -> Section {
        guard case .mapping(let mapping) = node else {
            throw typeError(node, path: path, expected: "a mapping of keys to values")
        }
        let s = Section(reader: self, path: path, mark: mapping.mark)
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else { throw typeError(keyNode, path: path, expected: "a key") }
            if let earlier = s.entries.first(where: { $0.key == key.string }) {
                let line = earlier.keyNode.mark.map { " (first on line \($0.line))" } ?? ""
                throw MUNITConfigError(file: file, line: key.mark?.line, column: key.mark?.column,
                                       key: s.dotted(key.string), "appears twice\(line)")
            }
            s.entries.append((key.string, keyNode, value))
        }
        return s
    }

    // MARK: Values

    func node(_ node: Node, _ path: String) throws -> Node { node }

    func int(minimum: Int) -> (Node, String) throws -> Int {
        { node, path in
            guard let text = plainScalar(node), let value = Int(text) else {
                throw typeError(node, path: path, expected: "an integer")
            }
            guard value >= minimum else { throw valueError(node, path: path, "must be at least \(minimum), got \(value)") }
            return value
        }
    }

    /// A number: YAML ints and floats, and (leniently) plain scalars Swift reads as a number, such as `1e-4`
    /// (PyYAML reads that as a string).
    func number(minimum: Double, below upper: Double? = nil) -> (Node, String) throws -> Double {
        { node, path in
            guard let text = plainScalar(node), let value = Double(text.replacingOccurrences(of: "_", with: "")),
                  value.isFinite else {
                throw typeError(node, path: path, expected: "a number")
            }
            guard value >= minimum else { throw valueError(node, path: path, "must be at least \(minimum), got \(text)") }
            if let upper, value >= upper { throw valueError(node, path: path, "must be below \(upper), got \(text)") }
            return value
        }
    }

    func string(_ node: Node, _ path: String) throws -> String {
        guard case .scalar(let scalar) = node, !isNull(scalar) else { throw typeError(node, path: path, expected: "a string") }
        return scalar.string
    }

    func choice<E: RawRepresentable & CaseIterable>(_ type: E.Type) -> (Node, String) throws -> E where E.RawValue == String {
        { node, path in
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            guard case .scalar(let scalar) = node, !isNull(scalar) else {
                throw typeError(node, path: path, expected: "one of \(allowed)")
            }
            guard let value = E(rawValue: scalar.string) else {
                throw valueError(node, path: path, "'\(scalar.string)' is not one of \(allowed)")
            }
            return value
        }
    }

    /// The text of an unquoted, non-null scalar (quoted scalars are strings, never numbers).
    func plainScalar(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any, !isNull(scalar) else {
            return nil
        }
        return scalar.string
    }

    func isNull(_ scalar: Node.Scalar) -> Bool {
        (scalar.style == .plain || scalar.style == .any) && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let s):
            if isNull(s) { return "nothing (null)" }
            return s.style == .plain || s.style == .any ? "'\(s.string)'" : "the quoted string \"\(s.string)\""
        }
    }

    func typeError(_ node: Node, path: String?, expected: String) -> MUNITConfigError {
        MUNITConfigError(file: file, line: node.mark?.line, column: node.mark?.column, key: path,
                         "expected \(expected), got \(describe(node))")
    }

    func valueError(_ node: Node, path: String, _ message: String) -> MUNITConfigError {
        MUNITConfigError(file: file, line: node.mark?.line, column: node.mark?.column, key: path, message)
    }
}

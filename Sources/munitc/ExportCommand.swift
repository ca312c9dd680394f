import ArgumentParser
import Foundation
import GraphIR
import MUNITGraphs

/// `munitc export --config C.yaml [--trainer MUNIT|UNIT] --graph dis-loss|gen-loss|dis-step|gen-step|translate [-o FILE]`
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build one of MUNIT's (or UNIT's) graphs from an NVlabs YAML config and print its text.",
        discussion: """
            dis-loss and gen-loss are NVlabs' dis_update and gen_update up to the loss (with every loss \
            component and, for gen-loss, the intermediates as outputs); dis-step and gen-step add the gradient \
            and PyTorch Adam's update (optimizer.lr and optimizer.step become inputs); translate decodes the \
            content of one domain with a given style in the other. Parameters carry the trainer's state_dict \
            names. Shapes come from batch_size and crop_image_height × crop_image_width unless overridden. \
            Config warnings go to standard error.
            """)

    @Option(help: "The NVlabs-style YAML config.") var config: String
    @OptionGroup var trainer: TrainerOption
    @Option(help: "Which graph: \(MUNITGraphKind.allCases.map(\.rawValue).joined(separator: ", ")).",
            transform: { text in
                guard let kind = MUNITGraphKind(rawValue: text) else {
                    throw ValidationError("unknown graph '\(text)'; choose one of "
                        + MUNITGraphKind.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return kind
            })
    var graph: MUNITGraphKind
    @Option(help: "translate: a2b (gen_a's content, gen_b's decoder) or b2a.",
            transform: { text in
                guard let direction = TranslationDirection(rawValue: text) else {
                    throw ValidationError("unknown direction '\(text)'; choose a2b or b2a")
                }
                return direction
            })
    var direction: TranslationDirection = .a2b
    @Option(help: "Batch size instead of the config's batch_size.") var batch: Int?
    @Option(help: "Image height instead of the config's crop_image_height.") var height: Int?
    @Option(help: "Image width instead of the config's crop_image_width.") var width: Int?
    @Option(name: [.short, .long], help: "Write the graph here instead of standard output.") var output: String?
    @Option(help: "dis-step and gen-step: build one rank's step of a data-parallel job over this many ranks.") var ranks = 1

    func validate() throws {
        for (name, value) in [("--batch", batch), ("--height", height), ("--width", width)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if ranks < 1 { throw ValidationError("--ranks must be at least 1") }
    }

    func run() throws {
        try reportingErrors(file: config) {
            let settings: MUNITConfig
            do { settings = try MUNITConfig.load(contentsOf: URL(fileURLWithPath: config), trainer: trainer.trainer) } catch let error as MUNITConfigError {
                // Compiler-style `C.yaml:LINE:COL: error: key '…': …`.
                FileHandle.standardError.write(Data((error.formatted + "\n").utf8))
                throw ExitCode.failure
            }
            for warning in settings.warnings {
                FileHandle.standardError.write(Data((warning.formatted + "\n").utf8))
            }
            let options = MUNITGraphOptions(direction: direction, batchSize: batch, height: height, width: width, ranks: ranks)
            let built = try buildMUNITGraph(graph, config: settings, options: options)
            // Gen graphs take VGG16's weights from vgg_model_path, as training does: refuse an export no
            // run could feed.
            if graph == .genLoss || graph == .genStep { _ = try VGG16.loadWeights(config: settings) }
            try emit(printGraph(built), to: output)
        }
    }
}

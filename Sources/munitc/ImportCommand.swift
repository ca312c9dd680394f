import ArgumentParser
import Foundation
import GraphIR

/// `munitc import FILE.pt -o FILE.safetensors`
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a PyTorch state dict (torch.save, zip or legacy format) to safetensors.",
        discussion: """
            Reads only tensors, storages and (ordered) dicts: a file whose pickle names any other global \
            (os.system, builtins.eval, …) is refused, and nothing in it is executed. Nested dicts are flattened \
            with "." (NVlabs' gen_*.pt {'a': …, 'b': …} → a.enc_style…, as munitc's checkpoints name them). \
            float64 tensors stay float64 (as do int32/int64 ones, converted exactly); the rest become float32.
            """)

    @Argument(help: "The PyTorch file (.pt, .pth, NVlabs' models/vgg16.weight, …).") var file: String
    @Option(name: [.short, .long], help: "The safetensors file to write.") var output: String

    func run() throws {
        // The reader's errors name the file already.
        try reportingErrors(file: "munitc import") {
            let tensors = try PyTorchFile(contentsOf: URL(fileURLWithPath: file)).tensors()
            guard !tensors.isEmpty else { throw UserError("\(file): no tensors in the file (is it a state dict?)") }
            do { try SafetensorsFile(tensors: tensors).write(to: URL(fileURLWithPath: output)) } catch {
                throw UserError("cannot write '\(output)': \(error)")
            }
            let values = tensors.values.reduce(0) { $0 + $1.scalars.count }
            print("wrote \(tensors.count) tensors (\(values) values) to \(output)")
        }
    }
}

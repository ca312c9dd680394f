import ArgumentParser

@main
struct Munitc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "munitc",
        abstract: "A compiler that trains MUNIT through LLVM.",
        discussion: "Graphs are text files (.graph); weights and tensors are safetensors files.",
        subcommands: [Train.self, Translate.self, Dump.self, Run.self, Build.self, Bench.self, Gradcheck.self, Export.self, ReplayCommand.self])
}

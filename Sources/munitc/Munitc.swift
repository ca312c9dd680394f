import ArgumentParser

@main
struct Munitc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "munitc",
        abstract: "A compiler that trains MUNIT through LLVM.",
        subcommands: [])
}

import Foundation
import GraphIR

/// What an ahead-of-time compile produces (`munitc build --emit`): the graph text (which the caller prints;
/// the compile still runs for its report), optimised LLVM IR, assembly, or an object with its manifest.
public enum EmitKind: String, CaseIterable, Sendable {
    case graph, llvm, asm, obj
}

/// Ahead-of-time compilation: the optimised LLVM IR, host assembly, or a relocatable object with a
/// manifest, so a step can be linked into another program. The object exports
/// `void munitc_step(void **arguments, void *arena)`: `arguments` points at one buffer per graph argument
/// (manifest order), `arena` at `arena_bytes` bytes aligned to `arena_alignment`; outputs are read from the
/// arena (or an argument buffer) at the manifest's locations. Link with `-lopenblas -lm`.
public enum AheadOfTime {
    public struct Artifact: Sendable {
        /// LLVM IR text, assembly text, or object bytes.
        public let output: Data
        /// JSON describing the object's entry point and buffers (for `.obj`).
        public let manifest: String?
        public let report: CompileReport
    }

    public static func compile(_ graph: Graph, emit: EmitKind, options: CompileOptions = CompileOptions()) throws(BackendError) -> Artifact {
        // A step with collectives runs only in munitc's executor: its kernels can still be shown, but an object's
        // whole-step entry point could not exchange anything with the other ranks (the compiler refuses it).
        let collective = graph.nodes.contains { $0.op.traits.contains(.collective) }
        let compiler = try GraphCompiler(graph: graph, options: options, emitsEntryPoint: !collective || emit == .obj)
        switch emit {
        case .llvm:
            let start = Date()
            try compiler.target.optimize(compiler.ir)
            compiler.recordStage("optimize", since: start)
            return Artifact(output: Data(compiler.ir.text.utf8), manifest: nil, report: compiler.report)
        case .asm:
            let code = try compiler.compile(assembly: true)
            return Artifact(output: code, manifest: nil, report: compiler.report)
        case .obj, .graph:
            let code = try compiler.compile()
            return Artifact(output: code, manifest: manifest(compiler), report: compiler.report)
        }
    }

    static func manifest(_ compiler: GraphCompiler) -> String {
        let graph = compiler.graph, plan = compiler.plan!
        func describe(_ type: TensorType) -> [String: Any] {
            ["dtype": type.dtype.rawValue, "shape": type.shape, "bytes": type.byteCount]
        }
        let arguments: [[String: Any]] = graph.arguments.map { argument in
            describe(graph.type(of: argument.value)).merging(["name": argument.name, "kind": argument.isParameter ? "parameter" : "input"]) { a, _ in a }
        }
        let outputs: [[String: Any]] = graph.outputs.map { output in
            var entry = describe(graph.type(of: output.value)).merging(["name": output.name]) { a, _ in a }
            switch plan.values[output.value.index]! {
            case .argument(let i): entry["argument"] = i
            case .arena(let offset): entry["arena_offset"] = offset
            }
            return entry
        }
        let object: [String: Any] = [
            "graph": graph.name,
            "entry": compiler.options.entryPoint,
            "signature": "void \(compiler.options.entryPoint)(void **arguments, void *arena)",
            "arena_bytes": plan.arenaBytes,
            "arena_alignment": MemoryPlan.alignment,
            "arguments": arguments,
            "outputs": outputs,
            "kernels": Array(Set(compiler.calls.map(\.symbol))).sorted(),
            "target": ["triple": compiler.target.triple, "cpu": compiler.target.cpuName],
            "link": "-lopenblas -lm",
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

internal import COpenBLAS
import Dispatch
import Foundation
import GraphIR

/// A graph compiled to native code and ready to run: kernels JIT-linked once, arguments (inputs,
/// parameters, optimiser state) in persistent buffers bound by name, every other value in one arena laid out
/// by the memory plan. Generated kernels split their outer loops across `threads`; BLAS-calling kernels run
/// on the calling thread while OpenBLAS uses the same number of threads, so the two never oversubscribe.
public final class Executable: @unchecked Sendable {
    public let graph: Graph
    public let options: CompileOptions
    public private(set) var report: CompileReport
    private let session: JITSession
    private let steps: [Step]
    private let collectives: CollectiveRuntime
    /// What the collectives need of a run's communicator (read from the graph once).
    private let rankRequirement: RankRequirement?
    private let store: BufferStore
    /// Guarded mode's arena: one mapping per planned block, by offset.
    private let arenaBlocks: [Int: UnsafeMutableRawPointer]
    /// The arena otherwise (shared with other executables after `shareStorage(with:)`).
    private var arena: Arena?
    /// The arena generation the kernel tables point into; `execute` rebinds them when it moved.
    private var boundGeneration = -1
    private var argumentBuffers: [UnsafeMutableRawPointer]
    /// Whether another executable uses this one's buffers (then this one may not give them up).
    private var lendsStorage = false
    private let argumentIndex: [String: Int]
    private let outputIndex: [String: Int]
    private let locations: [MemoryPlan.Location?]
    /// Per-call seconds of the last run when `profiling` is on (index-aligned with `kernelCalls`).
    public private(set) var lastTimes: [Double] = []
    public var profiling = false

    private struct Step {
        let function: @convention(c) (UnsafeMutableRawPointer?, Int64, Int64) -> Void
        let table: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        let parallelCount: Int
        let splits: Int
        let call: ScheduledCall
    }

    /// A compiled call, for profiles: the kernel's symbol, the node it runs, its cost.
    public struct KernelCall: Sendable {
        public let symbol: String
        public let node: Int
        public let flops: Int
        public let bytes: Int
    }

    public var kernelCalls: [KernelCall] {
        steps.map { KernelCall(symbol: $0.call.symbol, node: $0.call.node, flops: $0.call.cost.flops, bytes: $0.call.cost.bytes) }
    }

    /// Other executables whose argument buffers this one shares (kept alive while this one lives).
    private var sharing: [Executable] = []

    /// Compiles `graph`, with buffers of its own (`shareStorage(with:)` shares them with other steps).
    public init(graph: Graph, options: CompileOptions = CompileOptions()) throws(BackendError) {
        BLASRuntime.ensureCPUKernels()
        self.graph = graph
        self.options = options
        let compiler = try GraphCompiler(graph: graph, options: options, partitions: GraphCompiler.jitPartitions,
                                         emitsEntryPoint: false)
        let (arenaBytes, argumentBytes) = (Double(compiler.report.arenaBytes), Double(compiler.report.argumentBytes))
        do {
            try options.memoryBudget.check(arenaBytes + argumentBytes + options.callerBytes, for: "running '\(graph.name)' "
                + "(arena \(MemoryBudget.format(arenaBytes)), arguments \(MemoryBudget.format(argumentBytes))"
                + (options.callerBytes > 0 ? ", host tensors \(MemoryBudget.format(options.callerBytes)))" : ")"))
        } catch { throw BackendError("\(error)") }
        let (objects, cached, key) = try compiler.compileCached()
        let linkStart = Date()
        do {
            session = try JITSession(objects: objects, target: compiler.target)
        } catch where cached {
            // A damaged cache entry: compile afresh (which replaces it).
            let fresh = try compiler.compileObjects()
            ObjectCache.store(fresh, key)
            session = try JITSession(objects: fresh, target: compiler.target)
        }
        let store = BufferStore(guarded: options.guardedBuffers)
        self.store = store
        var argumentBuffers: [UnsafeMutableRawPointer] = []
        for argument in graph.arguments { argumentBuffers.append(try store.allocate(graph.type(of: argument.value).byteCount)) }
        self.argumentBuffers = argumentBuffers
        // One arena, or in guarded mode one mapping per planned block.
        var arenaBlocks: [Int: UnsafeMutableRawPointer] = [:]
        if options.guardedBuffers {
            for (offset, bytes) in compiler.plan.blocks { arenaBlocks[offset] = try store.allocate(bytes) }
        } else {
            arena = Arena(bytes: compiler.plan.arenaBytes)
        }
        self.arenaBlocks = arenaBlocks
        var resolved: [String: UInt64] = [:]
        var steps: [Step] = []
        for call in compiler.calls {
            let address: UInt64
            if let known = resolved[call.symbol] { address = known } else {
                address = try session.address(of: call.symbol)
                resolved[call.symbol] = address
            }
            // Filled by `bind()` before the first run.
            let table = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: call.buffers.count)
            // Small kernels run on one thread: splitting costs more than it saves.
            let splits = call.usesBLAS || call.work < 65_536 ? 1 : min(options.threads, call.parallelCount)
            steps.append(Step(function: unsafeBitCast(UInt(address), to: (@convention(c) (UnsafeMutableRawPointer?, Int64, Int64) -> Void).self),
                              table: table, parallelCount: call.parallelCount, splits: max(splits, 1), call: call))
        }
        self.steps = steps
        collectives = CollectiveRuntime(compiler.collectives)
        rankRequirement = graph.rankRequirement
        argumentIndex = Dictionary(graph.arguments.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        outputIndex = Dictionary(graph.outputs.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        report = compiler.report
        locations = compiler.plan.values
        report.stageSeconds.append(("link", Date().timeIntervalSince(linkStart)))
        bind()
        openblas_set_num_threads(Int32(options.threads))
    }

    deinit {
        for step in steps { step.table.deallocate() }
    }

    // MARK: binding

    /// Copies `tensor` into the argument's buffer (converted to the graph's dtype).
    public func setArgument(_ name: String, _ tensor: Tensor) throws(BackendError) {
        guard let i = argumentIndex[name] else { throw BackendError("the graph has no argument '\(name)'") }
        let type = graph.type(of: graph.arguments[i].value)
        guard tensor.shape == type.shape else {
            throw BackendError("'\(name)' has shape \(tensor.shape), the graph expects \(type)")
        }
        write(tensor.scalars, to: argumentBuffers[i], type.dtype)
    }

    /// Copies float32 values straight into an argument's buffer (no Double round trip).
    public func setArgument(_ name: String, floats: [Float]) throws(BackendError) {
        guard let i = argumentIndex[name] else { throw BackendError("the graph has no argument '\(name)'") }
        let type = graph.type(of: graph.arguments[i].value)
        guard type.dtype == .f32, floats.count == type.elementCount else {
            throw BackendError("'\(name)' takes \(type), got \(floats.count) float32 values")
        }
        floats.withUnsafeBytes { argumentBuffers[i].copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// The current contents of an argument's buffer.
    public func argument(_ name: String) throws(BackendError) -> Tensor {
        guard let i = argumentIndex[name] else { throw BackendError("the graph has no argument '\(name)'") }
        return tensor(at: argumentBuffers[i], graph.type(of: graph.arguments[i].value))
    }

    /// The type of an argument, nil if the graph has none of that name.
    public func argumentType(_ name: String) -> TensorType? {
        argumentIndex[name].map { graph.type(of: graph.arguments[$0].value) }
    }

    /// An argument buffer's bytes as they are (little-endian, the graph's dtype): a checkpoint's copy
    /// without a round trip through `Double`.
    public func argumentData(_ name: String) throws(BackendError) -> Data {
        guard let i = argumentIndex[name] else { throw BackendError("the graph has no argument '\(name)'") }
        return Data(bytes: argumentBuffers[i], count: graph.type(of: graph.arguments[i].value).byteCount)
    }

    /// An output of the last run.
    public func output(_ name: String) throws(BackendError) -> Tensor {
        guard let i = outputIndex[name] else { throw BackendError("the graph has no output '\(name)'") }
        let value = graph.outputs[i].value
        return tensor(at: pointer(to: value), graph.type(of: value))
    }

    /// Copies an output of the last run into an argument buffer of `target` (this executable or another),
    /// without leaving native memory: how training feeds `next.*` back into parameters and optimiser state.
    public func copyOutput(_ name: String, to target: Executable, argument: String) throws(BackendError) {
        guard let i = outputIndex[name] else { throw BackendError("the graph has no output '\(name)'") }
        guard let j = target.argumentIndex[argument] else { throw BackendError("'\(target.graph.name)' has no argument '\(argument)'") }
        let value = graph.outputs[i].value
        let (from, to) = (graph.type(of: value), target.graph.type(of: target.graph.arguments[j].value))
        guard from == to else { throw BackendError("output '\(name)' is \(from) but argument '\(argument)' is \(to)") }
        let source = pointer(to: value)
        // An update written over its own argument (`updatesArgumentsInPlace`) is already there.
        guard source != target.argumentBuffers[j] else { return }
        target.argumentBuffers[j].copyMemory(from: source, byteCount: from.byteCount)
    }

    /// The argument whose buffer an output is written into (an update written over its own argument,
    /// `CompileOptions.updatesArgumentsInPlace`; feeding it back copies nothing), or nil.
    public func argumentHolding(output name: String) -> String? {
        guard let i = outputIndex[name], case .argument(let j) = locations[graph.outputs[i].value.index] else { return nil }
        return graph.arguments[j].name
    }

    /// Whether `argument` of this executable and `other`'s argument of the same name are one buffer.
    public func sharesArgument(_ argument: String, with other: Executable) -> Bool {
        guard let i = argumentIndex[argument], let j = other.argumentIndex[argument] else { return false }
        return argumentBuffers[i] == other.argumentBuffers[j]
    }

    /// Whether the graph has an argument of this name.
    public func hasArgument(_ name: String) -> Bool { argumentIndex[name] != nil }

    /// Outputs are never freed by the plan, so their storage is intact after the run.
    private func pointer(to value: ValueID) -> UnsafeMutableRawPointer {
        guard let location = locations[value.index] else { preconditionFailure("output value \(value) has no storage") }
        return resolve(location)
    }

    private func resolve(_ location: MemoryPlan.Location) -> UnsafeMutableRawPointer {
        switch location {
        case .argument(let i): return argumentBuffers[i]
        case .arena(let offset): return arena.map { $0.base + offset } ?? arenaBlocks[offset]!
        }
    }

    /// Points every kernel's buffer table at the current argument buffers and arena.
    private func bind() {
        for step in steps {
            for (slot, location) in step.call.buffers.enumerated() { step.table[slot] = resolve(location) }
        }
        boundGeneration = arena?.generation ?? 0
    }

    // MARK: sharing storage

    /// Makes this executable use `other`'s buffer for every argument of the same name and type (dropping
    /// its own, whose values `other`'s replace), and one arena with it, as large as the larger plan needs.
    /// For steps that run one after another, never at once (a training iteration's steps, its sampling):
    /// parameters and optimiser state are then held once, and the arenas take the largest step's memory
    /// instead of their sum. A shared arena's contents, outputs included, last until another of its
    /// executables runs. Throws if another executable already uses this one's buffers.
    public func shareStorage(with other: Executable) throws(BackendError) {
        guard other !== self else { return }
        guard !lendsStorage else {
            throw BackendError("'\(graph.name)' lends its buffers to another executable and cannot take \(other.graph.name)'s")
        }
        for (i, argument) in graph.arguments.enumerated() {
            guard let j = other.argumentIndex[argument.name], argumentBuffers[i] != other.argumentBuffers[j],
                  other.graph.type(of: other.graph.arguments[j].value) == graph.type(of: argument.value) else { continue }
            store.release(argumentBuffers[i])
            argumentBuffers[i] = other.argumentBuffers[j]
        }
        if let arena, let shared = other.arena, arena !== shared {
            shared.reserve(arena.bytes)
            self.arena = shared
        }
        other.lendsStorage = true
        sharing.append(other)
        bind()
    }

    private func write(_ scalars: [Double], to buffer: UnsafeMutableRawPointer, _ dtype: DType) {
        if dtype == .f32 {
            let p = buffer.assumingMemoryBound(to: Float.self)
            for i in scalars.indices { p[i] = Float(scalars[i]) }
        } else {
            let p = buffer.assumingMemoryBound(to: Double.self)
            for i in scalars.indices { p[i] = scalars[i] }
        }
    }

    /// A buffer's values as a tensor, filled in place (one array of its size: a second for rounding would
    /// double a large output's host memory; float32 values need none).
    private func tensor(at buffer: UnsafeMutableRawPointer, _ type: TensorType) -> Tensor {
        var t = Tensor(type, repeating: 0)
        t.scalars.withUnsafeMutableBufferPointer { out in
            if type.dtype == .f32 {
                let p = buffer.assumingMemoryBound(to: Float.self)
                for i in out.indices { out[i] = Double(p[i]) }
            } else {
                out.baseAddress?.update(from: buffer.assumingMemoryBound(to: Double.self), count: out.count)
            }
        }
        return t
    }

    // MARK: running

    /// Binds every argument by name, runs, and returns every output by name.
    public func run(_ arguments: [String: Tensor]) throws(BackendError) -> [String: Tensor] {
        for argument in graph.arguments {
            guard let t = arguments[argument.name] else {
                throw BackendError("missing \(argument.isParameter ? "parameter" : "input") '\(argument.name)' of type \(graph.type(of: argument.value))")
            }
            try setArgument(argument.name, t)
        }
        try execute()
        var outputs: [String: Tensor] = [:]
        for output in graph.outputs { outputs[output.name] = try self.output(output.name) }
        return outputs
    }

    /// Seconds the last run waited for collectives (all-reduces) that the kernels did not hide.
    public var lastCommunicationWaitSeconds: Double { collectives.lastWaitSeconds }

    /// Runs the schedule on the arguments currently bound; collectives go through `Collectives.current`.
    public func execute() throws(BackendError) {
        if let arena, arena.generation != boundGeneration { bind() }
        if profiling { lastTimes = Array(repeating: 0, count: steps.count) }
        let communicator = Collectives.current
        do { try rankRequirement?.check(communicator) } catch { throw BackendError(error.message) }
        for (index, step) in steps.enumerated() {
            if !collectives.isEmpty {
                try collectives.beforeCall(index, communicator, resolve: resolve)
                collectives.progress()
            }
            let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            if step.splits == 1 {
                step.function(UnsafeMutableRawPointer(step.table), 0, Int64(step.parallelCount))
            } else {
                let (count, splits, function) = (step.parallelCount, step.splits, step.function)
                let table = UncheckedSendable(UnsafeMutableRawPointer(step.table))
                DispatchQueue.concurrentPerform(iterations: splits) { part in
                    let lo = count * part / splits, hi = count * (part + 1) / splits
                    if lo < hi { function(table.value, Int64(lo), Int64(hi)) }
                }
            }
            if profiling { lastTimes[index] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        }
        if !collectives.isEmpty { try collectives.beforeCall(steps.count, communicator, resolve: resolve) }
    }
}

/// Memory for the values a plan places in the arena, shareable by executables that never run at once.
/// It only grows; each growth is a new generation, after which its executables rebind their kernels.
final class Arena {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var bytes: Int
    private(set) var generation = 0

    init(bytes: Int) {
        self.bytes = bytes
        base = Arena.allocate(bytes)
    }

    deinit { base.deallocate() }

    /// At least `bytes` bytes (the contents are not kept: arena values live within one run).
    func reserve(_ bytes: Int) {
        guard bytes > self.bytes else { return }
        base.deallocate()
        base = Arena.allocate(bytes)
        self.bytes = bytes
        generation += 1
    }

    /// Not zeroed: every kernel writes before it reads, and pages never touched never become resident.
    private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: MemoryPlan.aligned(max(bytes, 1)), alignment: MemoryPlan.alignment)
    }
}

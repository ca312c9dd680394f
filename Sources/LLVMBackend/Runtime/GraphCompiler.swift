internal import CLLVM
import Dispatch
import Foundation
import GraphIR

/// Options for compiling a graph.
public struct CompileOptions: Sendable {
    /// LLVM's optimisation level, 0–3 (`-O0` … `-O3`). 2 by default: measured on MUNIT's steps (Xeon,
    /// AVX-512), -O3's IR pipeline made no kernel faster (64×64 iteration 0.66 s both, 128×128 1.84–1.88 s
    /// against 1.80–1.88 s) and took twice as long (cold compile of both 64×64 steps 8.1 → 4.2 s).
    public var optimizationLevel = 2
    /// Threads for generated kernels and OpenBLAS (never both at once).
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The symbol of the whole-step entry point in emitted objects.
    public var entryPoint = "munitc_step"
    /// Every buffer in its own mapping between inaccessible guard pages, no reuse: a kernel that reads or
    /// writes past a buffer's end faults at once. For tests; slower and larger.
    public var guardedBuffers = false
    /// The CPU kernels are generated for (`TargetCPU.named`), or nil for what `MUNITC_TARGET_CPU` says,
    /// which defaults to the host.
    public var targetCPU: String?
    /// The fewest tiles per sample for which 3×3 convolutions take Winograd, or nil for the default (64: a
    /// 16×16 plane; see `ConvolutionTuning`). Tests set 0 to reach Winograd on small planes.
    public var winogradMinimumTiles: Int?
    /// Winograd products narrower than this many tiles are generated register-blocked kernels instead of
    /// BLAS calls, or nil for the target's default (every product for AVX-512 code, none for AVX2). Tests set it to reach
    /// both kinds of product on any machine.
    public var generatedProductsBelowTiles: Int?
    /// Gathered convolutions whose families are all at most this wide run generated skinny products instead
    /// of BLAS calls, or nil for the default (`SkinnyProduct.defaultMaximumWidth`). Tests set 0 and a large
    /// width to reach both.
    public var skinnyProductsUpToWidth: Int?
    /// Write each output `next.X` straight over argument X where the node computing it is the last to read
    /// X (an optimiser's update of a parameter or moment), instead of into the arena: feeding the update
    /// back (`Executable.copyOutput`) then copies nothing, and the arena holds no second copy of the
    /// parameters and moments. Running again from the same bound arguments then continues from the updated
    /// values, which is what a training loop wants and a one-off run does not notice.
    public var updatesArgumentsInPlace = false
    /// The memory an executable may plan for (`Executable` refuses to allocate beyond it).
    public var memoryBudget = MemoryBudget.standard
    /// Bytes the caller holds besides the executable's buffers while it runs (its argument and output
    /// tensors), counted in the executable's memory pre-check.
    public var callerBytes = 0.0

    public init(optimizationLevel: Int = 2, threads: Int? = nil, guardedBuffers: Bool = false, targetCPU: String? = nil,
                winogradMinimumTiles: Int? = nil, generatedProductsBelowTiles: Int? = nil, skinnyProductsUpToWidth: Int? = nil) {
        self.optimizationLevel = optimizationLevel
        self.skinnyProductsUpToWidth = skinnyProductsUpToWidth
        self.winogradMinimumTiles = winogradMinimumTiles
        self.generatedProductsBelowTiles = generatedProductsBelowTiles
        self.guardedBuffers = guardedBuffers
        self.targetCPU = targetCPU
        if let threads { self.threads = max(1, threads) }
    }

    /// The code-generation CPU these options select.
    public func resolvedTargetCPU() throws(BackendError) -> TargetCPU {
        guard let targetCPU, !targetCPU.isEmpty else { return try TargetCPU.fromEnvironment() }
        return try TargetCPU.named(targetCPU)
    }
}

/// One kernel call of the schedule: a node's generated function and the buffers it takes.
struct ScheduledCall {
    let node: Int
    let symbol: String
    let buffers: [MemoryPlan.Location]
    let parallelCount: Int
    let usesBLAS: Bool
    let cost: Cost
    /// The node's whole work (flops + bytes/4), to decide whether splitting across threads pays.
    let work: Int
}

/// A collective of the schedule (`all_reduce`), run by the executor: started before call `startBefore`
/// (after the kernels that compute its operands), waited for before call `waitBefore` (the first kernel
/// that reads a result), so the kernels in between overlap the communication.
struct ScheduledCollective {
    let node: Int
    let operation: ReduceOperation
    let operands: [MemoryPlan.Location]
    let results: [MemoryPlan.Location]
    let types: [TensorType]
    let startBefore: Int
    let waitBefore: Int
    /// Earlier collectives (indices into `collectives`) whose results this one reads: finished before it starts.
    let after: [Int]
}

/// What compiling a graph did, for `munitc build`'s report and benchmarks.
public struct CompileReport: Sendable {
    public var nodes = 0
    /// Nodes that became views of their operand (no kernel).
    public var aliases = 0
    /// Distinct kernels generated and compiled.
    public var kernels = 0
    /// Kernel calls that reuse an identical kernel (same op, attributes and types).
    public var deduplicated = 0
    public var arenaBytes = 0
    public var unplannedArenaBytes = 0
    /// Results written over an operand that dies at their node (in-place execution).
    public var inPlace = 0
    public var argumentBytes = 0
    /// FLOPs of one run, from the op table's cost model.
    public var flops = 0
    /// Seconds per stage: lowering (IR generation), optimisation, code generation, JIT linking.
    public var stageSeconds: [(stage: String, seconds: Double)] = []
    public var compileSeconds: Double { stageSeconds.reduce(0) { $0 + $1.seconds } }
    /// Whether the object came from the on-disk cache (no optimisation or code generation ran).
    public var fromCache: Bool { stageSeconds.contains { $0.stage == "cache" } }
}

/// Lowers a graph: one LLVM function per distinct kernel, the memory plan, the call schedule, and a
/// `munitc_step(ptr arguments, ptr arena)` entry that runs the schedule serially (for emitted objects).
final class GraphCompiler {
    let graph: Graph
    let options: CompileOptions
    let target: HostTarget
    /// The kernels split across modules that LLVM optimises and compiles in parallel (one per thread);
    /// the first also holds the step function.
    let modules: [IRModule]
    var ir: IRModule { modules[0] }
    private(set) var calls: [ScheduledCall] = []
    private(set) var collectives: [ScheduledCollective] = []
    private(set) var plan: MemoryPlan!
    private(set) var report = CompileReport()

    /// Whether the module holds the whole-step entry point (emitted objects); the JIT calls kernels directly.
    let emitsEntryPoint: Bool

    /// `partitions` modules (at least one): more compile in parallel; emitted objects and assembly need one.
    init(graph: Graph, options: CompileOptions, partitions: Int = 1, emitsEntryPoint: Bool = true) throws(BackendError) {
        self.graph = graph
        self.options = options
        self.emitsEntryPoint = emitsEntryPoint
        let target = try HostTarget(optimizationLevel: options.optimizationLevel, cpu: options.resolvedTargetCPU())
        self.target = target
        modules = (0..<max(1, partitions)).map { part in
            IRModule(name: part == 0 ? graph.name : "\(graph.name).\(part)", cpuName: target.cpuName, cpuFeatures: target.cpuFeatures)
        }
        let started = Date()
        var tuning = ConvolutionTuning(for: target.cpu)
        if let tiles = options.winogradMinimumTiles { tuning.winogradMinimumTiles = tiles }
        if let tiles = options.generatedProductsBelowTiles { tuning.generatedProductsBelowTiles = tiles }
        if let width = options.skinnyProductsUpToWidth { tuning.skinnyProductsUpToWidth = width }
        try tuning.during(lower)
        report.stageSeconds.append(("lower", Date().timeIntervalSince(started)))
    }

    private func lower() throws(BackendError) {
        var aliasOf: [Int: ValueID] = [:]  // view → the operand whose storage it shares
        // Views first: in-place planning follows them to the storage they share.
        for node in graph.nodes {
            if case .alias = try Lowerings.lowering(for: node.op) { aliasOf[node.results[0].index] = node.operands[0] }
        }
        let inPlace = InPlace.pairs(graph, aliasOf: aliasOf, updatingArguments: options.updatesArgumentsInPlace)
        var plans: [KernelPlan?] = []
        var symbols: [String: String] = [:]  // dedup key → symbol
        var usedSymbols = Set<String>()
        var nodeSymbols: [String?] = []
        var instructions = [Int](repeating: 0, count: modules.count)
        for (i, node) in graph.nodes.enumerated() {
            report.nodes += 1
            report.flops += graph.cost(of: node).flops
            switch try Lowerings.lowering(for: node.op) {
            case .alias:
                report.aliases += 1
                plans.append(nil)
                nodeSymbols.append(nil)
            case .collective:
                if emitsEntryPoint {
                    throw BackendError("'\(graph.name)' exchanges values between ranks (\(node.op.name)); it runs in munitc's "
                        + "executor only, not as an ahead-of-time object")
                }
                plans.append(nil)
                nodeSymbols.append(nil)
            case .kernel(let lower):
                let input = LoweringInput(node, in: graph)
                try Lowerings.checkFused(input)
                let plan = lower(input)
                plans.append(plan)
                let pairs = inPlace[i] ?? []
                let key = "\(node.op.name)|\(node.attributes.values.sorted { $0.key < $1.key })|\(input.operands)|\(input.results)"
                    + (node.region.map { "|" + printGraph($0) } ?? "") + (pairs.isEmpty ? "" : "|in place \(pairs)")
                if let existing = symbols[key] {
                    report.deduplicated += 1
                    nodeSymbols.append(existing)
                    continue
                }
                var symbol = plan.name + (pairs.isEmpty ? "" : "_inplace"), suffix = 1
                while usedSymbols.contains(symbol) {
                    suffix += 1
                    symbol = "\(plan.name)\(pairs.isEmpty ? "" : "_inplace")_v\(suffix)"
                }
                usedSymbols.insert(symbol)
                symbols[key] = symbol
                nodeSymbols.append(symbol)
                let bufferTypes = (input.operands + input.results + plan.scratch).map(\.dtype)
                // The module with the least code so far, so the parallel compiles take about as long.
                let part = instructions.indices.min { instructions[$0] < instructions[$1] }!
                let ir = modules[part]
                // Each phase is a function named by its suffix: two alike would silently share one.
                precondition(Set(plan.phases.map(\.suffix)).count == plan.phases.count, "\(plan.name): phase suffixes repeat")
                for phase in plan.phases {
                    let emitter = KernelEmitter(ir: ir, name: symbol + phase.suffix, bufferTypes: bufferTypes)
                    // In place, the kernel reads the overwritten operand through the result's pointer: one base
                    // pointer, the same index for the load and the store, so it still vectorises (with two
                    // possibly-aliasing pointers LLVM would test for overlap at run time and take its scalar loop).
                    if !pairs.isEmpty {
                        var map = Array(bufferTypes.indices)
                        for p in pairs { map[p.operand] = input.operands.count + p.result }
                        emitter.bufferMap = map
                    }
                    ir.addAttribute(LLVMGetNamedFunction(ir.module, symbol + phase.suffix),
                                    index: UInt32(bitPattern: Int32(LLVMAttributeFunctionIndex)), "noinline")
                    phase.emit(emitter)
                    emitter.finish()
                    // The exported wrapper is a few instructions; the work is in its `.body`.
                    instructions[part] += ir.instructionCount(of: symbol + phase.suffix + ".body")
                }
                report.kernels += 1
            }
        }
        // An in-place result shares its operand's storage, as a view would.
        var shared = aliasOf
        for (i, pairs) in inPlace {
            for p in pairs { shared[graph.nodes[i].results[p.result].index] = graph.nodes[i].operands[p.operand] }
        }
        report.inPlace = inPlace.values.reduce(0) { $0 + $1.count }
        plan = MemoryPlan(graph: graph, aliasOf: shared, countingAsUnplanned: Set(shared.keys).subtracting(aliasOf.keys),
                          scratchBytes: plans.map { ($0?.scratch ?? []).map(\.byteCount) }, reuse: !options.guardedBuffers)
        report.arenaBytes = plan.arenaBytes
        report.unplannedArenaBytes = plan.unplannedBytes
        report.argumentBytes = graph.arguments.reduce(0) { $0 + graph.type(of: $1.value).byteCount }
        var collectiveNodes: [(node: Int, startBefore: Int)] = []
        for (i, node) in graph.nodes.enumerated() {
            if case .collective = try Lowerings.lowering(for: node.op) { collectiveNodes.append((i, calls.count)) }
            guard let kernel = plans[i], let symbol = nodeSymbols[i] else { continue }
            let buffers = (node.operands + node.results).map { plan.values[$0.index]! } + plan.scratch[i].map { MemoryPlan.Location.arena($0) }
            let cost = graph.cost(of: node)
            // The node's cost is booked on one phase, so profiles sum to the node: its (last) product, BLAS or
            // generated, where the flops are, else its last phase.
            let booked = kernel.phases.lastIndex { $0.usesBLAS || $0.isProduct } ?? kernel.phases.count - 1
            for (p, phase) in kernel.phases.enumerated() {
                calls.append(ScheduledCall(node: i, symbol: symbol + phase.suffix, buffers: buffers, parallelCount: phase.parallelCount,
                                           usesBLAS: phase.usesBLAS,
                                           cost: p == booked ? cost : Cost(flops: 0, bytes: 0),
                                           work: cost.flops + cost.bytes / 4))
            }
        }
        scheduleCollectives(collectiveNodes, storageOf: shared)
        // The JIT never calls it, and optimising its thousands of calls took a second of the cold compile.
        if emitsEntryPoint { emitStepFunction() }
        for module in modules { try module.verify() }
    }

    /// Places each collective between the kernels: it waits before the first call reading one of its results
    /// (directly or through a view), else at the end of the run.
    private func scheduleCollectives(_ nodes: [(node: Int, startBefore: Int)], storageOf shared: [Int: ValueID]) {
        func root(_ v: ValueID) -> Int {
            var index = v.index
            while let next = shared[index] { index = next.index }
            return index
        }
        for (index, startBefore) in nodes {
            let node = graph.nodes[index]
            let results = Set(node.results.map(root))
            let waitBefore = calls.indices.first { c in
                c >= startBefore && graph.nodes[calls[c].node].operands.contains { results.contains(root($0)) }
            } ?? calls.count
            let operandRoots = Set(node.operands.map(root))
            let after = collectives.indices.filter { earlier in
                graph.nodes[collectives[earlier].node].results.contains { operandRoots.contains(root($0)) }
            }
            collectives.append(ScheduledCollective(
                node: index, operation: ReduceOperation(rawValue: node.attributes.string("operation"))!,
                operands: node.operands.map { plan.values[$0.index]! }, results: node.results.map { plan.values[$0.index]! },
                types: node.results.map(graph.type(of:)), startBefore: startBefore, waitBefore: waitBefore, after: after))
        }
    }

    /// `void munitc_step(ptr arguments, ptr arena)`: every kernel in order over its whole range.
    private func emitStepFunction() {
        let b = ir.builder
        let function = LLVMAddFunction(ir.module, options.entryPoint, ir.functionType(ir.void, [ir.pointer, ir.pointer]))!
        ir.targetHost(function)
        LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ir.context, function, "entry"))
        let arguments = LLVMGetParam(function, 0), arena = LLVMGetParam(function, 1)
        let kernelType = ir.functionType(ir.void, [ir.pointer, ir.i64, ir.i64])
        func gep(_ type: LLVMTypeRef, _ base: LLVMValueRef?, _ index: Int) -> LLVMValueRef? {
            var indices: [LLVMValueRef?] = [LLVMConstInt(ir.i64, UInt64(index), 0)]
            return indices.withUnsafeMutableBufferPointer { LLVMBuildInBoundsGEP2(b, type, base, $0.baseAddress, 1, "") }
        }
        let maxBuffers = calls.map(\.buffers.count).max() ?? 0
        let table = LLVMBuildArrayAlloca(b, ir.pointer, LLVMConstInt(ir.i64, UInt64(max(maxBuffers, 1)), 0), "buffers")
        for call in calls {
            for (slot, location) in call.buffers.enumerated() {
                let pointer: LLVMValueRef?
                switch location {
                case .argument(let i): pointer = LLVMBuildLoad2(b, ir.pointer, gep(ir.pointer, arguments, i), "")
                case .arena(let offset): pointer = gep(LLVMInt8TypeInContext(ir.context), arena, offset)
                }
                LLVMBuildStore(b, pointer, gep(ir.pointer, table, slot))
            }
            var args: [LLVMValueRef?] = [table, LLVMConstInt(ir.i64, 0, 0), LLVMConstInt(ir.i64, UInt64(call.parallelCount), 0)]
            // Kernels compiled in another module are declared here; the JIT links them.
            let kernel = LLVMGetNamedFunction(ir.module, call.symbol) ?? LLVMAddFunction(ir.module, call.symbol, kernelType)
            _ = args.withUnsafeMutableBufferPointer {
                LLVMBuildCall2(b, kernelType, kernel, $0.baseAddress, 3, "")
            }
        }
        LLVMBuildRetVoid(b)
    }

    /// Optimises the module and generates machine code (an object, or assembly text): one module only.
    func compile(assembly: Bool = false) throws(BackendError) -> Data {
        precondition(modules.count == 1, "objects and assembly are emitted from a single module")
        var started = Date()
        try target.optimize(ir)
        report.stageSeconds.append(("optimize", Date().timeIntervalSince(started)))
        started = Date()
        let code = try target.emit(ir, assembly: assembly)
        report.stageSeconds.append(("codegen", Date().timeIntervalSince(started)))
        return code
    }

    /// One object per module, the modules optimised and compiled in parallel (each in its own LLVM context,
    /// with its own target machine: LLVM shares neither across threads).
    func compileObjects() throws(BackendError) -> [Data] {
        guard modules.count > 1 else { return [try compile()] }
        let started = Date()
        var targets = [target]
        for _ in 1..<modules.count { targets.append(try HostTarget(optimizationLevel: options.optimizationLevel, cpu: target.cpu)) }
        let results = UnsafeMutableBufferPointer<Result<Data, BackendError>?>.allocate(capacity: modules.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        // Each worker touches only its own module, target machine and result slot.
        let work = UncheckedSendable((zip(targets, modules).map { $0 }, results))
        DispatchQueue.concurrentPerform(iterations: modules.count) { part in
            let (target, module) = work.value.0[part]
            do throws(BackendError) {
                try target.optimize(module)
                work.value.1[part] = .success(try target.emit(module, assembly: false))
            } catch {
                work.value.1[part] = .failure(error)
            }
        }
        report.stageSeconds.append(("optimize+codegen ×\(modules.count)", Date().timeIntervalSince(started)))
        var objects: [Data] = []
        for result in results { objects.append(try result!.get()) }
        return objects
    }

    func recordStage(_ name: String, since start: Date) { report.stageSeconds.append((name, Date().timeIntervalSince(start))) }

    /// Modules a JIT compile splits the kernels into, compiled on every core (the work of a compile, not of
    /// the kernels, so `--threads` does not limit it): several per core, so the cores finish together however
    /// unevenly the optimiser's work falls (MUNIT's gen step on 2 cores: one module 18.9 s, two 13.2 s,
    /// eight 10.7 s). Fixed, so that the cached objects do not depend on the thread count.
    static let jitPartitions = 8

    /// The on-disk cache key of these unoptimised modules.
    var cacheKey: String { ObjectCache.key(ir: modules.map(\.text).joined(separator: "\u{1}"), target: target) }

    /// The objects for the JIT: from the on-disk cache when these exact modules were compiled before.
    /// `key` is the cache key of the unoptimised modules (to replace a damaged entry).
    func compileCached() throws(BackendError) -> (objects: [Data], cached: Bool, key: String) {
        let started = Date()
        let key = cacheKey
        if let objects = ObjectCache.load(key, parts: modules.count) {
            report.stageSeconds.append(("cache", Date().timeIntervalSince(started)))
            return (objects, true, key)
        }
        let objects = try compileObjects()
        ObjectCache.store(objects, key)
        return (objects, false, key)
    }
}

/// A value handed to worker threads that touch disjoint parts of it (kernel ranges, compile slots).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

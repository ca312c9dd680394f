import Foundation
import GraphIR
import Testing
@testable import LLVMBackend

/// The compiler as a whole: lowering coverage, deduplication, threads, memory planning.
@Suite struct CompilerTests {
    @Test func everyOpHasALowering() {
        let missing = Ops.all.map(\.name).filter { Lowerings.table[$0] == nil }
        #expect(missing.isEmpty, "ops without a lowering: \(missing)")
        let unknown = Lowerings.table.keys.filter { (name: String) -> Bool in Ops.named(name) == nil }
        #expect(unknown.isEmpty, "lowerings of ops that do not exist: \(unknown)")
    }

    /// Fused regions compute pointwise ops in registers (elementwise loops, prologues, epilogues): every op
    /// the fusion grammars call pointwise needs a scalar function, and nothing else has one.
    @Test func everyPointwiseOpHasAScalarFunction() {
        let pointwise = Set(Ops.all.filter(\.isPointwise).map(\.name))
        #expect(pointwise == Set(Lowerings.scalarFunctions.keys))
    }

    /// Two identical relu nodes and one of another shape: two kernels, one deduplicated call.
    @Test func identicalKernelsCompileOnce() throws {
        let b = GraphBuilder(name: "dedup")
        let x = b.input("x", .f32(4, 8)), y = b.input("y", .f32(4, 8)), z = b.input("z", .f32(3))
        b.output("a", try b.relu(x))
        b.output("b", try b.relu(y))
        b.output("c", try b.relu(z))
        let executable = try Executable(graph: b.graph)
        #expect(executable.report.kernels == 2)
        #expect(executable.report.deduplicated == 1)
        #expect(Set(executable.kernelCalls.map(\.symbol)) == ["relu_4x8", "relu_3"])
        let out = try executable.run(["x": Tensor(.f32, shape: [4, 8], scalars: (0..<32).map { Double($0) - 16 }),
                                      "y": Tensor(.f32, shape: [4, 8], scalars: (0..<32).map { 16 - Double($0) }),
                                      "z": Tensor(.f32, shape: [3], scalars: [-1, 0, 2])])
        #expect(out["c"]?.scalars == [0, 0, 2])
        #expect(out["a"]?.scalars.reduce(0, +) == 120)  // 1 + … + 15
        #expect(out["b"]?.scalars.reduce(0, +) == 136)  // 1 + … + 16
    }

    /// One thread and two give the same results (kernels split outer loops; sums stay within a split).
    @Test func threadCountInvariance() throws {
        let cases = [
            BackendCase(name: "norm", inputs: [.f32(2, 16, 33, 31)]) { b, x in try b.relu(b.instanceNorm(x[0])) },
            BackendCase(name: "pad", inputs: [.f32(2, 16, 33, 31)]) { b, x in try b.pad(x[0], mode: .reflect, [3, 3, 3, 3]) },
            BackendCase(name: "sum", inputs: [.f32(64, 1000)]) { b, x in try b.reduceSum(x[0], axes: [1]) },
        ]
        let one = try BackendHarness.compare(cases, threads: 1)
        let two = try BackendHarness.compare(cases, threads: 2)
        for c in cases {
            #expect(one[c.name]! <= 1e-5 && two[c.name]! <= 1e-5, "\(c.name): \(one[c.name]!) / \(two[c.name]!)")
        }
    }

    /// Pointwise results overwrite an operand that dies at their node, and only then: a value read again
    /// later, an argument, or an operand read alongside a view of itself keeps its storage.
    @Test func pointwiseResultsRunInPlaceOnlyWhereLegal() throws {
        let b = GraphBuilder(name: "inplace")
        let x = b.input("x", .f32(8, 130))
        let doubled = try b.scale(x, by: 2)              // x is an argument: not in place
        let positive = try b.relu(doubled)                // doubled dies here: in place
        let negated = try b.neg(positive)                 // positive is read again below: not in place
        let sum = try b.add(positive, negated)            // both die here: one of them is overwritten
        let flat = try b.reshape(sum, to: [1040])
        let back = try b.reshape(flat, to: [8, 130])
        let mixed = try b.mul(sum, back)                  // sum and a view of it: not in place
        b.output("y", mixed)
        b.output("z", try b.sub(negated, x))
        let pairs = InPlace.pairs(b.graph, aliasOf: [flat.index: sum, back.index: flat])
        let nodes = b.graph.nodes.indices.filter { pairs[$0] != nil }.map { b.graph.nodes[$0].op.name }
        #expect(nodes == ["relu", "add", "sub"], "\(nodes)")
        var rng = SplitMix64(seed: 3)
        let input = Tensor.random(.f32(8, 130), using: &rng)
        let executable = try Executable(graph: b.graph)
        #expect(executable.report.inPlace == 3)
        let expected = try Interpreter(graph: b.graph).run(["x": input]), actual = try executable.run(["x": input])
        for name in ["y", "z"] { #expect(actual[name]?.scalars == expected[name]?.scalars, "\(name)") }
    }

    /// Dead values' storage is reused: a chain of 40 elementwise ops needs two buffers, not forty (−5 → 0 → 19).
    @Test func memoryPlanReusesDeadBuffers() throws {
        let b = GraphBuilder(name: "chain")
        var v = b.input("x", .f32(1024))
        for _ in 0..<20 { v = try b.relu(b.shift(v, by: 1)) }
        b.output("y", v)
        let executable = try Executable(graph: b.graph)
        #expect(executable.report.unplannedArenaBytes == 40 * 4096)
        // In place, the whole chain after the first op runs in one buffer.
        #expect(executable.report.arenaBytes <= 4096 && executable.report.inPlace == 39)
        let out = try executable.run(["x": Tensor(.f32(1024), repeating: -5)])
        #expect(out["y"]?.scalars.allSatisfy { $0 == 19 } == true)
    }

    @Test func bindingErrorsNameTheArgument() throws {
        let b = GraphBuilder(name: "bind")
        b.output("y", try b.relu(b.input("x", .f32(2))))
        let executable = try Executable(graph: b.graph)
        #expect(throws: BackendError.self) { _ = try executable.run([:]) }
        let error = #expect(throws: BackendError.self) { _ = try executable.run(["x": Tensor(.f32(3), repeating: 0)]) }
        #expect(error?.description.contains("'x'") == true)
    }
}

/// The guarded runtime that every op test runs on: each buffer ends flush against an inaccessible page.
@Suite struct GuardedBufferTests {
    @Test func guardedBuffersEndAgainstAnInaccessiblePage() throws {
        let store = BufferStore(guarded: true)
        let bytes = 1000 * 4
        let buffer = try store.allocate(bytes)
        buffer.storeBytes(of: 1.5, toByteOffset: bytes - 4, as: Float.self)  // the last element is writable
        let end = UInt(bitPattern: buffer + bytes)
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let slack: UInt = page - end % page
        #expect(end % page == 0 || slack < 8, "the buffer ends at a page boundary")
        let guardStart = (end + page - 1) / page * page
        // /proc files report size 0: read to the end rather than by size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var guarded = false
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let range: [UInt] = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            if range.count == 2 && range[0] <= guardStart && guardStart < range[1] && fields[1].hasPrefix("---") { guarded = true }
        }
        #expect(guarded, "the page after the buffer is mapped without access")
        withExtendedLifetime(store) {}  // the mapping must outlive the check
    }

    @Test func guardedExecutionMatchesThePlannedArena() throws {
        let cases = [BackendCase(name: "chain", inputs: [.f32(2, 8, 13, 11)]) { b, x in
            try b.relu(b.instanceNorm(b.pad(x[0], mode: .reflect, [2, 1, 1, 2])))
        }]
        let guarded = try BackendHarness.compare(cases, guarded: true)
        let planned = try BackendHarness.compare(cases, guarded: false)
        let (a, b) = (guarded["chain"] ?? .infinity, planned["chain"] ?? .infinity)
        #expect(a < 1e-5)
        #expect(b < 1e-5)
    }
}

/// The on-disk object cache: a second compile of the same graph loads the object; a damaged entry is
/// recompiled, never trusted.
@Suite(.serialized) struct ObjectCacheTests {
    @Test func secondCompileLoadsTheObjectAndADamagedEntryIsReplaced() throws {
        guard ObjectCache.folder != nil else { return }  // caching disabled in this environment
        let b = GraphBuilder(name: "cache_\(UInt64.random(in: 0...UInt64.max))")  // a module no earlier run cached
        let x = b.input("x", .f32(3, 5))
        b.output("y", try b.tanh(b.scale(x, by: 0.5)))
        let input = Tensor(.f32, shape: [3, 5], scalars: (0..<15).map { Double($0) / 7 - 1 })
        let expected = try Interpreter(graph: b.graph).run(["x": input])["y"]!
        let first = try Executable(graph: b.graph)
        #expect(!first.report.fromCache)
        let second = try Executable(graph: b.graph)
        #expect(second.report.fromCache)
        let closeEnough = { (t: Tensor?) in zip(t?.scalars ?? [], expected.scalars).allSatisfy { Swift.abs($0 - $1) < 1e-6 } }
        #expect(closeEnough(try second.run(["x": input])["y"]))
        // Damage this graph's entries (one object per module the JIT compile made): the next compile must
        // still give right answers.
        let folder = try #require(ObjectCache.folder)
        let options = CompileOptions()
        let key = try GraphCompiler(graph: b.graph, options: options, partitions: GraphCompiler.jitPartitions,
                                    emitsEntryPoint: false).cacheKey
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(key + ".") && $0.hasSuffix(".o") }
        #expect(entries.count == GraphCompiler.jitPartitions, "\(entries)")
        for entry in entries { try Data("not an object".utf8).write(to: folder.appendingPathComponent(entry)) }
        let third = try Executable(graph: b.graph)
        #expect(!third.report.fromCache)
        #expect(closeEnough(try third.run(["x": input])["y"]))
        #expect(try Executable(graph: b.graph).report.fromCache)  // the damaged entries were replaced
    }

    /// Same-size damage links and then crashes or hangs unless the checksum catches it: flip bytes inside
    /// the code of every part, truncate one, append to another; each run after must recompile and be right.
    @Test func flippedTruncatedOrExtendedObjectsAreRecompiled() throws {
        guard let folder = ObjectCache.folder else { return }
        let b = GraphBuilder(name: "cache_flip_\(UInt64.random(in: 0...UInt64.max))")
        let x = b.input("x", .f32(4, 6))
        b.output("y", try b.sigmoid(b.mul(x, x)))
        let input = Tensor(.f32, shape: [4, 6], scalars: (0..<24).map { Double($0) / 11 - 1 })
        let expected = try Interpreter(graph: b.graph).run(["x": input])["y"]!
        let closeEnough = { (t: Tensor?) in zip(t?.scalars ?? [], expected.scalars).allSatisfy { Swift.abs($0 - $1) < 1e-6 } }
        _ = try Executable(graph: b.graph)
        let key = try GraphCompiler(graph: b.graph, options: CompileOptions(), partitions: GraphCompiler.jitPartitions,
                                    emitsEntryPoint: false).cacheKey
        let urls = (0..<GraphCompiler.jitPartitions).map { folder.appendingPathComponent(ObjectCache.name(key, $0)) }
        let damages: [(String, (inout Data) -> Void)] = [
            ("flipped bytes", { data in for i in stride(from: 64, to: data.count - Seal.size, by: 97) { data[i] ^= 0x5a } }),
            ("one flipped bit in the seal", { data in data[data.count - 1] ^= 1 }),
            ("truncated", { data in data = data.prefix(data.count / 2) }),
            ("extended", { data in data.append(contentsOf: [0x90, 0x90, 0xc3]) }),
            ("emptied", { data in data = Data() }),
        ]
        for (what, damage) in damages {
            for url in urls {
                var data = try Data(contentsOf: url)
                let size = data.count
                damage(&data)
                if what == "flipped bytes" { #expect(data.count == size) }
                try data.write(to: url)
            }
            let rerun = try Executable(graph: b.graph)
            #expect(!rerun.report.fromCache, "\(what): the damaged objects were loaded")
            #expect(closeEnough(try rerun.run(["x": input])["y"]), "\(what)")
            #expect(try Executable(graph: b.graph).report.fromCache, "\(what): the cache was not repaired")
        }
    }
}

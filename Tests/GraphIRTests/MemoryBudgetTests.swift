import Foundation
import Testing
@testable import GraphIR

/// Issue 17: the memory limit pre-checks use, and error messages that read as sentences.
@Suite struct MemoryBudgetTests {
    @Test func limitsParseWithUnitsAndRefuseNonsense() throws {
        #expect(try MemoryBudget.parse("8G", origin: "--max-memory").bytes == 8 * 1024 * 1024 * 1024)
        #expect(try MemoryBudget.parse("512mb", origin: "x").bytes == 512 * 1024 * 1024)
        #expect(try MemoryBudget.parse("1.5 GB", origin: "x").bytes == 1.5 * 1024 * 1024 * 1024)
        #expect(try MemoryBudget.parse("300000000", origin: "x").bytes == 3e8)
        for bad in ["banana", "-1G", "0", "", "infG", "G"] {
            #expect(throws: MemoryBudgetError.self, "\(bad)") { _ = try MemoryBudget.parse(bad, origin: "--max-memory") }
        }
        #expect(try MemoryBudget.resolve(option: "2G").origin == "--max-memory")
        #expect(MemoryBudget.available().bytes > 0)
    }

    @Test func checksSayWhatNeedsHowMuch() throws {
        let budget = try MemoryBudget.parse("1G", origin: "--max-memory")
        try budget.check(0x1p30, for: "fits", held: 0)
        let error = #expect(throws: MemoryBudgetError.self) { try budget.check(2.5 * 0x1p30, for: "running 'g'", held: 0) }
        #expect(error?.description == "running 'g' needs about 2.5 GiB; --max-memory is 1 GiB")
        // What the process holds already counts against the limit too.
        let held = #expect(throws: MemoryBudgetError.self) { try budget.check(0x1p29, for: "x", held: 0x1p29 + 1) }
        #expect(held?.description == "x needs about 512 MiB besides the 512 MiB munitc holds already; --max-memory is 1 GiB")
        #expect(MemoryBudget.residentBytes() > 0x1p20)
        #expect(MemoryBudget.format(640 * 0x1p20) == "640 MiB" && MemoryBudget.format(12) == "12 bytes")
    }

    @Test func theInterpreterCountsEveryValueItHolds() throws {
        let graph = try parseGraph(Data("""
            graph r {
              input %x : f32[1000]
              %0 = relu(%x) : f32[1000]
              output y = %0
            }
            """.utf8))
        // Two values of 1000 float64s, each with its rounded copy, and the caller's argument: 40 kB.
        try Interpreter(graph: graph).checkMemory(budget: MemoryBudget(bytes: 40_000, origin: "x"), held: 0)
        #expect(throws: InterpreterError.self) {
            try Interpreter(graph: graph).checkMemory(budget: MemoryBudget(bytes: 39_999, origin: "x"), held: 0)
        }
        #expect(throws: InterpreterError.self) {
            _ = try Interpreter(graph: graph, memoryBudget: MemoryBudget(bytes: 1000, origin: "x")).run(["x": Tensor.zeros(TensorType(.f32, [1000]))])
        }
    }

    @Test func errorsDescribeThemselvesEverywhere() throws {
        let errors: [Error] = [SafetensorsError("s"), InterpreterError("i"), MemoryBudgetError("m"), OpError("o")]
        for error in errors { #expect(error.localizedDescription == "\(error)") }
        // Foundation's own file errors give the system's reason, not "(NSCocoaErrorDomain error 512.)".
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("budget-\(UUID().uuidString)")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try FileManager.default.createDirectory(at: file.appendingPathComponent("x"), withIntermediateDirectories: true)
            Issue.record("created a folder inside a file")
        } catch {
            #expect(fileErrorReason(error) == "Not a directory")
        }
        do {
            try writeFileAtomically(Data(), to: file.appendingPathComponent("y"))
            Issue.record("wrote inside a file")
        } catch {
            #expect(error.localizedDescription.contains("Not a directory"), "\(error.localizedDescription)")
        }
    }
}

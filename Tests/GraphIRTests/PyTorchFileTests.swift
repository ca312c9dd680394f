import Foundation
import Testing
@testable import GraphIR

/// The restricted `torch.save` reader on fixtures PyTorch wrote (scripts/make_pytorch_fixtures.py), both
/// formats, and on hostile and truncated files.
struct PyTorchFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/pytorch")

    static func file(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    static func refusal(_ name: String) -> String {
        do { _ = try PyTorchFile(contentsOf: file(name)).tensors(); return "read" } catch { return "\(error)" }
    }

    @Test(arguments: ["state_zip.pt", "state_legacy.pt", "state_zip64.pt"])
    func readsNestedStateDictsWithEveryDtypeAndLayout(name: String) throws {
        #expect(PyTorchFile.looksLikePyTorch(Self.file(name)))
        let tensors = try PyTorchFile(contentsOf: Self.file(name)).tensors()
        #expect(Set(tensors.keys) == Set(["a", "b"].flatMap { p in ["conv.weight", "conv.bias", "t", "d", "n", "h"].map { "\(p).\($0)" } }))
        let weight = try #require(tensors["a.conv.weight"])
        #expect(weight.shape == [2, 3, 2, 2] && weight.dtype == .f32)
        #expect(weight.scalars == (0..<24).map { Double($0) / 8 - 1 })
        #expect(tensors["b.conv.bias"]?.scalars == [0.5, -0.25])
        #expect(tensors["a.t"]?.shape == [3, 2])
        #expect(tensors["a.t"]?.scalars == [0, 3, 1, 4, 2, 5], "a transposed view read through its strides")
        #expect(tensors["a.d"]?.dtype == .f64 && tensors["a.d"]?.scalars == [1.0 / 3, 2.5])
        #expect(tensors["a.n"]?.shape == [] && tensors["a.n"]?.scalars == [7])
        #expect(tensors["a.h"]?.scalars == [1.5, -2, 65504])
    }

    @Test func hostileGlobalsAreRefusedWithoutRunningAnything() throws {
        let marker = "/tmp/munitc-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        let legacy = Self.refusal("hostile_os_system_legacy.pt")
        #expect(legacy.contains("'posix.system'") || legacy.contains("'os.system'"), "\(legacy)")
        #expect(legacy.contains("refused") && legacy.contains("hostile_os_system_legacy.pt"))
        let zip = Self.refusal("hostile_eval_zip.pt")
        #expect(zip.contains("eval'") && zip.contains("refused"), "\(zip)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test(arguments: ["state_zip_truncated.pt", "state_legacy_truncated.pt", "lying_size_legacy.pt", "expanded_zip.pt", "shared_zip.pt"])
    func truncatedAndLyingFilesAreErrorsNamingTheFile(name: String) {
        let message = Self.refusal(name)
        #expect(message != "read" && message.contains(name), "\(message)")
    }

    @Test func otherOpcodesAndBytesAreRefused() {
        // INST (protocol 0's way to call any class) and a bare REDUCE on a string.
        for pickle: [UInt8] in [Array("i__builtin__\nobject\n(t.".utf8), [0x80, 0x02, 0x58, 1, 0, 0, 0, 0x41, 0x29, 0x52, 0x2E],
                                [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F]] {
            var machine = PickleMachine(bytes: pickle) { _ in .none }
            #expect(throws: PyTorchFileError.self) { try machine.run() }
        }
        #expect(throws: PyTorchFileError.self) { try PyTorchFile.parse(Array("not torch".utf8)) }
    }
}

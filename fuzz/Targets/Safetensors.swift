import Foundation
import GraphIR

/// libFuzzer entry point for the safetensors reader: any bytes must read (and then write back to a file
/// that reads as the same tensors) or throw; a trap, a sanitizer report or a hang is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let file = try? SafetensorsFile.parse(bytes) else { return 0 }
    do {
        let again = try SafetensorsFile.parse(try file.serialized())
        guard again.tensors.keys.sorted() == file.tensors.keys.sorted() else { fatalError("names changed in a round trip") }
        for (name, t) in file.tensors where again.tensors[name]?.type != t.type { fatalError("'\(name)' changed type") }
    } catch {
        fatalError("a file that was read does not survive a write and read: \(error)")
    }
    return 0
}

import Foundation
import MUNITGraphs

/// libFuzzer entry point for the YAML config loader: any text must load or throw a `MUNITConfigError`;
/// a trap, a sanitizer report or a hang is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do { _ = try MUNITConfig.parse(yaml: text, file: "fuzz.yaml") } catch is MUNITConfigError {
    } catch {
        fatalError("not a MUNITConfigError: \(error)")
    }
    return 0
}

import Foundation

/// Compiled objects on disk, keyed by a hash of the module's IR text, the target (triple, CPU name and
/// features), the optimisation level and LLVM's version (DESIGN.md, decision 11): a second `munitc train`,
/// `translate` or `bench` of the same graphs skips LLVM's optimisation and code generation. The folder is
/// `$MUNITC_CACHE_DIR`, else `$XDG_CACHE_HOME/munitc`, else `~/.cache/munitc`; `MUNITC_CACHE_DIR=off`
/// disables it. A cache that cannot be read or written is silently bypassed (it is only a speed-up).
enum ObjectCache {
    static var folder: URL? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["MUNITC_CACHE_DIR"] {
            return explicit == "off" || explicit.isEmpty ? nil : URL(fileURLWithPath: explicit)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("munitc") }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/munitc")
    }

    /// A 128-bit key (two independent FNV-1a hashes) of everything that decides the object's bytes.
    static func key(ir: String, target: HostTarget) -> String {
        let text = [ir, target.triple, target.cpuName, target.cpuFeatures, "O\(target.optimizationLevel)", BackendInfo.llvmVersion]
            .joined(separator: "\u{0}")
        var (a, b): (UInt64, UInt64) = (0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142)
        for byte in text.utf8 {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_0193 &+ 0x9e37_79b9
        }
        return String(format: "%016llx%016llx-%d", a, b, text.utf8.count)
    }

    /// The `parts` objects stored under `key`, or nil unless every one is there.
    static func load(_ key: String, parts: Int) -> [Data]? {
        guard let folder else { return nil }
        var objects: [Data] = []
        for part in 0..<parts {
            guard let object = FileManager.default.contents(atPath: folder.appendingPathComponent(name(key, part)).path) else { return nil }
            objects.append(object)
        }
        return objects
    }

    static func store(_ objects: [Data], _ key: String) {
        guard let folder else { return }
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (part, object) in objects.enumerated() {
            // Write then rename, so a reader never sees half an object.
            let url = folder.appendingPathComponent(name(key, part))
            let temporary = folder.appendingPathComponent(".\(name(key, part)).\(ProcessInfo.processInfo.processIdentifier).tmp")
            guard FileManager.default.createFile(atPath: temporary.path, contents: object) else { return }
            if rename(temporary.path, url.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
        }
    }

    /// Part 0 keeps the name a single-module entry has always had.
    private static func name(_ key: String, _ part: Int) -> String { part == 0 ? key + ".o" : "\(key).\(part).o" }
}

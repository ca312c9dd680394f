import Foundation

/// Compiled objects on disk, keyed by a hash of the module's IR text, the target (triple, CPU name and
/// features), the optimisation level and LLVM's version (DESIGN.md, decision 11): a second `munitc train`,
/// `translate` or `bench` of the same graphs skips LLVM's optimisation and code generation. The folder is
/// `$MUNITC_CACHE_DIR`, else `$XDG_CACHE_HOME/munitc`, else `~/.cache/munitc`; `MUNITC_CACHE_DIR=off`
/// disables it. A cache that cannot be read or written is silently bypassed (it is only a speed-up).
///
/// Each file is the object followed by a `Seal` (its length and checksum). Loading checks the seal first:
/// a flipped byte in an object can still link and then crash or hang when run, so a damaged, truncated or
/// foreign file is deleted and the objects are compiled afresh rather than trusted.
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

    /// A 128-bit key of everything that decides the object's bytes.
    static func key(ir: String, target: HostTarget) -> String {
        let text = [ir, target.triple, target.cpuName, target.cpuFeatures, "O\(target.optimizationLevel)", BackendInfo.llvmVersion]
            .joined(separator: "\u{0}")
        let (a, b) = digest(text.utf8)
        return String(format: "%016llx%016llx-%d", a, b, text.utf8.count)
    }

    /// Two independent FNV-1a hashes of `bytes`.
    static func digest(_ bytes: some Sequence<UInt8>) -> (UInt64, UInt64) {
        var (a, b): (UInt64, UInt64) = (0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142)
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x0000_0100_0000_0193 &+ 0x9e37_79b9
        }
        return (a, b)
    }

    /// The `parts` objects stored under `key`, or nil unless every one is there and intact. A damaged part
    /// is deleted (the caller compiles and stores afresh).
    static func load(_ key: String, parts: Int) -> [Data]? {
        guard let folder else { return nil }
        var objects: [Data] = []
        for part in 0..<parts {
            let path = folder.appendingPathComponent(name(key, part)).path
            guard let file = FileManager.default.contents(atPath: path) else { return nil }
            guard let object = Seal.open(file) else {
                try? FileManager.default.removeItem(atPath: path)
                return nil
            }
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
            guard FileManager.default.createFile(atPath: temporary.path, contents: Seal.sealed(object)) else { return }
            if rename(temporary.path, url.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
        }
    }

    /// Part 0 keeps the name a single-module entry has always had.
    static func name(_ key: String, _ part: Int) -> String { part == 0 ? key + ".o" : "\(key).\(part).o" }
}

/// The 32 bytes after each cached object: a magic word, the object's length and its two FNV-1a hashes
/// (little-endian UInt64s). Not a defence against an attacker who can write the cache (they could run
/// code anyway), only against damage: any flipped, dropped or added byte fails one of the three checks.
enum Seal {
    static let magic: UInt64 = 0x3130_4f43_5449_4e55  // "UNITCO01" read little-endian
    static let size = 32

    static func sealed(_ object: Data) -> Data {
        let (a, b) = object.withUnsafeBytes { ObjectCache.digest($0) }
        var out = object
        for word in [magic, UInt64(object.count), a, b] { withUnsafeBytes(of: word.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// The object inside `file`, or nil when the seal is missing or does not match.
    static func open(_ file: Data) -> Data? {
        guard file.count >= size else { return nil }
        let bytes = [UInt8](file.suffix(size))
        let words = (0..<4).map { i in bytes[(i * 8)..<(i * 8 + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        let object = file.prefix(file.count - size)
        guard words[0] == magic, words[1] == UInt64(object.count) else { return nil }
        let (a, b) = object.withUnsafeBytes { ObjectCache.digest($0) }
        return words[2] == a && words[3] == b ? Data(object) : nil
    }
}

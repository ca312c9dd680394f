import Foundation

/// Owns the runtime's memory: aligned heap blocks, or in guarded mode one mapping per buffer whose last
/// byte sits against an inaccessible page (and with another such page before it), so an out-of-bounds
/// kernel access faults where it happens instead of corrupting a neighbour.
final class BufferStore {
    let guarded: Bool
    private var heap: [UnsafeMutableRawPointer] = []
    private var mappings: [(base: UnsafeMutableRawPointer, length: Int)] = []
    private static let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Zeroed buffers from this size on are mapped rather than allocated and cleared.
    private static let mappedBytes = 1 << 20

    init(guarded: Bool) { self.guarded = guarded }

    deinit {
        for block in heap { block.deallocate() }
        for m in mappings { munmap(m.base, m.length) }
    }

    /// Frees a buffer `allocate` returned (a no-op for one this store does not own).
    func release(_ buffer: UnsafeMutableRawPointer) {
        if let i = heap.firstIndex(of: buffer) {
            heap.remove(at: i).deallocate()
        } else if let i = mappings.firstIndex(where: { buffer >= $0.base && buffer < $0.base + $0.length }) {
            munmap(mappings[i].base, mappings[i].length)
            mappings.remove(at: i)
        }
    }

    /// Memory for `bytes` bytes, zeroed unless `zeroed` is false: the arena is not, since every kernel writes
    /// before it reads, and pages never touched then never become resident.
    func allocate(_ bytes: Int, zeroed: Bool = true) throws(BackendError) -> UnsafeMutableRawPointer {
        if !guarded && zeroed && bytes >= BufferStore.mappedBytes {
            // Fresh anonymous pages read as zero and become resident only when written: a parameter buffer
            // that `Executable.shareStorage` drops before anything writes it never costs memory.
            let length = (bytes + BufferStore.page - 1) / BufferStore.page * BufferStore.page
            guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
                throw BackendError("cannot map \(length) bytes for a buffer")
            }
            mappings.append((base, length))
            return base
        }
        guard guarded else {
            let size = MemoryPlan.aligned(bytes)
            let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryPlan.alignment)
            if zeroed { block.initializeMemory(as: UInt8.self, repeating: 0, count: size) }
            heap.append(block)
            return block
        }
        let page = BufferStore.page
        let body = (max(bytes, 1) + page - 1) / page * page
        let length = body + 2 * page
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            throw BackendError("cannot map \(length) bytes for a guarded buffer")
        }
        mappings.append((base, length))
        mprotect(base, page, PROT_NONE)
        mprotect(base + page + body, page, PROT_NONE)
        // Float alignment is all the kernels assume; the end is flush against the trailing guard page.
        return base + page + (body - max(bytes, 1)) / 8 * 8
    }
}

/// The process's heap as the operating system sees it.
public enum ProcessMemory {
    /// Returns freed heap pages to the system (glibc's `malloc_trim`, looked up at run time; a no-op where
    /// it is missing). Worth calling once after a burst of temporary allocations — compiling, float64
    /// tensors — that the long-lived arena, a mapping of its own, can never reuse.
    public static func returnFreedHeap() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let process = dlopen(nil, RTLD_NOW), let trim = dlsym(process, "malloc_trim") else { return }
        _ = unsafeBitCast(trim, to: Trim.self)(0)
    }
}

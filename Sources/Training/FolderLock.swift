import GraphIR
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock (`flock`) on a training output folder, held while the value lives, so that two runs never
/// write one folder's logs and checkpoints at once. The lock file records the holder's process id for the
/// message the second run gives; the kernel drops the lock when its holder exits, however it exits, so a
/// crashed run leaves no lock behind (the stale id in the file is ignored).
public final class FolderLock {
    /// The lock file inside the folder.
    public static let fileName = ".munitc.lock"
    public let folder: URL
    private let descriptor: Int32

    /// Locks `folder` (created if needed), or throws naming the folder and the process that holds it.
    public init(folder: URL) throws {
        self.folder = folder
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw TrainingError("\(folder.path): cannot create the output folder (\(fileErrorReason(error)))")
        }
        let path = folder.appendingPathComponent(FolderLock.fileName).path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TrainingError("\(path): cannot open the output folder's lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = FolderLock.recordedHolder(fd)
            close(fd)
            guard reason == EWOULDBLOCK else {
                throw TrainingError("\(path): cannot lock the output folder (\(String(cString: strerror(reason))))")
            }
            throw TrainingError("\(folder.path): another munitc run\(holder.map { " (process \($0))" } ?? "") is using this "
                + "output folder; wait for it to finish or choose another with -o")
        }
        descriptor = fd
        let pid = Data("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }  // closing the last descriptor releases the lock

    /// The process id the holder wrote, if the file holds one.
    private static func recordedHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

import Foundation

/// TFRecord framing, as TensorBoard's event files use it: per record the length (UInt64, little-endian),
/// the masked CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data.
public enum TFRecord {
    /// One framed record.
    public static func frame(_ record: Data) -> Data {
        var out = Data(capacity: record.count + 16)
        let length = withUnsafeBytes(of: UInt64(record.count).littleEndian) { Data($0) }
        out.append(length)
        append(CRC32C.masked(length), to: &out)
        out.append(record)
        append(CRC32C.masked(record), to: &out)
        return out
    }

    private static func append(_ v: UInt32, to data: inout Data) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }

    /// Every record of `data`, both checksums checked; a truncated or corrupt record is an error naming
    /// `file` and the record's offset. `tolerateTruncatedEnd`: a last record cut short (a writer killed
    /// mid-record) ends the list instead.
    public static func records(_ data: Data, file: String, tolerateTruncatedEnd: Bool = false) throws -> [Data] {
        let bytes = [UInt8](data)
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        var records: [Data] = [], i = 0
        while i < bytes.count {
            if tolerateTruncatedEnd && bytes.count - i < 16 { break }
            guard bytes.count - i >= 16 else { throw TrainingError("\(file): truncated record header at byte \(i)") }
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) }
            guard CRC32C.masked(bytes[i..<(i + 8)]) == u32(i + 8) else {
                throw TrainingError("\(file): record length checksum mismatch at byte \(i)")
            }
            if length > UInt64(bytes.count - i - 16) && tolerateTruncatedEnd { break }
            guard length <= UInt64(bytes.count - i - 16) else {
                throw TrainingError("\(file): record at byte \(i) claims \(length) bytes, the file has \(bytes.count - i - 16) left")
            }
            let start = i + 12, end = start + Int(length)
            guard CRC32C.masked(bytes[start..<end]) == u32(end) else {
                throw TrainingError("\(file): record data checksum mismatch at byte \(i)")
            }
            records.append(Data(bytes[start..<end]))
            i = end + 4
        }
        return records
    }
}

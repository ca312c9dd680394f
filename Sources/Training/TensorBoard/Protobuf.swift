import Foundation

/// The few protocol-buffer wire types TensorBoard's Event and Summary messages use, written field by field
/// (varint, 64-bit, length-delimited, 32-bit), as the generated code of `protoc` would.
public struct ProtobufWriter {
    public private(set) var data = Data()
    public init() {}

    private mutating func key(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { data.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        data.append(UInt8(v))
    }

    /// An int32/int64 field (negative values as ten-byte two's complement, as protobuf does).
    public mutating func int(_ field: Int, _ value: Int64) { key(field, 0); varint(UInt64(bitPattern: value)) }
    public mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    public mutating func float(_ field: Int, _ value: Float) {
        key(field, 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    public mutating func bytes(_ field: Int, _ value: Data) { key(field, 2); varint(UInt64(value.count)); data.append(value) }
    public mutating func string(_ field: Int, _ value: String) { bytes(field, Data(value.utf8)) }
    /// An embedded message.
    public mutating func message(_ field: Int, _ value: ProtobufWriter) { bytes(field, value.data) }
}

/// A protocol-buffer field as read back: its number and its value by wire type.
public enum ProtobufField: Equatable {
    case varint(UInt64), fixed64(UInt64), bytes(Data), fixed32(UInt32)
}

/// Reads the fields of one message, refusing a truncated or malformed one (untrusted event files).
public struct ProtobufReader {
    /// The fields in file order, each as (number, value).
    public static func fields(_ data: Data) throws -> [(number: Int, value: ProtobufField)] {
        let bytes = [UInt8](data)
        var i = 0, fields: [(Int, ProtobufField)] = []
        func varint() throws -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw ProtobufError("truncated or overlong varint at byte \(i)") }
                let b = bytes[i]; i += 1
                result |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return result }
                shift += 7
            }
        }
        func fixed(_ n: Int) throws -> UInt64 {
            guard bytes.count - i >= n else { throw ProtobufError("truncated \(n)-byte field at byte \(i)") }
            var v: UInt64 = 0
            for k in 0..<n { v |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            i += n
            return v
        }
        while i < bytes.count {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: fields.append((number, .varint(try varint())))
            case 1: fields.append((number, .fixed64(try fixed(8))))
            case 5: fields.append((number, .fixed32(UInt32(try fixed(4)))))
            case 2:
                let length = try varint()
                guard length <= UInt64(bytes.count - i) else { throw ProtobufError("field \(number) claims \(length) bytes, \(bytes.count - i) left") }
                fields.append((number, .bytes(Data(bytes[i..<(i + Int(length))]))))
                i += Int(length)
            default: throw ProtobufError("unsupported wire type \(key & 7) of field \(number)")
            }
        }
        return fields
    }
}

/// A malformed protocol buffer.
public struct ProtobufError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = "protobuf: " + description }
}

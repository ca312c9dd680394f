import Foundation

/// One TensorBoard `Event` (tensorflow/core/util/event.proto) as munitc writes it: the file-version header,
/// or a `Summary` of scalar and image values at a step.
public struct TensorBoardEvent: Equatable {
    /// A `Summary.Value`: a scalar (`simple_value`) or a PNG image (`Summary.Image`).
    public enum Value: Equatable {
        case scalar(Float)
        case image(width: Int, height: Int, colorspace: Int, png: Data)
    }

    public var wallTime: Double
    public var step: Int64
    /// `file_version` ("brain.Event:2"), set only on a file's first event.
    public var fileVersion: String?
    public var values: [(tag: String, value: Value)]

    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, values: [(tag: String, value: Value)] = []) {
        (self.wallTime, self.step, self.fileVersion, self.values) = (wallTime, step, fileVersion, values)
    }

    public static func == (a: TensorBoardEvent, b: TensorBoardEvent) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion
            && a.values.map(\.tag) == b.values.map(\.tag) && a.values.map(\.value) == b.values.map(\.value)
    }

    // Field numbers of event.proto and summary.proto.
    private enum Field {
        static let wallTime = 1, step = 2, fileVersion = 3, summary = 5
        static let summaryValue = 1
        static let tag = 1, simpleValue = 2, image = 4
        static let height = 1, width = 2, colorspace = 3, encoded = 4
    }

    /// The serialized `Event` message (proto3: fields at their default value are left out, as protobuf's
    /// own serializer does, so the bytes are the same).
    public func encoded() -> Data {
        var event = ProtobufWriter()
        if wallTime != 0 { event.double(Field.wallTime, wallTime) }
        if step != 0 { event.int(Field.step, step) }
        if let fileVersion { event.string(Field.fileVersion, fileVersion) }
        if !values.isEmpty {
            var summary = ProtobufWriter()
            for (tag, value) in values {
                var v = ProtobufWriter()
                v.string(Field.tag, tag)
                switch value {
                case .scalar(let x): v.float(Field.simpleValue, x)
                case let .image(width, height, colorspace, png):
                    var image = ProtobufWriter()
                    image.int(Field.height, Int64(height))
                    image.int(Field.width, Int64(width))
                    image.int(Field.colorspace, Int64(colorspace))
                    image.bytes(Field.encoded, png)
                    v.message(Field.image, image)
                }
                summary.message(Field.summaryValue, v)
            }
            event.message(Field.summary, summary)
        }
        return event.data
    }

    /// Parses an `Event`, keeping the fields munitc writes and skipping any other (as protobuf readers do).
    public init(decoding data: Data) throws {
        self.init(wallTime: 0, step: 0)
        for (number, field) in try ProtobufReader.fields(data) {
            switch (number, field) {
            case (Field.wallTime, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (Field.step, .varint(let v)): step = Int64(bitPattern: v)
            case (Field.fileVersion, .bytes(let s)): fileVersion = String(decoding: s, as: UTF8.self)
            case (Field.summary, .bytes(let summary)):
                for (n, value) in try ProtobufReader.fields(summary) where n == Field.summaryValue {
                    guard case .bytes(let v) = value else { throw ProtobufError("Summary.value is not a message") }
                    values.append(try TensorBoardEvent.value(v))
                }
            default: continue
            }
        }
    }

    private static func value(_ data: Data) throws -> (tag: String, value: Value) {
        var tag = "", result: Value?
        for (number, field) in try ProtobufReader.fields(data) {
            switch (number, field) {
            case (Field.tag, .bytes(let s)): tag = String(decoding: s, as: UTF8.self)
            case (Field.simpleValue, .fixed32(let bits)): result = .scalar(Float(bitPattern: bits))
            case (Field.image, .bytes(let image)):
                var (w, h, c, png) = (0, 0, 0, Data())
                for (n, f) in try ProtobufReader.fields(image) {
                    switch (n, f) {
                    case (Field.height, .varint(let v)): h = Int(truncatingIfNeeded: v)
                    case (Field.width, .varint(let v)): w = Int(truncatingIfNeeded: v)
                    case (Field.colorspace, .varint(let v)): c = Int(truncatingIfNeeded: v)
                    case (Field.encoded, .bytes(let d)): png = d
                    default: continue
                    }
                }
                result = .image(width: w, height: h, colorspace: c, png: png)
            default: continue
            }
        }
        guard let result else { throw ProtobufError("Summary.Value '\(tag)' has neither a simple_value nor an image") }
        return (tag, result)
    }
}

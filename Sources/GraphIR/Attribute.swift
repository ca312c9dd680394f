/// An attribute value as written in the text format.
public enum AttributeValue: Hashable, Sendable {
    case int(Int)
    case float(Double)
    case bool(Bool)
    /// A symbol such as `reflect`; printed bare when it is an identifier, quoted otherwise.
    case string(String)
    case ints([Int])
    case floats([Double])

    public var intValue: Int? { if case .int(let v) = self { return v } else { return nil } }
    public var floatValue: Double? {
        switch self {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let v) = self { return v } else { return nil } }
    public var stringValue: String? { if case .string(let v) = self { return v } else { return nil } }
    public var intsValue: [Int]? { if case .ints(let v) = self { return v } else { return nil } }
    public var floatsValue: [Double]? {
        switch self {
        case .floats(let v): return v
        case .ints(let v): return v.map(Double.init)
        default: return nil
        }
    }
}

/// The kinds of attribute an op can declare.
public enum AttributeKind: String, Sendable {
    case int, float, bool, string, ints, floats

    /// Converts a parsed literal to this kind (integers widen to floats), or nil when it does not fit.
    public func coerce(_ value: AttributeValue) -> AttributeValue? {
        switch (self, value) {
        case (.int, .int), (.float, .float), (.bool, .bool), (.string, .string), (.ints, .ints), (.floats, .floats):
            return value
        case (.float, .int(let v)): return .float(Double(v))
        case (.floats, .ints(let v)): return .floats(v.map(Double.init))
        case (.ints, .floats(let v)) where v.isEmpty: return .ints([])
        default: return nil
        }
    }
}

/// An op's attributes by name. Kept as a dictionary; printing orders them as the op declares them.
public struct Attributes: Hashable, Sendable, ExpressibleByDictionaryLiteral {
    public var values: [String: AttributeValue]

    public init(_ values: [String: AttributeValue] = [:]) { self.values = values }
    public init(dictionaryLiteral elements: (String, AttributeValue)...) {
        values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public subscript(name: String) -> AttributeValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    // Typed accessors for kernels and shape rules: the verifier has already checked kinds and presence, so a
    // missing attribute here is an internal error.
    public func int(_ name: String) -> Int {
        guard let v = values[name]?.intValue else { fatalError("attribute '\(name)' is not a verified int") }
        return v
    }
    public func float(_ name: String) -> Double {
        guard let v = values[name]?.floatValue else { fatalError("attribute '\(name)' is not a verified float") }
        return v
    }
    public func bool(_ name: String) -> Bool {
        guard let v = values[name]?.boolValue else { fatalError("attribute '\(name)' is not a verified bool") }
        return v
    }
    public func string(_ name: String) -> String {
        guard let v = values[name]?.stringValue else { fatalError("attribute '\(name)' is not a verified string") }
        return v
    }
    public func ints(_ name: String) -> [Int] {
        guard let v = values[name]?.intsValue else { fatalError("attribute '\(name)' is not verified ints") }
        return v
    }
    public func floats(_ name: String) -> [Double] {
        guard let v = values[name]?.floatsValue else { fatalError("attribute '\(name)' is not verified floats") }
        return v
    }
}

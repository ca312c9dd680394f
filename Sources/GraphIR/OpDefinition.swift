/// An error from an op's rules (operand count, attributes, shapes). The verifier and parser attach positions.
public struct OpError: DescribedError, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Categories that passes and the backend query instead of switching on op names (tinygrad's `GroupOp`).
public struct OpTraits: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Each result element depends only on the operand elements at the same (broadcast) index.
    public static let elementwise = OpTraits(rawValue: 1 << 0)
    /// Operands broadcast NumPy-style to the result shape.
    public static let broadcasting = OpTraits(rawValue: 1 << 1)
    /// Operand order does not matter (for CSE and canonicalisation).
    public static let commutative = OpTraits(rawValue: 1 << 2)
    /// Sums or averages over axes.
    public static let reduction = OpTraits(rawValue: 1 << 3)
    /// A pointwise nonlinearity that fusion may append to a convolution or norm.
    public static let activation = OpTraits(rawValue: 1 << 4)
    /// Normalises with statistics taken at run time (instance norm, AdaIN, layer norm, batch norm).
    public static let normalization = OpTraits(rawValue: 1 << 5)
    /// Convolution or matrix product: the work that goes to GEMM.
    public static let contraction = OpTraits(rawValue: 1 << 6)
    /// Spatial windows: padding, pooling, upsampling.
    public static let spatial = OpTraits(rawValue: 1 << 7)
    /// Moves or views data without arithmetic (reshape, transpose, slice, concat, broadcast).
    public static let layout = OpTraits(rawValue: 1 << 8)
    /// Produces a value from attributes alone.
    public static let constant = OpTraits(rawValue: 1 << 9)
    /// Blocks gradients (PyTorch's `.detach()`).
    public static let gradientBarrier = OpTraits(rawValue: 1 << 10)
    /// A loss piece (L1, LSGAN, BCE).
    public static let loss = OpTraits(rawValue: 1 << 11)
    /// Exists to express gradients (convolution backward data, pad backward, …).
    public static let backward = OpTraits(rawValue: 1 << 12)
    /// Holds a region (a sub-graph) that fusion passes made; runs after autodiff, so it needs no VJP.
    public static let fused = OpTraits(rawValue: 1 << 13)
    /// Normalises each sample on its own (statistics per (n, c) plane, or per sample), so a group can be
    /// normalised as soon as a convolution has written it: what a `FusionKind.convolutionEpilogue` folds.
    /// Not batch norm, whose groups span the batch.
    public static let sampleStatistics = OpTraits(rawValue: 1 << 14)
    /// Its kernel reads one operand element by element in one pass (a reduction's input, a norm
    /// gradient's upstream gradient): a `FusionKind.prologue` computes a pointwise producer at each load.
    public static let streamsOperand = OpTraits(rawValue: 1 << 15)
    /// Exchanges values with the other ranks of a data-parallel job (`all_reduce`): its result depends on
    /// more than its operands, so it is never evaluated at compile time (but for constants, equal on every
    /// rank) nor fused.
    public static let collective = OpTraits(rawValue: 1 << 16)
}

/// One declared attribute: its kind, default, and a check of its value.
public struct AttributeSpec: Sendable {
    public var name: String
    public var kind: AttributeKind
    /// The value used when the attribute is omitted; nil makes it required.
    public var defaultValue: AttributeValue?
    /// Returns a message when the (kind-checked) value is out of range.
    public var check: (@Sendable (AttributeValue) -> String?)?

    public init(
        _ name: String, _ kind: AttributeKind, default defaultValue: AttributeValue? = nil,
        check: (@Sendable (AttributeValue) -> String?)? = nil
    ) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.check = check
    }
}

/// How many operands an op takes, and their names (for messages and docs).
public enum OperandSpec: Sendable {
    /// Exactly these operands.
    case fixed([String])
    /// The required operands, then up to `optional.count` more.
    case optionalTrailing(required: [String], optional: [String])
    /// One or more of the same kind.
    case variadic(String, minimum: Int)

    public func check(_ count: Int, op: String) -> String? {
        switch self {
        case .fixed(let names) where count != names.count:
            return "'\(op)' takes \(names.count) operand\(names.count == 1 ? "" : "s") (\(names.joined(separator: ", "))), got \(count)"
        case .optionalTrailing(let req, let opt) where count < req.count || count > req.count + opt.count:
            return "'\(op)' takes \(req.count) to \(req.count + opt.count) operands (\((req + opt.map { "[\($0)]" }).joined(separator: ", "))), got \(count)"
        case .variadic(let name, let minimum) where count < minimum:
            return "'\(op)' takes at least \(minimum) '\(name)' operands, got \(count)"
        default:
            return nil
        }
    }
}

/// Work and traffic of one node, for the cost model, build reports and benchmarks.
public struct Cost: Hashable, Sendable {
    public var flops: Int
    public var bytes: Int
    public init(flops: Int, bytes: Int) {
        self.flops = flops
        self.bytes = bytes
    }
    /// Saturates rather than overflowing: a cost is an estimate, and valid shapes can multiply past 2⁶³
    /// (a 2⁴⁰-element result of a convolution with a 2³⁸-tap kernel).
    public static func + (a: Cost, b: Cost) -> Cost {
        Cost(flops: saturatingSum(a.flops, b.flops), bytes: saturatingSum(a.bytes, b.bytes))
    }

    /// Bytes read and written: every one of `types` once.
    public static func bytes(_ types: [TensorType]) -> Int { saturatingSum(types.map(\.byteCount)) }

    /// The product of non-negative `factors`, `Int.max` when it overflows.
    public static func saturatingProduct(_ factors: Int...) -> Int {
        var total = 1
        for factor in factors {
            let (next, overflow) = total.multipliedReportingOverflow(by: factor)
            if overflow { return Int.max }
            total = next
        }
        return total
    }

    /// The sum of non-negative `terms`, `Int.max` when it overflows.
    public static func saturatingSum(_ terms: Int...) -> Int { saturatingSum(terms) }

    /// The sum of non-negative `terms`, `Int.max` when it overflows.
    public static func saturatingSum(_ terms: [Int]) -> Int {
        var total = 0
        for term in terms {
            let (next, overflow) = total.addingReportingOverflow(term)
            if overflow { return Int.max }
            total = next
        }
        return total
    }
}

/// What a VJP rule sees: the node's operands and results, the upstream gradient of each result (nil where
/// nothing downstream depends on it), and a builder to emit gradient IR into.
public struct VJPContext {
    public let builder: GraphBuilder
    public let operands: [ValueID]
    public let results: [ValueID]
    public let upstream: [ValueID?]
    public let attributes: Attributes

    public init(builder: GraphBuilder, operands: [ValueID], results: [ValueID], upstream: [ValueID?], attributes: Attributes) {
        self.builder = builder
        self.operands = operands
        self.results = results
        self.upstream = upstream
        self.attributes = attributes
    }

    /// The upstream gradient of a one-result op (autodiff only calls a rule when there is one).
    public var gradient: ValueID {
        guard let g = upstream[0] else { fatalError("VJP called without an upstream gradient") }
        return g
    }

    /// The single result of a one-result op.
    public var result: ValueID { results[0] }

    /// The shape of operand `i`.
    public func shape(_ i: Int) -> [Int] { builder.shape(of: operands[i]) }
}

/// Emits IR computing the gradient of each operand (nil for no gradient).
public typealias VJPRule = @Sendable (VJPContext) throws -> [ValueID?]

/// The single definition of an op (MLIR's ODS, Glow's ClassGen): the printer, parser, verifier, shape
/// inference, interpreter, cost model and autodiff all read this.
public final class OpDefinition: Hashable, Sendable, CustomStringConvertible {
    public typealias ShapeRule = @Sendable ([TensorType], Attributes) throws(OpError) -> [TensorType]
    public typealias Kernel = @Sendable ([Tensor], Attributes, [TensorType]) -> [Tensor]
    public typealias CostRule = @Sendable ([TensorType], [TensorType], Attributes) -> Cost

    public let name: String
    public let summary: String
    public let operands: OperandSpec
    public let attributes: [AttributeSpec]
    public let traits: OpTraits
    /// Result types from operand types and (checked, defaulted) attributes; throws on invalid combinations.
    public let inferTypes: ShapeRule
    /// The reference implementation: obvious rather than fast. Results are rounded to their dtype by the caller.
    public let kernel: Kernel
    public let cost: CostRule
    /// The vector-Jacobian product, or nil for ops that are not differentiable (and need not be).
    public let vjp: VJPRule?

    public init(
        name: String, summary: String, operands: OperandSpec, attributes: [AttributeSpec] = [],
        traits: OpTraits = [], inferTypes: @escaping ShapeRule, kernel: @escaping Kernel,
        cost: CostRule? = nil, vjp: VJPRule? = nil
    ) {
        self.name = name
        self.summary = summary
        self.operands = operands
        self.attributes = attributes
        self.traits = traits
        self.inferTypes = inferTypes
        self.kernel = kernel
        self.cost = cost ?? OpDefinition.elementwiseCost(flopsPerElement: 1)
        self.vjp = vjp
    }

    public static func == (a: OpDefinition, b: OpDefinition) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
    public var description: String { name }

    /// One value per element from the elements at the same (broadcast) index, with no per-axis operand
    /// (PReLU's channel slope): what fused elementwise loops, prologues and epilogues compute in registers.
    public var isPointwise: Bool {
        guard traits.contains(.elementwise), !traits.contains(.fused) else { return false }
        if case .fixed(let names) = operands, names.count == 1 { return true }
        return traits.contains(.broadcasting)
    }

    public func attributeSpec(named name: String) -> AttributeSpec? { attributes.first { $0.name == name } }

    /// Checks attribute names, kinds and ranges and fills defaults; returns the complete attribute set.
    public func checkAttributes(_ given: Attributes) throws(OpError) -> Attributes {
        var result = Attributes()
        for name in given.values.keys.sorted() where attributeSpec(named: name) == nil {
            let known = attributes.map(\.name)
            throw OpError("'\(self.name)' has no attribute '\(name)'"
                + (known.isEmpty ? " (it takes none)" : " (it takes \(known.joined(separator: ", ")))"))
        }
        for spec in attributes {
            guard let raw = given[spec.name] ?? spec.defaultValue else {
                throw OpError("'\(name)' needs attribute '\(spec.name)' (\(spec.kind.rawValue))")
            }
            guard let value = spec.kind.coerce(raw) else {
                throw OpError("attribute '\(spec.name)' of '\(name)' must be \(spec.kind.rawValue)")
            }
            if case .float(let f) = value, !f.isFinite {
                throw OpError("attribute '\(spec.name)' of '\(name)' must be finite")
            }
            if case .floats(let fs) = value, fs.contains(where: { !$0.isFinite }) {
                throw OpError("attribute '\(spec.name)' of '\(name)' must be finite")
            }
            if let message = spec.check?(value) {
                throw OpError("attribute '\(spec.name)' of '\(name)': \(message)")
            }
            result[spec.name] = value
        }
        return result
    }

    /// The common cost of a pointwise op: `flopsPerElement` per result element, every operand read once.
    public static func elementwiseCost(flopsPerElement: Int) -> CostRule {
        { operands, results, _ in
            let elements = Cost.saturatingSum(results.map(\.elementCount))
            return Cost(flops: Cost.saturatingProduct(elements, flopsPerElement), bytes: Cost.bytes(operands + results))
        }
    }
}

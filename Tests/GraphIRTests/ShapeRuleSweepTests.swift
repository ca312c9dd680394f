import Testing
@testable import GraphIR

/// Every op's shape rule and cost rule under extreme attribute values (2⁶³ − 1, −2⁶³, 2⁶², 2⁴⁰ + 1, …) and
/// huge operand shapes: each either gives a valid type or throws an `OpError`, and never traps. A trap here
/// (integer overflow) crashes the test process, so reaching the expectations is itself the check.
@Suite struct ShapeRuleSweepTests {
    static let extremes: [Int] = [
        .max, .max - 1, .min, .min + 1, 1 << 62, (1 << 62) + 1, 1 << 40, (1 << 40) + 1, 1 << 32, 1 << 31, -1, 0, 1,
    ]

    /// Operand types the baselines are drawn from: MUNIT-like small tensors, plus shapes at the element limit.
    static let operandPool: [TensorType] = [
        [2, 3, 8, 8], [4, 3, 3, 3], [2, 4, 6, 6], [2, 3, 4, 4], [4], [3], [2, 3], [3, 4], [4, 3], [],
        [1, 1, 1 << 20, 1 << 20], [1, 1, 1 << 19, 1 << 19], [1 << 20, 1 << 20],
    ].map { TensorType(.f32, $0) }

    /// Ordinary values per attribute kind, from which a valid baseline is searched.
    static func ordinary(_ kind: AttributeKind) -> [AttributeValue] {
        switch kind {
        case .int: return [0, 1, 2].map { .int($0) }
        case .float: return [1e-5, 0.2].map { .float($0) }
        case .bool: return [.bool(false), .bool(true)]
        case .string:
            return (PadMode.allCases.map(\.rawValue) + DType.allCases.map(\.rawValue) + ReduceOperation.allCases.map(\.rawValue))
                .map { .string($0) }
        case .ints: return [[], [0], [1], [1, 1], [2, 2], [3, 3], [1, 0], [3, 2], [0, 0, 0, 0], [1, 1, 1, 1], [2, 3, 8, 8]].map { .ints($0) }
        case .floats: return [.floats([0.5])]
        }
    }

    /// Each way of putting an extreme value into an int or int-list attribute of `baseline`.
    static func extremeVariants(of value: AttributeValue) -> [AttributeValue] {
        switch value {
        case .int: return extremes.map { .int($0) }
        case .ints(let list):
            // Every element, one element, or one more element extreme (a scalar shape [] grows to [e]).
            var variants = extremes.flatMap { e in [AttributeValue.ints(list.map { _ in e }), .ints(list + [e])] }
            for i in list.indices {
                for e in extremes {
                    var changed = list
                    changed[i] = e
                    variants.append(.ints(changed))
                }
            }
            return variants
        default: return []
        }
    }

    static func operandCounts(_ spec: OperandSpec) -> ClosedRange<Int> {
        switch spec {
        case .fixed(let names): return names.count...names.count
        case .optionalTrailing(let required, let optional): return required.count...(required.count + optional.count)
        case .variadic(_, let minimum): return minimum...(minimum + 2)
        }
    }

    /// All `count`-long lists over `pool`.
    static func lists<T>(_ pool: [T], count: Int) -> [[T]] {
        (0..<count).reduce([[]]) { partial, _ in partial.flatMap { prefix in pool.map { prefix + [$0] } } }
    }

    /// Valid (operands, attributes) pairs for `op`, at most `limit`: for each operand list, one per distinct
    /// choice of the attributes that are not ints (pad's modes take different paths through its rule). Once
    /// one is found, at most `budget` pairs are tried (ops whose valid pairs are rare would otherwise take
    /// most of the sweep's time).
    static func baselines(_ op: OpDefinition, limit: Int = 12, budget: Int = 20_000) -> [([TensorType], Attributes)] {
        let attributeSets = cartesian(op)
        var found: [([TensorType], Attributes)] = []
        var tried = 0
        for count in operandCounts(op.operands) {
            for types in lists(operandPool, count: count) {
                var choices: Set<Attributes> = []
                for attributes in attributeSets {
                    tried += 1
                    if tried > budget && !found.isEmpty { return found }
                    guard let checked = try? op.checkAttributes(attributes),
                          (try? op.inferTypes(types, checked)) != nil else { continue }
                    var choice = checked
                    for spec in op.attributes where spec.kind == .int || spec.kind == .ints { choice[spec.name] = nil }
                    guard choices.insert(choice).inserted else { continue }
                    found.append((types, checked))
                    if found.count == limit { return found }
                }
            }
        }
        return found
    }

    static func cartesian(_ op: OpDefinition) -> [Attributes] {
        op.attributes.reduce([Attributes()]) { partial, spec in
            partial.flatMap { attributes in
                ordinary(spec.kind).map { value in
                    var next = attributes
                    next[spec.name] = value
                    return next
                }
            }
        }
    }

    /// The rule's verdict: a valid type list (whose cost is computed), or a thrown message.
    static func apply(_ op: OpDefinition, _ types: [TensorType], _ attributes: Attributes) -> Result<[TensorType], OpError> {
        do {
            let checked = try op.checkAttributes(attributes)
            let results = try op.inferTypes(types, checked)
            _ = op.cost(types, results, checked)
            return .success(results)
        } catch {
            return .failure(error)
        }
    }

    @Test(arguments: Ops.all.filter { !$0.traits.contains(.fused) })
    func extremeAttributesGiveATypeOrAnError(_ op: OpDefinition) {
        let bases = Self.baselines(op)
        #expect(!bases.isEmpty, "no valid baseline for '\(op.name)': the sweep would test nothing")
        var rejected = 0
        for (types, attributes) in bases {
            for spec in op.attributes {
                guard let base = attributes[spec.name] else { continue }
                for variant in Self.extremeVariants(of: base) {
                    var changed = attributes
                    changed[spec.name] = variant
                    switch Self.apply(op, types, changed) {
                    case .success(let results):
                        for r in results { #expect(TensorType.validate(shape: r.shape) == nil, "'\(op.name)' \(changed) gave \(r)") }
                    case .failure(let error):
                        rejected += 1
                        #expect(error.message.contains(op.name) || error.message.contains(spec.name), "\(error.message)")
                    }
                }
            }
        }
        // An op with int attributes that accepts every extreme value has no range checks at all.
        if op.attributes.contains(where: { $0.kind == .int || $0.kind == .ints }) { #expect(rejected > 0) }
    }

    /// Valid shapes whose work exceeds 2⁶³: the cost saturates instead of trapping.
    @Test func costOfHugeValidShapesSaturates() throws {
        let x = TensorType(.f32, [1, 1, 1 << 20, 1 << 20]), w = TensorType(.f32, [1, 1, 1 << 19, 1 << 19])
        let attributes = try Ops.conv2d.checkAttributes(["pad": .ints([(1 << 18) - 1, (1 << 18) - 1, (1 << 18) - 1, (1 << 18) - 1])])
        let y = try Ops.conv2d.inferTypes([x, w], attributes)
        #expect(y[0].elementCount > 1 << 39)
        #expect(Ops.conv2d.cost([x, w], y, attributes).flops == .max)
    }
}

/// The op table: every op GraphIR knows, one definition each. The definitions live in the files of this
/// folder, grouped by concern; this list is the single place that enumerates them.
public enum Ops {
    /// Every op, in a stable order (docs and tests iterate it).
    public static let all: [OpDefinition] = {
        let groups: [[OpDefinition]] = [
            elementwiseOps,
            convolutionOps, spatialOps, normalizationOps,
            convolutionBackwardOps, spatialBackwardOps, normalizationBackwardOps,
            activationOps, reductionOps, layoutOps, sourceOps, lossOps, collectiveOps, [fused],
        ]
        return groups.flatMap { $0 }
    }()

    private static let byName: [String: OpDefinition] = {
        var table: [String: OpDefinition] = [:]
        for op in all {
            precondition(table[op.name] == nil, "op '\(op.name)' is defined twice")
            table[op.name] = op
        }
        return table
    }()

    /// The op called `name`, if there is one.
    public static func named(_ name: String) -> OpDefinition? { byName[name] }
}

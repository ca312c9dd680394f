/// Classes of one axis that read the same source cells through the same number of tap groups: an
/// upsampling's phases (×2 then 5 taps: output 2a reads cells a−1, a, a+1 through groups {0,1}{2,3}{4}, output
/// 2a+1 the same cells through {0}{1,2}{3,4}). A family's members share one gather of columns and one product,
/// their combined weights stacked — one GEMM with M = members·O instead of a skinny GEMM per phase, which
/// OpenBLAS runs at 70–80% of the stacked rate (docs/GEMM.md).
struct GatherAxisFamily: Equatable {
    var members: [GatherAxisClass]
    /// The distinct cell tuples the members read, in order: the family's positions along this axis.
    var sources: [[Int]]
    /// For each member, for each of its outputs, its tuple's index in `sources`.
    var slots: [[Int]]
    var groupCount: Int { sources.first?.count ?? members[0].groups.count }
    /// Whether member `m` owns every position (otherwise some of its positions are computed and ignored, and
    /// their output gradient must read as zero).
    func ownsEveryPosition(member m: Int) -> Bool { slots[m].count == sources.count }

    init(_ only: GatherAxisClass) {
        (members, sources, slots) = ([only], only.sources, [Array(only.sources.indices)])
    }

    /// `self` with `other` joined when both group the same number of taps, each reads every tuple at most once,
    /// and their tuples together are at most `maximumGrowth` times as many as either's alone (so the stacked
    /// product wastes little on positions a member does not own); nil otherwise.
    func joining(_ other: GatherAxisClass, maximumGrowth: Double = 1.25) -> GatherAxisFamily? {
        guard other.groups.count == groupCount, Set(other.sources).count == other.sources.count,
              members.allSatisfy({ Set($0.sources).count == $0.sources.count }) else { return nil }
        let union = Array(Set(sources).union(other.sources)).sorted { $0.lexicographicallyPrecedes($1) }
        let largest = max(sources.count, other.sources.count)
        guard Double(union.count) <= maximumGrowth * Double(largest) else { return nil }
        let index = Dictionary(uniqueKeysWithValues: union.enumerated().map { ($0.element, $0.offset) })
        let all = members + [other]
        return GatherAxisFamily(members: all, sources: union, slots: all.map { $0.sources.map { index[$0]! } })
    }

    private init(members: [GatherAxisClass], sources: [[Int]], slots: [[Int]]) {
        (self.members, self.sources, self.slots) = (members, sources, slots)
    }
}

extension GatherAxis {
    /// The axis's classes gathered into families (`GatherAxisFamily`), each class joining the first family
    /// that takes it. Without upsampling: one family of one class.
    func families() -> [GatherAxisFamily] {
        var families: [GatherAxisFamily] = []
        for cls in classes() {
            if let (f, joined) = families.indices.lazy.compactMap({ f in families[f].joining(cls).map { (f, $0) } }).first {
                families[f] = joined
            } else {
                families.append(GatherAxisFamily(cls))
            }
        }
        return families
    }
}

import GraphIR

/// Settings that passes built by name take (from `munitc build` flags).
public struct PassSettings: Sendable {
    /// A regular expression on trainable parameter names for `autodiff` (nil: all trainable parameters).
    public var wrt: String?
    public var adam = AdamOptions()
    public var sgd = SGDOptions()
    /// The number of ranks for `sync-batch-statistics` and `data-parallel` (with `virtual-ranks`, every sample
    /// of the job is one).
    public var ranks = 2
    /// `virtual-ranks`: how many of those ranks each process runs, one sample each (it must divide `ranks`).
    public var samples = 2
    public init() {}
}

/// Every pass by its kebab-case name, for `--passes LIST` and help texts.
public enum PassRegistry {
    /// A pass's name (its type's) and how to make one from the settings.
    typealias Entry = (name: String, make: @Sendable (PassSettings) throws -> any Pass)

    /// Every pass, in a sensible pipeline order.
    static let entries: [Entry] = [
        (SyncBatchStatistics.name, { SyncBatchStatistics(ranks: $0.ranks) }),
        (Autodiff.name, { try Autodiff(matching: $0.wrt) }),
        (DataParallel.name, { DataParallel(ranks: $0.ranks) }),
        (VirtualRanks.name, { settings in
            guard settings.samples >= 1, settings.ranks % settings.samples == 0 else {
                throw PassError(pass: VirtualRanks.name, "\(settings.samples) samples per process do not divide \(settings.ranks) ranks")
            }
            return VirtualRanks(samples: settings.samples, ranks: settings.ranks / settings.samples)
        }),
        (AdamPass.name, { AdamPass(options: $0.adam) }),
        (SGDPass.name, { SGDPass(options: $0.sgd) }),
        (EMAPass.name, { _ in EMAPass() }),
        (ConstantFolding.name, { _ in ConstantFolding() }),
        (Canonicalize.name, { _ in Canonicalize() }),
        (CommonSubexpressionElimination.name, { _ in CommonSubexpressionElimination() }),
        (DeadCodeElimination.name, { _ in DeadCodeElimination() }),
        (FuseConvolutionInput.name, { _ in FuseConvolutionInput() }),
        (FuseConvolutionBackward.name, { _ in FuseConvolutionBackward() }),
        (FuseConvolutionEpilogue.name, { _ in FuseConvolutionEpilogue() }),
        (FuseElementwise.name, { _ in FuseElementwise() }),
        (FusePrologue.name, { _ in FusePrologue() }),
    ]

    /// The names `--passes` accepts, in a sensible pipeline order.
    public static var names: [String] { entries.map(\.name) }

    /// The pass called `name`.
    public static func make(_ name: String, _ settings: PassSettings = PassSettings()) throws -> any Pass {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw PassError(pass: name, "unknown pass (known: \(names.joined(separator: ", ")))")
        }
        return try entry.make(settings)
    }

    /// The default pipeline of `munitc build`: the graph as given, or, for a training step, differentiate the
    /// loss and append the optimiser's update.
    public static func defaultPipeline(train optimizer: String?, _ settings: PassSettings = PassSettings()) throws -> [any Pass] {
        var pipeline: [any Pass] = []
        if let optimizer {
            pipeline.append(try Autodiff(matching: settings.wrt))  // gradients of the loss as IR: grad.<param>
            pipeline.append(try make(optimizer, settings))   // next.<param> and optimiser state updates
        }
        return pipeline + cleanupPipeline()
    }

    /// The fusion passes, run on a finished (differentiated, cleaned-up) graph before code generation;
    /// `--no-fuse` leaves them out, `--disable-pass NAME` any one of them.
    public static func fusionPipeline() -> [any Pass] {
        [
            FuseConvolutionInput(),             // upsample → pad → conv (and its gradients) → one gathered convolution
            FuseConvolutionBackward(),          // a convolution's data and weight gradients → one kernel, gy rearranged once
            FuseConvolutionEpilogue(),          // conv → norm → activation → residual add → conv + one pass per norm group
            FuseElementwise(),                  // pointwise chains (Adam's updates, activation masks) → one loop each
            FusePrologue(),                     // those chains read only by a reduction or norm gradient → into it
            DeadCodeElimination(),              // constants copied into regions leave their originals unused
        ]
    }

    /// The names of `fusionPipeline`'s passes (what `disabling` may name).
    public static var fusionPassNames: [String] { fusionPipeline().map(\.name) }

    /// `graph` after the fusion pipeline, less the passes named in `disabled`: what the executing commands
    /// and `Execution` run unless told not to fuse.
    public static func fusing(_ graph: Graph, disabling disabled: Set<String> = []) throws -> Graph {
        var manager = PassManager(pipeline: fusionPipeline())
        manager.disabled = disabled
        return try manager.run(graph).0
    }

    /// The clean-up passes every pipeline ends with (`munitc build` and the MUNIT step graphs), in order.
    public static func cleanupPipeline() -> [any Pass] {
        [
            ConstantFolding(),                  // splat arithmetic autodiff seeds (∂loss = 1, scaled, broadcast)
            Canonicalize(),                     // identities, scale/shift forms, norm-cancelled biases; folds too
            CommonSubexpressionElimination(),   // after canonicalize, whose rewrites make equal nodes
            DeadCodeElimination(),              // last: gradients nobody asked for (w.r.t. images, frozen inputs)
        ]
    }
}

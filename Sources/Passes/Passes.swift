import GraphIR

/// The Passes module: graph transformations (autodiff, optimiser insertion, clean-up, fusion, memory
/// planning) arrive with their issues; this names the module's version of the IR it transforms.
public enum PassesModule {
    /// The ops the passes may assume exist.
    public static var opCount: Int { Ops.all.count }
}

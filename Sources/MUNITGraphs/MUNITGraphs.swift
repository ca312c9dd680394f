import GraphIR

/// The MUNITGraphs module: builders for MUNIT's networks, losses and training steps (issue: MUNIT as graphs).
public enum MUNITGraphsModule {
    /// The op table the builders use.
    public static var opCount: Int { Ops.all.count }
}

/// NVlabs' two trainers (train.py and test.py `--trainer MUNIT|UNIT`). They share the discriminators, the
/// blocks, the perceptual loss and the optimiser; a trainer chooses the generator (`AdaINGen` or `VAEGen`),
/// the noise its steps draw and its loss terms. Every part of munitc that differs between them reads this
/// enum (through `MUNITConfig.trainer`).
public enum TrainerKind: String, CaseIterable, Sendable {
    /// `MUNIT_Trainer`: style and content codes, AdaIN decoders.
    case munit = "MUNIT"
    /// `UNIT_Trainer`: one shared-latent VAE per domain, no style.
    case unit = "UNIT"

    /// Parses `--trainer`'s value (the spelling of train.py: MUNIT or UNIT).
    public init(argument: String) throws {
        guard let kind = TrainerKind(rawValue: argument) else {
            throw MUNITGraphError("unknown trainer '\(argument)'; choose \(TrainerKind.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        self = kind
    }

    /// The random inputs of the training step graphs, in the order the trainer draws them: MUNIT's style
    /// noise `s_a`, `s_b`; UNIT's encoder noise `n_a`, `n_b` (and, in the gen step, `n_b_recon`, `n_a_recon`
    /// for the re-encodings). Each is standard normal; training draws the i-th from (seed, step, i, iteration).
    public var noiseInputs: [String] {
        switch self {
        case .munit: [MUNITGraphNames.sA, MUNITGraphNames.sB]
        case .unit: [MUNITGraphNames.nA, MUNITGraphNames.nB, MUNITGraphNames.nBRecon, MUNITGraphNames.nARecon]
        }
    }

    /// Whether the trainer has style codes (MUNIT): style inputs for translation, style rows in the sample grids.
    public var hasStyle: Bool { self == .munit }

    /// The prefix of its graphs' names (`munit_gen_step`, `unit_gen_step`).
    var graphPrefix: String { rawValue.lowercased() }
}

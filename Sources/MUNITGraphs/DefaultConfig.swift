extension MUNITConfig {
    /// A small config in NVlabs' YAML layout, for `munitc train` without `--config`: NVlabs' default
    /// optimisation and loss settings with narrower networks and 64×64 crops, so that one iteration takes
    /// a fraction of a second compiled. Its data is the shapes set `munitc train` draws into outputs/shapes/data.
    /// For UNIT, MUNIT's own keys (style and MLP sizes, style and content weights) are left out and the
    /// cycle loss is on (UNIT's configs use recon_x_cyc_w 10; NVlabs' UNIT code needs it).
    public static func defaultYAML(for trainer: TrainerKind = .munit) -> String {
        let munitOnly = ["recon_s_w:", "recon_c_w:", "mlp_dim:", "style_dim:"]
        return munitYAML.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
            guard trainer == .unit else { return String(line) }
            let key = line.trimmingCharacters(in: .whitespaces)
            if munitOnly.contains(where: key.hasPrefix) { return nil }
            return key.hasPrefix("recon_x_cyc_w:") ? "recon_x_cyc_w: 10" : String(line)
        }.joined(separator: "\n")
    }

    /// The MUNIT text of `defaultYAML` (it also carries UNIT's KL weights, which MUNIT accepts silently).
    static let munitYAML = """
        # munitc's built-in config: NVlabs/MUNIT key names, small networks for CPU training. `munitc train`
        # without --config uses it on the shapes data set it draws (line drawings <-> filled, shaded shapes).
        image_save_iter: 200
        image_display_iter: 50
        display_size: 8
        snapshot_save_iter: 400
        log_iter: 10

        max_iter: 1200
        batch_size: 1
        weight_decay: 0.0001
        beta1: 0.5
        beta2: 0.999
        init: kaiming
        lr: 0.0001
        lr_policy: step
        step_size: 100000
        gamma: 0.5
        gan_w: 1
        recon_x_w: 10
        recon_s_w: 1
        recon_c_w: 1
        recon_x_cyc_w: 0
        recon_kl_w: 0.01
        recon_kl_cyc_w: 0.01
        vgg_w: 0

        gen:
          dim: 16
          mlp_dim: 64
          style_dim: 8
          activ: relu
          n_downsample: 2
          n_res: 2
          pad_type: reflect
        dis:
          dim: 16
          norm: none
          activ: lrelu
          n_layer: 3
          gan_type: lsgan
          num_scales: 2
          pad_type: reflect

        input_dim_a: 3
        input_dim_b: 3
        num_workers: 0
        new_size: 64
        crop_image_height: 64
        crop_image_width: 64
        data_root: ./outputs/shapes/data/

        """

    /// The built-in config (`defaultYAML`) for `trainer`, parsed.
    public static func builtIn(_ trainer: TrainerKind = .munit) -> MUNITConfig {
        do { return try parse(yaml: defaultYAML(for: trainer), file: "<built-in config>", trainer: trainer) } catch {
            // The text is a constant checked by the tests; failing here is a programming error.
            preconditionFailure("the built-in MUNIT config does not parse: \(error)")
        }
    }
}

extension MUNITConfig {
    /// A small MUNIT config in NVlabs' YAML layout, for `munitc train` without `--config`: NVlabs' default
    /// optimisation and loss settings with narrower networks and 64×64 crops, so that one iteration takes
    /// a fraction of a second compiled. Its data is the shapes set `munitc train` draws into outputs/shapes/data.
    public static let defaultYAML = """
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

    /// The built-in config (`defaultYAML`), parsed.
    public static func builtIn() -> MUNITConfig {
        do { return try parse(yaml: defaultYAML, file: "<built-in config>") } catch {
            // The text is a constant checked by the tests; failing here is a programming error.
            preconditionFailure("the built-in MUNIT config does not parse: \(error)")
        }
    }
}

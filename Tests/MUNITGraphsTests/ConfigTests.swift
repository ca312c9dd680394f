import Foundation
import GraphIR
import Testing
@testable import MUNITGraphs

@Suite struct ConfigTests {
    @Test func tinyConfigReadsEveryKey() throws {
        let c = try Fixtures.tinyConfig()
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(c.batchSize == 2 && c.maxIter == 10)
        #expect(c.lr == 1e-4 && c.beta1 == 0.5 && c.beta2 == 0.999 && c.weightDecay == 1e-4)
        #expect(c.initialization == .kaiming && c.lrPolicy == .step && c.stepSize == 100_000 && c.gamma == 0.5)
        #expect(c.ganW == 1 && c.reconXW == 10 && c.reconSW == 1 && c.reconCW == 1 && c.reconXCycW == 0 && c.vggW == 0)
        #expect(c.gen == MUNITConfig.Generator(dim: 8, mlpDim: 16, styleDim: 4, activ: .relu, nDownsample: 2, nRes: 2,
                                               padType: .reflect))
        #expect(c.dis == MUNITConfig.Discriminator(dim: 8, norm: .none, activ: .lrelu, nLayer: 3, ganType: .lsgan,
                                                   numScales: 2, padType: .reflect))
        #expect(c.inputDimA == 3 && c.inputDimB == 3 && c.newSize == 32)
        #expect(c.cropImageHeight == 32 && c.cropImageWidth == 32 && c.displaySize == 2)
        // Logging intervals the tiny config leaves out take NVlabs' defaults.
        #expect(c.logIter == 10 && c.imageSaveIter == 10_000 && c.imageDisplayIter == 500 && c.snapshotSaveIter == 10_000)
        #expect(!c.usesCycleLoss && !c.usesPerceptualLoss)
    }

    /// NVlabs' configs/edges2handbags_folder.yaml as published, comments and all.
    @Test func nvlabsFolderConfigLoadsWithoutWarnings() throws {
        let yaml = """
            # logger options
            image_save_iter: 10000        # How often do you want to save output images during training
            image_display_iter: 500       # How often do you want to display output images during training
            display_size: 16              # How many images do you want to display each time
            snapshot_save_iter: 10000     # How often do you want to save trained models
            log_iter: 10                  # How often do you want to log the training stats

            # optimization options
            max_iter: 1000000             # maximum number of training iterations
            batch_size: 1                 # batch size
            weight_decay: 0.0001          # weight decay
            beta1: 0.5                    # Adam parameter
            beta2: 0.999                  # Adam parameter
            init: kaiming                 # initialization [gaussian/kaiming/xavier/orthogonal]
            lr: 0.0001                    # initial learning rate
            lr_policy: step               # learning rate scheduler
            step_size: 100000             # how often to decay learning rate
            gamma: 0.5                    # how much to decay learning rate
            gan_w: 1                      # weight of adversarial loss
            recon_x_w: 10                 # weight of image reconstruction loss
            recon_s_w: 1                  # weight of style reconstruction loss
            recon_c_w: 1                  # weight of content reconstruction loss
            recon_x_cyc_w: 0              # weight of explicit style augmented cycle consistency loss
            vgg_w: 0                      # weight of domain-invariant perceptual loss

            # model options
            gen:
              dim: 64                     # number of filters in the bottommost layer
              mlp_dim: 256                # number of filters in MLP
              style_dim: 8                # length of style code
              activ: relu                 # activation function [relu/lrelu/prelu/selu/tanh]
              n_downsample: 2             # number of downsampling layers in content encoder
              n_res: 4                    # number of residual blocks in content encoder/decoder
              pad_type: reflect           # padding type [zero/reflect]
            dis:
              dim: 64                     # number of filters in the bottommost layer
              norm: none                  # normalization layer [none/bn/in/ln]
              activ: lrelu                # activation function [relu/lrelu/prelu/selu/tanh]
              n_layer: 4                  # number of layers in D
              gan_type: lsgan             # GAN loss [lsgan/nsgan]
              num_scales: 3               # number of scales
              pad_type: reflect           # padding type [zero/reflect]

            # data options
            input_dim_a: 3                              # number of image channels [1/3]
            input_dim_b: 3                              # number of image channels [1/3]
            num_workers: 8                              # number of data loading threads
            new_size: 256                               # first resize the shortest image side to this size
            crop_image_height: 256                      # random crop image of this height
            crop_image_width: 256                       # random crop image of this width
            data_root: ./datasets/edges2handbags/     # dataset folder location
            """
        let c = try MUNITConfig.parse(yaml: yaml, file: "edges2handbags_folder.yaml")
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(c == {
            var expected = MUNITConfig()  // NVlabs' defaults are this very file
            expected.newSize = 256
            expected.numWorkers = 8
            expected.dataRoot = "./datasets/edges2handbags/"
            expected.source = "edges2handbags_folder.yaml"
            return expected
        }())
        // The default config at 256×256 has MUNIT.md's ≈ 46.6 M parameters.
        #expect(abs(Double(MUNITLayout(config: c).parameterCount) / 1e6 - 46.6) < 0.1)
    }

    @Test func listConfigKeysAreAcceptedAndKept() throws {
        let c = try Fixtures.tinyConfig([
            "data_folder_train_a": "./datasets/demo/trainA", "data_list_train_a": "./datasets/demo/list_trainA.txt",
            "data_folder_test_b": "./datasets/demo/testB", "num_workers": "8", "new_size": nil,
            "new_size_a": "40", "new_size_b": "36", "recon_kl_w": "0.01",
        ])
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(c.dataLists["data_list_train_a"] == "./datasets/demo/list_trainA.txt")
        #expect(c.dataLists.count == 3)
        #expect(c.newSize == nil && c.newSizeA == 40 && c.newSizeB == 36 && c.numWorkers == 8)
    }

    @Test func everyChoiceOfEveryEnumeratedKeyParses() throws {
        for activ in MUNITConfig.Activation.allCases {
            #expect(try Fixtures.tinyConfig(["gen.activ": activ.rawValue, "dis.activ": activ.rawValue]).gen.activ == activ)
        }
        for pad in MUNITConfig.PadType.allCases {
            let c = try Fixtures.tinyConfig(["gen.pad_type": pad.rawValue, "dis.pad_type": pad.rawValue])
            #expect(c.gen.padType == pad && c.dis.padType == pad)
        }
        for norm in MUNITConfig.DiscriminatorNorm.allCases {
            #expect(try Fixtures.tinyConfig(["dis.norm": norm.rawValue]).dis.norm == norm)
        }
        for gan in MUNITConfig.GANType.allCases {
            #expect(try Fixtures.tinyConfig(["dis.gan_type": gan.rawValue]).dis.ganType == gan)
        }
        for scheme in MUNITConfig.Initialization.allCases {
            #expect(try Fixtures.tinyConfig(["init": scheme.rawValue]).initialization == scheme)
        }
    }

    @Test func variantsOfShapesAndWeightsParse() throws {
        let c = try Fixtures.tinyConfig([
            "batch_size": "3", "crop_image_height": "32", "crop_image_width": "48", "recon_x_cyc_w": "10",
            "vgg_w": "1", "vgg_model_path": "/tmp/munit-output", "lr": "1e-4", "gan_w": "2",
        ])
        #expect(c.batchSize == 3 && c.cropImageHeight == 32 && c.cropImageWidth == 48)
        #expect(c.usesCycleLoss && c.reconXCycW == 10 && c.usesPerceptualLoss && c.vggW == 1)
        #expect(c.vggModelPath == "/tmp/munit-output")
        #expect(c.lr == 1e-4 && c.ganW == 2)
    }

    @Test func learningRateSchedule() throws {
        var c = try Fixtures.tinyConfig(["step_size": "10", "gamma": "0.5", "lr": "0.001"])
        // Iteration i uses lr₀ · gamma^⌊(i + 1) / step_size⌋ (train.py steps the schedule first).
        #expect(c.learningRate(iteration: 0) == 0.001)
        #expect(c.learningRate(iteration: 8) == 0.001)
        #expect(c.learningRate(iteration: 9) == 0.0005)
        #expect(c.learningRate(iteration: 19) == 0.00025)
        c.lrPolicy = .constant
        #expect(c.learningRate(iteration: 1_000_000) == 0.001)
    }

    @Test func missingLRPolicyIsConstantAndNeedsNoStepKeys() throws {
        let c = try Fixtures.tinyConfig(["lr_policy": nil, "step_size": nil, "gamma": nil])
        #expect(c.lrPolicy == .constant)
        #expect(c.learningRate(iteration: 500_000) == c.lr)
        #expect(try Fixtures.tinyConfig(["lr_policy": "constant", "step_size": nil]).lrPolicy == .constant)
    }

    @Test func builtInConfigLoadsAndBuilds() throws {
        let c = MUNITConfig.builtIn()
        #expect(c.warnings.isEmpty, "\(c.warnings)")
        #expect(c.cropImageHeight == 64 && c.gen.dim == 16)
        for kind in [MUNITGraphKind.disLoss, .genLoss, .translate] {
            #expect(verify(try buildMUNITGraph(kind, config: c)).isEmpty)
        }
    }

    @Test func loadReadsAFileAndNamesIt() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("munit-config-\(UUID().uuidString).yaml")
        try Fixtures.tinyYAML(replacing: ["foo": "1"]).write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let c = try MUNITConfig.load(contentsOf: url)
        #expect(c.source == url.path)
        #expect(c.warnings.first?.formatted.hasPrefix("\(url.path):") == true)
    }
}

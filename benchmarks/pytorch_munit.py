#!/usr/bin/env python3
"""Time full MUNIT (or UNIT) training iterations of NVlabs/MUNIT's PyTorch code on the CPU.

This is the PyTorch reference point for munitc's own MUNIT and UNIT training
steps. One timed iteration is exactly what NVlabs' train.py does per batch
(``--trainer MUNIT`` makes ``MUNIT_Trainer``, ``--trainer UNIT``
``UNIT_Trainer``, as train.py's option):

    trainer.update_learning_rate()
    trainer.dis_update(x_a, x_b, config)
    trainer.gen_update(x_a, x_b, config)

with x_a, x_b random batches (uniform in [-1, 1], like NVlabs' normalised
images) of shape [batch, input_dim, crop, crop]. No data loading is timed.

Getting NVlabs' source (needed at run time, never fetched by this script):

    git clone https://github.com/NVlabs/MUNIT /tmp/munit_upstream
    mkdir -p /tmp/munit_src
    cp /tmp/munit_upstream/{trainer,networks,utils}.py /tmp/munit_src/

(from any other copy of the repository, e.g. a bare mirror:
``git --git-dir=MIRROR show HEAD:trainer.py > /tmp/munit_src/trainer.py``,
likewise networks.py and utils.py). NVlabs' code is CC BY-NC-SA 4.0 and is
deliberately not vendored in this repository. The files are used unmodified;
the script installs these run-time shims before importing them:

* ``torch.Tensor.cuda`` becomes the identity (NVlabs calls ``.cuda()`` on the
  style codes in dis_update / gen_update); everything stays on the CPU.
* ``torch.Tensor.get_device`` returns -1 for CPU tensors (torch >= 2 does)
  and VAEGen passes it to ``.cuda()``, which the identity ignores.
* ``torch.utils.serialization.load_lua`` (removed from torch; utils.py
  imports it), ``torchvision`` / ``torchvision.transforms`` /
  ``torchvision.utils`` (only when torchvision is not installed) and NVlabs'
  ``data`` module (data loaders, needs PIL) are stubbed in ``sys.modules``.
  None of them is used by the training step.
* The YAML config is read with ``yaml.safe_load`` (NVlabs' get_config uses
  ``yaml.load`` without a Loader, which PyYAML >= 6 rejects).
* ``vgg_w`` is forced to 0 (the VGG perceptual loss needs pretrained weights;
  the edges2handbags config already has vgg_w 0).

Requirements: torch, pyyaml (numpy optional; it silences a torch warning).

Usage:

    python benchmarks/pytorch_munit.py --munit-src /tmp/munit_src [--trainer MUNIT|UNIT] \\
        --size 128 --iters 3 --threads 2 [--batch 1] [--config X.yaml] [--sample N] [--json]

Defaults: NVlabs' configs/edges2handbags_folder.yaml (embedded below; for UNIT
with UNIT's loss weights recon_kl_w 0.01, recon_x_cyc_w 10, recon_kl_cyc_w
0.01, the values of munitc's built-in UNIT config), crop
size and batch size from the config (256, 1), 5 timed iterations after 1
warm-up iteration, 2 threads. Prints the seconds of every timed iteration and
the median; with --json, prints one JSON object instead:
{"median_seconds", "iterations", "threads", "size", "batch", "torch",
"peak_rss_mb", "sample"} (peak RSS of this process, from resource.getrusage;
with --sample N it includes two trainer.sample() calls on N images each).
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
import types
import warnings

# NVlabs/MUNIT configs/edges2handbags_folder.yaml (model and optimisation
# options; logger and data-path options do not affect the training step).
DEFAULT_CONFIG_YAML = """
image_save_iter: 10000
image_display_iter: 500
display_size: 16
snapshot_save_iter: 10000
log_iter: 10
max_iter: 1000000
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
  dim: 64
  mlp_dim: 256
  style_dim: 8
  activ: relu
  n_downsample: 2
  n_res: 4
  pad_type: reflect
dis:
  dim: 64
  norm: none
  activ: lrelu
  n_layer: 4
  gan_type: lsgan
  num_scales: 3
  pad_type: reflect
input_dim_a: 3
input_dim_b: 3
num_workers: 8
new_size: 256
crop_image_height: 256
crop_image_width: 256
data_root: ./datasets/edges2handbags/
"""

# UNIT_Trainer reads these instead of recon_s_w / recon_c_w; its code needs the cycle loss.
UNIT_LOSS_WEIGHTS = {"recon_kl_w": 0.01, "recon_x_cyc_w": 10, "recon_kl_cyc_w": 0.01}


def parse_args():
    p = argparse.ArgumentParser(
        description="Time NVlabs/MUNIT training iterations (dis_update + gen_update) on the CPU.")
    p.add_argument("--munit-src", required=True,
                   help="folder holding NVlabs/MUNIT's trainer.py, networks.py, utils.py")
    p.add_argument("--trainer", default="MUNIT", choices=["MUNIT", "UNIT"],
                   help="NVlabs' trainer, as train.py's --trainer (default MUNIT)")
    p.add_argument("--config", default=None,
                   help="NVlabs YAML config (default: embedded edges2handbags_folder.yaml)")
    p.add_argument("--size", type=int, default=None,
                   help="crop height = width (default: the config's crop_image_height/width); "
                        "with the default 3-scale, 4-layer reflect-padded discriminator it must "
                        "be >= 64")
    p.add_argument("--batch", type=int, default=None,
                   help="batch size (default: the config's batch_size)")
    p.add_argument("--iters", type=int, default=5, help="timed iterations (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up iterations (default 1)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="after the timed iterations, run trainer.sample() on N train and N test "
                        "display images under torch.no_grad(), as train.py does every "
                        "image_save_iter (for peak memory of a real run; not timed)")
    args = p.parse_args()
    if args.iters < 1:
        p.error("--iters must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    return args


def install_shims(torch):
    """Make NVlabs' 2018-era code importable and CPU-only on modern torch."""
    # .cuda() -> identity: keep every tensor on the CPU.
    torch.Tensor.cuda = lambda self, *a, **k: self

    def stub(name, **attrs):
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        sys.modules[name] = mod
        return mod

    def unavailable(what):
        def f(*a, **k):
            raise RuntimeError(what + " is stubbed out by pytorch_munit.py")
        return f

    # torch.utils.serialization.load_lua was removed in torch 1.0 (newer torch
    # has a different torch.utils.serialization package without it).
    try:
        import torch.utils.serialization as ser
    except ImportError:
        ser = stub("torch.utils.serialization")
    if not hasattr(ser, "load_lua"):
        ser.load_lua = unavailable("load_lua")

    # torchvision: only transforms / utils are imported by utils.py, for data
    # loading and image saving.
    try:
        import torchvision  # noqa: F401
        import torchvision.transforms  # noqa: F401
        import torchvision.utils  # noqa: F401
    except ImportError:
        tv = stub("torchvision")
        tv.transforms = stub("torchvision.transforms")
        tv.utils = stub("torchvision.utils", save_image=unavailable("save_image"),
                        make_grid=unavailable("make_grid"))

    # NVlabs' data.py (image-folder datasets, needs PIL); unused here.
    class _Unused:
        def __init__(self, *a, **k):
            raise RuntimeError("NVlabs data loaders are stubbed out by pytorch_munit.py")
    stub("data", ImageFilelist=_Unused, ImageFolder=_Unused)


def main():
    args = parse_args()

    import yaml
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    src = os.path.abspath(args.munit_src)
    for f in ("trainer.py", "networks.py", "utils.py"):
        if not os.path.isfile(os.path.join(src, f)):
            sys.exit("pytorch_munit.py: %s not found in --munit-src %s (see the docstring "
                     "for how to get NVlabs/MUNIT's source)" % (f, src))
    install_shims(torch)
    sys.path.insert(0, src)
    from trainer import MUNIT_Trainer, UNIT_Trainer  # NVlabs/MUNIT trainer.py

    if args.config:
        with open(args.config) as fh:
            config = yaml.safe_load(fh)
    else:
        config = yaml.safe_load(DEFAULT_CONFIG_YAML)
        if args.trainer == "UNIT":
            config.update(UNIT_LOSS_WEIGHTS)
    if config.get("vgg_w", 0) > 0:
        print("pytorch_munit.py: forcing vgg_w 0 (VGG loss not supported)", file=sys.stderr)
    config["vgg_w"] = 0
    if args.size is not None:
        config["crop_image_height"] = config["crop_image_width"] = args.size
    if args.batch is not None:
        config["batch_size"] = args.batch
    h, w = config["crop_image_height"], config["crop_image_width"]
    batch = config["batch_size"]

    # Silence "lr_scheduler.step() before optimizer.step()" (train.py order).
    warnings.filterwarnings("ignore", category=UserWarning)

    trainer = (UNIT_Trainer if args.trainer == "UNIT" else MUNIT_Trainer)(config)
    trainer.train()

    def batch_for(dim):
        return (torch.rand(batch, dim, h, w) * 2 - 1).detach()

    def iteration():
        x_a = batch_for(config["input_dim_a"])
        x_b = batch_for(config["input_dim_b"])
        t0 = time.perf_counter()
        trainer.update_learning_rate()
        trainer.dis_update(x_a, x_b, config)
        trainer.gen_update(x_a, x_b, config)
        return time.perf_counter() - t0

    for _ in range(args.warmup):
        iteration()
    times = []
    for i in range(args.iters):
        t = iteration()
        times.append(t)
        if not args.json:
            print("iter %d: %.3f s" % (i + 1, t), flush=True)
    if args.sample > 0:
        # train.py: with torch.no_grad(): trainer.sample(test_display_images_a, ...), then the train ones.
        with torch.no_grad():
            for _ in ("test", "train"):
                n = args.sample
                trainer.sample((torch.rand(n, config["input_dim_a"], h, w) * 2 - 1),
                               (torch.rand(n, config["input_dim_b"], h, w) * 2 - 1))
    loss = float(trainer.loss_dis_total) + float(trainer.loss_gen_total)
    if loss != loss:
        sys.exit("pytorch_munit.py: loss is NaN")

    median = statistics.median(times)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    size = h if h == w else "%dx%d" % (h, w)
    if args.json:
        print(json.dumps({
            "median_seconds": round(median, 4),
            "trainer": args.trainer,
            "iterations": args.iters,
            "threads": args.threads,
            "size": size,
            "batch": batch,
            "torch": torch.__version__,
            "peak_rss_mb": round(peak_rss_mb, 1),
            "sample": args.sample,
        }))
    else:
        print("median: %.3f s  (%s, %d iters after %d warm-up, size %s, batch %d, %d threads, "
              "torch %s, peak RSS %.0f MB)"
              % (median, args.trainer, args.iters, args.warmup, size, batch, args.threads,
                 torch.__version__, peak_rss_mb))


if __name__ == "__main__":
    main()

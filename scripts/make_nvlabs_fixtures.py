"""Writes Tests/Fixtures/nvlabs: an NVlabs checkpoint folder (gen_00000002.pt legacy format, dis_00000002.pt
zip format, optimizer.pt legacy) for the tiny config of Tests/TrainingTests/TrainerTests.swift, made with
NVlabs' own AdaINGen / MsImageDis and torch.optim.Adam as MUNIT_Trainer sets them up, after two Adam steps
on random gradients. Committed; the tests never need Python.

Run from the repository root: python3 scripts/make_nvlabs_fixtures.py /path/to/NVlabs/MUNIT
"""
import os, sys
import torch
sys.path.insert(0, sys.argv[1])
from networks import AdaINGen, MsImageDis

torch.manual_seed(16)
gen_cfg = dict(dim=2, mlp_dim=4, style_dim=2, activ="relu", n_downsample=1, n_res=1, pad_type="reflect")
dis_cfg = dict(dim=2, norm="none", activ="lrelu", n_layer=2, gan_type="lsgan", num_scales=1, pad_type="reflect")
gen_a, gen_b = AdaINGen(3, gen_cfg), AdaINGen(3, gen_cfg)
dis_a, dis_b = MsImageDis(3, dis_cfg), MsImageDis(3, dis_cfg)
opts = {}
for key, (a, b) in {"gen": (gen_a, gen_b), "dis": (dis_a, dis_b)}.items():
    params = list(a.parameters()) + list(b.parameters())
    opt = torch.optim.Adam([p for p in params if p.requires_grad], lr=0.0001, betas=(0.5, 0.999), weight_decay=0.0001)
    for _ in range(2):
        for p in params:
            p.grad = torch.randn_like(p)
        opt.step()
    opts[key] = opt

out = "Tests/Fixtures/nvlabs"
os.makedirs(out, exist_ok=True)
torch.save({"a": gen_a.state_dict(), "b": gen_b.state_dict()}, f"{out}/gen_00000002.pt", _use_new_zipfile_serialization=False)
torch.save({"a": dis_a.state_dict(), "b": dis_b.state_dict()}, f"{out}/dis_00000002.pt")
torch.save({"gen": opts["gen"].state_dict(), "dis": opts["dis"].state_dict()}, f"{out}/optimizer.pt", _use_new_zipfile_serialization=False)
# What the test checks against: one parameter and its moments, as text.
first = next(iter(gen_b.state_dict()))
state = opts["gen"].state_dict()["state"][len(list(gen_a.parameters()))]
with open(f"{out}/expected.txt", "w") as f:
    f.write(f"b.{first} {gen_b.state_dict()[first].flatten()[:3].tolist()}\n")
    f.write(f"exp_avg {state['exp_avg'].flatten()[:3].tolist()}\n")
    f.write(f"exp_avg_sq {state['exp_avg_sq'].flatten()[:3].tolist()}\n")
print(open(f"{out}/expected.txt").read())

"""Writes the PyTorch fixtures of Tests/Fixtures/pytorch (committed; the tests never need Python).

Run from the repository root: python3 scripts/make_pytorch_fixtures.py
"""
import collections, io, os, pickle, struct, zipfile
import torch

out = "Tests/Fixtures/pytorch"
os.makedirs(out, exist_ok=True)

def state():
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8 - 1
    sd["conv.bias"] = torch.tensor([0.5, -0.25])
    sd["t"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()  # a non-contiguous view: stride (1, 3)
    sd["d"] = torch.tensor([1.0 / 3, 2.5], dtype=torch.float64)
    sd["n"] = torch.tensor(7, dtype=torch.int64)  # a 0-d buffer, as num_batches_tracked
    sd["h"] = torch.tensor([1.5, -2.0, 65504.0], dtype=torch.float16)
    sd._metadata = collections.OrderedDict(conv={"version": 1})
    return sd

nested = {"a": state(), "b": state()}
torch.save(nested, f"{out}/state_zip.pt")
torch.save(nested, f"{out}/state_legacy.pt", _use_new_zipfile_serialization=False)

# Hostile: a pickle that would call os.system, as a legacy file (magic, protocol, sys info, then the payload)
# and inside a zip as data.pkl. Never loaded by anything but munitc's refusing reader.
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/munitc-pwned",))

class Eval:
    def __reduce__(self):
        return (eval, ("1+1",))

def legacy_header():
    b = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, b, protocol=2)
    pickle.dump(1001, b, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, b, protocol=2)
    return b.getvalue()

with open(f"{out}/hostile_os_system_legacy.pt", "wb") as f:
    f.write(legacy_header() + pickle.dumps({"w": Evil()}, protocol=2))
with zipfile.ZipFile(f"{out}/hostile_eval_zip.pt", "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", pickle.dumps(collections.OrderedDict(w=Eval()), protocol=2))
    z.writestr("archive/version", "3\n")

# Truncated copies of the genuine files.
for name in ["state_zip", "state_legacy"]:
    data = open(f"{out}/{name}.pt", "rb").read()
    open(f"{out}/{name}_truncated.pt", "wb").write(data[: len(data) * 2 // 3])

# A legacy file whose storage claims far more elements than the file holds.
sd = {"w": torch.zeros(4)}
b = io.BytesIO(); torch.save(sd, b, _use_new_zipfile_serialization=False)
data = b.getvalue()
# The pickled numel of the storage (4, BININT1 'K\x04') in its persistent id, replaced by a huge LONG.
i = data.index(b"cpu")
j = data.index(b"K\x04", i)
data = data[:j] + b"\x8a\x05\x00\x00\x00\x00\x10" + data[j + 2:]
open(f"{out}/lying_size_legacy.pt", "wb").write(data)
print(sorted(os.listdir(out)))

# The first layer of NVlabs' Vgg16 state_dict (legacy format, as models/vgg16.weight): the loader reads
# conv1_1 and then names the missing conv1_2.
vgg = collections.OrderedDict()
vgg["conv1_1.weight"] = torch.full((64, 3, 3, 3), 0.25)
vgg["conv1_1.bias"] = torch.arange(64, dtype=torch.float32)
torch.save(vgg, f"{out}/vgg16_first_layer.weight", _use_new_zipfile_serialization=False)

# A one-element storage expanded (stride 0) to a million elements, and one storage shared by 300 tensors:
# both would make a small file allocate far more than its size.
torch.save({"w": torch.zeros(1).expand(10**6)}, f"{out}/expanded_zip.pt")
shared = torch.zeros(64)
torch.save({f"t{i}": shared for i in range(300)}, f"{out}/shared_zip.pt")

# The zip file with its end record's count and directory offset set to the zip64 markers, as a file too large
# for 32-bit fields has them: the reader must take both from the zip64 end record PyTorch writes.
data = bytearray(open(f"{out}/state_zip.pt", "rb").read())
j = data.rindex(b"PK\x05\x06")
data[j + 8:j + 12] = b"\xff\xff\xff\xff"
data[j + 16:j + 20] = b"\xff\xff\xff\xff"
open(f"{out}/state_zip64.pt", "wb").write(bytes(data))
assert len(torch.load(f"{out}/state_zip64.pt", weights_only=True)["a"]) == 6

"""The ResNet folders of bench/official_diff.py (COIL-20, 3D-Chairs): the names of our networks
(codegan/nets/resnet.py) under the official modules' names, the biases that feed a BatchNorm, the
folders' step order and their synthetic data.

Official modules (learninginvision/CoDeGAN@348d046, COIL-20/models/ and 3D-Chairs/models/):
- ``Generator``: ``linear``; ``blocks.i.residual`` = (BN, ReLU, Upsample, conv, BN, ReLU, conv),
  ``blocks.i.shortcut`` = (Upsample, conv); ``output`` = (BN, ReLU, conv, tanh). Ours
  (``ResNetGenerator``): ``linear``, ``blocks.i.{bn1, conv1, bn2, conv2, shortcut}``, ``bn``,
  ``conv``.
- ``Discriminator``: ``model.0`` (``OptimizedDisblock``: ``residual`` = conv, ReLU, conv, pool;
  ``shortcut`` = pool, conv), ``model.i`` (``DisBlock``: ``residual`` = ReLU, conv, ReLU, conv
  [, pool]; ``shortcut`` = conv [, pool] when it has one), ``linear``. Ours
  (``ResNetDiscriminator``): ``blocks.i.{conv1, conv2, shortcut}``, ``linear``.
- ``EncoderC`` / ``EncoderZ``: ``encoder`` (their ResNet-18: ``conv1``, ``bn1``,
  ``layerL.B.{conv1, bn1, conv2, bn2, shortcut.0, shortcut.1}``), ``head.0``, ``head.2``. Ours
  (``ResNet18Encoder``): ``trunk`` (torchvision's ResNet-18 body: the block's shortcut is named
  ``downsample``), ``head.0``, ``head.2``.
"""

from __future__ import annotations

import os
import re

RESNET_FOLDERS = ("COIL-20", "3D-Chairs", "CIFAR-10")

# One table per network: (our name's prefix, the official prefix, k), each a template where
# ``{i}`` is our block index and ``{j}`` the official one, j = i + k. Both directions are read
# from the same table, in order (so a literal rule for block 0 comes before the general one).
_G_COIL = (("linear.", "linear.", 0),
           ("blocks.{i}.bn1.", "blocks.{j}.residual.0.", 0),
           ("blocks.{i}.conv1.", "blocks.{j}.residual.3.", 0),
           ("blocks.{i}.bn2.", "blocks.{j}.residual.4.", 0),
           ("blocks.{i}.conv2.", "blocks.{j}.residual.6.", 0),
           ("blocks.{i}.shortcut.", "blocks.{j}.shortcut.1.", 0),
           ("bn.", "output.0.", 0),
           ("conv.", "output.2.", 0))
_D_COIL = (("blocks.0.conv1.", "model.0.residual.0.", 0),
           ("blocks.0.conv2.", "model.0.residual.2.", 0),
           ("blocks.0.shortcut.", "model.0.shortcut.1.", 0),
           ("blocks.{i}.conv1.", "model.{j}.residual.1.", 0),
           ("blocks.{i}.conv2.", "model.{j}.residual.3.", 0),
           ("blocks.{i}.shortcut.", "model.{j}.shortcut.0.", 0),
           ("linear.", "linear.", 0))
# CIFAR-10/models/Generator.py: l1, block2..block4 (b1, c1, b2, c2, c_sc), b5, c5;
# CIFAR-10/models/Discriminator.py: block1 (OptimizedBlock), block2..block4 (c1, c2, c_sc), l5
_G_CIFAR = (("linear.", "l1.", 0),
            ("blocks.{i}.bn1.", "block{j}.b1.", 2),
            ("blocks.{i}.conv1.", "block{j}.c1.", 2),
            ("blocks.{i}.bn2.", "block{j}.b2.", 2),
            ("blocks.{i}.conv2.", "block{j}.c2.", 2),
            ("blocks.{i}.shortcut.", "block{j}.c_sc.", 2),
            ("bn.", "b5.", 0),
            ("conv.", "c5.", 0))
_D_CIFAR = (("blocks.{i}.conv1.", "block{j}.c1.", 1),
            ("blocks.{i}.conv2.", "block{j}.c2.", 1),
            ("blocks.{i}.shortcut.", "block{j}.c_sc.", 1),
            ("linear.", "l5.", 0))
_E = (("trunk.{layer}.downsample.", "encoder.{layer}.shortcut.", 0),
      ("trunk.", "encoder.", 0),
      ("head.", "head.", 0))
RULES = {"COIL-20": {"G": _G_COIL, "D": _D_COIL, "E_c": _E, "E_z": _E},
         "CIFAR-10": {"G": _G_CIFAR, "D": _D_CIFAR, "E_c": _E, "E_z": _E}}
RULES["3D-Chairs"] = RULES["COIL-20"]

# our networks -> the official Solver's attributes (its optimiser: "optimizer_" + the attribute)
NETS = (("G", "G"), ("D", "D"), ("E_c", "EC"), ("E_z", "EZ"))
# WGAN sign: our D is the official D negated (its last linear) in the WGAN-GP folders; with the
# hinge loss (CIFAR-10) both codes use the same sign
NEGATED = {"COIL-20": {"D": ("linear.",)}, "3D-Chairs": {"D": ("linear.",)}, "CIFAR-10": {}}
# spectral norm (CIFAR-10's D): ours is a parametrization, the official the older
# torch.nn.utils.spectral_norm; with sn_power_order v_first (the same arithmetic) the states are
# renamed by these pairs (ours -> the official, after the prefix: ``old_sn``); with u_first the
# official D is rebuilt as the parametrization instead
_SN_NAMES = ((".parametrizations.weight.original", ".weight_orig"),
             (".parametrizations.weight.0._u", ".weight_u"),
             (".parametrizations.weight.0._v", ".weight_v"))


def _pattern(template: str) -> str:
    out = re.escape(template)
    # {i} (ours) and {j} (official) are both "the block index of the name being read"
    return (out.replace(r"\{i\}", r"(?P<n>\d+)").replace(r"\{j\}", r"(?P<n>\d+)")
            .replace(r"\{layer\}", r"(?P<layer>layer\d\.\d+)"))


def _fill(template: str, m, shift: int) -> str:
    g = m.groupdict()
    out = template.replace("{layer}", g.get("layer") or "")
    if g.get("n") is not None:  # the index written: the one read, shifted to the other side
        out = out.replace("{i}", str(int(g["n"]) + shift)).replace("{j}", str(int(g["n"]) + shift))
    return out


def sn_suffix(name: str | None, back: bool, old_sn: bool) -> str | None:
    """A spectral-norm state's name: ours (a parametrization) under the old API's names, which
    the official networks keep when ``old_sn`` (``back``: the other way)."""
    if name is None or not old_sn:
        return name
    for new, old in _SN_NAMES:
        a, b = (old, new) if back else (new, old)
        if name.endswith(a):
            return name[:-len(a)] + b
    return name


def rename(net: str, name: str, back: bool = False, folder: str = "COIL-20",
           old_sn: bool = False) -> str | None:
    """Our parameter name ``name`` of network ``net`` under the official name (``back``: the
    official name under ours; ``old_sn``: the official spectral norms keep the old API's
    names); None when no rule matches."""
    if back:
        name = sn_suffix(name, True, old_sn)
    for ours, official, k in RULES[folder][net]:
        src, dst, shift = (official, ours, -k) if back else (ours, official, k)
        m = re.match(_pattern(src), name)
        if m:
            out = _fill(dst, m, shift) + name[m.end():]
            return out if back else sn_suffix(out, False, old_sn)
    return None


def negated(folder: str) -> dict:
    return NEGATED[folder]


def bn_fed(state_keys) -> tuple:
    """Our G's biases that feed a BatchNorm (exactly zero gradient; both codes move them by
    rounding noise only): the linear (-> blocks.0.bn1), each block's conv1 (-> its bn2), conv2
    and shortcut (summed, -> the next block's bn1 or the last ``bn``). All but ``conv.bias``."""
    return tuple(k for k in state_keys if k.endswith(".bias") and not k.startswith("conv.")
                 and not re.search(r"bn\d?\.bias$", k))


def carry_bounds(bias_max: dict, state: dict) -> dict:
    """{running_mean: elementwise bound of the difference the BN-fed biases' noise puts into it}
    of our G. ``bias_max``: {bias name: elementwise largest |difference| so far}; ``state``: our
    G's state (the 1x1 shortcut convs' weights).

    A batch mean moves by exactly the bias added before it, and G's shortcut path (nearest
    up-sampling, which keeps a channel's mean, then a 1x1 conv) has no BatchNorm, so each block
    passes its input's mean shift on through |W_shortcut|: the bound of block i's output is
    |d conv2.bias| + |d shortcut.bias| + |W_shortcut| @ (the bound of its input), starting from
    the linear's bias (per channel of its 4x4 view). Each block's bn2 sees its conv1's bias only.
    A running mean is a convex average of batch means, so it keeps within the largest bound."""
    import torch

    lin = bias_max.get("linear.bias")
    if lin is None:
        return {}
    blocks = sorted({int(m.group(1)) for k in state
                     for m in [re.match(r"blocks\.(\d+)\.", k)] if m})
    x = lin.view(state["blocks.0.bn1.running_mean"].numel(), -1).max(1).values
    out = {"blocks.0.bn1.running_mean": x}
    zero = torch.zeros_like(x)
    for i in blocks:
        out[f"blocks.{i}.bn2.running_mean"] = bias_max.get(f"blocks.{i}.conv1.bias", zero)
        w = state[f"blocks.{i}.shortcut.weight"].abs().flatten(1)
        x = (bias_max.get(f"blocks.{i}.conv2.bias", zero)
             + bias_max.get(f"blocks.{i}.shortcut.bias", zero) + w @ x)
        nxt = f"blocks.{i + 1}.bn1.running_mean" if i + 1 in blocks else "bn.running_mean"
        out[nxt] = x
    return out


def schedule(epoch: int, chain_step: int):
    """The official steps of one iteration (COIL-20/train.py:67-78, 3D-Chairs/train.py:66-77):
    D; G; E_c when ``epoch >= chain_step - 1``; E_z. No labelled batch in these folders."""
    plan = [("D", False), ("G", False)]
    if epoch >= chain_step - 1:
        plan.append(("EC", False))
    return plan + [("EZ", False)]


def cifar_schedule(epoch: int, idx: int, chain_step: int, few: bool, critic: int):
    """The official steps of one CIFAR-10 iteration (CIFAR-10/train.py:93-104), each with whether
    it takes the labelled batch: at ``idx % critic == 0`` G, then from epoch ``chain_step - 1``
    E_c (labelled) and before it G (labelled) alone, then E_z; D in every iteration."""
    plan = []
    if idx % critic == 0:
        if epoch >= chain_step - 1:
            plan += [("G", False), ("EC", few)]
        else:
            plan += [("G", few)]
        plan.append(("EZ", False))
    return plan + [("D", False)]


DATA = {"COIL-20": (20, 32), "3D-Chairs": (10, 64), "CIFAR-10": (10, 32)}


def make_data(root: str, folder: str, n_train: int, seed: int = 0) -> str:
    """Synthetic images of the folder in the layout our loader reads (each class a bright bar
    at row k+6 over noise; both codes get the same real batches, drawn by ours).
    COIL-20: coil20.npz (images (n, 32, 32) uint8, labels 0..19), the official processed file's
    layout, read as is at 32x32. CIFAR-10: cifar10.npz (x_train (n, 32, 32, 3) uint8, y_train,
    and a small test split), the three channels shifted copies of one another.
    3D-Chairs: rendered_chairs/<model>/renders/ PNGs of 96x96, whose
    central 2/3 crop our loader takes: 64x64, no resize."""
    import numpy as np

    k_cls, size = DATA[folder]
    rng = np.random.default_rng(seed)
    y = np.arange(n_train) % k_cls
    side = size * 3 // 2 if folder == "3D-Chairs" else size
    x = rng.integers(0, 60, size=(n_train, side, side)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, (side - size) // 2 + k + 6, 4:side - 4] = 255
    if folder == "COIL-20":
        np.savez(os.path.join(root, "coil20.npz"), images=x, labels=y.astype(np.int64))
        return root
    if folder == "CIFAR-10":
        rgb = np.stack([x, np.roll(x, 1, 1), np.roll(x, 1, 2)], -1)
        np.savez(os.path.join(root, "cifar10.npz"), x_train=rgb, y_train=y.astype(np.int64),
                 x_test=rgb[:k_cls], y_test=y[:k_cls].astype(np.int64))
        return root
    from PIL import Image

    for i, k in enumerate(y):
        d = os.path.join(root, "rendered_chairs", f"model_{k:02d}", "renders")
        os.makedirs(d, exist_ok=True)
        rgb = np.stack([x[i], np.roll(x[i], 1, 0), np.roll(x[i], 1, 1)], -1)
        Image.fromarray(rgb).save(os.path.join(d, f"image_{i:03d}_p020_t{i:03d}_r096.png"))
    return root

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

RESNET_FOLDERS = ("COIL-20", "3D-Chairs")

# (our pattern, official replacement), (official pattern, our replacement) per network
_G = [(r"linear\.", "linear."),
      (r"blocks\.(\d+)\.bn1\.", r"blocks.\1.residual.0."),
      (r"blocks\.(\d+)\.conv1\.", r"blocks.\1.residual.3."),
      (r"blocks\.(\d+)\.bn2\.", r"blocks.\1.residual.4."),
      (r"blocks\.(\d+)\.conv2\.", r"blocks.\1.residual.6."),
      (r"blocks\.(\d+)\.shortcut\.", r"blocks.\1.shortcut.1."),
      (r"bn\.", "output.0."),
      (r"conv\.", "output.2.")]
_G_BACK = [(r"linear\.", "linear."),
           (r"blocks\.(\d+)\.residual\.0\.", r"blocks.\1.bn1."),
           (r"blocks\.(\d+)\.residual\.3\.", r"blocks.\1.conv1."),
           (r"blocks\.(\d+)\.residual\.4\.", r"blocks.\1.bn2."),
           (r"blocks\.(\d+)\.residual\.6\.", r"blocks.\1.conv2."),
           (r"blocks\.(\d+)\.shortcut\.1\.", r"blocks.\1.shortcut."),
           (r"output\.0\.", "bn."),
           (r"output\.2\.", "conv.")]
_D = [(r"blocks\.0\.conv1\.", "model.0.residual.0."),
      (r"blocks\.0\.conv2\.", "model.0.residual.2."),
      (r"blocks\.0\.shortcut\.", "model.0.shortcut.1."),
      (r"blocks\.([1-9]\d*)\.conv1\.", r"model.\1.residual.1."),
      (r"blocks\.([1-9]\d*)\.conv2\.", r"model.\1.residual.3."),
      (r"blocks\.([1-9]\d*)\.shortcut\.", r"model.\1.shortcut.0."),
      (r"linear\.", "linear.")]
_D_BACK = [(r"model\.0\.residual\.0\.", "blocks.0.conv1."),
           (r"model\.0\.residual\.2\.", "blocks.0.conv2."),
           (r"model\.0\.shortcut\.1\.", "blocks.0.shortcut."),
           (r"model\.([1-9]\d*)\.residual\.1\.", r"blocks.\1.conv1."),
           (r"model\.([1-9]\d*)\.residual\.3\.", r"blocks.\1.conv2."),
           (r"model\.([1-9]\d*)\.shortcut\.0\.", r"blocks.\1.shortcut."),
           (r"linear\.", "linear.")]
_E = [(r"trunk\.(layer\d\.\d+)\.downsample\.", r"encoder.\1.shortcut."),
      (r"trunk\.", "encoder."),
      (r"head\.", "head.")]
_E_BACK = [(r"encoder\.(layer\d\.\d+)\.shortcut\.", r"trunk.\1.downsample."),
           (r"encoder\.", "trunk."),
           (r"head\.", "head.")]
RULES = {"G": (_G, _G_BACK), "D": (_D, _D_BACK), "E_c": (_E, _E_BACK), "E_z": (_E, _E_BACK)}

# our networks -> the official Solver's attributes (its optimiser: "optimizer_" + the attribute)
NETS = (("G", "G"), ("D", "D"), ("E_c", "EC"), ("E_z", "EZ"))
# WGAN sign: our D is the official D negated (its last linear)
NEGATED = {"D": ("linear.",)}


def rename(net: str, name: str, back: bool = False) -> str | None:
    """Our parameter name ``name`` of network ``net`` under the official name (``back``: the
    official name under ours); None when no rule matches."""
    for pat, rep in RULES[net][1 if back else 0]:
        m = re.match(pat, name)
        if m:
            return m.expand(rep) + name[m.end():]
    return None


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


DATA = {"COIL-20": (20, 32), "3D-Chairs": (10, 64)}


def make_data(root: str, folder: str, n_train: int, seed: int = 0) -> str:
    """Synthetic images of the folder in the layout our loader reads (each class a bright bar
    at row k+6 over noise; both codes get the same real batches, drawn by ours).
    COIL-20: coil20.npz (images (n, 32, 32) uint8, labels 0..19), the official processed file's
    layout, read as is at 32x32. 3D-Chairs: rendered_chairs/<model>/renders/ PNGs of 96x96, whose
    central 2/3 crop our loader takes: 64x64, no resize."""
    import numpy as np

    k_cls, size = DATA[folder]
    rng = np.random.default_rng(seed)
    y = np.arange(n_train) % k_cls
    side = size if folder == "COIL-20" else size * 3 // 2
    x = rng.integers(0, 60, size=(n_train, side, side)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, (side - size) // 2 + k + 6, 4:side - 4] = 255
    if folder == "COIL-20":
        np.savez(os.path.join(root, "coil20.npz"), images=x, labels=y.astype(np.int64))
        return root
    from PIL import Image

    for i, k in enumerate(y):
        d = os.path.join(root, "rendered_chairs", f"model_{k:02d}", "renders")
        os.makedirs(d, exist_ok=True)
        rgb = np.stack([x[i], np.roll(x[i], 1, 0), np.roll(x[i], 1, 1)], -1)
        Image.fromarray(rgb).save(os.path.join(d, f"image_{i:03d}_p020_t{i:03d}_r096.png"))
    return root

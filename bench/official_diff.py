"""Iteration by iteration: does our CoDeGAN training compute what the official code computes?

    python bench/official_diff.py --official=DIR --folder=Fashion-MNIST --mode=unsupervised --iters=20

DIR is a checkout of github.com/learninginvision/CoDeGAN at its first upload (commit 348d046):

    git clone https://github.com/learninginvision/CoDeGAN DIR && git -C DIR checkout 348d046

The script builds the official ``Solver`` of the folder (DIR/<folder>/solver.py, imported with that
folder on sys.path; ``.to('cuda:N')`` is mapped to the CPU in memory, nothing else is changed) and
our ``Trainer`` on the folder's param.yml, both in float64 on the CPU. Both start from the same
weights (ours, loaded into the official modules through ``to_official``) and see the same draws:
our latents, real batches, labelled batches, crop boxes and gradient-penalty mixing weights are
recorded as our loop draws them and injected where the official code draws them (its
``sample_noise``, ``train_transform``'s ``RandomResizedCrop.get_params``, ``calc_gradient_penalty``'s
``torch.rand`` and the batches its train.py would take from its DataLoader / ``sample_real_data``).
Our loop runs its own ``train_iteration``; after each of our G, E and D steps the official step
of the same name runs, in the order of the official train.py of the folder, and the script prints
the difference of the step's losses and the largest relative difference of every network's state
and of every optimiser's ``exp_avg`` / ``exp_avg_sq``.

Deliberate differences that FAITHFULNESS.md lists are mapped, not reported:
- the WGAN sign (ours minimises D(fake) - D(real), the official D(real) - D(fake)): our D is the
  official D negated, so D's last linear layer (weight, bias, their exp_avg) is compared negated;
- the vectorised sampler: our latents are injected into the official ``sample_noise``;
- the crop (section 7, "crop resampling"): the official ``train_transform`` runs torchvision on
  our crop box, and the row "T (resampler)" reports how far torchvision's output is from our
  ``crop_flip`` on the same box and the same input. With ``aug_crop_edge: box`` (the default) they
  agree to rounding and the row is held to --tol; with ``image`` the outermost ring of pixels
  differs by design (the row "T interior", held to --tol, compares the rest). The official step
  continues with our T's output of ITS OWN input (``--raw-resample`` keeps torchvision's);
- the gradient penalty "taken in float32" (section 3): our ``gradient_penalty`` casts the
  gradient to float32 (a no-op in the float32 runs, which both codes do; it keeps the norm out of
  bfloat16). In this float64 comparison that cast alone would add float32 rounding (~1e-8
  relative in D's loss), so it is kept in float64 while our penalty runs (``--raw-gp`` does not);
- the biases of layers that feed a BatchNorm (G's fc.0, fc.3, deconv.0) have an exactly zero
  gradient; both codes move them by rounding noise only (|value| ~ 1e-11). They are reported
  apart ("BN-fed biases", absolute) and left out of the relative maxima; the running mean of the
  BatchNorm each feeds carries that noise, so there only what exceeds the bias's largest
  difference so far is compared.

The ResNet folders (COIL-20, 3D-Chairs; bench/official_diff_resnet.py has their name maps) take
the D step first, then G, E_c (from epoch chain_step - 1) and E_z, the official
``optimize_parametersEC`` / ``optimize_parametersEZ`` of their separate encoders; their T is one
horizontal flip a batch, our flip injected into ``RandomHorizontalFlip`` (the row "T" compares
torch.flip with our grid_sample flip: rounding only; the official step goes on with ours). Also
mapped there: ``stack_d_batches`` (FAITHFULNESS.md, "D step"): our one D call on real and fake
images is made as the official two calls (--stacked-d keeps ours), since the gradient sums' other
order, though rounding only, moves a zero-gradient element by a full Adam step of ~1e-12.
CIFAR-10 (the same name maps, bench/official_diff_resnet.py) takes G, E_c, E_z at every third
iteration of an epoch and D in each, then the official lr decay; its T's colour jitter and
grayscale draws are injected into torchvision's ``RandomApply``, ``ColorJitter.get_params`` and
``RandomGrayscale``. Its D's spectral norm runs as ours is set: with ``sn_power_order: v_first``
(the default) ours computes what the official ``torch.nn.utils.spectral_norm`` computes and the
states are renamed; with ``--set sn_power_order=u_first`` the official D is rebuilt under the
parametrization API ours then uses.
dSprites takes G, E (from epoch chain_step - 1, with the labelled reals; G takes them before)
and D every iteration (dSprites/train.py:66-72) with its shared spectral-norm E called once per
view and its halved BCE (the folder's ``encoder_calls: per_view``, ``d_loss_scale: 0.5``); the
official labelled sampler (``sample_paired_all_value_batch``, per shape) hands out our labelled
batch, the official ``self.device`` is the CPU and its BCE targets (0 and 1) take the
computation's dtype. Its data is a small rendered dSprites file.
3D-Cars is refused: its official folder does not run. --resync loads our states into the
official code after each step, so that every cell is one step's difference from equal states.

Exit status: 0 when every difference is at most --tol (relative), 1 when one is larger, 2 on bad
input (one message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import math
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
_BENCH = os.path.join(REPO, "bench")
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

import official_diff_resnet as rn  # noqa: E402  (the ResNet folders: COIL-20, 3D-Chairs)

OFFICIAL_COMMIT = "348d0464526c8056d83a2c00a0f7acf41253d4fd"
# sha256 of the official files this script reads or drives, at OFFICIAL_COMMIT
OFFICIAL_FILES = {
    "MNIST": {
        "solver.py": "72fe8e6dee6cac4bbdc4fa3c3e1d9f9f47f48d7d84f55d59e74cd6864b516f3f",
        "model.py": "e71df3bfba23b4cae49bec4829a6d11d08d8a533a54601397e87d4fac8786e8c",
        "train.py": "c99f44269a37bd0f6e74548c5dc8851540c9f1e478778b271459c3ed2373a456",
        "utils/util.py": "7c180699d3bbaf1ec723aaca363d68e86e00b22cb4bfb09aba966b8a4c0607a5",
        "utils/sup_contrastive_loss.py":
            "2f171704ecd9508cec9582ecf9f0ab4be8731c9472d6ffbd097339cb9e2a5792",
    },
    "Fashion-MNIST": {
        "solver.py": "1a2b36ff4d2474e9008aecd8af890e1cb10d26ce0e61975b0dd5ba401792af3f",
        "model.py": "16094c3d2948efe88412160b8b05c85170d7a8e0a1a9203cafad1312765af38b",
        "train.py": "d90f3c58c6fd5ae8f31daccaca1da785d0fcea9627e0e8d6e0e0ac6d04ce509b",
        "utils/util.py": "cead5d163a327623b22bb0d049a14d515506deb3575e8f9165994ea35c41bf77",
        "utils/sup_contrastive_loss.py":
            "2220ff5093864a04535dd5a737536a325e94fc6f5c06fa67f8824f9779811a7c",
    },
    "COIL-20": {
        "solver.py": "b20dea6e465ed4a719d6846701e6fab71a382eacd5b790bad40cb4408d0b8772",
        "train.py": "e92f10a7c5f25fb2fa19d14cedc7fc0410668d85fb1c1efa62cd71be2b20cb7a",
        "models/Generator.py": "a4787c0e6bb0124fe626259ed9d5ea56c3b8f465ec718da998580e2096fe741b",
        "models/Discriminator.py":
            "985bba5ca42fa4e47b217e3a70d385c8aff620252a40e8ac80ef87439e7d1d9a",
        "models/Encoder.py": "f5c4300118a77b55d73ba5d20ece47218765430ed66e5b28c5bae30c05bdf770",
        "utils/util.py": "7191b5bae3c988a20f8b4bd6dbbc7f1fe18bc89624f8ddbc88a439e6745a8c98",
        "utils/sup_contrastive_loss.py":
            "4191e970609d0b18d7bc6e641e89ebb7b46ab6dcb287caa59ff4aa62384c865e",
    },
    "CIFAR-10": {
        "solver.py": "a0e32c9630f04837f0417099f93de78fbd0f4978c770091d59455e43133f08db",
        "train.py": "24ff3c4b1fbef3e0b9a709c4c0bb0bfaa41bc2452ae888c5a4c51cb73f72511a",
        "models/Generator.py": "2ed9da084939f8b1f4985b72ca9488fad931f3c1649547b55c4f6da141b3faa7",
        "models/Discriminator.py":
            "a01cf2b2f880a54290c3c63f7d4fbc39a63085ef4cb44b9a2455c272403722a4",
        "models/Encoder.py": "ab84ccedf85101fa01aced2d8c16a70fad66137aa26ca0c9408efac978d206f5",
        "utils/util.py": "6916886f8aeb251dff286b6d26198025ab22850456958c433971aa1e9dfcd3ee",
        "utils/ema.py": "8e4c7ab6daa4e20717180978c68d32182b9ae11384fda9fc066443fbe63a0397",
        "utils/sup_contrastive_loss.py":
            "4191e970609d0b18d7bc6e641e89ebb7b46ab6dcb287caa59ff4aa62384c865e",
    },
    "dSprites": {
        "solver.py": "b4bb223e9caafc6f8e451ca3b11a7af5c12ec3d046eb90025b7507aee42aeb95",
        "model.py": "69fb6af22e62160a0f4c9be698eb99d559706f3509b7fa193a708e077249f2ef",
        "train.py": "f7beb8cbe218b52c889861f7ee7bdf0f1a962f4ac67252d876ea50b80c72f7e7",
        "utils/util.py": "f712d5e50c8b1ae776f985930ef0400383e3dc327881c21e71dfe512abee44db",
        "utils/sup_contrastive_loss.py":
            "a7dd82a3976a1d86ac92c3939cbc11a687848111c92cc439299dd1da206780bf",
    },
    "3D-Chairs": {
        "solver.py": "9a778c699d77a45a5a49437d82fa01a0b51663c524221b885591a8f446370d2e",
        "train.py": "72de5aba1ea849d85dd2e9084c0b64d822d4426f3a88c04465dd2c4d12c7a533",
        "models/Generator.py": "eb47297ada88fe7f23f474aa14d8a98e45f2c92bbb37fe9b5c15cf7bb1c8f80d",
        "models/Discriminator.py":
            "880c3b6a7dde4739ab67692d9fac94a7bf69a5b170acea4673dc57084de16eed",
        "models/Encoder.py": "2c6772df4ef498162cd897bd39a23bd8a1a132d7ed24ccc99cd247935840da62",
        "utils/util.py": "e28675a4a69c959cc232c4c6751f1512891805708819c7fdf0cecc642cb3548b",
        "utils/sup_contrastive_loss.py":
            "4191e970609d0b18d7bc6e641e89ebb7b46ab6dcb287caa59ff4aa62384c865e",
    },
}
# folders of the first upload that exist but are not driven by this script yet
NOT_DRIVEN = ("FACES",)
# ... and those whose official code does not run at all
NOT_RUNNABLE = {"3D-Cars": "its solver.py:4 imports utils.util and the folder has no utils/ "
                           "(nor a train.py); solver.py:51 also uses an undefined real_data"}
# the official modes (README of the official code): the loop of each is the folder's train.py
# with its flags; the pre-trained weights it loads (unpublished) are a fresh encoder both codes
# start from, and G and D start from the same random weights (load_path: scratch)
MODE_SETTINGS = {"unsupervised": {}, "few-labels": {"few_labels": True},
                 "pretrained": {"pretrain": True, "load_path": "scratch"},
                 "few-labels-pretrained": {"few_labels": True, "pretrain": True,
                                           "load_path": "scratch"},
                 "meta": {"few_labels": True, "meta": True, "load_path": "scratch"}}
MODES = {"MNIST": ("unsupervised",),
         "Fashion-MNIST": ("unsupervised", "few-labels", "pretrained", "few-labels-pretrained",
                           "meta"),
         "COIL-20": ("unsupervised", "pretrained"), "3D-Chairs": ("unsupervised", "pretrained"),
         "CIFAR-10": ("unsupervised", "few-labels", "pretrained", "few-labels-pretrained",
                      "meta"),
         # dSprites/train.py always hands the labelled reals to the steps (its one mode is
         # few-labels-pretrained); the solver's label-free path (real_data None) is our default
         "dSprites": ("unsupervised", "few-labels", "few-labels-pretrained")}
DATA_FILE = {"MNIST": "mnist.npz", "Fashion-MNIST": "fashion_mnist.npz"}
# small batches (both codes get the same ones): the code paths are those of the full sizes
SMALL = {"g_batch_size": 16, "d_batch_size": 16, "e_batch_size": 24, "r_batch_size": 10,
         "n_labels": 20}
# the ResNet folders: 32x32 (COIL-20) float64 ResNets on the CPU, so a few images a batch; the
# chain epoch is moved to 2 (E_c from epoch 1, official rule epoch >= chain_step - 1) so a run
# crosses it; 20 objects need an epoch of 5 batches of 4
SMALL_RESNET = {"g_batch_size": 4, "d_batch_size": 4, "ec_batch_size": 4, "ez_batch_size": 4,
                "chain_step": 2}
# CIFAR-10: batches of 4 (G steps every 3rd iteration, critic 3), 10 labelled images of a
# 20-image subset (the official sampler takes r_batch_size // 10 of each class); an epoch of 6
# iterations holds two G steps and one lr decay (idx % 5 == 4)
SMALL_CIFAR = {"g_batch_size": 4, "d_batch_size": 4, "ec_batch_size": 4, "ez_batch_size": 4,
               "r_batch_size": 10, "n_labels": 20}
IPE = {"COIL-20": 5, "3D-Chairs": 5, "CIFAR-10": 6}
# dSprites: 64x64 binary sprites; 2 labelled images of each shape a step (the official
# r_batch_size is per shape, ours the total), from 4 of each shape. G's batch is 16: a ReLU unit
# of G's FC layers that is active for every image of the batch feeds its BatchNorm directly, so
# its bias's gradient is 0 up to rounding and Adam's first step turns the two codes' different
# rounding into a step of ~1e-9 (with 6 images, 2 of the 128 first-layer units are such units)
SMALL_DSPRITES = {"g_batch_size": 16, "d_batch_size": 8, "e_batch_size": 8, "r_batch_size": 6,
                  "n_labels": 12, "dsprites_test_images": 12, "train_metrics": []}
# 3D-Chairs: 64x64 images through 512-channel G blocks: two images a batch (10 models need an
# epoch of 5 batches of 2)
SMALL_3D = {"g_batch_size": 2, "d_batch_size": 2, "ec_batch_size": 2, "ez_batch_size": 2,
            "chain_step": 2}

# Our parameter names -> the official ones (MNIST/model.py and Fashion-MNIST/model.py: G.fc,
# G.cnn; D.cnn, D.fc; E.cnn, E.fc). Prefix pairs, per network.
NAME_MAP = {
    "G": (("fc.", "fc."), ("deconv.", "cnn.")),
    "D": (("net.0.", "cnn.0."), ("net.2.", "cnn.2."), ("net.5.", "fc.0."), ("net.7.", "fc.2.")),
    "E": (("net.0.", "cnn.0."), ("net.2.", "cnn.2."), ("net.4.", "cnn.4."), ("net.7.", "fc.0."),
          ("net.9.", "fc.2.")),
}
# dSprites (dSprites/model.py): G.fc, G.cnn; D.cnn, D.fc (its Linear layers under a Sequential
# with the final Sigmoid); E.cnn1, E.fc1; every D and E layer under spectral norm
NAME_MAP_DSPRITES = {
    "G": (("fc.", "fc."), ("deconv.", "cnn.")),
    "D": (("trunk.0.", "cnn."), ("trunk.1.", "fc.0.0."), ("last.", "fc.0.2.")),
    "E": (("net.0.", "cnn1."), ("net.1.", "fc1.0."), ("net.3.", "fc1.2."), ("net.5.", "fc1.4.")),
}
# WGAN sign (FAITHFULNESS.md section 3): our D = -(official D), i.e. its last layer negated
NEGATED = {"D": ("net.7.",)}
# biases of layers followed by a BatchNorm: zero gradient, rounding-noise values
BN_FED = {"G": ("fc.0.bias", "fc.3.bias", "deconv.0.bias")}
# ... and the running mean of the BatchNorm each feeds, which carries that noise along: each
# element's difference is at most the largest difference its bias has had (a running mean is a
# convex average of batch means, each shifted by the bias); only the excess is compared
BN_CARRY = {"G": {"fc.1.running_mean": "fc.0.bias", "fc.4.running_mean": "fc.3.bias",
                  "deconv.1.running_mean": "deconv.0.bias"}}
_BIAS_MAX = {}  # (net, bias name) -> elementwise largest |difference| so far


class BadInput(Exception):
    """One message for the user; main() prints it and exits with status 2."""


# -- the official checkout -----------------------------------------------------------------------
def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_official(root: str, folder: str) -> str:
    """Return DIR/<folder> when DIR is the official code at OFFICIAL_COMMIT, else BadInput."""
    if folder in NOT_RUNNABLE:
        raise BadInput(f"--folder={folder}: the official folder does not run: "
                       f"{NOT_RUNNABLE[folder]}.")
    if folder not in OFFICIAL_FILES:
        if folder in NOT_DRIVEN:
            raise BadInput(f"--folder={folder}: this script drives {', '.join(OFFICIAL_FILES)} "
                           f"so far; {folder} is not driven yet.")
        raise BadInput(f"--folder={folder} is not a dataset folder of the official code "
                       f"(driven: {', '.join(OFFICIAL_FILES)}).")
    how = (f"Get it with: git clone https://github.com/learninginvision/CoDeGAN DIR && "
           f"git -C DIR checkout {OFFICIAL_COMMIT[:7]}")
    if not root or not os.path.isdir(root):
        raise BadInput(f"--official={root!r} is not a folder. {how}")
    head = None
    if os.path.exists(os.path.join(root, ".git")):
        try:
            head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                                  text=True, timeout=30).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            head = None
    at = f" (its git HEAD is {head[:7]})" if head and head != OFFICIAL_COMMIT else ""
    fdir = os.path.join(root, folder)
    for rel, digest in OFFICIAL_FILES[folder].items():
        path = os.path.join(fdir, rel)
        if not os.path.isfile(path):
            raise BadInput(f"--official={root} is not a checkout of the official CoDeGAN code at "
                           f"{OFFICIAL_COMMIT[:7]}{at}: {folder}/{rel} is missing. {how}")
        if sha256(path) != digest:
            raise BadInput(f"--official={root} is not the official CoDeGAN code at "
                           f"{OFFICIAL_COMMIT[:7]}{at}: {folder}/{rel} differs from that "
                           f"commit's file. {how}")
    return fdir


def _is_cuda(d) -> bool:
    import torch

    if isinstance(d, torch.device):
        return d.type == "cuda"
    return isinstance(d, str) and d.startswith("cuda")


@contextlib.contextmanager
def cuda_to_cpu():
    """While active, ``Module.to`` and ``Tensor.to`` send a 'cuda:N' target to the CPU (the
    official solver hard-codes ``'cuda:{}'.format(gpu_id)``)."""
    import torch

    mod_to, ten_to = torch.nn.Module.to, torch.Tensor.to

    def fix(args, kwargs):
        args = tuple("cpu" if _is_cuda(a) else a for a in args)
        if _is_cuda(kwargs.get("device")):
            kwargs = {**kwargs, "device": "cpu"}
        return args, kwargs

    def m_to(self, *args, **kwargs):
        args, kwargs = fix(args, kwargs)
        return mod_to(self, *args, **kwargs)

    def t_to(self, *args, **kwargs):
        args, kwargs = fix(args, kwargs)
        return ten_to(self, *args, **kwargs)

    torch.nn.Module.to, torch.Tensor.to = m_to, t_to
    try:
        yield
    finally:
        torch.nn.Module.to, torch.Tensor.to = mod_to, ten_to


@contextlib.contextmanager
def float_betas():
    """While active, ``torch.optim.Adam`` takes integer betas as floats: CIFAR-10/solver.py:34-37
    passes ``betas=(0, 0.9)``, which torch >= 2.x refuses ("betas must be either both floats or
    both Tensors"); the value is the same."""
    import torch

    adam = torch.optim.Adam

    class Adam(adam):
        def __init__(self, params, *a, betas=(0.9, 0.999), **k):
            super().__init__(params, *a, betas=tuple(float(b) for b in betas), **k)

    torch.optim.Adam = Adam
    try:
        yield
    finally:
        torch.optim.Adam = adam


OFFICIAL_MODULES = ("solver", "model", "models", "utils", "dataloader", "test", "test_acc")


def import_official(fdir: str):
    """The official ``solver`` and ``utils.util`` modules of folder ``fdir`` (fresh imports; the
    folders share module names, so earlier ones are dropped first)."""
    for name in list(sys.modules):
        if name.split(".")[0] in OFFICIAL_MODULES:
            del sys.modules[name]
    sys.path.insert(0, fdir)
    try:
        solver = importlib.import_module("solver")
        util = importlib.import_module("utils.util")
    finally:
        sys.path.remove(fdir)
    return solver, util


# -- weights: our names <-> the official names ---------------------------------------------------
def _rename(name: str, pairs) -> str | None:
    for a, b in pairs:
        if name.startswith(a):
            return b + name[len(a):]
    return None


def official_name(net: str, name: str, folder: str = "MNIST", old_sn: bool = False) -> str | None:
    """Our parameter name ``name`` of network ``net`` under the official module's name
    (``old_sn``: the official spectral norms are the old API's, ``sn_power_order: v_first``)."""
    if folder in rn.RESNET_FOLDERS:
        return rn.rename(net, name, folder=folder, old_sn=old_sn)
    if folder == "dSprites":
        return rn.sn_suffix(_rename(name, NAME_MAP_DSPRITES[net]), False, old_sn)
    return _rename(name, NAME_MAP[net])


def our_name(net: str, name: str, folder: str = "MNIST", old_sn: bool = False) -> str | None:
    """The inverse of ``official_name``."""
    if folder in rn.RESNET_FOLDERS:
        return rn.rename(net, name, back=True, folder=folder, old_sn=old_sn)
    if folder == "dSprites":
        return _rename(rn.sn_suffix(name, True, old_sn),
                       tuple((b, a) for a, b in NAME_MAP_DSPRITES[net]))
    return _rename(name, tuple((b, a) for a, b in NAME_MAP[net]))


def to_official(net: str, state: dict, folder: str = "MNIST", old_sn: bool = False) -> dict:
    """Our state_dict of network ``net`` (MNIST, Fashion-MNIST: "G", "D", "E"; ResNet folders:
    "G", "D", "E_c", "E_z") under the official names, with the WGAN sign mapped (our D's last
    layer negated). Entries without an official counterpart (none in the driven folders) raise
    KeyError."""
    out = {}
    for k, v in state.items():
        name = official_name(net, k, folder, old_sn)
        if name is None:
            raise KeyError(f"{net}.{k} has no official counterpart")
        out[name] = -v if sign_of(net, k, folder) < 0 else v
    return out


def from_official(net: str, state: dict, folder: str = "MNIST", old_sn: bool = False) -> dict:
    """The inverse of ``to_official``."""
    out = {}
    for k, v in state.items():
        name = our_name(net, k, folder, old_sn)
        if name is None:
            raise KeyError(f"official {net}.{k} has no counterpart in ours")
        out[name] = -v if sign_of(net, name, folder) < 0 else v
    return out


def sign_of(net: str, our_name: str, folder: str = "MNIST") -> int:
    if folder == "dSprites":  # the standard GAN loss: the same sign in both codes
        return 1
    neg = (rn.negated(folder) if folder in rn.RESNET_FOLDERS else NEGATED).get(net, ())
    return -1 if any(our_name.startswith(p) for p in neg) else 1


def nets_of(folder: str):
    """(our network, the official Solver's attribute) pairs of ``folder``."""
    if folder in rn.RESNET_FOLDERS:
        return rn.NETS
    return (("G", "G"), ("D", "D"), ("E", "E"))


# -- comparison ----------------------------------------------------------------------------------
def rel_diff(a, b) -> float:
    """max|a - b| / max|b| (0 when both are 0)."""
    d = (a.double() - b.double()).abs().max().item()
    s = b.double().abs().max().item()
    return d / s if s > 0 else (0.0 if d == 0 else math.inf)


def _merge(acc: dict, key: str, value: float, where: str):
    if key not in acc or value > acc[key][0]:
        acc[key] = (value, where)


def _bn_rules(folder: str, net: str, state):
    """(BN-fed biases, {running_mean: elementwise bound of what their noise puts into it}) of
    network ``net`` (ours, state ``state``), the bounds from the biases' differences so far."""
    if folder == "dSprites":  # its G's BatchNorms follow a ReLU: no bias feeds one by structure
        return (), {}  # (one whose unit is active on the whole batch does: SMALL_DSPRITES)
    if folder in rn.RESNET_FOLDERS:
        if net != "G":
            return (), {}
        fed = rn.bn_fed(state.keys())
        return fed, rn.carry_bounds({b: _BIAS_MAX[net, b] for b in fed
                                     if (net, b) in _BIAS_MAX}, state)
    return BN_FED.get(net, ()), {k: _BIAS_MAX[net, b] for k, b in BN_CARRY.get(net, {}).items()
                                 if (net, b) in _BIAS_MAX}


def compare_state(ours, official, folder: str = "MNIST", old_sn: bool = False) -> dict:
    """{cell: (largest relative difference, where)} for the networks' states (parameters and
    buffers), the optimisers' exp_avg / exp_avg_sq, and "BN-fed biases" (absolute).
    ``old_sn``: as ``official_name``'s."""
    import torch

    out = {}
    for net, onet in nets_of(folder):
        mo, mf = getattr(ours.nets, net), getattr(official, onet)
        sf = mf.state_dict()
        so_ = mo.state_dict()
        fed = _bn_rules(folder, net, so_)[0]
        for k in fed:  # the biases first: the running means' bounds include this step's
            ref = sf[official_name(net, k, folder, old_sn)] * sign_of(net, k, folder)
            d = (so_[k] - ref).abs()
            old = _BIAS_MAX.get((net, k))
            _BIAS_MAX[net, k] = d if old is None else torch.maximum(old, d)
        carry = _bn_rules(folder, net, so_)[1]
        for k, v in so_.items():
            oname = official_name(net, k, folder, old_sn)
            if not v.is_floating_point():
                if not (v == sf[oname]).all():
                    _merge(out, net, math.inf, k)
                continue
            ref = sf[oname] * sign_of(net, k, folder)
            if k in fed:
                _merge(out, "BN-fed biases", (v - ref).abs().max().item(), f"{net}.{k}")
                continue
            bound = carry.get(k)
            if bound is not None:
                excess = ((v - ref).abs() - bound).clamp(min=0).max().item()
                s = ref.abs().max().item()
                _merge(out, net, excess / s if s > 0 else excess, f"{k} (beyond its bias)")
                continue
            _merge(out, net, rel_diff(v, ref), k)
        # optimiser states, matched by parameter name
        po, pf = dict(mo.named_parameters()), dict(mf.named_parameters())
        opt_o, opt_f = ours.opt[net], getattr(official, f"optimizer_{onet}")
        _merge(out, "lr", rel_diff(torch.tensor(opt_o.param_groups[0]["lr"]),
                                   torch.tensor(opt_f.param_groups[0]["lr"])), net)
        for k, p in po.items():
            oname = official_name(net, k, folder, old_sn)
            so, sfp = opt_o.state.get(p, {}), opt_f.state.get(pf[oname], {})
            if bool(so) != bool(sfp):
                _merge(out, f"opt {net}", math.inf, f"{k}: state in one code only")
                continue
            if not so:
                continue
            if float(so["step"]) != float(sfp["step"]):
                _merge(out, f"opt {net}", math.inf, f"{k}: step {float(so['step'])} vs "
                                                     f"{float(sfp['step'])}")
            for s, sgn in (("exp_avg", sign_of(net, k, folder)), ("exp_avg_sq", 1)):
                if k in fed:
                    continue  # noise by construction, as the biases themselves
                _merge(out, f"opt {net}", rel_diff(so[s], sfp[s] * sgn), f"{k}.{s}")
    return out


def resync(ours, official, folder: str, old_sn: bool = False) -> None:
    """Load our networks' states and Adam states into the official ones (--resync): the next
    step of both codes then starts from the same state, and its cells measure that one step.
    ``old_sn``: as ``official_name``'s."""
    import torch

    for net, onet in nets_of(folder):
        mo, mf = getattr(ours.nets, net), getattr(official, onet)
        with torch.no_grad():
            mf.load_state_dict(to_official(net, mo.state_dict(), folder, old_sn))
        pf = dict(mf.named_parameters())
        opt_o, opt_f = ours.opt[net], getattr(official, f"optimizer_{onet}")
        for k, p in mo.named_parameters():
            so = opt_o.state.get(p)
            if not so:
                continue
            q = pf[official_name(net, k, folder, old_sn)]
            sgn = sign_of(net, k, folder)
            step = so["step"].clone() if torch.is_tensor(so["step"]) else so["step"]
            opt_f.state[q] = {"step": step, "exp_avg": so["exp_avg"] * sgn,
                              "exp_avg_sq": so["exp_avg_sq"].clone()}


# -- the run ---------------------------------------------------------------------------------------
def make_data(root: str, fname: str, n_train: int, n_test: int = 40, seed: int = 0) -> str:
    """A synthetic 28x28 uint8 set in the folder's file format (class k: a bright bar at row
    2k+4 over noise), so the comparison needs no download."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def split(n):
        y = np.arange(n) % 10
        x = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(y):
            x[i, 2 * k + 4:2 * k + 6, 4:24] = 255
        return x, y.astype(np.int64)

    xtr, ytr = split(n_train)
    xte, yte = split(n_test)
    np.savez(os.path.join(root, fname), x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    return root


def make_dsprites_data(root: str, n_train: int, n_test: int, seed: int = 0) -> str:
    """A small dSprites file under the official name: ``n_train + n_test`` sprites rendered by
    codegan.data.dsprites, the three shapes in turn (so the labelled subset finds each)."""
    import numpy as np

    from codegan.data import dsprites as ds

    rng = np.random.default_rng(seed)
    per_shape = ds.N_IMAGES // ds.SIZES[1]
    return ds.write_subset(root, [(i % 3) * per_shape + rng.integers(per_shape)
                                  for i in range(n_train + n_test)])


class LabelledSampler:
    """The official dSprites labelled set (``dataloader.py``'s ``sample_paired_all_value_batch``,
    ``per_value`` images of each shape) handing out our labelled batch instead."""

    def __init__(self, x, y, n_values: int):
        self.x, self.y, self.n_values = x, y, n_values

    def sample_paired_all_value_batch(self, per_value: int, factor_index: int):
        if factor_index != 0 or per_value * self.n_values != len(self.x):
            raise Mismatch(f"sample_paired_all_value_batch({per_value}, {factor_index}): ours "
                           f"drew {len(self.x)} labelled images of {self.n_values} shapes")
        return self.x, self.y


class Draws:
    """FIFO queues of our draws, by kind, consumed by the official step that follows."""

    def __init__(self):
        self.q = {k: [] for k in ("latent", "box", "flip", "color", "eps", "real", "labelled")}

    def put(self, kind, value):
        self.q[kind].append(value)

    def take(self, kind, where):
        if not self.q[kind]:
            raise Mismatch(f"{where}: the official code draws a {kind} here, ours drew none")
        return self.q[kind].pop(0)

    def check_empty(self, where):
        left = {k: len(v) for k, v in self.q.items() if v and k != "labelled"}
        if left:
            raise Mismatch(f"{where}: ours drew {left} that the official step did not use")


class Mismatch(Exception):
    """Our step sequence or draws differ from the official train.py's."""


def official_schedule(folder: str, epoch: int, chain_step: int, few: bool, idx: int = 0,
                      critic: int = 1):
    """The official steps of one iteration, in order, with whether each takes the labelled batch:
    MNIST/train.py:53-55 (G, E, D every iteration); Fashion-MNIST/train.py:84-90 (from epoch
    chain_step: G, E(labelled); before: G(labelled) only; then D); COIL-20/train.py:67-78 (D, G,
    E_c from epoch chain_step - 1, E_z; 3D-Chairs/train.py:66-77 the same); CIFAR-10/train.py:93-104
    (at idx % critic == 0: G, E_c from epoch chain_step - 1, E_z; then D every iteration)."""
    if folder == "CIFAR-10":
        return rn.cifar_schedule(epoch, idx, chain_step, few, critic)
    if folder in rn.RESNET_FOLDERS:
        return rn.schedule(epoch, chain_step)
    if folder == "MNIST":
        return [("G", False), ("E", False), ("D", False)]
    if folder == "dSprites":  # dSprites/train.py:66-72
        if epoch >= chain_step - 1:
            return [("G", False), ("E", few), ("D", False)]
        return [("G", few), ("D", False)]
    if epoch >= chain_step:
        return [("G", False), ("E", few), ("D", False)]
    return [("G", few), ("D", False)]


# settings both param.yml files hold, which must agree unless the user sets them (--set);
# Fashion-MNIST's official param.yml holds the "100 labels + pre-trained" mode (FAITHFULNESS.md
# section 8), so its mode keys (max_step, chain_step) are not among them
SHARED_KEYS = ("zc_dim", "zn_dim", "fc_dim", "beta_1", "beta_2", "lr", "temp_C", "g_batch_size",
               "d_batch_size", "e_batch_size", "ec_batch_size", "ez_batch_size", "critic")
# ... and in the ResNet folders also their mode keys (the folder's param.yml holds one mode)
# (not max_step: 3D-Chairs' param.yml says 4000, its README and ours 3000, FAITHFULNESS.md)
MODE_KEYS = ("chain_step", "pretrain")
SETTINGS = []  # what settings_check found, printed with the results
FOLDER = ["MNIST"]  # the folder of the run


def settings_check(ocfg: dict, ours_dir: str, args, over: dict) -> None:
    import yaml

    with open(os.path.join(ours_dir, "param.yml")) as f:
        mine = yaml.safe_load(f)
    SETTINGS.clear()
    if args.folder == "CIFAR-10":  # its param.yml holds the "500 labels + pre-trained" mode
        keys = tuple(k for k in SHARED_KEYS if k not in ("beta_1", "beta_2")) + ("r_batch_size",)
    else:
        keys = SHARED_KEYS + (MODE_KEYS if args.folder in rn.RESNET_FOLDERS else ())
    for k in keys:
        if k in ocfg and k in mine and float(ocfg[k]) != float(mine[k]):
            SETTINGS.append(f"param.yml {k}: ours {mine[k]}, official {ocfg[k]}")
    wgan = ocfg["loss_metric"] == "wgan-gp" if "loss_metric" in ocfg else ocfg.get("wgan_gp")
    if bool(wgan) != (mine.get("gan_loss") == "wgan-gp"):
        SETTINGS.append(f"GAN loss: ours {mine.get('gan_loss')}, official wgan_gp "
                        f"{ocfg.get('wgan_gp')}")


def optimizer_check(tr, off) -> None:
    """lr, betas, eps, weight decay of every optimiser (the official ones are set in solver.py)."""
    for net, onet in nets_of(FOLDER[0]):
        a, b = tr.opt[net].param_groups[0], getattr(off, f"optimizer_{onet}").param_groups[0]
        for k in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
            if a.get(k) != b.get(k):
                SETTINGS.append(f"Adam of {net}, {k}: ours {a.get(k)}, official {b.get(k)}")


def old_sn_names(folder: str, cfg) -> bool:
    """Whether the official spectral norms of this run keep the old API's state names
    (``official_name``'s ``old_sn``): CIFAR-10 and dSprites under ``sn_power_order: v_first``,
    the same arithmetic; under ``u_first`` ``build`` rebuilds them as parametrizations."""
    return folder in ("CIFAR-10", "dSprites") and cfg.sn_power_order == "v_first"


def build(args, tmp):
    """Our Trainer and the official Solver, same weights, in float64; the patches that record
    our draws and inject them into the official code."""
    import torch
    import yaml

    from codegan.config import load_config
    from codegan.errors import UserError
    from codegan.training.loop import Trainer

    fdir_off = check_official(args.official, args.folder)
    ours_dir = os.path.join(REPO, args.folder)
    resnet = args.folder in rn.RESNET_FOLDERS
    FOLDER[0] = args.folder
    cifar = args.folder == "CIFAR-10"
    sprites = args.folder == "dSprites"
    small = (SMALL_3D if args.folder == "3D-Chairs" else SMALL_CIFAR if cifar else
             SMALL_DSPRITES if sprites else SMALL_RESNET if resnet else SMALL)
    over = dict(small) if args.batches == "small" else {}
    over.update(device="cpu", progress=False, kmeans_runs=1, seed=args.seed)
    over.update(MODE_SETTINGS[args.mode])
    for kv in args.set or ():
        if "=" not in kv:
            raise BadInput(f"--set {kv!r}: write KEY=VALUE")
        k, v = kv.split("=", 1)
        over[k] = yaml.safe_load(v)
    if args.mode != "unsupervised" and "chain_step" not in over:
        # crosses the chain epoch after one epoch (official: 200 or 100); the ResNet folders
        # and dSprites train E_c from epoch chain_step - 1
        over["chain_step"] = 2 if resnet or sprites else 1
    d_batch = over.get("d_batch_size")
    if d_batch is None:
        with open(os.path.join(ours_dir, "param.yml")) as f:
            d_batch = yaml.safe_load(f)["d_batch_size"]
    if args.data_root:
        over["data_root"] = args.data_root
    elif resnet:
        over["data_root"] = rn.make_data(tmp, args.folder, args.ipe * d_batch)
    elif sprites:
        n_test = over.get("dsprites_test_images", SMALL_DSPRITES["dsprites_test_images"])
        over["dsprites_test_images"] = n_test
        over["data_root"] = make_dsprites_data(tmp, args.ipe * d_batch, n_test)
    else:
        over["data_root"] = make_data(tmp, DATA_FILE[args.folder], args.ipe * d_batch)
    over["out"] = os.path.join(tmp, "runs")
    if over.get("pretrain") or over.get("meta"):
        # E's pre-trained file: a fresh encoder of this folder (both codes start from it)
        from codegan.training.loop import load_models

        cfg0 = load_config(os.path.join(ours_dir, "param.yml"), over)
        torch.manual_seed(args.seed + 1)
        nets0 = load_models(ours_dir).build_nets(cfg0, encoders=True)
        enc = nets0.E if nets0.shared else nets0.E_c
        key = "meta_path" if over.get("meta") else "pretrain_path"
        over[key] = os.path.join(tmp, "pre_E.pt")
        torch.save({"state_dict": enc.state_dict(), "dataset": cfg0.dataset,
                    "kind": "maml" if over.get("meta") else "simclr"}, over[key])
    try:
        cfg = load_config(os.path.join(ours_dir, "param.yml"), over)
    except UserError as e:
        raise BadInput(str(e)) from None
    # the paths of the official folder: MNIST / Fashion-MNIST: crop, G E D, shared E; the ResNet
    # folders: one flip a batch, D first, separate E_c and E_z
    # CIFAR-10: crop, flip and colour, G E_c E_z D, critic 3, lr decay
    if cifar:
        folder_path = (cfg.aug_hflip and cfg.aug_crop_scale is not None
                       and not cfg.d_step_first and not cfg.shared_encoder)
    else:
        folder_path = ((cfg.aug_hflip and cfg.aug_crop_scale is None and cfg.d_step_first
                        and not cfg.shared_encoder) if resnet else
                       (not cfg.aug_hflip and not cfg.d_step_first and cfg.shared_encoder))
        folder_path = folder_path and cfg.aug_color_jitter is None and not cfg.aug_grayscale_p \
            and cfg.critic == 1 and not cfg.lr_decay
    if not folder_path or cfg.aug_per_sample or cfg.use_ema or cfg.precision != "float32":
        raise BadInput("these settings take a path the official folder does not have (flip, "
                       "colour, per-image T, critic, D first, EMA, lr decay, bf16, separate "
                       "encoders); compare the folder's own settings.")

    torch.set_default_dtype(torch.float64)
    try:
        tr = Trainer(cfg, ours_dir)
    except UserError as e:
        raise BadInput(str(e)) from None
    with open(os.path.join(fdir_off, "param.yml")) as f:
        ocfg = yaml.safe_load(f)
    settings_check(ocfg, ours_dir, args, over)
    for k in ("zc_dim", "zn_dim", "fc_dim", "beta_1", "beta_2", "lr", "temp_C"):
        ocfg[k] = getattr(cfg, k)
    ocfg["wgan_gp"] = cfg.gan_loss == "wgan-gp"
    ocfg["loss_metric"] = cfg.gan_loss  # ResNet folders: 'wgan-gp' or 'hinge'
    if sprites:  # dSprites/param.yml's own names; its r_batch_size is per shape
        ocfg.update(fz_dim=cfg.zn_dim, beta_zc=cfg.beta_1, beta_zn=cfg.beta_2, g_lr=cfg.lr,
                    e_lr=cfg.lr, d_lr=cfg.lr_d, r_batch_size=cfg.r_batch_size // cfg.zc_dim,
                    loss_metric={"ns": "vanline"}.get(cfg.gan_loss, cfg.gan_loss))
    # CIFAR-10/solver.py:44-47 reads the mode for its detach rule
    ocfg.update(few_labels=cfg.few_labels, pretrain=cfg.pretrain or cfg.meta, meta=cfg.meta,
                use_ema=cfg.use_ema)
    solver_mod, util_mod = import_official(fdir_off)
    torch.manual_seed(12345)  # the official init is overwritten by ours just below
    with cuda_to_cpu(), float_betas():
        off = solver_mod.Solver(ocfg)
    if sprites:  # dSprites/solver.py:85,156-157 also make tensors on self.device ('cuda:N')
        off.device = "cpu"
        # its BCE targets are cast to float32 (solver.py:86,160-161): 0 and 1, exact in float64
        bce = off.bceloss
        off.bceloss = lambda p, target: bce(p, target.to(p.dtype))
    # spectral norm (FAITHFULNESS.md, CIFAR-10 D): v_first is the official API's arithmetic, its
    # states renamed; with u_first the official D's torch.nn.utils.spectral_norm becomes the
    # parametrization ours then uses, and its Adam is made anew on the new parameters with the
    # official optimiser's settings
    old_sn = old_sn_names(args.folder, cfg)
    if (cifar or sprites) and not old_sn:  # u_first
        for onet in ("D", "E") if sprites else ("D",):
            sn_api_to_parametrizations(getattr(off, onet))
            opt = getattr(off, f"optimizer_{onet}")
            setattr(off, f"optimizer_{onet}",
                    type(opt)(getattr(off, onet).parameters(), **opt.defaults))
    for net, onet in nets_of(args.folder):
        getattr(off, onet).load_state_dict(
            to_official(net, getattr(tr.nets, net).state_dict(), args.folder, old_sn))
        getattr(off, onet).train()
    tr.nets.train()
    if resnet and not args.stacked_d:
        # stack_d_batches (FAITHFULNESS.md, "D step"): ours scores real and fake images in one D
        # call, the official code in two. Same scores, but the gradients' sums run in another
        # order; where a gradient is exactly 0 in one code (a channel that no image activates)
        # it is ~1e-17 in the other, and Adam's first step turns that into a full step of
        # lr * g / (|g| + eps) ~ 1e-12 (5e-9 of the layer's largest weight). Mapped: our D
        # step makes the official two calls (--stacked-d keeps our one)
        tr.stack_d = False
    optimizer_check(tr, off)
    return tr, off, solver_mod, util_mod, cfg


def sn_api_to_parametrizations(module) -> None:
    """Every layer of ``module`` under ``torch.nn.utils.spectral_norm`` replaced by a fresh
    layer of the same shape under ``torch.nn.utils.parametrizations.spectral_norm`` (weights are
    loaded afterwards; the old API's state-dict hooks outlive remove_spectral_norm, so the
    layer is replaced, not converted)."""
    import torch.nn as nn
    from torch.nn.utils.parametrizations import spectral_norm

    for parent in list(module.modules()):
        for name, m in list(parent.named_children()):
            if not hasattr(m, "weight_orig"):
                continue
            if isinstance(m, nn.Conv2d):
                new = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                m.padding, bias=m.bias is not None)
            elif isinstance(m, nn.Linear):
                new = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
            else:
                raise TypeError(f"spectral norm on a {type(m).__name__}")
            setattr(parent, name, spectral_norm(new))


def install(tr, solver_mod, util_mod, draws: Draws, report: dict, raw_resample: bool,
            raw_gp: bool):
    """Patch ours to record its draws and the official solver module to take them."""
    import torch
    import torch.nn.functional as F
    import torchvision.transforms as tvt
    import torchvision.transforms._functional_tensor as tvft
    import torchvision.transforms.functional as tvf

    import codegan.methods.codegan as meth
    from codegan.data.augment import crop_flip

    # ours: latents, crop boxes, GP mixing weights, real and labelled batches
    latents = tr.latents

    def rec_latents(n):
        z, c = latents(n)
        draws.put("latent", (z.clone(), c.clone()))
        return z, c

    tr.latents = rec_latents
    T = tr.method.T
    t_draw = T.draw

    def rec_draw(*a, **k):
        p = t_draw(*a, **k)
        if T.per_sample:
            raise Mismatch("ours drew T's parameters per image; the official code once a batch")
        if T.crop_scale is not None:
            draws.put("box", tuple(int(b[0].item()) for b in p["box"]))
        if T.hflip:  # one flip decision a batch
            draws.put("flip", bool(p["flip"][0]))
        if p["color"] is not None:
            draws.put("color", p["color"])
        return p

    T.draw = rec_draw
    gp = meth.gradient_penalty

    def rec_gp(D, real, fake, *a, **k):
        rand = torch.rand

        def spy(*ra, **rk):
            out = rand(*ra, **rk)
            draws.put("eps", out.clone())
            return out

        to_float = torch.Tensor.float

        def keep_float64(self, *fa, **fk):  # the map of "taken in float32" (see the docstring)
            if self.dtype == torch.float64 and not fa and not fk:
                return self
            return to_float(self, *fa, **fk)

        torch.rand = spy
        if not raw_gp:
            torch.Tensor.float = keep_float64
        try:
            return gp(D, real, fake, *a, **k)
        finally:
            torch.rand = rand
            torch.Tensor.float = to_float

    meth.gradient_penalty = rec_gp
    real = tr.real
    tr.real = lambda xb: real(xb).to(torch.float64)
    next_real = tr.next_real

    def rec_real():
        x = next_real()
        draws.put("real", x.clone())
        return x

    tr.next_real = rec_real
    if tr.method.labelled is not None:
        lab_next = tr.method.labelled.next

        def rec_lab():
            x, y = lab_next()
            draws.put("labelled", (tr.real(x).clone(), y.clone()))
            return x, y

        tr.method.labelled.next = rec_lab

    # official: sample_noise, train_transform, calc_gradient_penalty (names in solver.py)
    def sample_noise(batch_size, zn_dim, zc_dim, device="cpu"):
        z, c = draws.take("latent", "sample_noise")
        if len(z) != batch_size:
            raise Mismatch(f"sample_noise({batch_size}): ours drew {len(z)} latents here")
        return torch.cat([z, F.one_hot(c, zc_dim).to(z.dtype)], 1), z, c

    solver_mod.sample_noise = sample_noise
    get_params = tvt.RandomResizedCrop.get_params
    crop_forward = tvt.RandomResizedCrop.forward
    flip_forward = tvt.RandomHorizontalFlip.forward
    apply_forward = tvt.RandomApply.forward
    jitter_params = tvt.ColorJitter.get_params
    gray_forward = tvt.RandomGrayscale.forward
    train_transform = util_mod.train_transform
    colour = T.color_jitter is not None or T.grayscale_p > 0
    to_dtype = tvft.convert_image_dtype

    def keep_float(image, dtype=torch.float):
        # torchvision's adjust_hue computes in float32 whatever the input
        # (_functional_tensor.adjust_hue: convert_image_dtype(img, torch.float32)): a no-op in
        # the float32 runs, float32 rounding (~1e-7) in this float64 comparison; kept float64
        if image.is_floating_point() and dtype.is_floating_point:
            return image
        return to_dtype(image, dtype)

    def inject_transform(image, detach=None):
        # our draws of this T call: a crop box (MNIST, Fashion-MNIST, CIFAR-10), a flip (the
        # ResNet folders), colour parameters (CIFAR-10), each into the torchvision transform of
        # the official train_transform. ``detach``: CIFAR-10's argument; the other folders'
        # train_transform always detaches
        box = draws.take("box", "train_transform") if T.crop_scale is not None else None
        flip = draws.take("flip", "train_transform") if T.hflip else False
        col = draws.take("color", "train_transform") if colour else None
        asked, seen = {}, {}

        def params(img, scale, ratio):
            asked.update(scale=tuple(scale), ratio=tuple(ratio))
            if box is None:
                raise Mismatch("the official T crops, ours does not")
            return box

        def crop_fwd(self, img):  # torchvision's crop, or (second pass) ours in its place
            seen["crop"] = crop_forward(self, img)
            return seen.get("our_crop", seen["crop"])

        def flip_fwd(self, img):
            asked["flip_p"] = self.p
            if not T.hflip:
                raise Mismatch("the official T flips, ours does not")
            return tvf.hflip(img) if flip else img

        def apply_fwd(self, img):  # RandomApply([ColorJitter], p)
            asked["jitter_p"] = self.p
            if col is None or col["apply"] is None:
                raise Mismatch("the official T jitters colours, ours does not")
            if not bool(col["apply"][0]):
                return img
            for t in self.transforms:
                img = t(img)
            return img

        def jitter(brightness, contrast, saturation, hue):
            asked["jitter"] = tuple(tuple(float(v) for v in x) if x is not None else None
                                    for x in (brightness, contrast, saturation, hue))
            f = col["factors"][0]
            return (col["order"][0], *(float(f[j]) for j in range(4)))

        def gray_fwd(self, img):
            asked["gray_p"] = self.p
            if col is None or col["gray"] is None:
                raise Mismatch("the official T turns images grey at random, ours does not")
            if bool(col["gray"][0]):
                return tvf.rgb_to_grayscale(img, num_output_channels=tvf.get_dimensions(img)[0])
            return img

        tvt.RandomResizedCrop.get_params = staticmethod(params)
        tvt.RandomResizedCrop.forward = crop_fwd
        tvt.RandomHorizontalFlip.forward = flip_fwd
        tvt.RandomApply.forward = apply_fwd
        tvt.ColorJitter.get_params = staticmethod(jitter)
        tvt.RandomGrayscale.forward = gray_fwd
        tvft.convert_image_dtype = keep_float
        args = () if detach is None else (detach,)
        n, channels, height, width = image.shape
        full = (0, 0, height, width) if box is None else box
        ours_params = {"box": tuple(torch.full((n,), float(b), dtype=image.dtype) for b in full),
                       "flip": torch.full((n,), flip, dtype=torch.bool), "color": col}
        src = image.detach() if detach is None or detach else image
        try:
            out_tv = train_transform(image, *args)
            if col is not None:
                # second pass: torchvision's flip and colour transforms on OUR crop of the same
                # image ([0, 1], as the official Lambda hands it on), so that the colour cell
                # compares the colour transforms and not the crop's border ring
                lo, hi = T.image_range
                crop = crop_flip(image.detach(), *ours_params["box"],
                                 torch.zeros(n, dtype=torch.bool), T.crop_edge)
                seen["tv_crop"], seen["our_crop"] = seen["crop"], (crop - lo) / (hi - lo)
                out_tv_on_ours = train_transform(image, *args)
        finally:
            tvt.RandomResizedCrop.get_params = get_params
            tvt.RandomResizedCrop.forward = crop_forward
            tvt.RandomHorizontalFlip.forward = flip_forward
            tvt.RandomApply.forward = apply_forward
            tvt.ColorJitter.get_params = jitter_params
            tvt.RandomGrayscale.forward = gray_forward
            tvft.convert_image_dtype = to_dtype
        if box is not None and "scale" not in asked:
            raise Mismatch("ours crops, the official T does not")
        if T.hflip and "flip_p" not in asked:
            raise Mismatch("ours flips, the official T does not")
        if col is not None and ("jitter_p" in asked) != (col["apply"] is not None):
            raise Mismatch("ours jitters colours, the official T does not")
        if col is not None and ("gray_p" in asked) != (col["gray"] is not None):
            raise Mismatch("ours turns images grey at random, the official T does not")
        if T.hflip and asked["flip_p"] != 0.5:
            SETTINGS.append(f"flip probability: ours 0.5, official {asked['flip_p']}")
        for k, v in (("scale", T.crop_scale), ("ratio", T.crop_ratio)):
            if k in asked and not all(math.isclose(x, y, rel_tol=1e-6)
                                      for x, y in zip(asked[k], v)):
                SETTINGS.append(f"crop {k}: ours {tuple(v)}, official {asked[k]}")
        if "jitter" in asked:
            b, c, sat, h = T.color_jitter
            mine_j = tuple((max(0.0, 1 - v), 1 + v) if v > 0 else None for v in (b, c, sat)) + \
                (((-h, h) if h > 0 else None),)
            if any((x is None) != (y is None) or (x is not None and not all(
                    math.isclose(p, q, abs_tol=1e-12) for p, q in zip(x, y)))
                   for x, y in zip(mine_j, asked["jitter"])):
                SETTINGS.append(f"colour jitter: ours {mine_j}, official {asked['jitter']}")
        for k, v in (("jitter_p", T.color_jitter_p), ("gray_p", T.grayscale_p)):
            if k in asked and not math.isclose(asked[k], v):
                SETTINGS.append(f"T {k}: ours {v}, official {asked[k]}")
        mine = T.apply(src, ours_params)
        if detach is None or detach:
            mine = mine.detach()
        if col is not None:
            # the crop alone against torchvision's (the border ring, as the other folders),
            # then the rest of T (flip, jitter, grayscale) against torchvision's on our crop
            lo, hi = T.image_range
            tv_crop, our_crop = seen["tv_crop"], seen["our_crop"]
            _merge(report, "T (resampler)", rel_diff(our_crop, tv_crop), "crop border")
            _merge(report, "T interior", rel_diff(our_crop[..., 1:-1, 1:-1],
                                                  tv_crop[..., 1:-1, 1:-1]),
                   "pixels 1..H-2, 1..W-2")
            _merge(report, "T colour", rel_diff(mine, out_tv_on_ours),
                   "flip, jitter, grayscale on the same crop")
            return out_tv if raw_resample else mine
        if T.crop_scale is None:
            # a flip alone: torch.flip against our grid_sample at the pixel centres, rounding
            # only (~1e-15); the official step goes on with ours, as with the crop, so that the
            # two trajectories do not start apart from it (--raw-resample keeps torch.flip's)
            _merge(report, "T", rel_diff(mine, out_tv), "flip")
            return out_tv if raw_resample else mine
        _merge(report, "T (resampler)", rel_diff(mine, out_tv), "crop border")
        # the documented difference is the outermost ring of pixels only: inside it, the same
        _merge(report, "T interior", rel_diff(mine[..., 1:-1, 1:-1], out_tv[..., 1:-1, 1:-1]),
               "pixels 1..H-2, 1..W-2")
        return out_tv if raw_resample else mine

    solver_mod.train_transform = inject_transform
    calc_gp = solver_mod.calc_gradient_penalty

    def inject_gp(real_data, generated_data, D):
        eps = draws.take("eps", "calc_gradient_penalty")
        rand = torch.rand
        torch.rand = lambda *a, **k: eps.clone()
        try:
            return calc_gp(real_data, generated_data, D)
        finally:
            torch.rand = rand

    solver_mod.calc_gradient_penalty = inject_gp


def run(args) -> int:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    old_dtype = torch.get_default_dtype()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            return _run(args, tmp)
        finally:
            torch.set_default_dtype(old_dtype)


def _run(args, tmp) -> int:
    import torch

    tr, off, solver_mod, util_mod, cfg = build(args, tmp)
    old_sn = old_sn_names(args.folder, cfg)
    draws, step_report, totals = Draws(), {}, {}
    install(tr, solver_mod, util_mod, draws, step_report, args.raw_resample, args.raw_gp)
    few = tr.method.labelled is not None
    resnet = args.folder in rn.RESNET_FOLDERS
    chain = cfg.chain_step  # Fashion-MNIST/train.py:84 compares epoch >= chain_step
    ipe = tr.iters_per_epoch
    if ipe != len(tr.train_x) // cfg.d_batch_size:  # the official DataLoader drops the last batch
        print(f"official_diff: the step sequence or the draws differ: ours has {ipe} iterations "
              f"an epoch, the official DataLoader {len(tr.train_x) // cfg.d_batch_size}")
        return 1
    e_batch = (f"E_c {cfg.ec_batch_size} / E_z {cfg.ez_batch_size}" if resnet else
               f"E {cfg.e_batch_size}")
    size = tuple(tr.train_x.shape[-2:])
    print(f"official_diff: {args.folder} {args.mode}, {args.iters} iterations, {ipe} per epoch, "
          f"chain_step {chain}, batches G {cfg.g_batch_size} / {e_batch} / "
          f"D {cfg.d_batch_size}, images {size[0]}x{size[1]}, float64 on the CPU")
    state = {"plan": [], "it": 0}
    bad = False

    def official_step(name, labelled, ours_losses, names=()):
        where = f"iteration {state['it']} {name} step"
        rng = torch.get_rng_state()
        try:
            with cuda_to_cpu():
                real_data = None
                if labelled:
                    real_data = list(draws.take("labelled", where))
                    if args.folder == "dSprites":
                        real_data = LabelledSampler(*real_data, cfg.zc_dim)
                lab = [real_data] if real_data is not None else []
                if resnet and name == "G":
                    gloss = off.optimize_parametersG(cfg.g_batch_size, *lab)
                    losses = {"gloss": (float(ours_losses["G/gan"]), gloss)}
                elif resnet and name == "E":
                    losses = {}
                    for oname in names:  # EC (from the chain epoch), EZ
                        if oname == "EC":
                            ec = off.optimize_parametersEC(cfg.ec_batch_size, *lab)
                            losses["E_c L_c"] = (float(ours_losses["E_c/L_c"]), ec)
                        else:
                            ez = off.optimize_parametersEZ(cfg.ez_batch_size)
                            losses["E_z L_z"] = (float(ours_losses["E_z/L_z"]), ez)
                elif name == "G":
                    gloss = off.optimize_parametersG(cfg.g_batch_size, *(
                        [real_data] if args.folder != "MNIST" else []))
                    mine = float(ours_losses["G/gan"])
                    if args.folder != "MNIST":  # Fashion: gloss includes eloss
                        mine += (cfg.beta_1 * float(ours_losses["G/L_c"])
                                 + cfg.beta_2 * float(ours_losses["G/L_z"]))
                    losses = {"gloss": (mine, gloss)}
                elif name == "E":
                    ec, ez = off.optimize_parametersE(cfg.e_batch_size, *(
                        [real_data] if args.folder != "MNIST" else []))
                    losses = {"E L_c": (float(ours_losses["E/L_c"]), ec),
                              "E L_z": (float(ours_losses["E/L_z"]), ez)}
                else:
                    data = draws.take("real", where)
                    dl = off.optimize_parametersD(cfg.d_batch_size, data)
                    mine = float(ours_losses["D/loss"]) + cfg.gp_weight * float(
                        ours_losses.get("D/gp", 0.0))
                    losses = {"dloss": (mine, dl)}
            draws.check_empty(where)
        finally:
            torch.set_rng_state(rng)
        row = compare_state(tr, off, args.folder, old_sn)
        if args.resync:
            resync(tr, off, args.folder, old_sn)
        for k, (a, b) in losses.items():
            row[f"loss {k}"] = (abs(a - b) / max(abs(b), 1e-300), f"{a:.6g} vs {b:.6g}")
        row.update(step_report)
        step_report.clear()
        for k, v in row.items():
            _merge(totals, k, *v)
        if not args.quiet:
            cells = "  ".join(f"{k} {v[0]:.1e}" + (f" ({v[1]})" if v[0] > args.tol else "")
                              for k, v in sorted(row.items()))
            print(f"it {state['it']:3d} {name}: {cells}", flush=True)

    def hooked(name, fn):
        def step(*a, **k):
            losses = fn(*a, **k)
            if name == "E" and not losses:
                return losses  # ours took no encoder step (before the chain epoch)
            if not state["plan"]:
                raise Mismatch(f"iteration {state['it']}: ours takes a {name} step the official "
                               f"train.py does not take")
            oname, labelled = state["plan"].pop(0)
            if resnet and name == "E":
                # ours: one call, E_c's step (from the chain epoch) then E_z's; the official
                # train.py: optimize_parametersEC, optimize_parametersEZ
                names = [oname]
                while state["plan"] and state["plan"][0][0] in ("EC", "EZ"):
                    names.append(state["plan"].pop(0)[0])
                mine = (["EC"] if "E_c/L_c" in losses else []) + ["EZ"]
                if names != mine:
                    raise Mismatch(f"iteration {state['it']}: ours takes the encoder steps "
                                   f"{mine} where the official train.py takes {names}")
                official_step(name, labelled, losses, names)
                return losses
            if oname != name:
                raise Mismatch(f"iteration {state['it']}: ours takes a {name} step where the "
                               f"official train.py takes {oname}")
            official_step(name, labelled, losses)
            return losses
        return step

    m = tr.method
    m.g_step, m.e_steps, m.d_step = hooked("G", m.g_step), hooked("E", m.e_steps), \
        hooked("D", m.d_step)
    try:
        for it in range(args.iters):
            state["it"] = it
            state["plan"] = official_schedule(args.folder, it // ipe, chain, few, it % ipe,
                                              cfg.critic)
            tr.train_iteration()
            if args.folder == "CIFAR-10" and (it % ipe) % 5 == 4:
                # CIFAR-10/train.py:107-111: after the iteration's steps, each optimiser's lr
                for _, onet in nets_of(args.folder):
                    off.adjust_learning_rate(getattr(off, f"optimizer_{onet}"))
            if state["plan"]:
                raise Mismatch(f"iteration {it}: the official train.py also takes "
                               f"{[n for n, _ in state['plan']]}, ours does not")
    except Mismatch as e:
        print(f"official_diff: the step sequence or the draws differ: {e}")
        return 1
    for line in dict.fromkeys(SETTINGS):
        print(f"official_diff: SETTING DIFFERS: {line}")
        bad = True
    print(f"\nlargest relative difference over {args.iters} iterations "
          f"(BN-fed biases: absolute):")
    for k, (v, where) in sorted(totals.items()):
        # the crop's ring is a documented difference only with aug_crop_edge: image
        free = ("BN-fed biases",) + (("T (resampler)",) if cfg.aug_crop_edge == "image" else ())
        flag = "" if v <= args.tol or k in free else "  > tol"
        bad |= bool(flag)
        print(f"  {k:16s} {v:.2e}  ({where}){flag}")
    print("| folder | mode | iterations | " + " | ".join(sorted(totals)) + " |")
    print(f"| {args.folder} | {args.mode} | {args.iters} | "
          + " | ".join(f"{totals[k][0]:.1e}" for k in sorted(totals)) + " |")
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--official", required=True, help="checkout of the official code at 348d046")
    p.add_argument("--folder", default="Fashion-MNIST")
    p.add_argument("--mode", default="unsupervised")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--ipe", type=int, default=None, help="iterations per epoch (synthetic "
                   "data of ipe * d_batch_size images; default 4, COIL-20 5)")
    p.add_argument("--batches", choices=("small", "param"), default="small",
                   help="small: G 16, E 24, D 16 in both codes; param: the folder's param.yml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a setting for both codes (e.g. chain_step=2)")
    p.add_argument("--data_root", default=None, help="the real data instead of synthetic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=float, default=1e-9)
    p.add_argument("--raw-resample", action="store_true",
                   help="the official steps keep torchvision's crop resampling")
    p.add_argument("--raw-gp", action="store_true",
                   help="our gradient penalty keeps its float32 norm (not mapped to float64)")
    p.add_argument("--stacked-d", action="store_true",
                   help="ResNet folders: our D step keeps its one D call on real and fake "
                        "images (mapped to the official two calls otherwise)")
    p.add_argument("--resync", action="store_true",
                   help="after each step, load our states into the official code: every cell "
                        "is then one step's difference from equal states")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        check_official(args.official, args.folder)
        if args.mode not in MODES[args.folder]:
            raise BadInput(f"--mode={args.mode}: {args.folder} has "
                           f"{', '.join(MODES[args.folder])} here.")
        if args.ipe is None:
            args.ipe = IPE.get(args.folder, 4)
        if args.iters < 1 or args.ipe < 1:
            raise BadInput("--iters and --ipe must be at least 1.")
        return run(args)
    except BadInput as e:
        print(f"official_diff: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

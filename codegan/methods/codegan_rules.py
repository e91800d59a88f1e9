"""The official CoDeGAN code's per-mode rules, stated once (FAITHFULNESS.md has the sources).

Each rule reads the validated config and answers one question CoDeGAN's steps
(``codegan.methods.codegan``) ask. They are the places where the official dataset folders differ
from each other, so a new mode or a new dataset folder finds them here rather than spread over
the steps.

- ``ec_trains``: E_c (a shared encoder E: any encoder step at all) is updated from epoch
  ``chain_step - chain_step_offset`` on. Official: Fashion-MNIST ``epoch >= chain_step``
  (``Fashion-MNIST/train.py``); CIFAR-10, COIL-20, 3D sets ``epoch >= chain_step - 1``
  (``CIFAR-10/train.py``, ``COIL-20/train.py``). With separate encoders E_z trains from the
  start whatever ``chain_step`` says.
- the labelled batch follows ``ec_trains``: in few-label mode it joins G's ``L_c`` only while E_c
  is not yet training, and the encoder's ``L_c`` only from then on (first upload, Fashion-MNIST and
  CIFAR-10 ``train.py``): with ``chain_step: 0`` G never sees a labelled image.
- ``detach_aug``: whether ``T(x)`` is detached in G's step. Official CIFAR-10: detached only when
  neither few labels nor pre-training (``CIFAR-10/solver.py``, ``trans_detach``); every other
  first-upload folder's ``train_transform`` returns a detached view.
- ``encoder_loss_weights``: the weights of ``L_c`` and ``L_z`` in a shared encoder's step.
  Official MNIST and Fashion-MNIST: ``L_c + (beta_2 / beta_1) L_z`` (``MNIST/solver.py:94``,
  ``Fashion-MNIST/solver.py:119``); dSprites: ``beta_zc L_c + beta_zn L_z``, the same weights as
  G's (``dSprites/solver.py:133``; our ``beta_1`` / ``beta_2`` are its ``beta_zc`` / ``beta_zn``).
  The two agree only while ``beta_1`` is 1.
- ``loads_pretrained_gd``: the official pre-trained modes that also start G and D (and the EMA
  G) from pre-trained weights (``pre_G.pth`` / ``pre_D.pth``): Fashion-MNIST in every pre-trained
  or meta mode, CIFAR-10 in the few-label pre-trained and meta modes, dSprites whenever
  ``pretrain`` is set (first upload ``dSprites/train.py`` loads pre_E, pre_G and pre_D).
"""

from __future__ import annotations


def ec_start_epoch(cfg) -> int:
    """First epoch (0-based) in which E_c (or the shared E) is updated."""
    return max(0, cfg.chain_step - cfg.chain_step_offset)


def ec_trains(cfg, epoch: int, iteration: int) -> bool:
    """Whether E_c is updated in this iteration. ``chain_iters``, when set, replaces the epoch
    rule by an iteration count (budgets shorter than an epoch)."""
    if cfg.chain_iters is not None:
        return iteration >= cfg.chain_iters
    return epoch >= ec_start_epoch(cfg)


def detach_aug(cfg) -> bool:
    """``detach_aug_in_g`` when set, else the official rule of the dataset's folder."""
    if cfg.detach_aug_in_g is not None:
        return cfg.detach_aug_in_g
    if cfg.dataset == "cifar10":
        return not (cfg.few_labels or cfg.pretrain or cfg.meta)
    return True


def encoder_loss_weights(cfg) -> tuple:
    """``(w_c, w_z)``: a shared encoder minimises ``w_c * L_c + w_z * L_z``."""
    if cfg.dataset == "dsprites":
        return cfg.beta_1, cfg.beta_2
    return 1.0, cfg.beta_2 / cfg.beta_1


def loads_pretrained_gd(cfg) -> bool:
    """Whether the official code starts G and D from pre-trained weights in this mode."""
    if cfg.dataset in ("fashion_mnist", "dsprites"):
        return cfg.pretrain or cfg.meta
    if cfg.dataset == "cifar10":
        return cfg.few_labels and (cfg.pretrain or cfg.meta)
    return False

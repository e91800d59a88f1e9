"""Self-supervised pre-training of ``E_c`` ("CoDeGAN (self)", learninginvision/CoDeGAN@348d046).

``E_c`` (the very module ``models.py`` builds for training: the shared trunk ``E`` on
MNIST/Fashion-MNIST, ``E_c`` elsewhere) is trained with SimCLR's NT-Xent loss on two random views
of each real training image. Its output is already the L2-normalised class feature that ``L_c``
uses, so NT-Xent acts on that feature directly (no extra projection head to throw away): what the
pre-training shapes is exactly what training starts from.

The views are the dataset's augmentation ``T`` strengthened as SimCLR does: random resized crops
of a wider area range (``pretrain_crop_scale``), horizontal flips, colour jitter with probability
0.8 and random grayscale (colour images), every parameter drawn *per image* (``T`` itself draws
one set per batch, as the official code did; two identical-looking views would teach nothing).

    python pretrain.py [--key=value ...]      # writes pretrain_path (default pretrained/E_c_simclr.pt)
    python pretrain.py --pretrain_loss=simsiam --pretrain_path=pretrained/E_c_simsiam.pt
    python pretrain.py --resume=pretrained/E_c_simclr.resume.pt

The run keeps one resume checkpoint beside the weights (``<stem>.resume.pt``, rewritten
atomically every ``pretrain_save_iters`` iterations and on Ctrl-C) and, at the end, prints the
k-means ACC / NMI / ARI of the pre-trained features on the real test set, stores them in the
weights file and in ``<stem>.results.json``. ``train.py`` with ``pretrain: true`` loads the file.

``pretrain_loss: simsiam`` trains E_c with SimSiam's loss instead (``SimSiamPretrainer``: a
predictor head, negative cosine against the other view's stop-gradient feature): the frozen
encoder of ConGAN (``--method=congan``, ``congan_encoder_path``), whose authors used a SimSiam
pre-trained on ImageNet, which is not reachable here.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ..config import Config
from ..data.augment import Augment
from ..data.datasets import BatchStream, to_float
from ..errors import cli_guard
from .encoder_loop import EncoderLoop, from_command_line

# -- the loss ---------------------------------------------------------------------------------
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temp: float) -> torch.Tensor:
    """SimCLR's NT-Xent (normalised temperature-scaled cross entropy).

    z1, z2: (N, d) features of two views of the same N images (row i of z1 and of z2 come from
    image i); they are L2-normalised here, so similarities are cosines in [-1, 1].
    With the 2N views stacked, v = [z1; z2], and j(i) the other view of i's image:
        l_i = -log( exp(v_i.v_j(i) / temp) / sum_{k != i} exp(v_i.v_k / temp) )
    Returns the mean of l_i over all 2N views (a scalar >= 0).
    """
    if z1.shape != z2.shape or z1.dim() != 2 or len(z1) < 2:
        raise ValueError(f"nt_xent needs two (N >= 2, d) views of equal shape, got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    n = len(z1)
    v = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (v @ v.T) / temp
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=v.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(v.device)
    return F.cross_entropy(sim, partner)


def simsiam_loss(p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor,
                 z2: torch.Tensor) -> torch.Tensor:
    """SimSiam's symmetric loss (Chen & He 2021): ``D(p1, z2) / 2 + D(p2, z1) / 2`` with
    ``D(p, z) = -mean_i cos(p_i, stopgrad(z_i))``. ``p1``, ``p2``: the predictor's outputs of the
    two views (N, d); ``z1``, ``z2``: the encoder's features of the same views (N, d). No
    gradient reaches ``z1`` or ``z2`` (the target branch); the minimum is -1."""
    def d(p, z):
        return -F.cosine_similarity(p, z.detach(), dim=1).mean()

    return 0.5 * d(p1, z2) + 0.5 * d(p2, z1)


def simsiam_predictor(dim: int, hidden: int) -> torch.nn.Module:
    """SimSiam's predictor h: Linear(dim -> hidden, no bias), BN, ReLU, Linear(hidden -> dim)."""
    from torch import nn

    return nn.Sequential(nn.Linear(dim, hidden, bias=False), nn.BatchNorm1d(hidden),
                         nn.ReLU(inplace=True), nn.Linear(hidden, dim))


# -- the views --------------------------------------------------------------------------------
def gray_jitter(x: torch.Tensor, brightness: float, contrast: float, p: float) -> torch.Tensor:
    """Brightness and contrast jitter of single-channel images in [0, 1], per image, each image
    jittered with probability ``p`` (torchvision's ColorJitter on gray images: saturation and hue
    do nothing there). Factors ~ U(max(0, 1 - s), 1 + s); brightness scales the image, contrast
    blends it with its own mean; the order of the two is random per batch. x: (n, 1, H, W)."""
    n = x.shape[0]
    dev = x.device
    on = (torch.rand(n, 1, 1, 1, device=dev) < p).to(x.dtype)

    def factor(s):
        f = torch.empty(n, 1, 1, 1, device=dev).uniform_(max(0.0, 1 - s), 1 + s)
        return on * f + (1 - on)  # factor 1 where the jitter is off

    fb, fc = factor(brightness), factor(contrast)

    def bright(y):
        return (y * fb).clamp(0, 1)

    def contr(y):
        m = y.mean(dim=(1, 2, 3), keepdim=True)
        return (fc * y + (1 - fc) * m).clamp(0, 1)

    if torch.rand(()) < 0.5:
        return contr(bright(x))
    return bright(contr(x))


class SimCLRViews:
    """Random views for NT-Xent: float images (n, C, H, W) in the dataset's range -> same shape.

    Crop (``pretrain_crop_scale``, aspect ``aug_crop_ratio``) and flip (``pretrain_hflip``) come
    from :class:`codegan.data.augment.Augment` with per-image draws; colour images get its colour
    jitter / grayscale (``pretrain_color_jitter``, ``_p``, ``pretrain_grayscale_p``) per image,
    single-channel images :func:`gray_jitter` (brightness and contrast only).
    """

    def __init__(self, cfg: Config, channels: int, image_range):
        self.channels = channels
        self.image_range = tuple(image_range)
        jitter = cfg.pretrain_color_jitter
        colour = channels == 3
        self.geo = Augment(cfg.pretrain_crop_scale, cfg.aug_crop_ratio, cfg.pretrain_hflip,
                           jitter if colour else None, cfg.pretrain_color_jitter_p,
                           cfg.pretrain_grayscale_p if colour else 0.0, per_sample=True,
                           image_range=image_range)
        self.gray = None if (colour or jitter is None) else (jitter[0], jitter[1],
                                                             cfg.pretrain_color_jitter_p)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = self.geo(x)
        if self.gray is not None:
            lo, hi = self.image_range
            y = gray_jitter((x - lo) / (hi - lo), *self.gray)
            x = y * (hi - lo) + lo
        return x


class SimCLRPretrainer(EncoderLoop):
    """SimCLR pre-training of E_c on the real training images (labels never read)."""

    kind = "simclr"
    path_key = "pretrain_path"
    lr_key = "pretrain_lr"
    wd_key = "pretrain_weight_decay"
    save_key = "pretrain_save_iters"

    def setup(self):
        cfg = self.cfg
        self.views = SimCLRViews(cfg, self.spec.channels, self.spec.image_range)
        self.stream = BatchStream(self.train_x, cfg.pretrain_batch_size, cfg.seed)

    def total_iters(self) -> int:
        total = self.cfg.pretrain_epochs * self.stream.iters_per_epoch
        return min(total, self.cfg.pretrain_iters) if self.cfg.pretrain_iters else total

    def step(self) -> float:
        x = to_float(self.stream.next(), self.spec.image_range)
        n = len(x)
        f = self.feat(torch.cat([self.views(x), self.views(x)]))
        loss = nt_xent(f[:n], f[n:], self.cfg.pretrain_temp)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def extra_state(self):
        return {"stream": self.stream.state_dict()}

    def load_extra(self, s):
        self.stream.load_state_dict(s["stream"])


class SimSiamPretrainer(SimCLRPretrainer):
    """SimSiam pre-training of E_c (``pretrain_loss: simsiam``): the same views as SimCLR's,
    E_c's feature as SimSiam's projector output, a predictor head (trained with E_c by the same
    Adam, kept in the resume checkpoint and the weights file, never loaded by train.py) and
    :func:`simsiam_loss`. ConGAN's frozen encoder S (``congan_encoder_path``)."""

    kind = "simsiam"

    def setup(self):
        super().setup()
        cfg = self.cfg
        hidden = cfg.pretrain_pred_dim or max(1, cfg.fc_dim // 4)
        self.predictor = simsiam_predictor(cfg.fc_dim, hidden).to(self.device).train()
        self.opt.add_param_group({"params": list(self.predictor.parameters())})

    def step(self) -> float:
        x = to_float(self.stream.next(), self.spec.image_range)
        n = len(x)
        f = self.feat(torch.cat([self.views(x), self.views(x)]))
        z1, z2 = f[:n], f[n:]
        p = self.predictor(f)
        loss = simsiam_loss(p[:n], p[n:], z1, z2)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def extra_state(self):
        return {**super().extra_state(), "predictor": self.predictor.state_dict()}

    def load_extra(self, s):
        super().load_extra(s)
        self.predictor.load_state_dict(s["predictor"])

    def extra_weights(self):
        return {"predictor": {k: v.detach().cpu() for k, v in self.predictor.state_dict().items()}}


PRETRAINERS = {"simclr": SimCLRPretrainer, "simsiam": SimSiamPretrainer}


def make_pretrainer(cfg: Config, dataset_dir: str, resume: str | None = None,
                    resume_overrides: dict | None = None):
    """The pre-training of ``cfg.pretrain_loss``, or, resuming, of the checkpoint's loss."""
    kind = cfg.pretrain_loss
    if resume:
        from ..checkpoint import read_torch_file

        s = read_torch_file(resume, f"resume checkpoint {resume} not found; give the "
                                    f"<weights>.resume.pt that an interrupted pre-training left.",
                            f"{resume} is not a readable checkpoint")
        kind = s.get("kind", kind) if isinstance(s, dict) else kind
    return PRETRAINERS.get(kind, SimCLRPretrainer)(cfg, dataset_dir, resume, resume_overrides)


@cli_guard
def pretrain_main(dataset_dir: str, argv: list) -> dict:
    """``python pretrain.py [--key=value ...] [--resume=FILE]`` in a dataset folder."""
    return from_command_line(os.path.abspath(dataset_dir), argv, make_pretrainer).run()

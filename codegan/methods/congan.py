"""ConGAN, framework 2 of "Improving Latent Space of GANs" (Almansoori, Algumaei, Sharif 2021;
the authors' notebook ``ConsistentGAN.ipynb`` of zeligism/ConGAN, its official code) on the
shared loop.

A generator conditioned on the self-supervised representation ``r = S(x)`` of a real image:
``S`` is a frozen SimSiam encoder (the authors': a ResNet-50 pre-trained on ImageNet; here the
folder's ``E_c`` architecture pre-trained with SimSiam on the folder's own training images,
``python pretrain.py --pretrain_loss=simsiam``, since ImageNet is not reachable). G reads ``r``
twice: its input is ``[Linear(r), noise]`` and every BatchNorm of G is a conditional BatchNorm
whose scale and shift are linear functions of ``r``. D's pooled features ``h`` feed a
consistency head ``Q`` (two linear layers) that predicts ``r`` (the networks:
``codegan.nets.congan``).

Per iteration (the official ``train()``; every batch ``d_batch_size`` images, each drawn fresh
from the data stream, real and generated images with instance noise ``congan_image_noise``):
  one G step:  r = S(x~) + 1e-5 n  (no gradient),   x_G = G(noise, r) + 0.01 n
      L_G = -mean D(x_G) - kG cos(S(x_G), r) - kD cos(Q(h(x_G)), r)     (S frozen; gradient
      through S to G), on G and its input transform (one Adam)
  ``critic`` (official 5) D steps, each with a real batch x and another batch for r:
      L_D = hinge(D(x), D(x_G)) + kD/2 [-cos(Q(h(x)), S(x)) - cos(Q(h(x_G)), r)]
      on D and Q (one Adam)
``kG = kD = kappa(epoch)``: the consistency coefficients' schedule (README run 1: 0 for 30
epochs, 0.1 for 30, 1.0 for 30; ``congan_kappa_epochs`` / ``congan_kappa``). An epoch is a pass
over the training images, as in the official loop, where one iteration draws
``1 + 2 * critic`` (11) batches: ``iters_per_epoch = batches per pass // (1 + 2 critic)``.
Every learning rate is multiplied by ``congan_lr_gamma`` (official 0.98) at each epoch.

Sampling: from real images as the authors do (``sample_from_real``), and without real images
from a Gaussian fitted to the training set's representations (mean and Cholesky factor, buffers
of G, so any checkpoint's G samples alone): ``G(z, c)`` reads ``z = [noise (zn_dim - fc_dim),
eps (fc_dim)]`` and conditions on ``r = mean + L eps``; the class code ``c`` is ignored. So the
shared samplers (sample grids, ``test/sample_fake_images2npy.py``, the comparison's t-SNE) work
unchanged; ``zn_dim`` counts both parts (published 512 + 128 = 640 with CIFAR-10's fc_dim).

Evaluation (E-based k-means on the real test images): ``congan_eval_features: q`` (default)
reads ``Q(h(x))``, D's estimate of the representation (what the GAN learned), so that the
comparison scores the GAN; ``simsiam`` reads ``S`` (the representation G is conditioned on; fixed
during training, so it scores the pre-training alone).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..keys import Key, nonneg, pos
from ..nets import set_grad
from ..nets.congan import ConDiscriminator, ConGenerator, QOnD, consistency_head
from .base import Method
from .losses import d_loss, g_loss


# -- maths ------------------------------------------------------------------------------------
def kappa_at(epoch: int, epochs, values) -> float:
    """The consistency coefficient of (0-based) ``epoch``: ``values[i]`` where ``i`` counts the
    boundaries ``epochs`` already reached (``epochs`` [30, 60], values [0, 0.1, 1]: 0 for epochs
    0-29, 0.1 for 30-59, 1 from 60)."""
    return float(values[sum(1 for e in epochs if epoch >= e)])


def neg_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``-mean cos(a_i, b_i)`` over the batch, in float32."""
    return -F.cosine_similarity(a.float(), b.float(), dim=1).mean()


def noisy(x: torch.Tensor, std: float) -> torch.Tensor:
    return x + std * torch.randn_like(x) if std else x


def load_simsiam_encoder(S: nn.Module, path: str, dataset: str, shown: str | None = None) -> dict:
    """Load a pre-trained encoder file (``pretrain.py --pretrain_loss=simsiam``) into ``S``."""
    from ..checkpoint import load_encoder_file

    return load_encoder_file(
        S, path, dataset,
        f"congan needs the SimSiam encoder {path}, which is not there. Pre-train it on this "
        f"folder's images first: python pretrain.py --pretrain_loss=simsiam "
        f"--pretrain_path={shown or path} (or point congan_encoder_path at another file it "
        f"wrote).", kind="simsiam",
        kind_fix="make one with python pretrain.py --pretrain_loss=simsiam "
                 "--pretrain_path=pretrained/E_c_simsiam.pt.")


class ConGAN(Method):
    """G conditioned on SimSiam representations of real images, D with a consistency head
    (module docstring)."""

    name = "congan"
    folder_encoders = True
    settings = {
        "congan_encoder_path": Key("str", "pretrained/E_c_simsiam.pt", "ConGAN: the SimSiam "
                                   "encoder S (written by pretrain.py --pretrain_loss=simsiam "
                                   "--pretrain_path=...), relative to the dataset folder"),
        "congan_kappa_epochs": Key("ints", [30, 60], "ConGAN: epochs at which the consistency "
                                   "coefficients change (official README run 1: 30, 60)",
                                   lambda v: all(b > a for a, b in zip(v, v[1:])) and
                                   min(v, default=0) >= 0, "increasing, >= 0"),
        "congan_kappa": Key("floats", [0.0, 0.1, 1.0], "ConGAN: the consistency coefficients "
                            "kG = kD before the first, between, and after the last of "
                            "congan_kappa_epochs (official 0, 0.1, 1.0)",
                            lambda v: min(v) >= 0, ">= 0"),
        "congan_image_noise": Key("float", 0.01, "ConGAN: std of the instance noise added to "
                                  "real and generated images (official 0.01)", nonneg, ">= 0"),
        "congan_repr_noise": Key("float", 1e-5, "ConGAN: std of the noise added to the "
                                 "representations G is conditioned on (official 1e-5)",
                                 nonneg, ">= 0"),
        "congan_hidden": Key("int", 512, "ConGAN: size of G's transform of r and of Q's hidden "
                             "layer (official 512)", pos, "> 0"),
        "congan_channels": Key("int", 128, "ConGAN: channels of G and D (official 128)",
                               pos, "> 0"),
        "congan_lr_gamma": Key("float", 0.98, "ConGAN: every learning rate is multiplied by "
                               "this at each epoch (official ExponentialLR 1 - 0.02)",
                               lambda v: 0 < v <= 1, "in (0, 1]"),
        "congan_cbn_init": Key("str", "official", "ConGAN: conditional BatchNorm's embedding "
                               "at the start: official (the notebook's: the first C input "
                               "columns of the weight N(1, 0.02), the rest 0; gamma and beta "
                               "then start as sums of r's entries, and our L2-normalised r "
                               "is about 45 times shorter than the authors': "
                               "bench/congan_cbn_scale.py) or identity (gamma 1, beta 0 "
                               "whatever r, the evident intent)",
                               choices=("official", "identity")),
        "congan_encoder_bn": Key("str", "batch", "ConGAN: S's BatchNorms normalise with the "
                                 "batch's statistics (batch: the official, whose SimSiam stays "
                                 "in train mode; its running statistics are left as pre-trained) "
                                 "or with the pre-trained running statistics (running)",
                                 choices=("batch", "running")),
        "congan_fit_images": Key("int", 10000, "ConGAN: training images whose representations "
                                 "the Gaussian of prior sampling is fitted to (a seeded draw; "
                                 "null: all)", pos, "> 0", optional=True),
        "congan_eval_features": Key("str", "q", "ConGAN: what the E-based k-means "
                                    "clusters: simsiam (S(x), the representation G reads) or q "
                                    "(Q(h(x)), D's consistency head)", choices=("simsiam", "q")),
    }
    # official notebook (Args, README run 1): batch 128, Adam lr 1e-3 * 128 / 256 for every
    # network, betas (0, 0.9), hinge loss, 5 D steps per G step, 90 epochs, noise 512 (+ the
    # representation's eps for prior sampling, fc_dim 128 here)
    published = {"gan_loss": "hinge", "lr": 5e-4, "lr_d": None, "adam_betas": [0.0, 0.9],
                 "weight_decay": 0.0, "d_batch_size": 128, "g_batch_size": 128, "critic": 5,
                 "zn_dim": 640, "z_prior": "normal", "z_scale": 1.0, "max_step": 90,
                 "test_step": 10, "save_step": 10, "lr_decay": False, "use_ema": False}

    @classmethod
    def check(cls, c: dict) -> None:
        from ..data.datasets import DATASETS

        spec = DATASETS[c["dataset"]]
        if spec.channels != 3 or spec.size not in (32, 64) or tuple(spec.image_range) != (-1, 1):
            raise UserError(f"congan's networks are the authors' colour ones (3 x 32 x 32 or "
                            f"3 x 64 x 64 images in [-1, 1]); {c['dataset']} is {spec.channels}"
                            f" x {spec.size} x {spec.size}. Run it in CIFAR-10/, 3D-Chairs/ or "
                            f"3D-Cars/.")
        if c["zn_dim"] <= c["fc_dim"]:
            raise UserError(f"congan's zn_dim ({c['zn_dim']}) is the noise plus the "
                            f"representation's fc_dim ({c['fc_dim']}) entries that draw r for "
                            f"prior sampling; set zn_dim to noise + fc_dim (official noise "
                            f"512: --zn_dim={512 + c['fc_dim']}).")
        if len(c["congan_kappa"]) != len(c["congan_kappa_epochs"]) + 1:
            raise UserError(f"congan_kappa needs one value more than congan_kappa_epochs (a "
                            f"value before, between and after the boundaries); got "
                            f"{len(c['congan_kappa'])} values for "
                            f"{len(c['congan_kappa_epochs'])} boundaries.")
        if c["use_ema"]:
            raise UserError("congan keeps no EMA of G (its fitted representation Gaussian lives "
                            "in G); set use_ema: false.")

    @classmethod
    def attach(cls, nets, cfg, fresh_nets) -> None:
        """S: the folder's E_c architecture (frozen; weights from congan_encoder_path at the
        start); G, D and Q as the authors'; CoDeGAN's encoders dropped."""
        from ..data.datasets import DATASETS

        if nets.shared:
            raise UserError("congan needs a folder whose models.py builds a separate E_c.")
        S = nets.E_c
        nets.drop_encoders()
        set_grad([S], False)
        if cfg.congan_encoder_bn == "batch":  # batch statistics; the stored ones stay as loaded
            for m in S.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.momentum = 0.0
        nets.S = S
        spec = DATASETS[cfg.dataset]
        ch, size = cfg.congan_channels, spec.size
        nets.G = ConGenerator(cfg.zn_dim - cfg.fc_dim, cfg.fc_dim, cfg.congan_hidden, ch, size,
                              spec.channels, cfg.congan_cbn_init)
        nets.D = ConDiscriminator(spec.channels, ch, size)
        nets.Q = consistency_head(nets.D.feature_dim, cfg.fc_dim, cfg.congan_hidden)

    def __init__(self, loop):
        super().__init__(loop)
        if loop.dist is not None:
            raise UserError("congan trains on one process; run it without torchrun.")

    def networks(self) -> dict:
        return {"Q": self.nets.Q}

    def optimizers(self) -> dict:
        """G with its input transform (one Adam), D with Q (one Adam), as the official."""
        loop, nets, cfg = self.loop, self.nets, self.cfg
        return {"G": loop.adam(nets.G.parameters(), cfg.weight_decay),
                "D": loop.adam([*nets.D.parameters(), *nets.Q.parameters()], cfg.weight_decay,
                               lr=cfg.lr_d)}

    def start(self) -> None:
        """S from its pre-trained file, then the Gaussian of the training representations."""
        cfg, loop = self.cfg, self.loop
        path = cfg.congan_encoder_path
        if not os.path.isabs(path):
            path = os.path.join(loop.dataset_dir, path)
        load_simsiam_encoder(self.nets.S, path, cfg.dataset, cfg.congan_encoder_path)
        self.fit_representations()

    @torch.no_grad()
    def fit_representations(self) -> None:
        """Mean and Cholesky factor of S's representations of ``congan_fit_images`` training
        images (a draw seeded by ``seed``), into G's buffers."""
        cfg, loop = self.cfg, self.loop
        n = len(loop.train_x)
        g = torch.Generator().manual_seed(cfg.seed + 104729)
        idx = torch.randperm(n, generator=g)[:cfg.congan_fit_images or n]
        bs = cfg.d_batch_size
        reps = torch.cat([self.condition(loop.real(loop.train_x[idx[i:i + bs].to(
            loop.train_x.device)]), noise=False) for i in range(0, len(idx), bs)]).double()
        mean = reps.mean(0)
        cov = torch.cov(reps.T) if len(reps) > 1 else torch.zeros(len(mean), len(mean))
        cov = cov + 1e-6 * torch.eye(len(mean), dtype=cov.dtype)
        G = self.nets.G
        G.r_mean.copy_(mean.float())
        G.r_chol.copy_(torch.linalg.cholesky(cov).float())

    # -- schedule -----------------------------------------------------------------------------
    def kappa(self, epoch: int) -> float:
        return kappa_at(epoch, self.cfg.congan_kappa_epochs, self.cfg.congan_kappa)

    @classmethod
    def batches_per_iteration(cls, cfg) -> int:
        """An epoch is a pass over the images; one iteration draws 1 + 2 * critic batches."""
        return 1 + 2 * cfg.critic

    def lr_factor(self, epoch: int, idx: int) -> float:
        """Every learning rate times ``congan_lr_gamma`` per epoch (official ExponentialLR)."""
        return self.cfg.congan_lr_gamma ** epoch

    # -- steps --------------------------------------------------------------------------------
    def condition(self, x: torch.Tensor, noise: bool = True) -> torch.Tensor:
        """S(x) with S's BatchNorms as ``congan_encoder_bn`` says (+ ``congan_repr_noise``)."""
        S = self.nets.S
        S.train(self.cfg.congan_encoder_bn == "batch")
        with torch.no_grad(), self.loop.amp():
            r = S(x).float()
        return noisy(r, self.cfg.congan_repr_noise) if noise else r

    def real_batch(self) -> torch.Tensor:
        return noisy(self.loop.next_real(), self.cfg.congan_image_noise)

    def generate(self, r: torch.Tensor) -> torch.Tensor:
        z, c = self.loop.latents(len(r))
        with self.loop.amp():
            x = self.nets.G(z, c, r)
        return noisy(x.float(), self.cfg.congan_image_noise)

    def train_iteration(self, epoch: int, idx: int) -> dict:
        """One G step, then ``critic`` D steps (official order), at this epoch's kappa (the
        loop has set this epoch's learning rates, ``lr_factor``)."""
        k = self.kappa(epoch)
        out = self.g_step(k)
        for _ in range(self.cfg.critic):
            out.update(self.d_step(k))
        out["G/kappa"] = torch.tensor(k)
        return out

    def g_step(self, k: float) -> dict:
        nets, loop = self.nets, self.loop
        set_grad([nets.G], True)
        set_grad([nets.D, nets.Q], False)
        nets.S.train(self.cfg.congan_encoder_bn == "batch")
        r = self.condition(self.real_batch())
        fake = self.generate(r)
        with loop.amp():
            h = nets.D.features(fake)
            d_fake = nets.D.head(h)
        loss = g_loss(d_fake, self.cfg.gan_loss)
        out = {"G/gan": loss.detach()}
        if k:
            with loop.amp():
                s_fake = nets.S(fake)  # frozen S; the gradient flows through it to G
                q_fake = nets.Q(h)
            l_s, l_q = neg_cos(s_fake, r), neg_cos(q_fake, r)
            loss = loss + k * l_s + k * l_q
            out.update({"G/cons_S": l_s.detach(), "G/cons_Q": l_q.detach()})
        self.minimize("G", loss)
        loop.update_ema()
        return out

    def d_step(self, k: float) -> dict:
        nets, loop = self.nets, self.loop
        set_grad([nets.D, nets.Q], True)
        set_grad([nets.G], False)
        real = self.real_batch()
        r = self.condition(self.real_batch())
        with torch.no_grad():
            fake = self.generate(r)
        with loop.amp():
            h_real, h_fake = nets.D.features(real), nets.D.features(fake)
            d_real, d_fake = nets.D.head(h_real), nets.D.head(h_fake)
        loss = d_loss(self.cfg.gan_loss, d_real, d_fake)
        out = {"D/loss": loss.detach()}
        if k:
            r_real = self.condition(real, noise=False)
            with loop.amp():
                q_real, q_fake = nets.Q(h_real), nets.Q(h_fake)
            cons = 0.5 * (neg_cos(q_real, r_real) + neg_cos(q_fake, r))
            loss = loss + k * cons
            out["D/cons"] = cons.detach()
        self.minimize("D", loss)
        return out

    # -- evaluation and sampling ------------------------------------------------------------------
    @classmethod
    def eval_encoder(cls, nets, cfg):
        """S (``congan_eval_features: simsiam``) or Q on D's features (``q``); the features are
        the module's output."""
        if cfg.congan_eval_features == "q":
            return QOnD(nets.D, nets.Q), (lambda out: out)
        return nets.S, (lambda out: out)

    @classmethod
    def describe(cls, cfg, key: str = "features") -> str:
        return "Q(h(x)) features" if cfg.congan_eval_features == "q" else "S (SimSiam) features"

    @classmethod
    @torch.no_grad()
    def sample_grid(cls, G, cfg, path: str, device, n: int = 10) -> bool:
        """Rows: ``n`` representations from the fitted Gaussian; columns: ``n`` noise vectors
        (the same in every row). G in eval mode."""
        from torchvision.utils import save_image

        g = torch.Generator().manual_seed(12345)
        noise = torch.randn(n, G.noise_dim, generator=g).repeat(n, 1)
        eps = torch.randn(n, G.r_dim, generator=g).repeat_interleave(n, 0)
        was = G.training
        G.eval()
        try:
            x = G(torch.cat([noise, eps], 1).to(device)).float().cpu()
        finally:
            G.train(was)
        save_image((x + 1) / 2, path, nrow=n, padding=2, pad_value=1.0)
        return True


@torch.no_grad()
def sample_from_real(nets, cfg, x: torch.Tensor, n_noise: int = 1, seed: int = 0):
    """The authors' sampling: G conditioned on S's representations of real images ``x`` (float,
    the dataset's range), ``n_noise`` noise vectors each. Returns (len(x) * n_noise, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    nets.S.train(cfg.congan_encoder_bn == "batch")
    r = nets.S(x).float().repeat_interleave(n_noise, 0)
    nets.S.eval()
    z = torch.randn(len(r), cfg.zn_dim, generator=g).to(x.device)
    return nets.G(z, None, r)

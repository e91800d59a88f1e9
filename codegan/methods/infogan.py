"""InfoGAN (Chen et al. 2016; official code openai/InfoGAN, its official code) on the shared
loop, with the folder's G and D.

The latent is the shared one: ``z`` of ``zn_dim`` entries ~ U(-1, 1) (InfoGAN's prior) and the
categorical class code ``c`` (K = ``zc_dim``); the first ``info_cont_dim`` entries of ``z`` are
InfoGAN's continuous codes (MNIST: 2), the rest its incompressible noise. Q branches off D's
trunk (``D.features``: where the official Q branches, after the trunk's FC 1024) and outputs K
class logits and the means of the continuous codes (Gaussians of std 1).

Per iteration (official ``infogan_trainer.py``): one D step, then one G step on fresh latents.
  L_D = GAN_D(x, G(z, c)) + info_weight_c * CE(Q_c(G), c) + info_weight_cont * NLL(Q_mu(G), z_cont)
  L_G = GAN_G(G(z, c))    + the same two terms
Since ``H(c) = log K`` is a constant, ``- lambda * L_I = lambda * (CE - log K)`` moves the networks
as ``lambda * CE`` does. Q is updated by D's Adam only (the official variable lists: Q lives in
D's scope); G's step moves G alone, through D and Q.
"""

from __future__ import annotations

import math

import torch

from ..errors import UserError
from ..keys import Key, nonneg
from ..nets import set_grad
from ..nets.heads import QHead
from .base import Method
from .losses import categorical_nll, d_loss, g_loss, gaussian_nll, gradient_penalty


class InfoGAN(Method):
    """G, D and Q on D's trunk; the categorical code's and the continuous codes' mutual
    information lower bounds in D's and G's losses."""

    name = "infogan"
    settings = {
        "info_cont_dim": Key("int", 2, "InfoGAN: how many leading entries of z are continuous "
                             "codes regularised by Q (official MNIST: 2)", nonneg, ">= 0"),
        "info_weight_c": Key("float", 1.0, "InfoGAN: weight of the categorical code's MI term "
                             "(official info_reg_coeff 1.0)", nonneg, ">= 0"),
        "info_weight_cont": Key("float", 1.0, "InfoGAN: weight of the continuous codes' MI term "
                                "(official 1.0)", nonneg, ">= 0"),
        "infogan_cr_nets": Key("bool", False, "dSprites only: InfoGAN-CR's own dSprites G, D "
                               "and Q (and H) in place of the folder's networks "
                               "(codegan/nets/dsprites.py; its published dSprites setting)"),
    }
    # openai/InfoGAN launchers/run_mnist_exp.py: Adam beta1 0.5 (beta2 TF's 0.999), G 1e-3,
    # D and Q 2e-4; the standard GAN loss; codes and noise ~ U(-1, 1)
    published = {"gan_loss": "ns", "lr": 1e-3, "lr_d": 2e-4, "adam_betas": [0.5, 0.999],
                 "weight_decay": 0.0, "z_prior": "uniform", "z_scale": 1.0, "critic": 1,
                 "lr_decay": False}
    # InfoGAN-CR's dSprites benchmark (fjxmlzn/InfoGAN-CR InfoGAN-CR_dSprites/config.py,
    # gan_task.py; its official code), whose "InfoGAN (modified)" column is this setup
    # without the CR: 5 continuous codes and 5 noise entries, all ~ U(-1, 1), no class code;
    # its networks; batch 64 for 28 epochs; Adam (0.5, 0.999) G 1e-3, D/Q 2e-3; Q's weight 0.05
    # in D's and G's losses; its metrics at the end of every epoch (and a checkpoint)
    DSPRITES = {"zc_dim": 0, "zn_dim": 10, "info_cont_dim": 5, "z_prior": "uniform",
                "z_scale": 1.0, "infogan_cr_nets": True, "lr": 1e-3, "lr_d": 2e-3,
                "adam_betas": [0.5, 0.999], "info_weight_cont": 0.05, "g_batch_size": 64,
                "d_batch_size": 64, "max_step": 28, "test_step": 1, "save_step": 1}
    published_by_dataset = {"dsprites": DSPRITES}
    class_head = True
    class_code_optional = True
    code_names = {"features": "Q's class softmax", "class": "Q's class softmax",
                  "class_probs": "Q's class softmax", "continuous": "Q's continuous-code means"}
    paper_scores = {
        "fashion_mnist": {"acc": 0.61, "nmi": 0.59, "ari": 0.44, "rerun": False},
        "coil20": {"acc": 0.85, "nmi": 0.90, "ari": 0.81, "rerun": True},
        "cifar10": {"acc": 0.31, "nmi": 0.21, "ari": 0.12, "rerun": True},
    }

    @classmethod
    def check(cls, c: dict) -> None:
        if c["info_cont_dim"] > c["zn_dim"]:
            raise UserError(f"'info_cont_dim' ({c['info_cont_dim']}) exceeds 'zn_dim' "
                            f"({c['zn_dim']}): the continuous codes are entries of z.")
        if c["zc_dim"] == 0 and c["info_cont_dim"] < 1:
            raise UserError(f"{c['method']} without a class code (zc_dim 0) needs continuous "
                            f"codes for Q: set info_cont_dim >= 1.")
        if c["infogan_cr_nets"] and c["dataset"] != "dsprites":
            raise UserError("'infogan_cr_nets' are InfoGAN-CR's dSprites networks (1 x 64 x 64 "
                            f"images); {c['dataset']} trains on its folder's networks: set "
                            f"infogan_cr_nets: false.")

    @classmethod
    def attach(cls, nets, cfg, fresh_nets) -> None:
        """No CoDeGAN encoders; Q on D's trunk (with ``infogan_cr_nets``: InfoGAN-CR's G, D and
        Q in place of the folder's)."""
        if cfg.infogan_cr_nets:
            from ..nets import dsprites

            for name, net in dsprites.infogan_cr_nets(cfg).items():
                setattr(nets, name, net)
            nets.Q = dsprites.InfoGANCRQ(nets.D.feature_dim, cfg.zc_dim, cfg.info_cont_dim)
        else:
            nets.Q = QHead(nets.D.feature_dim, cfg.zc_dim, cfg.info_cont_dim)

    def networks(self) -> dict:
        return {"Q": self.nets.Q}

    def optimizers(self) -> dict:
        """G's Adam (``lr``) and one Adam on D and Q (``lr_d``), as the official variable
        lists."""
        loop, nets = self.loop, self.nets
        return {"G": loop.adam(nets.G.parameters(), self.cfg.weight_decay),
                "D": loop.adam([*nets.D.parameters(), *nets.Q.parameters()], lr=self.cfg.lr_d)}

    @classmethod
    def codes(cls, cfg) -> tuple:
        return ("features", "continuous") + (("class_probs", "class") if cfg.zc_dim else ())

    @classmethod
    def represent(cls, nets, cfg, x, keys=None):
        """Q on D's trunk. ``class_probs`` = ``class`` = ``features``: the softmax of Q's class
        logits (n, K, in [0, 1]); ``continuous``: Q's means of the ``info_cont_dim``
        continuous codes (n, info_cont_dim, unbounded; InfoGAN-CR's metric code). Without a
        class code (``zc_dim`` 0) ``features`` is Q's whole output (n, its width)."""
        q = nets.Q(nets.D.features(x)).float()
        k, m = cfg.zc_dim, cfg.info_cont_dim
        out = {"continuous": q[:, k:k + m]}
        if not k:
            out["features"] = q
            return out
        p = torch.softmax(q[:, :k], 1)
        return {**out, "features": p, "class_probs": p, "class": p}

    # -- maths ---------------------------------------------------------------------------------
    def info_loss(self, q: torch.Tensor, z: torch.Tensor, c: torch.Tensor):
        """``info_weight_c * CE + info_weight_cont * NLL`` of Q's output ``q`` (n, K + n_cont)
        for the codes ``c`` (n,; None without a class code) and ``z[:, :n_cont]``. Returns the
        loss and the logged values: the categorical MI lower bound ``log K - CE`` (with a class
        code) and the Gaussian NLL."""
        cfg = self.cfg
        k, m = cfg.zc_dim, cfg.info_cont_dim
        loss, logs = q.new_zeros(()), {}
        if k:  # zc_dim 0: no class code, no categorical term
            ce = categorical_nll(q[:, :k], c)
            loss = cfg.info_weight_c * ce
            logs["MI_c"] = math.log(k) - ce.detach()
        if m:
            nll = gaussian_nll(q[:, k:k + m], z[:, :m])
            loss = loss + cfg.info_weight_cont * nll
            logs["NLL_cont"] = nll.detach()
        return loss, logs

    def train_iteration(self, epoch: int, idx: int) -> dict:
        """A D step, then (every ``critic``-th iteration; official: every one) a G step."""
        return self.d_then_g(idx)

    def graph_key(self, epoch: int, idx: int):
        """The branch: a D step, with or without the G step (``critic``). Without a class code
        (dSprites' continuous codes) eager: not checked on a GPU yet."""
        if not self.cfg.zc_dim:
            return None
        return idx % self.cfg.critic == self.cfg.critic - 1

    def d_step(self, latents=None) -> dict:
        """D and Q on a real minibatch and as many fakes: GAN loss (+ WGAN-GP's penalty when
        ``gan_loss`` is wgan-gp) + the MI terms on the fakes. The fakes are G of ``latents``
        (``z``, ``c``; InfoGAN-CR's feed), by default of ``d_batch_size`` fresh ones."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        set_grad([nets.D, nets.Q], True)
        set_grad([nets.G], False)
        real = loop.next_real()
        with torch.no_grad():
            z, c = latents if latents is not None else loop.latents(cfg.d_batch_size)
            fake = nets.G(z, c)
        with loop.amp():
            d_real = nets.D.head(nets.D.features(real))
            h_fake = nets.D.features(fake)
            d_fake, q = nets.D.head(h_fake), nets.Q(h_fake)
        l_gan = d_loss(cfg.gan_loss, d_real, d_fake)
        l_info, logs = self.info_loss(q, z, c)
        loss = l_gan + l_info
        out = {"D/loss": l_gan.detach(), **{f"D/{k}": v for k, v in logs.items()}}
        if cfg.gan_loss == "wgan-gp" and cfg.gp_weight > 0:
            with loop.amp():
                gp = gradient_penalty(nets.D, real, fake.to(real.dtype))
            loss = loss + cfg.gp_weight * gp
            out["D/gp"] = gp.detach()
        self.minimize("D", loss)
        return out

    def g_loss_terms(self, z: torch.Tensor, c: torch.Tensor):
        """G's GAN loss and MI terms on ``G(z, c)`` (graphs kept). Returns (loss, logs)."""
        cfg, nets = self.cfg, self.nets
        with self.loop.amp():
            h = nets.D.features(nets.G(z, c))
            d_fake, q = nets.D.head(h), nets.Q(h)
        l_gan = g_loss(d_fake, cfg.gan_loss)
        l_info, logs = self.info_loss(q, z, c)
        return l_gan + l_info, {"G/gan": l_gan.detach(), **{f"G/{k}": v for k, v in logs.items()}}

    def g_step(self) -> dict:
        """G on fresh latents (official), then the EMA of G."""
        loop, nets = self.loop, self.nets
        set_grad([nets.G], True)
        set_grad([nets.D, nets.Q], False)
        z, c = loop.latents(self.cfg.g_batch_size)
        loss, logs = self.g_loss_terms(z, c)
        self.minimize("G", loss)
        loop.update_ema()
        return logs

"""ClusterGAN (Mukherjee et al. 2019; official code sudiptodip15/ClusterGAN)
on the shared loop, with the folder's G and D.

Latent: ``z_n ~ N(0, 0.1^2 I)`` (``z_prior: normal``, ``z_scale: 0.1``) and the one-hot class
code ``c``. The encoder E is another instance of D's trunk (own weights) followed by a linear
layer to ``zn_dim + K`` outputs: ``z_n`` estimates (linear) and class logits (softmax).

Per iteration: one critic step (WGAN-GP with ONE interpolation weight for the whole batch, as
the official ``Image_ClusterGAN.py``); after every ``critic`` (official: 5) critic steps, one
step of G and E together (one Adam) on
  L_GE = -D(G(z)) + beta_n * MSE(E_n(G(z)), z_n) + beta_c * CE(E_c(G(z)), c)
(the official critic is this one negated: ``D(x) - D(G)``; the same maths with D's sign flipped).
"""

from __future__ import annotations

import torch

from ..keys import Key, nonneg
from ..nets import set_grad
from ..nets.heads import ClusterEncoder
from .base import Method
from .losses import categorical_nll, d_loss, g_loss, gradient_penalty, lz_loss


class ClusterGAN(Method):
    """G, D (critic) and the encoder E of ``z = (z_n, c)``, G and E trained together."""

    name = "clustergan"
    settings = {
        "beta_n": Key("float", 10.0, "ClusterGAN: weight of the z_n reconstruction (MSE) in G and "
                      "E's loss (official MNIST 10, Fashion-MNIST 0)", nonneg, ">= 0"),
        "beta_c": Key("float", 10.0, "ClusterGAN: weight of the class code's cross-entropy in G "
                      "and E's loss (official 10)", nonneg, ">= 0"),
    }
    # official Image_ClusterGAN.py: Adam lr 1e-4, betas (0.5, 0.9), 5 critic steps per G/E step,
    # WGAN-GP weight 10, z_n ~ 0.1 N(0, I); README: Fashion-10 with beta_n 0
    published = {"gan_loss": "wgan-gp", "gp_weight": 10.0, "lr": 1e-4, "lr_d": None,
                 "adam_betas": [0.5, 0.9], "weight_decay": 0.0, "z_prior": "normal",
                 "z_scale": 0.1, "critic": 5, "lr_decay": False}
    # its MNIST / Fashion-MNIST budget (Image_ClusterGAN.py:90, 109-118, batch 64 at :283):
    # 500,000 G/E steps, each after 5 critic steps, so 2,500,000 critic steps, one real batch
    # of 64 each. Our iteration is one critic step and an epoch 60,000 // 64 = 937 of them:
    # 2,669 epochs (2,500,853 critic steps) is the first whole epoch past 2,500,000.
    BUDGET = {"max_step": 2669, "d_batch_size": 64, "g_batch_size": 64}
    published_by_dataset = {"mnist": {"beta_n": 10.0, "beta_c": 10.0, **BUDGET},
                            "fashion_mnist": {"beta_n": 0.0, "beta_c": 10.0, **BUDGET}}
    class_head = True
    code_names = {"features": "E's [z_n, class softmax] features", "class": "E's class softmax",
                  "class_probs": "E's class softmax", "continuous": "E's z_n estimate"}
    paper_scores = {
        "fashion_mnist": {"acc": 0.63, "nmi": 0.64, "ari": 0.50, "rerun": False},
        "coil20": {"acc": 0.82, "nmi": 0.89, "ari": 0.79, "rerun": True},
        "cifar10": {"acc": 0.18, "nmi": 0.05, "ari": 0.03, "rerun": True},
    }

    @classmethod
    def attach(cls, nets, cfg, fresh_nets) -> None:
        """No CoDeGAN encoders; E on a fresh copy of D's architecture."""
        nets.E = ClusterEncoder(fresh_nets().D, cfg.zn_dim, cfg.zc_dim)

    def networks(self) -> dict:
        return {"E": self.nets.E}

    def optimizers(self) -> dict:
        """One Adam on G and E together (official), one on D."""
        loop, nets = self.loop, self.nets
        return {"G": loop.adam([*nets.G.parameters(), *nets.E.parameters()],
                               self.cfg.weight_decay),
                "D": loop.adam(nets.D.parameters(), lr=self.cfg.lr_d)}

    @classmethod
    def codes(cls, cfg) -> tuple:
        return ("features", "class_probs", "class") + (("continuous",) if cfg.beta_n > 0 else ())

    @classmethod
    def represent(cls, nets, cfg, x, keys=None):
        """E's codes of the images (``read_codes`` of ``E(x)``)."""
        return cls.read_codes(nets.E(x), cfg)

    @classmethod
    def eval_encoder(cls, nets, cfg):
        """E, and the ``features`` of ``read_codes`` of its output."""
        return nets.E, (lambda out: cls.read_codes(out, cfg)["features"])

    @staticmethod
    def read_codes(out, cfg) -> dict:
        """``represent``'s entries from E's output ``(z_n_hat, logits)``: ``class_probs`` =
        ``class``: softmax of the class logits (n, K, in [0, 1]); ``continuous``: the estimate
        of the noise z_n (n, zn_dim, unbounded; only with ``beta_n`` > 0, which trains it);
        ``features``: ``[z_n, class_probs]`` (``class_probs`` alone with ``beta_n`` 0, the
        official evaluation)."""
        zn, logits = out
        p = torch.softmax(logits.float(), 1)
        codes = {"class_probs": p, "class": p, "features": p}
        if cfg.beta_n > 0:
            codes["continuous"] = zn.float()
            codes["features"] = torch.cat([zn.float(), p], 1)
        return codes

    def train_iteration(self, epoch: int, idx: int) -> dict:
        """A critic step, then after every ``critic``-th (official: 5) one G and E step. The
        count is ``idx``, the iteration within the epoch, so it restarts every epoch (937 = 5 x
        187 + 2: the last 2 critic steps of an MNIST epoch have no G/E step after them); the
        official count runs over the whole run, which has no epochs."""
        return self.d_then_g(idx)

    def graph_key(self, epoch: int, idx: int):
        """The branch: a D step, with or without the G step (``critic``)."""
        return idx % self.cfg.critic == self.cfg.critic - 1

    def d_step(self) -> dict:
        """The critic on a real minibatch and as many fakes, WGAN-GP with one interpolation
        weight per batch (hinge and ns as their definitions, without a penalty)."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        set_grad([nets.D], True)
        set_grad([nets.G, nets.E], False)
        real = loop.next_real()
        with torch.no_grad():
            fake = nets.G(*loop.latents(cfg.d_batch_size))
        with loop.amp():
            d_real, d_fake = nets.D(real), nets.D(fake)
        loss = d_loss(cfg.gan_loss, d_real, d_fake)
        out = {"D/loss": loss.detach()}
        if cfg.gan_loss == "wgan-gp" and cfg.gp_weight > 0:
            with loop.amp():
                gp = gradient_penalty(nets.D, real, fake.to(real.dtype), per_sample=False)
            loss = loss + cfg.gp_weight * gp
            out["D/gp"] = gp.detach()
        self.minimize("D", loss)
        return out

    def g_step(self) -> dict:
        """G and E on ``-D(G) + beta_n MSE + beta_c CE`` (fresh latents), then the EMA of G."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        set_grad([nets.G, nets.E], True)
        set_grad([nets.D], False)
        z, c = loop.latents(cfg.g_batch_size)
        with loop.amp():
            x = nets.G(z, c)
            d_fake = nets.D(x)
            zn_hat, logits = nets.E(x)
        l_gan = g_loss(d_fake, cfg.gan_loss)
        l_n = lz_loss(zn_hat, z)  # the mean over batch and entries, as the official
        l_c = categorical_nll(logits, c)
        self.minimize("G", l_gan + cfg.beta_n * l_n + cfg.beta_c * l_c)
        loop.update_ema()
        return {"G/gan": l_gan.detach(), "E/L_n": l_n.detach(), "E/L_c": l_c.detach()}


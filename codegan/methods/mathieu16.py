"""Mathieu et al. 2016, "Disentangling factors of variation in deep representations using
adversarial training" (NIPS 2016), as reimplemented in PyTorch by ananyahjha93
(disentangling-factors-of-variation-using-adversarial-training, read at 9dbb250), on the shared
loop. This follows that reimplementation, not the authors' Lua code
(MichaelMathieu/factors-variation), which differs in its discriminator, batches, objective
and networks (FAITHFULNESS.md, "the authors' code"); "the reference" below is the
reimplementation, and the numbers it publishes are its own, not the paper's.

**Supervision: pairwise labels.** The method never sees a class label as such, but it is told
which images share a class: every training step draws pairs of images of the same class. Here
the pairs are formed from the training labels (``PairSampler``), so the method is *weakly
supervised* (same-class pairs), unlike the unsupervised GANs it is compared with.

Not a noise-to-image GAN: an encoder E splits an image into an unspecified ("style") code ``z``
(a Gaussian, mean and log-variance, reparameterised) and a specified ("class") code ``s``; a
decoder (here ``nets.G``) maps ``(z, s)`` back to an image; a discriminator (here ``nets.D``)
judges *pairs* of images: "both of the same class, both real" against "a real image and a
decoded one with that image's ``s``". The folder's G, D and CoDeGAN encoders are replaced by
these three networks (``attach``; ``codegan.nets.mathieu16``); their shapes are the reference's
MNIST ones (28 x 28, one channel), so the method runs in the MNIST and Fashion-MNIST folders.

Per iteration (the reference's ``training.py``), every batch ``d_batch_size`` (64), each image
with a same-class partner; by default the first pass's batches and partners are replayed for
the whole run, as the reference's ``itertools.cycle`` does (``PairSampler``,
``mathieu_fresh_passes``):
  (A) E and Dec (Adam "AE"), a pair (x1, x2):
      L_AE = MSE(Dec(z1, s1), x1) + MSE(Dec(z1, s2), x1) + KL(z1),   z1 ~ q(z | x1)
  (B) ``g_steps`` times (the reference's 2) E and Dec (Adam "G", a second Adam on the same
      weights),
      two independent images xa, xb; D's weights fixed, its gradient flows:
      L_G = CE(D(xb, Dec(za, sb)), real) + CE(D(xb, Dec(n, sb)), real) + KL(za),  n ~ N(0, I)
  (C) D (Adam "D"): a random image xa and a same-class pair (xp, xq):
      L_D = CE(D(xp, xq), real) + CE(D(xq, Dec(mu_a, s_q)), fake)
      D steps only while its accuracy on this very batch (2B decisions) is below
      ``d_acc_limit`` (the reference's 0.8); otherwise the step is skipped.
KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) / (B * C * H * W) (summed over the batch and the
entries, divided by the number of pixels of the batch, as the reference).

Evaluation: the E-based k-means of the shared table reads ``s`` (``represent``); beside it,
as the reference's README reports (its numbers, not the paper's), the accuracy of an MLP
classifier trained on ``s`` (should be high) and on ``z`` (its mean; should be low), train and
test (``codegan.evaluation.split_codes``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..keys import Key, nonneg, pos
from ..nets import set_grad
from ..nets.mathieu16 import Decoder, Encoder, SameClassPairDiscriminator
from .base import Method


# -- the maths -------------------------------------------------------------------------------
def kl_normal(mu: torch.Tensor, logvar: torch.Tensor, n_pixels: int) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the batch and the entries, divided by
    ``n_pixels`` (the reference: B * C * H * W)."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n_pixels


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``mu + exp(logvar / 2) * eps``, eps ~ N(0, I) from the global stream."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def pair_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's accuracy on one batch: the fraction of the 2B argmax decisions that call the real
    pairs real (1) and the fake pairs fake (0)."""
    right = torch.cat([real_logits.argmax(1) == 1, fake_logits.argmax(1) == 0])
    return right.float().mean()


class PairSampler:
    """Minibatches of same-class pairs from the training labels (the method's supervision).

    ``next()`` returns index tensors ``(i1, i2)`` (B,): ``i1`` is a shuffled pass over the
    training set (drop_last), and ``i2[k]`` a uniformly drawn image of the class of ``i1[k]``
    (possibly itself, as the reference's ``random.choice`` over the class).

    ``fresh_passes`` False (the default, as the reference): the reference wraps its
    ``DataLoader`` in ``itertools.cycle``, which keeps the batches of the first pass and replays
    them, in the same order and with the same partners, for the rest of the run. Here the first
    pass is drawn from ``seed`` when the sampler is built (so a resumed run rebuilds it
    exactly) and then replayed; its position is all a checkpoint needs. True: a new
    permutation and new partners for every pass (what a plain ``DataLoader`` would give);
    the stream's and the partner generator's states are then saved."""

    def __init__(self, labels: torch.Tensor, batch_size: int, seed: int,
                 fresh_passes: bool = False):
        from ..data.datasets import BatchStream

        labels = labels.long().cpu()
        self.labels = labels
        self.order = torch.argsort(labels, stable=True)  # the images of each class, together
        self.counts = torch.bincount(labels)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.stream = BatchStream(torch.arange(len(labels)), batch_size, seed)
        self.gen = torch.Generator().manual_seed(seed + 7919)
        self.fresh_passes = fresh_passes
        self.iters_per_pass = self.stream.iters_per_epoch
        self.pos = 0  # batches drawn so far (replayed passes)
        self.first = None
        if not fresh_passes:  # the first pass, the same draws a fresh-pass sampler starts with
            i1, i2 = zip(*(self._draw() for _ in range(self.iters_per_pass)))
            self.first = torch.stack(i1), torch.stack(i2)

    def _draw(self):
        i1 = self.stream.next()
        y = self.labels[i1]
        j = (torch.rand(len(i1), generator=self.gen) * self.counts[y]).long()
        j = torch.minimum(j, self.counts[y] - 1)
        return i1, self.order[self.starts[y] + j]

    def next(self):
        if self.fresh_passes:
            return self._draw()
        b = self.pos % self.iters_per_pass
        self.pos += 1
        return self.first[0][b], self.first[1][b]

    def state_dict(self) -> dict:
        if self.fresh_passes:
            return {"fresh_passes": True, "stream": self.stream.state_dict(),
                    "gen": self.gen.get_state()}
        return {"fresh_passes": False, "pos": self.pos}

    def load_state_dict(self, s: dict) -> None:
        saved = s.get("fresh_passes", True)  # checkpoints before the setting drew fresh passes
        if saved != self.fresh_passes:
            raise UserError(f"this checkpoint's pair stream was drawn with mathieu_fresh_passes: "
                            f"{str(saved).lower()}; resume with --mathieu_fresh_passes="
                            f"{str(saved).lower()}.")
        if self.fresh_passes:
            self.stream.load_state_dict(s["stream"])
            self.gen.set_state(s["gen"])
        else:
            self.pos = s["pos"]


class Mathieu16(Method):
    """Encoder (``nets.E``), decoder (``nets.G``) and pair discriminator (``nets.D``) trained
    from same-class pairs (module docstring)."""

    name = "mathieu16"
    settings = {
        "s_dim": Key("int", 16, "Mathieu16: size of the specified (class) code s; the "
                     "unspecified code z has zn_dim entries (the reference's MNIST 16/16, 64/64)",
                     pos, "> 0"),
        "g_steps": Key("int", 2, "Mathieu16: generator (E + decoder) steps per iteration "
                       "(the reference's 2)", pos, "> 0"),
        "d_acc_limit": Key("float", 0.8, "Mathieu16: D steps only while its accuracy on the "
                           "batch is below this (the reference's 0.8; 1.0 or more: always)",
                           nonneg, ">= 0"),
        "eval_norm": Key("str", "instance", "Mathieu16: InstanceNorm at evaluation (swap grids, "
                         "probes, k-means): instance (each image's own statistics, as in "
                         "training) or running (torch's eval mode of the reference's "
                         "track_running_stats layers); the authors' choice is not published",
                         choices=("instance", "running")),
        "mathieu_fresh_passes": Key(
            "bool", False, "Mathieu16: false (the reference): the first pass's batches and "
            "same-class partners are replayed for the whole run, as the reference's "
            "itertools.cycle around its DataLoader does; true: a new shuffle and new partners "
            "every pass"),
        "probe_epochs": Key("int", 20, "Mathieu16: epochs of the MLP classifiers on z and s "
                            "(the authors' recipe is not published)", pos, "> 0",
                            role="evaluation"),
        "probe_lr": Key("float", 1e-3, "Mathieu16: Adam learning rate of the MLP classifiers",
                        pos, "> 0"),
        "probe_batch_size": Key("int", 256, "Mathieu16: minibatch of the MLP classifiers",
                                pos, "> 0"),
    }
    # the reference's main.py: batch 64, Adam lr 1e-4, betas (0.5, 0.999), 50 epochs of 937
    # iterations (60,000 / 64), z (style) 16, s (class) 16; checkpoints every 5 epochs
    published = {"lr": 1e-4, "lr_d": None, "adam_betas": [0.5, 0.999], "weight_decay": 0.0,
                 "d_batch_size": 64, "g_batch_size": 64, "zn_dim": 16, "max_step": 50,
                 "test_step": 10, "save_step": 5, "lr_decay": False, "use_ema": False}
    noise_generator = False
    code_names = {"features": "E's specified code s", "class": "E's specified code s",
                  "specified": "E's specified code s",
                  "unspecified": "the mean of E's unspecified code z"}

    @classmethod
    def check(cls, c: dict) -> None:
        from ..data.datasets import DATASETS

        spec = DATASETS[c["dataset"]]
        if (spec.channels, spec.size, tuple(spec.image_range)) != (1, 28, (0, 1)):
            raise UserError(f"mathieu16's networks are the reference's MNIST ones (1 x 28 x 28 "
                            f"images in [0, 1]); {c['dataset']} is {spec.channels} x "
                            f"{spec.size} x {spec.size}. Run it in MNIST/ or Fashion-MNIST/.")
        if c["use_ema"]:
            raise UserError("mathieu16 has no noise-to-image generator to average; set "
                            "use_ema: false.")

    @classmethod
    def attach(cls, nets, cfg, fresh_nets) -> None:
        """No CoDeGAN encoders; G is the decoder, D the pair discriminator, E the encoder."""
        inst = cfg.eval_norm == "instance"
        nets.E = Encoder(cfg.zn_dim, cfg.s_dim, instance_at_eval=inst)
        nets.G = Decoder(cfg.zn_dim, cfg.s_dim, instance_at_eval=inst)
        nets.D = SameClassPairDiscriminator(instance_at_eval=inst)

    def __init__(self, loop):
        super().__init__(loop)
        if loop.dist is not None:
            raise UserError("mathieu16 trains on one process (its D step depends on the "
                            "batch's accuracy); run it without torchrun.")
        self.pairs = PairSampler(loop.train_y, self.cfg.d_batch_size, self.cfg.seed,
                                 self.cfg.mathieu_fresh_passes)
        self.n_pixels = self.cfg.d_batch_size * loop.train_x[0].numel()

    def eval_data(self) -> dict:
        """The training set: the probes of the periodic evaluation train on its codes."""
        return {"train_x": self.loop.train_x, "train_y": self.loop.train_y}

    def networks(self) -> dict:
        return {"E": self.nets.E}

    def optimizers(self) -> dict:
        """Three Adams (the reference's): the autoencoder's and the generator's, both on E and the
        decoder, and D's."""
        loop, nets, cfg = self.loop, self.nets, self.cfg
        ae = [*nets.E.parameters(), *nets.G.parameters()]
        return {"AE": loop.adam(ae, cfg.weight_decay), "G": loop.adam(ae, cfg.weight_decay),
                "D": loop.adam(nets.D.parameters(), lr=cfg.lr_d)}

    def state_dict(self) -> dict:
        return {"pairs": self.pairs.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.pairs.load_state_dict(state["pairs"])

    # -- data --------------------------------------------------------------------------------
    def _images(self, idx: torch.Tensor) -> torch.Tensor:
        return self.loop.real(self.loop.train_x[idx.to(self.loop.train_x.device)])

    def next_pair(self):
        """A same-class pair of image batches (x1, x2)."""
        i1, i2 = self.pairs.next()
        return self._images(i1), self._images(i2)

    def next_single(self):
        """A batch of images (the first halves of a pair batch, as the reference)."""
        return self._images(self.pairs.next()[0])

    # -- the steps ---------------------------------------------------------------------------
    def train_iteration(self, epoch: int, idx: int) -> dict:
        """(A) the autoencoder step, (B) ``g_steps`` generator steps, (C) the gated D step."""
        out = self.ae_step()
        for _ in range(self.cfg.g_steps):
            out.update(self.g_step())
        out.update(self.d_step())
        return out

    def ae_step(self) -> dict:
        nets, loop = self.nets, self.loop
        set_grad([nets.E, nets.G], True)
        set_grad([nets.D], False)
        x1, x2 = self.next_pair()
        with loop.amp():
            mu1, logvar1, s1 = nets.E(x1)
            z1 = reparameterize(mu1, logvar1)
            s2 = nets.E(x2)[2]
            r11, r12 = nets.G(z1, s1), nets.G(z1, s2)
        rec = F.mse_loss(r11.float(), x1) + F.mse_loss(r12.float(), x1)
        kl = kl_normal(mu1, logvar1, self.n_pixels)
        self.minimize("AE", rec + kl)
        return {"AE/rec": rec.detach(), "AE/KL": kl.detach()}

    def g_step(self) -> dict:
        nets, loop = self.nets, self.loop
        set_grad([nets.E, nets.G], True)
        set_grad([nets.D], False)
        xa, xb = self.next_single(), self.next_single()
        with loop.amp():
            mu, logvar, _ = nets.E(xa)
            za = reparameterize(mu, logvar)
            sb = nets.E(xb)[2]
            d1 = nets.D(xb, nets.G(za, sb))
            d2 = nets.D(xb, nets.G(torch.randn_like(za), sb))
        real = torch.ones(len(xb), dtype=torch.long, device=xb.device)
        gan = F.cross_entropy(d1.float(), real) + F.cross_entropy(d2.float(), real)
        kl = kl_normal(mu, logvar, self.n_pixels)
        self.minimize("G", gan + kl)
        return {"G/gan": gan.detach(), "G/KL": kl.detach()}

    def d_step(self) -> dict:
        """D's cross-entropy on real pairs and (real, decoded) pairs; the step is taken only
        while D's accuracy on this batch is below ``d_acc_limit``."""
        nets, loop = self.nets, self.loop
        set_grad([nets.D], True)
        set_grad([nets.E, nets.G], False)
        xa = self.next_single()
        xp, xq = self.next_pair()
        with loop.amp():
            d_real = nets.D(xp, xq)
            with torch.no_grad():
                fake = nets.G(nets.E(xa)[0], nets.E(xq)[2])  # z: the mean (the reference)
            d_fake = nets.D(xq, fake)
        n = len(xq)
        ones = torch.ones(n, dtype=torch.long, device=xq.device)
        loss = F.cross_entropy(d_real.float(), ones) + \
            F.cross_entropy(d_fake.float(), torch.zeros_like(ones))
        acc = pair_accuracy(d_real.detach(), d_fake.detach())
        stepped = bool(acc < self.cfg.d_acc_limit)
        if stepped:
            self.minimize("D", loss)
        return {"D/loss": loss.detach(), "D/acc": acc, "D/stepped": torch.tensor(float(stepped))}

    # -- evaluation --------------------------------------------------------------------------
    @classmethod
    def codes(cls, cfg) -> tuple:
        return ("features", "class", "specified", "unspecified")

    @classmethod
    def represent(cls, nets, cfg, x, keys=None):
        """E's split of the images: ``specified`` = ``class`` = ``features``: the specified code
        ``s`` (n, s_dim); ``unspecified``: the mean of the unspecified code ``z`` (n, zn_dim);
        both unbounded."""
        mu, _, s = nets.E(x)
        s = s.float()
        return {"features": s, "class": s, "specified": s, "unspecified": mu.float()}

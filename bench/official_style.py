"""A baseline for bench_speed.py: the official code's training loop as it spends time, re-written.

We compare our speed with the official implementation's on the same machine. Quoting a
number measured once elsewhere (learninginvision/CoDeGAN@348d046: 0.68 s per Fashion-MNIST iteration) does
not survive a change of machine or load, so bench_speed.py measures this baseline in the same
run, round-robin with our variants. It is our own code, written from the description of the
official loop (learninginvision/CoDeGAN@348d046), and it keeps exactly the costs that loop pays:

- latents drawn one sample at a time from a 10-way ``Categorical`` (a Python loop per sample);
- real images through a ``DataLoader`` with 4 worker processes, each image a PIL image turned
  into a tensor by ``ToTensor`` (the official loader over torchvision's dataset);
- the augmentation ``T`` = torchvision's ``RandomResizedCrop`` on the whole batch tensor;
- the encoder called once per view (x, then T(x)) in the G and E steps, D once on real and once
  on fake images, and once more inside the gradient penalty;
- G's backward with ``retain_graph=True``; ``torch.optim.Adam`` with its defaults (on the CPU a
  loop over parameters); G's forward in the E and D steps outside ``no_grad``.

Same networks (the dataset folder's models.py, with the plain convolution), same batch sizes,
same losses (codegan.methods.losses), so the arithmetic is ours; only the way it is driven differs.
"""

from __future__ import annotations

import warnings

import torch
import torchvision.transforms as transforms
from PIL import Image
from torch.distributions import Categorical

from codegan.data.datasets import load_images
from codegan.methods.losses import d_loss, g_loss, gradient_penalty, lz_loss, supcon_loss
from codegan.folders import load_models


class _PILImages(torch.utils.data.Dataset):
    """uint8 images (N, 1, H, W) served one at a time as PIL images through ``ToTensor``."""

    def __init__(self, x_uint8: torch.Tensor):
        self.x = x_uint8[:, 0].numpy()
        self.to_tensor = transforms.ToTensor()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.to_tensor(Image.fromarray(self.x[i])), 0


class OfficialStyle:
    """Drop-in for a ``Trainer`` in bench_speed.timed_iteration, and its own method (g_step,
    e_steps, d_step). Gray 28x28 sets with one shared encoder and WGAN-GP only (MNIST,
    Fashion-MNIST)."""

    def __init__(self, cfg, dataset_dir: str, workers: int = 4):
        self.cfg = cfg
        self.method = self  # where timed_iteration finds the steps
        self.device = torch.device("cpu")
        torch.manual_seed(cfg.seed)
        self.nets = load_models(dataset_dir).build_nets(cfg, encoders=True)
        if not self.nets.shared or cfg.gan_loss != "wgan-gp":
            raise ValueError("the official-style baseline covers MNIST / Fashion-MNIST only")
        adam = dict(lr=cfg.lr, betas=tuple(cfg.adam_betas))
        self.opt_G = torch.optim.Adam(self.nets.G.parameters(), weight_decay=cfg.weight_decay,
                                      **adam)
        self.opt_E = torch.optim.Adam(self.nets.E.parameters(), weight_decay=cfg.weight_decay,
                                      **adam)
        self.opt_D = torch.optim.Adam(self.nets.D.parameters(), **adam)
        train_x, _ = load_images(cfg.dataset, cfg.data_root, "train", cfg)
        # the official 4 workers on 2 cores is part of what is measured; silence torch's advice
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        self.loader = torch.utils.data.DataLoader(
            _PILImages(train_x), batch_size=cfg.d_batch_size, shuffle=True, num_workers=workers,
            drop_last=True, persistent_workers=workers > 0)
        self.batches = iter(self.loader)
        self.iters_per_epoch = len(self.loader)
        self.iteration = 0
        self.T = transforms.RandomResizedCrop(size=train_x.shape[-1],
                                              scale=tuple(cfg.aug_crop_scale))
        self.classes = Categorical(torch.full((10,), 0.1))

    def _latents(self, n):
        z = torch.randn(n, self.cfg.zn_dim)
        c = torch.cat([self.classes.sample().view(1) for _ in range(n)])  # one draw per sample
        return z, c

    def _grad(self, on):
        for net in (self.nets.G, self.nets.D, self.nets.E):
            for p in net.parameters():
                p.requires_grad_(net is on)

    def _views(self, x, x_aug):
        z_hat, f_q = self.nets.E(x)
        _, f_k = self.nets.E(x_aug)
        return z_hat, torch.cat([f_q, f_k])

    def g_step(self):
        self._grad(self.nets.G)
        self.opt_G.zero_grad()
        z, c = self._latents(self.cfg.g_batch_size)
        x = self.nets.G(z, c)
        d_fake = self.nets.D(x)
        z_hat, f = self._views(x, self.T(x).detach())
        loss = (g_loss(d_fake) + self.cfg.beta_1 * supcon_loss(f, torch.cat([c, c]),
                                                               self.cfg.temp_C)
                + self.cfg.beta_2 * lz_loss(z_hat, z))
        loss.backward(retain_graph=True)
        self.opt_G.step()
        return loss.item()

    def e_steps(self, epoch):
        self._grad(self.nets.E)
        self.opt_E.zero_grad()
        z, c = self._latents(self.cfg.e_batch_size)
        x = self.nets.G(z, c)
        z_hat, f = self._views(x, self.T(x).detach())
        l_c = supcon_loss(f, torch.cat([c, c]), self.cfg.temp_C)
        loss = l_c + (self.cfg.beta_2 / self.cfg.beta_1) * lz_loss(z_hat, z)
        loss.backward()
        self.opt_E.step()
        return l_c.item()

    def d_step(self):
        self._grad(self.nets.D)
        self.opt_D.zero_grad()
        try:
            real, _ = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            real, _ = next(self.batches)
        z, c = self._latents(self.cfg.d_batch_size)
        fake = self.nets.G(z, c)
        loss = d_loss("wgan-gp", self.nets.D(real), self.nets.D(fake.detach()))
        loss = loss + self.cfg.gp_weight * gradient_penalty(self.nets.D, real, fake.detach())
        loss.backward()
        self.opt_D.step()
        return loss.item()

    def _decay_lr(self):
        pass


"""What a method is to the training loop: the split of NVlabs/stylegan2-ada-pytorch between
``training_loop.py`` (here ``codegan.training.loop.Trainer``) and ``loss.py`` (here a method).

The loop owns what every method shares: the data stream, G and D with their optimisers, the run
folder, logging, the evaluation schedule, checkpoints, resume, Ctrl-C, the speed settings, the
learning-rate decay and the EMA of G. A method owns its maths: the networks and optimisers it
adds, its steps and their order, its losses, what it adds to a checkpoint, and which encoder of
real images the E-based evaluation reads. Adding a method is a module with a ``Method`` subclass
and one line in ``codegan.methods.METHODS``; the loop does not change.

What the loop offers a method (attributes of ``self.loop``): ``cfg``, ``device``, ``nets`` (the
dataset folder's ``Nets``), ``opt`` (every optimiser by name: ``G``, ``D`` and the method's),
``stream`` (the real minibatches, uint8), ``train_x`` / ``train_y`` (the training set, uint8,
on the device), ``dataset_dir``, ``iteration`` (iterations done), ``iters_per_epoch``,
``stack_d`` (D may score real and fake images in one call: no batch statistics, no spectral
norm), and ``amp()`` (the autocast context of the forward passes), ``latents(n)`` (``z``, ``c``
from the prior), ``real(x_uint8)`` (images in the dataset's range), ``adam(params,
weight_decay)`` (the run's Adam), ``update_ema()`` (call it after each optimiser step of G).
``Method.minimize(opt_name, loss)`` takes one optimiser step.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class Method:
    """One method's training maths on the shared loop. Subclasses set ``name`` (the value of the
    ``method`` setting) and define ``train_iteration`` and ``eval_encoder``; the other hooks
    default to a method that adds nothing beyond G and D."""

    name: str = ""

    def __init__(self, loop):
        """Called once the loop has built the networks, before any optimiser exists and before
        any weights are loaded; reads the settings it needs, changes no weights."""
        self.loop = loop
        self.cfg = loop.cfg
        self.nets = loop.nets

    # -- what the method adds to G and D ---------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        """The trainable networks this method trains beyond G and D, by name (``torch.compile``
        reaches them with ``compile: true``)."""
        return {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers of those networks, by name (the loop adds them to ``loop.opt``, to the
        learning-rate decay and to checkpoints)."""
        return {}

    # -- start, checkpoints, run folder ---------------------------------------------------------
    def start(self) -> None:
        """A fresh run (not a resume): the method's own start weights and data, before the loop
        loads ``load_path``'s G and D."""

    def state_dict(self) -> dict:
        """What a checkpoint holds for this method beyond the shared entries (config, iteration,
        networks, EMA, optimisers, data stream, RNG states): top-level entries of the file."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Resume: restore what ``state_dict`` saved (``state`` is the whole checkpoint)."""

    def write_run_files(self, run_dir: str) -> None:
        """Files the method adds to a new run folder, beside config.yml."""

    # -- training and evaluation ----------------------------------------------------------------
    def train_iteration(self, epoch: int, idx: int) -> dict[str, torch.Tensor]:
        """One iteration (one real minibatch of the stream): every step of the method, in its
        order. ``epoch`` is 0-based, ``idx`` the iteration's index within the epoch; the loop
        counts the iteration and decays the learning rate afterwards. Returns the losses by
        name (``"G/L_c"``: network, then loss), detached."""
        raise NotImplementedError

    def minimize(self, opt_name: str, loss: torch.Tensor) -> None:
        """One step of the optimiser ``loop.opt[opt_name]`` on ``loss`` (gradients set to None
        first, so only this loss's gradients are in it)."""
        opt = self.loop.opt[opt_name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @classmethod
    def eval_encoder(cls, nets) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
        """The E-based evaluation's encoder of real images: a module of ``nets`` and the function
        that reads the (n, d) features from its output. A class method, so that ``test.py``
        evaluates a checkpoint without building the loop."""
        raise NotImplementedError

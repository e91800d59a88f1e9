"""MAML pre-training of ``E_c`` on the labelled subset ("meta", learninginvision/CoDeGAN@348d046).

Episodes are N-way K-shot tasks drawn from the class-balanced labelled subset of few-label mode
(the same ``n_labels`` / ``label_seed`` / ``labels_file``, so a ``meta: true`` run sees no label
that its labelled subset does not hold): ``meta_n_way`` classes, ``meta_k_shot`` support and
``meta_query`` query images of each, labelled 0..N-1 within the episode.

Task loss (our choice; the official code is not followed): a prototype classifier on E_c's
L2-normalised features, with no weights of its own. Prototype ``p_k`` = the normalised mean
support feature of class k; logits of an image = ``cos(f, p_k) / meta_temp``; loss = cross
entropy. Why this and not a linear head: E_c's output space is what ``L_c`` and the E-based
evaluation use (cosines between normalised features), a head-free classifier leaves nothing to
discard after pre-training (the weights file holds E_c alone, loaded exactly as ``pretrain``
loads its file), and it works for any N without re-initialising a head per episode.

MAML (Finn et al. 2017): the inner loop takes ``meta_inner_steps`` SGD steps (lr
``meta_inner_lr``) on the support loss (support images classified against their own
prototypes), starting from E_c's weights ``theta``; the outer loss is the query loss under the
adapted weights ``theta'`` (prototypes from the adapted support features), averaged over
``meta_batch`` episodes and minimised over ``theta`` by Adam (``meta_lr``). The gradient through
the inner steps is exact (second order: ``create_graph``) unless ``meta_first_order``, which
treats each inner gradient as a constant (first-order MAML: d theta'/d theta = I).

    python meta_pretrain.py [--key=value ...]   # writes meta_path (default pretrained/E_c_maml.pt)
"""

from __future__ import annotations

import os
from typing import Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..data.datasets import to_float
from ..data.fewlabel import load_indices, save_indices, select_labelled
from ..errors import UserError, cli_guard
from .encoder_loop import EncoderLoop, from_command_line, stem_of


# -- MAML, model-agnostic ------------------------------------------------------------------------
def adapt(params: dict, inner_loss: Callable[[dict], torch.Tensor], steps: int, lr: float,
          first_order: bool = False) -> dict:
    """``steps`` SGD steps on ``inner_loss(params)``: theta_{t+1} = theta_t - lr * grad.

    ``params``: {name: tensor}; the result keeps the graph back to them, so a loss on the adapted
    parameters differentiates through the adaptation. Second order (default): the inner
    gradients are part of the graph (Hessian-vector terms reach the outer gradient). First order:
    they are constants, so d theta_T / d theta_0 = I. Parameters the loss does not use get a
    zero gradient.
    """
    names = list(params)
    for _ in range(steps):
        loss = inner_loss(params)
        grads = torch.autograd.grad(loss, [params[k] for k in names],
                                    create_graph=not first_order, allow_unused=True)
        params = {k: params[k] - lr * (g.detach() if first_order else g)
                  if g is not None else params[k] for k, g in zip(names, grads)}
    return params


# -- episodes and the task loss -------------------------------------------------------------------
def sample_episode(by_class: list, n_way: int, k_shot: int, n_query: int, generator=None):
    """One N-way K-shot episode from ``by_class`` (a list, per class, of int64 index tensors).

    Returns ``(support_idx, support_y, query_idx, query_y)``: index tensors of N*K and N*Q
    distinct images and their episode labels 0..N-1 (class-major). Support and query share no
    image. Uses the global torch RNG (or ``generator``).
    """
    if n_way > len(by_class):
        raise UserError(f"meta_n_way ({n_way}) exceeds the {len(by_class)} classes.")
    need = k_shot + n_query
    fewest = min(len(c) for c in by_class)
    if need > fewest:
        raise UserError(f"an episode needs meta_k_shot + meta_query = {need} labelled images per "
                        f"class, but the labelled subset has {fewest} per class; lower them or "
                        f"raise n_labels.")
    classes = torch.randperm(len(by_class), generator=generator)[:n_way]
    s_idx, q_idx = [], []
    for k in classes.tolist():
        pool = by_class[k]
        pick = pool[torch.randperm(len(pool), generator=generator)[:need]]
        s_idx.append(pick[:k_shot])
        q_idx.append(pick[k_shot:])
    ys = torch.arange(n_way).repeat_interleave(k_shot)
    yq = torch.arange(n_way).repeat_interleave(n_query)
    return torch.cat(s_idx), ys, torch.cat(q_idx), yq


def proto_logits(f_support: torch.Tensor, y_support: torch.Tensor, f_query: torch.Tensor,
                 n_way: int, temp: float) -> torch.Tensor:
    """Cosine logits of the query images against the class prototypes.

    f_support (S, d), y_support (S,) in 0..n_way-1, f_query (Q, d). Prototype p_k = normalise
    (mean of the support features of class k). Returns (Q, n_way): cos(f_q, p_k) / temp.
    """
    onehot = F.one_hot(y_support, n_way).to(f_support.dtype)  # (S, N)
    protos = F.normalize(onehot.T @ f_support, dim=1)  # mean direction = normalised sum
    return F.normalize(f_query, dim=1) @ protos.T / temp


def proto_loss(f_support, y_support, f_query, y_query, n_way: int, temp: float):
    """Cross entropy of :func:`proto_logits` against the query labels (a scalar)."""
    return F.cross_entropy(proto_logits(f_support, y_support, f_query, n_way, temp), y_query)


def task_loss(feat: Callable, params: dict, xs, ys, xq, yq, n_way: int, temp: float,
              inner_steps: int, inner_lr: float, first_order: bool = False) -> torch.Tensor:
    """MAML's outer loss of one episode: adapt ``params`` on the support images (xs, ys), then
    the query loss under the adapted parameters. ``feat(params, x) -> (n, d)`` features."""
    def inner(p):
        f = feat(p, xs)
        return proto_loss(f, ys, f, ys, n_way, temp)

    adapted = adapt(params, inner, inner_steps, inner_lr, first_order)
    return proto_loss(feat(adapted, xs), ys, feat(adapted, xq), yq, n_way, temp)


# -- the command ----------------------------------------------------------------------------------
class MetaPretrainer(EncoderLoop):
    """MAML pre-training of E_c on episodes from the labelled subset."""

    kind = "maml"
    path_key = "meta_path"
    lr_key = "meta_lr"
    save_key = "meta_save_iters"

    def setup(self):
        cfg = self.cfg
        K = cfg.zc_dim
        if cfg.n_labels % K:
            raise UserError(f"'n_labels' ({cfg.n_labels}) must be a multiple of the {K} classes.")
        self.labelled_idx = (load_indices(cfg.labels_file, self.train_y, K, cfg.n_labels)
                             if cfg.labels_file else
                             select_labelled(self.train_y, cfg.n_labels, K, cfg.label_seed))
        self.labels_path = stem_of(self.weights_path) + ".labels.json"
        if os.path.exists(self.labels_path):
            raise UserError(f"{self.labels_path} exists already and is never overwritten; move "
                            f"it away together with its weights, or give --meta_path=<new file>.")
        y = self.train_y[self.labelled_idx]
        self.by_class = [self.labelled_idx[y == k] for k in range(K)]
        fewest = min(len(c) for c in self.by_class)
        if cfg.meta_k_shot + cfg.meta_query > fewest:
            raise UserError(f"an episode needs meta_k_shot + meta_query = "
                            f"{cfg.meta_k_shot + cfg.meta_query} labelled images per class, but "
                            f"n_labels {cfg.n_labels} gives {fewest}; lower them or raise n_labels.")
        self.buffers = dict(self.enc.named_buffers())
        shared = self.feat is not self.enc

        def feat(params, x):
            out = functional_call(self.enc, (params, self.buffers), (x,))
            return out[1] if shared else out

        self.feat_p = feat

    def total_iters(self) -> int:
        return self.cfg.meta_iters

    def step(self) -> float:
        cfg = self.cfg
        params = dict(self.enc.named_parameters())
        total = 0.0
        self.opt.zero_grad(set_to_none=True)
        for _ in range(cfg.meta_batch):
            s_idx, ys, q_idx, yq = sample_episode(self.by_class, cfg.meta_n_way, cfg.meta_k_shot,
                                                  cfg.meta_query)
            dev = self.train_x.device
            xs = to_float(self.train_x[s_idx.to(dev)], self.spec.image_range)
            xq = to_float(self.train_x[q_idx.to(dev)], self.spec.image_range)
            loss = task_loss(self.feat_p, params, xs, ys.to(dev), xq, yq.to(dev), cfg.meta_n_way,
                             cfg.meta_temp, cfg.meta_inner_steps, cfg.meta_inner_lr,
                             cfg.meta_first_order) / cfg.meta_batch
            loss.backward()  # one episode's graph at a time: memory of one, same gradient
            total += float(loss.detach())
        self.opt.step()
        return total

    def extra_weights(self):
        return {"labelled_indices": self.labelled_idx.cpu()}

    def finish(self):
        res = super().finish()
        save_indices(self.labels_path, self.labelled_idx, self.train_y)
        print(f"wrote {self.labels_path} (the labelled subset MAML saw)")
        return res


@cli_guard
def meta_main(dataset_dir: str, argv: list) -> dict:
    """``python meta_pretrain.py [--key=value ...] [--resume=FILE]`` in a dataset folder."""
    return from_command_line(os.path.abspath(dataset_dir), argv, MetaPretrainer).run()

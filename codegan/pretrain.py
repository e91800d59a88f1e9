"""Self-supervised pre-training of ``E_c`` ("CoDeGAN (self)", CODEGAN.md section 1).

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
    python pretrain.py --resume=pretrained/E_c_simclr.resume.pt

The run keeps one resume checkpoint beside the weights (``<stem>.resume.pt``, rewritten
atomically every ``pretrain_save_iters`` iterations and on Ctrl-C) and, at the end, prints the
k-means ACC / NMI / ARI of the pre-trained features on the real test set, stores them in the
weights file and in ``<stem>.results.json``. ``train.py`` with ``pretrain: true`` loads the file.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.nn.functional as F

from .augment import Augment
from .config import Config, load_config, parse_overrides, validate
from .data import DATASETS, BatchStream, load_images, to_float
from .errors import UserError, cli_guard

WEIGHTS_FORMAT = "codegan-pretrained-E_c"
STATE_FORMAT = "codegan-pretrain-state"

# what may change when a pre-training is resumed: how long and where, never what is computed
RESUME_KEYS = {"pretrain_epochs", "pretrain_iters", "pretrain_save_iters", "meta_iters",
               "meta_save_iters", "device", "data_root", "progress", "kmeans_runs",
               "eval_batch_size"}


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
    from :class:`codegan.augment.Augment` with per-image draws; colour images get its colour
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


# -- a resumable loop that trains E_c alone ------------------------------------------------------
def encoder_of(nets):
    """The module that holds E_c's weights (what the weights file stores) and a function
    x -> E_c features (n, fc_dim), L2-normalised."""
    if nets.shared:
        return nets.E, (lambda x: nets.E(x)[1])
    return nets.E_c, nets.E_c


def resolve_path(dataset_dir: str, path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(dataset_dir, path)


def stem_of(weights_path: str) -> str:
    return os.path.splitext(weights_path)[0]


def atomic_save(obj, path: str) -> None:
    """torch.save to ``path`` via a temporary file and a rename: a run killed while saving
    leaves the previous file intact."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class EncoderLoop:
    """What the SimCLR and the MAML pre-trainings share: data in memory, ``E_c`` built by the
    folder's ``models.py``, Adam, a progress bar, a resume checkpoint, the final k-means scores
    and the weights file. Subclasses set ``kind``, ``path_key``, ``lr_key``, ``wd_key``,
    ``save_key`` and define ``total_iters()`` and ``step() -> float`` (one optimiser step)."""

    kind = ""
    path_key = ""
    lr_key = ""
    wd_key = None
    save_key = ""

    def __init__(self, cfg: Config, dataset_dir: str, resume: str | None = None,
                 resume_overrides: dict | None = None):
        from .trainer import load_models, pick_device

        self.dataset_dir = os.path.abspath(dataset_dir)
        state = None
        if resume:
            state = load_state(resume, self.kind)
            if state["config"]["dataset"] != cfg.dataset:
                raise UserError(f"{resume} pre-trained {state['config']['dataset']}; this folder "
                                f"trains {cfg.dataset}. Resume it from its own folder.")
            cfg = validate({**state["config"], **(resume_overrides or {})},
                           source=f"the checkpoint {resume}")
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.spec = DATASETS[cfg.dataset]
        self.weights_path = resolve_path(self.dataset_dir, getattr(cfg, self.path_key))
        self.resume_path = stem_of(self.weights_path) + ".resume.pt"
        if os.path.exists(self.weights_path):
            raise UserError(f"{self.weights_path} exists already and is never overwritten; move "
                            f"it away or give --{self.path_key}=<new file>.")
        if state is None and os.path.exists(self.resume_path):
            raise UserError(f"an unfinished pre-training left {self.resume_path}: continue it "
                            f"with --resume={self.resume_path}, or delete that file.")
        torch.manual_seed(cfg.seed)
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)

        self.train_x, self.train_y = load_images(cfg.dataset, cfg.data_root, "train", cfg)
        self.train_x = self.train_x.to(self.device)
        # the pre-training is scored E-based whatever the folder's eval_protocol
        self.test_x, self.test_y = load_images(cfg.dataset, cfg.data_root, "test")

        nets = load_models(self.dataset_dir).build_nets(cfg)
        self.enc, self.feat = encoder_of(nets)
        self.enc.to(self.device).train()
        wd = getattr(cfg, self.wd_key) if self.wd_key else 0.0
        self.opt = torch.optim.Adam(self.enc.parameters(), getattr(cfg, self.lr_key),
                                    weight_decay=wd)
        self.iteration = 0
        self.setup()
        if state is not None:
            self._load(state)
        self.last_loss = float("nan")

    # subclasses -------------------------------------------------------------------------
    def setup(self) -> None:
        pass

    def total_iters(self) -> int:
        raise NotImplementedError

    def step(self) -> float:
        raise NotImplementedError

    def extra_state(self) -> dict:
        return {}

    def load_extra(self, state: dict) -> None:
        pass

    def extra_weights(self) -> dict:
        return {}

    # state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {"format": STATE_FORMAT, "kind": self.kind, "config": self.cfg.to_dict(),
                "iteration": self.iteration, "encoder": self.enc.state_dict(),
                "optim": self.opt.state_dict(), "rng": rng, **self.extra_state()}

    def _load(self, s: dict) -> None:
        try:
            self.enc.load_state_dict(s["encoder"])
            self.opt.load_state_dict(s["optim"])
        except (RuntimeError, KeyError, ValueError) as e:
            raise UserError(f"the resume checkpoint does not fit this folder's models.py "
                            f"({str(e).splitlines()[0][:200]}).") from None
        self.iteration = s["iteration"]
        self.load_extra(s)
        torch.set_rng_state(s["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in s["rng"]:
            torch.cuda.set_rng_state(s["rng"]["cuda"], self.device)

    def save_resume(self) -> None:
        atomic_save(self.state_dict(), self.resume_path)

    # the run ------------------------------------------------------------------------------
    def run(self) -> dict:
        """Train to ``total_iters()``, then score and save. Returns the k-means scores."""
        from tqdm import tqdm

        cfg = self.cfg
        total = self.total_iters()
        every = getattr(cfg, self.save_key)
        print(f"{self.kind} pre-training of E_c on {cfg.dataset}: iteration {self.iteration} of "
              f"{total}; device {self.device}; weights -> {self.weights_path}")
        bar = tqdm(total=total, initial=self.iteration, disable=not cfg.progress,
                   dynamic_ncols=True, file=sys.stdout, desc=self.kind)
        try:
            while self.iteration < total:
                self.last_loss = self.step()
                self.iteration += 1
                bar.update(1)
                if self.iteration % 10 == 0 or self.iteration == total:
                    bar.set_postfix(loss=f"{self.last_loss:.4f}", refresh=False)
                if self.iteration % every == 0 and self.iteration < total:
                    self.save_resume()
        except KeyboardInterrupt:
            bar.close()
            self.save_resume()
            print(f"\ninterrupted at iteration {self.iteration}; continue with "
                  f"--resume={self.resume_path}", file=sys.stderr)
            raise SystemExit(130) from None
        bar.close()
        return self.finish()

    @torch.no_grad()
    def scores(self) -> dict:
        """k-means (K clusters, ``kmeans_runs`` seeded runs) on the E_c features of the real
        test set: {'acc', 'acc_purity', 'nmi', 'ari', their _std and _best_of_runs}."""
        from .evaluate import encode, kmeans_scores

        self.enc.eval()
        try:
            feats = encode(self.feat, self.test_x, self.spec.image_range,
                           self.cfg.eval_batch_size, self.device)
        finally:
            self.enc.train()
        return kmeans_scores(feats, self.test_y.numpy(), self.cfg.zc_dim, self.cfg.kmeans_runs,
                             seed=self.cfg.seed)

    def finish(self) -> dict:
        from .cli import format_table

        res = self.scores()
        blob = {"format": WEIGHTS_FORMAT, "kind": self.kind, "dataset": self.cfg.dataset,
                "state_dict": {k: v.detach().cpu() for k, v in self.enc.state_dict().items()},
                "iterations": self.iteration, "config": self.cfg.to_dict(), "scores": res,
                **self.extra_weights()}
        if os.path.exists(self.weights_path):  # appeared while we trained
            raise UserError(f"{self.weights_path} appeared during the run; not overwritten. "
                            f"The state is in {self.resume_path}.")
        self.save_resume()  # the final state stays resumable until the weights are written
        atomic_save(blob, self.weights_path)
        os.remove(self.resume_path)
        results = stem_of(self.weights_path) + ".results.json"
        with open(results, "w") as f:
            json.dump({"weights": self.weights_path, "iterations": self.iteration, **res}, f,
                      indent=1)
        print(f"k-means (K={self.cfg.zc_dim}, {self.cfg.kmeans_runs} runs) on the {self.kind} "
              f"E_c features of the {len(self.test_x)} real test images:")
        print(format_table(res))
        print(f"wrote {self.weights_path} (load it with {'meta' if self.kind == 'maml' else 'pretrain'}"
              f": true) and {results}")
        return res


def load_state(path: str, kind: str) -> dict:
    from .checkpoint import read_torch_file

    s = read_torch_file(path, f"resume checkpoint {path} not found; give the <weights>.resume.pt "
                              f"that an interrupted pre-training left.",
                        f"{path} is not a readable checkpoint")
    if not isinstance(s, dict) or s.get("format") != STATE_FORMAT or s.get("kind") != kind:
        raise UserError(f"{path} is not a {kind} pre-training checkpoint of this project.")
    return s


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


def _config(dataset_dir: str, argv: list, cls):
    """Settings of a pre-training command: param.yml + --key=value overrides, or the resumed
    checkpoint's settings (+ the few overrides RESUME_KEYS allows)."""
    overrides = parse_overrides(argv)
    path = overrides.pop("config", None)
    cfg_path = os.path.abspath(path) if path else os.path.join(dataset_dir, "param.yml")
    resume = overrides.pop("resume", None)
    if resume:
        bad = sorted(set(overrides) - RESUME_KEYS)
        if bad:
            raise UserError(f"--{bad[0]} cannot change when resuming a pre-training; only "
                            f"{', '.join(sorted(RESUME_KEYS))} may.")
        return cls(load_config(cfg_path), dataset_dir, resume=resume, resume_overrides=overrides)
    return cls(load_config(cfg_path, overrides), dataset_dir)


@cli_guard
def pretrain_main(dataset_dir: str, argv: list) -> dict:
    """``python pretrain.py [--key=value ...] [--resume=FILE]`` in a dataset folder."""
    return _config(os.path.abspath(dataset_dir), argv, SimCLRPretrainer).run()

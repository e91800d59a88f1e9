"""What the SimCLR and the MAML pre-trainings of ``E_c`` share (``EncoderLoop``): data in memory,
``E_c`` built by the folder's ``models.py``, Adam, a progress bar, one resume checkpoint beside
the weights, the final k-means scores and the weights file that ``train.py`` loads
(``pretrain: true`` / ``meta: true``)."""

from __future__ import annotations

import json
import os
import sys

import torch

from ..checkpoint import read_torch_file
from ..config import (BASE, Config, keys_of_roles, load_config, parse_overrides, schema_for,
                      stored, validate)
from ..data.datasets import DATASETS, load_images
from ..device import pick_device
from ..errors import UserError, write_file, write_text
from ..evaluation.e_based import encode, inference_fn, kmeans_scores
from ..evaluation.evaluate import format_table
from ..folders import load_models
from ..keys import RESUMABLE

WEIGHTS_FORMAT = "codegan-pretrained-E_c"
STATE_FORMAT = "codegan-pretrain-state"

# what may change when a pre-training is resumed: how long, where, and how its encoder is
# scored, never what is computed (the declared roles, codegan.keys.RESUMABLE); of the settings a
# pre-training has, CoDeGAN's (it pre-trains E_c whichever method reads the file later)
RESUME_KEYS = keys_of_roles(*RESUMABLE, "evaluation") & set(schema_for(BASE))


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


def atomic_save(obj, path: str, option: str) -> None:
    """torch.save to ``path`` whole (``codegan.errors.write_file``): a run killed while saving
    leaves the previous file intact, a full disk is one message naming ``option``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_file(path, lambda tmp: torch.save(obj, tmp), option=option)


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
        self.dataset_dir = os.path.abspath(dataset_dir)
        state = None
        if resume:
            state = load_state(resume, self.kind)
            if state["config"]["dataset"] != cfg.dataset:
                raise UserError(f"{resume} pre-trained {state['config']['dataset']}; this folder "
                                f"trains {cfg.dataset}. Resume it from its own folder.")
            cfg = validate({**stored({**state["config"], "method": BASE}),
                            **(resume_overrides or {})},
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
        self.test_x, self.test_y = load_images(cfg.dataset, cfg.data_root, "test", cfg)

        nets = load_models(self.dataset_dir).build_nets(cfg, encoders=True)
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
        atomic_save(self.state_dict(), self.resume_path, f"--{self.path_key}")

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
        self.enc.eval()
        try:
            # the trainer's evaluation path (channels_last on the CPU): a run that starts from
            # these weights with E_c frozen scores exactly these numbers
            read = (lambda out: out[1]) if self.feat is not self.enc else (lambda out: out)
            feat = inference_fn(self.enc, read, self.device)
            feats = encode(feat, self.test_x, self.spec.image_range,
                           self.cfg.eval_batch_size, self.device)
        finally:
            self.enc.train()
        return kmeans_scores(feats, self.test_y.numpy(), self.cfg.zc_dim, self.cfg.kmeans_runs,
                             seed=self.cfg.seed)

    def finish(self) -> dict:
        res = self.scores()
        blob = {"format": WEIGHTS_FORMAT, "kind": self.kind, "dataset": self.cfg.dataset,
                "state_dict": {k: v.detach().cpu() for k, v in self.enc.state_dict().items()},
                "iterations": self.iteration, "config": self.cfg.to_dict(), "scores": res,
                **self.extra_weights()}
        if os.path.exists(self.weights_path):  # appeared while we trained
            raise UserError(f"{self.weights_path} appeared during the run; not overwritten. "
                            f"The state is in {self.resume_path}.")
        self.save_resume()  # the final state stays resumable until the weights are written
        atomic_save(blob, self.weights_path, f"--{self.path_key}")
        os.remove(self.resume_path)
        results = stem_of(self.weights_path) + ".results.json"
        write_text(results, json.dumps({"weights": self.weights_path,
                                        "iterations": self.iteration, **res}, indent=1),
                   option=f"--{self.path_key}")
        print(f"k-means (K={self.cfg.zc_dim}, {self.cfg.kmeans_runs} runs) on the {self.kind} "
              f"E_c features of the {len(self.test_x)} real test images:")
        print(format_table(res))
        print(f"wrote {self.weights_path} (load it with {'meta' if self.kind == 'maml' else 'pretrain'}"
              f": true) and {results}")
        return res


def load_state(path: str, kind: str) -> dict:
    s = read_torch_file(path, f"resume checkpoint {path} not found; give the <weights>.resume.pt "
                              f"that an interrupted pre-training left.",
                        f"{path} is not a readable checkpoint")
    if not isinstance(s, dict) or s.get("format") != STATE_FORMAT or s.get("kind") != kind:
        raise UserError(f"{path} is not a {kind} pre-training checkpoint of this project.")
    return s


def from_command_line(dataset_dir: str, argv: list, cls):
    """Settings of a pre-training command: param.yml + --key=value overrides, or the resumed
    checkpoint's settings (+ the few overrides RESUME_KEYS allows)."""
    overrides = parse_overrides(argv)
    if "method" in overrides:
        raise UserError(f"--method: a pre-training trains E_c with CoDeGAN's settings whichever "
                        f"method reads its file later (ConGAN's encoder: --pretrain_loss=simsiam "
                        f"--pretrain_path=pretrained/E_c_simsiam.pt); remove --method.")
    overrides["method"] = BASE  # also where a param.yml names another method
    path = overrides.pop("config", None)
    cfg_path = os.path.abspath(path) if path else os.path.join(dataset_dir, "param.yml")
    resume = overrides.pop("resume", None)
    if resume:
        bad = sorted(set(overrides) - RESUME_KEYS - {"method"})
        if bad:
            raise UserError(f"--{bad[0]} cannot change when resuming a pre-training: it "
                            f"changes what is computed. Only settings of the roles "
                            f"{', '.join(RESUMABLE)} and evaluation may (docs/settings.md).")
        return cls(load_config(cfg_path, {"method": BASE}), dataset_dir, resume=resume,
                   resume_overrides=overrides)
    return cls(load_config(cfg_path, overrides), dataset_dir)

"""The dSprites "inception score" of InfoGAN-CR (its ``DSpritesInceptionScore`` in
``gan/metric.py`` and ``gan/train_DSpritesInceptionScore.py``, read from fjxmlzn/InfoGAN-CR): a
small classifier of the shape of real dSprites images, trained once, scores G's prior samples.

The classifier (``ShapeClassifier``): 4 convs 4x4 stride 2 'SAME' (32, 32, 64, 64 channels), each
followed by LeakyReLU 0.2 and then BatchNorm (decay 0.9 = torch momentum 0.1, eps 1e-5, with a
scale); FC 128, LeakyReLU 0.2, BatchNorm; FC 3 logits (square, ellipse, heart). Initialised as
InfoGAN-CR's layers: conv weights from a normal of std 0.02 truncated at 2 std, FC weights
N(0, 0.02), biases 0. Trained (``train_classifier``) with softmax cross-entropy and Adam (lr 0.01,
betas (0.9, 0.999), eps 1e-8: TF's defaults) for 5 epochs of batch 64 over every image of the
dSprites file (the whole grid: InfoGAN-CR holds nothing out), reshuffled each epoch, the last
partial batch dropped, BatchNorm in training mode; then used in eval mode (running statistics).

The scores (``score_probs``) of the softmax outputs p(y|x) (N, 3) of ``n`` = 50,000 prior samples:
  * IS = exp(mean_x KL(p(y|x) || p(y))), p(y) the mean of p(y|x) over all N samples (one part,
    no splits); in [1, 3]: 3 when confident predictions are spread evenly over the shapes;
  * its ``is_log_std``: the std (ddof 0) of the per-sample KL (InfoGAN-CR's IS_log_std);
  * confidence = mean_x max_y p(y|x), in [1/3, 1];
  * mode KL = KL(argmax histogram || uniform) in nats, in [0, log 3]: 0 when G draws the three
    shapes equally often, log 3 when only one.

Where this differs from InfoGAN-CR: its classifier file was never published, so ours is trained
here (seeded), on whichever dSprites file the data root holds (the real one, or our re-rendering:
then the classifier knows our drawing of the shapes, and scores compare with published ones only
approximately); its accuracy and the IS of real images (InfoGAN-CR's ``evaluate_groudtruth``) are
kept in the file and reported beside every score, as a reference for what a perfect G reaches.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.special import rel_entr

from ..checkpoint import read_torch_file, save_checkpoint
from ..errors import UserError

FORMAT = "codegan-dsprites-shape-classifier"
DEFAULT_PATH = "pretrained/shape_classifier.pt"  # relative to the dSprites folder
N_SAMPLES = 50_000  # InfoGAN-CR's evaluate_num_samples
N_CHECK = 10_000  # real images whose accuracy and IS the file records
TRAIN = {"epochs": 5, "batch_size": 64, "lr": 0.01, "seed": 0}  # InfoGAN-CR's, plus our seed
SHAPES = ("square", "ellipse", "heart")


class ShapeClassifier(nn.Module):
    """(n, 1, 64, 64) float images in [0, 1] -> (n, 3) shape logits (square, ellipse, heart)."""

    def __init__(self):
        super().__init__()
        layers, c_in = [], 1
        for c_out in (32, 32, 64, 64):  # 64 -> 32 -> 16 -> 8 -> 4 pixels
            # padding 1: TF's 'SAME' for a 4x4 kernel at stride 2 on an even size pads 1 and 1
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2),
                       nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.1)]
            c_in = c_out
        self.trunk = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.LeakyReLU(0.2),
                                nn.BatchNorm1d(128, eps=1e-5, momentum=0.1))
        self.out = nn.Linear(128, 3)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # TF's truncated_normal: redrawn beyond 2 std
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.out(self.fc(self.trunk(x)))


def score_probs(probs) -> dict:
    """InfoGAN-CR's scores of shape probabilities ``probs`` (N, 3), rows summing to 1:
    ``{"shape_is": [1, 3], "is_log_std": >= 0, "confidence": [1/3, 1], "mode_kl": [0, log 3]
    nats, "mode_counts": [3 ints], how many samples each shape is the argmax of}``."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 1:
        raise UserError(f"shape probabilities must be (N, 3) with N >= 1, got shape {p.shape}.")
    if not np.all(np.isfinite(p)) or p.min() < 0 or not np.allclose(p.sum(1), 1, atol=1e-4):
        raise UserError("shape probabilities must be finite, non-negative rows summing to 1 "
                        "(softmax outputs).")
    marginal = p.mean(axis=0, keepdims=True)
    kl = rel_entr(p, marginal).sum(axis=1)  # rel_entr: 0 where p = 0, as scipy.stats.entropy
    counts = np.bincount(p.argmax(axis=1), minlength=3)
    freq = counts / counts.sum()
    return {"shape_is": float(np.exp(kl.mean())), "is_log_std": float(kl.std()),
            "confidence": float(p.max(axis=1).mean()),
            "mode_kl": float(rel_entr(freq, np.full(3, 1 / 3)).sum()),
            "mode_counts": [int(c) for c in counts]}


@torch.no_grad()
def predict(model: ShapeClassifier, images, device="cpu", batch: int = 500) -> np.ndarray:
    """Softmax shape probabilities (n, 3) float64 of ``images`` (n, 1, 64, 64) or (n, 64, 64),
    uint8 or float, values in [0, 1]; the model in eval mode (running BN statistics)."""
    was_training = model.training
    model.eval()
    try:
        out = []
        for s in range(0, len(images), batch):
            x = torch.as_tensor(np.asarray(images[s:s + batch])).to(device).float()
            out.append(torch.softmax(model(x if x.ndim == 4 else x[:, None]).double(), 1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def train_classifier(images, shapes, *, epochs: int = TRAIN["epochs"],
                     batch_size: int = TRAIN["batch_size"], lr: float = TRAIN["lr"],
                     seed: int = TRAIN["seed"], device="cpu", progress: bool = False):
    """Train a ``ShapeClassifier`` on ``images`` (n, 64, 64) uint8 in {0, 1} (as the dSprites
    file holds them) and ``shapes`` (n,) int classes 0, 1, 2. Returns ``(model, info)``, the
    model in eval mode, ``info`` {"train_loss": the last epoch's mean loss, "steps",
    "seconds"}."""
    n = len(images)
    if n < batch_size:
        raise UserError(f"{n} images cannot fill one batch of {batch_size}; the shape "
                        f"classifier trains on the whole dSprites file.")
    torch.manual_seed(seed)
    model = ShapeClassifier().to(device)
    opt = torch.optim.Adam(model.parameters(), lr, betas=(0.9, 0.999), eps=1e-8)
    y_all = torch.as_tensor(np.asarray(shapes), dtype=torch.int64)
    gen = torch.Generator().manual_seed(seed)
    steps = n // batch_size  # InfoGAN-CR's batch_num: the last partial batch is dropped
    from tqdm import tqdm

    bar = tqdm(total=epochs * steps, disable=not progress, desc="shape classifier")
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).numpy()
        total = 0.0
        for s in range(steps):
            idx = np.sort(perm[s * batch_size:(s + 1) * batch_size])  # sorted: faster reads
            x = torch.from_numpy(np.asarray(images[idx])).to(device).float()[:, None]
            loss = F.cross_entropy(model(x), y_all[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            bar.update(1)
        last = total / steps
    bar.close()
    model.eval()
    return model, {"train_loss": last, "steps": epochs * steps,
                   "seconds": round(time.perf_counter() - t0, 1)}


def classifier_path(dataset_dir: str, path: str | None = None) -> str:
    """``path`` (relative ones from the dSprites folder), default ``DEFAULT_PATH``."""
    path = os.path.expanduser(path or DEFAULT_PATH)
    return path if os.path.isabs(path) else os.path.join(dataset_dir, path)


def load_classifier(path: str, device="cpu"):
    """``(model in eval mode, the file's record without the weights)``; one ``UserError`` for a
    missing, unreadable or foreign file."""
    blob = read_torch_file(path, f"no shape classifier at {path}; test.py --shape_is=true trains "
                                 f"one there (or python -m codegan.evaluation.dsprites_is).",
                           f"{path} is not a readable shape-classifier file")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{path} is not a dSprites shape-classifier file (written by "
                        f"codegan.evaluation.dsprites_is); delete it or give another path.")
    model = ShapeClassifier()
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval(), {k: v for k, v in blob.items() if k != "state_dict"}


def load_or_train(path: str, data_root: str | None = None, device="cpu", progress: bool = True,
                  log=print, **train_options):
    """The shape classifier at ``path``: loaded when the file exists (never retrained, never
    overwritten: delete it to train again), else trained on the dSprites file of ``data_root``
    (``train_classifier``, ``train_options`` overriding ``TRAIN``) and saved there first.
    Returns ``(model, record)``; the record says what it was trained on and how well it does."""
    if os.path.exists(path):
        return load_classifier(path, device)
    from ..data import dsprites
    from ..data.datasets import resolve_data_root
    from ..errors import MissingData

    root = resolve_data_root(data_root)
    try:
        data = dsprites.read_cached(root)
    except MissingData:  # say where the file should be and how to make it
        raise UserError(dsprites.missing_message(root)) from None
    opts = {**TRAIN, **train_options}
    n = len(data["imgs"])
    log(f"no shape classifier at {path}: training one ({opts['epochs']} epochs of batch "
        f"{opts['batch_size']} over the {n} images of {root}; InfoGAN-CR's recipe)")
    model, info = train_classifier(data["imgs"], data["latents_classes"][:, 1], device=device,
                                   progress=progress, **opts)
    # a fixed, seeded sample of real images: the classifier's accuracy and the IS of real data,
    # the reference every G score is read against (InfoGAN-CR's evaluate_groudtruth)
    check = np.sort(np.random.default_rng(0).choice(n, min(N_CHECK, n), replace=False))
    probs = predict(model, data["imgs"][check], device)
    real = score_probs(probs)
    meta = data["metadata"] if isinstance(data["metadata"], dict) else {}
    record = {"format": FORMAT, "dataset": "dsprites", "options": opts, **info,
              "trained_on": {"file": os.path.join(os.path.abspath(root), dsprites.FILENAME),
                             "images": n, "full_grid": n == dsprites.N_IMAGES,
                             "rerendered": meta.get("author") == dsprites.AUTHOR},
              "accuracy": float((probs.argmax(1) == data["latents_classes"][check, 1]).mean()),
              "real_is": real["shape_is"], "real_confidence": real["confidence"],
              "n_check": len(check)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_checkpoint(path, {**record, "state_dict": model.cpu().state_dict()})  # never overwrites
    log(f"wrote {path}: accuracy {record['accuracy']:.4f} and IS {record['real_is']:.4f} on "
        f"{len(check)} real images ({info['seconds']} s)")
    return model.to(device), record


@torch.no_grad()
def sample_probs(G, cfg, model, n: int = N_SAMPLES, seed: int = 0, batch: int = 500,
                 device="cpu") -> np.ndarray:
    """Shape probabilities (n, 3) of ``n`` images G draws from its prior (the run's z and class
    code, ``codegan.latent.sample_latent_cfg``, drawn on the CPU from ``seed``: the same latents
    on any device and batch size). G's output, in the dataset's image range, is mapped to [0, 1]
    as the classifier was trained (dSprites: already [0, 1]); G in eval mode."""
    from ..data.datasets import DATASETS
    from ..latent import sample_latent_cfg

    if int(n) < 1:
        raise UserError(f"--shape_is_n={n}: give at least 1 sample (the protocol uses "
                        f"{N_SAMPLES}).")
    lo, hi = DATASETS[cfg.dataset].image_range
    z, c = sample_latent_cfg(cfg, int(n), "cpu", torch.Generator().manual_seed(seed))
    was_training = G.training
    G.eval()
    out = []
    try:
        for s in range(0, int(n), batch):
            x = G(z[s:s + batch].to(device), None if c is None else c[s:s + batch].to(device))
            out.append(predict(model, ((x.float() - lo) / (hi - lo)), device, batch))
    finally:
        G.train(was_training)
    return np.concatenate(out)


def score_generator(G, cfg, model, record: dict | None = None, n: int = N_SAMPLES,
                    seed: int = 0, batch: int = 500, device="cpu") -> dict:
    """``score_probs`` of ``n`` prior samples of G, plus ``n``, ``seconds`` and, from the
    classifier's ``record``, its ``classifier_accuracy`` and the ``real_is`` reference."""
    t0 = time.perf_counter()
    res = score_probs(sample_probs(G, cfg, model, n, seed, batch, device))
    res["n"] = int(n)
    if record:
        res["classifier_accuracy"] = record.get("accuracy")
        res["real_is"] = record.get("real_is")
    res["seconds"] = round(time.perf_counter() - t0, 2)
    return res


def format_scores(res: dict) -> str:
    counts = ", ".join(f"{s} {c}" for s, c in zip(SHAPES, res["mode_counts"]))
    line = (f"dSprites shape IS {res['shape_is']:.4f} (log std {res['is_log_std']:.4f}), "
            f"confidence {res['confidence']:.4f}, mode KL {res['mode_kl']:.4f} "
            f"({counts}) on {res['n']} prior samples, {res['seconds']:.1f} s")
    if res.get("real_is") is not None:
        line += (f"; real images: IS {res['real_is']:.4f}, classifier accuracy "
                 f"{res['classifier_accuracy']:.4f}")
    return line


def main(argv=None) -> str:
    """``python -m codegan.evaluation.dsprites_is [--data_root=DIR] [--out=PATH] [--device=cpu]
    [--epochs=5] [--batch_size=64] [--lr=0.01] [--seed=0]``: train the shape classifier once
    (test.py --shape_is=true trains it too when its file is missing). Refuses an existing file."""
    import sys

    from ..device import pick_device
    from ..folders import dataset_folder

    opts = dict(a[2:].split("=", 1) for a in (sys.argv[1:] if argv is None else argv)
                if a.startswith("--") and "=" in a)
    unknown = sorted(set(opts) - {"data_root", "out", "device", *TRAIN})
    if unknown:
        raise UserError(f"unknown option --{unknown[0]}; it takes --data_root, --out, --device, "
                        f"{', '.join('--' + k for k in TRAIN)}.")
    path = classifier_path(dataset_folder("dsprites"), opts.get("out"))
    if os.path.exists(path):
        raise UserError(f"{path} exists; it is not overwritten. Delete it to train again, or "
                        f"pass --out=PATH.")
    try:
        train = {k: type(TRAIN[k])(opts[k]) for k in TRAIN if k in opts}
    except ValueError as e:
        raise UserError(f"a training option is not a number ({e}).") from None
    load_or_train(path, opts.get("data_root"), pick_device(opts.get("device", "auto")), **train)
    return path


if __name__ == "__main__":
    from ..errors import cli_guard

    cli_guard(main)()

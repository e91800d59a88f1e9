"""What both TensorFlow Inception networks of the IS / FID protocol share: the cache folder of
their files and a quiet ``import tensorflow`` (``inception_tf``: the frozen 2015 graph;
``inception_torchscript_tf``: the 2015 weights rebuilt in TensorFlow)."""

from __future__ import annotations

import os

from codegan.errors import UserError

TF_PIN = "tensorflow-cpu==2.21.0"


def cache_dir() -> str:
    """``$CODEGAN_CACHE`` or ``~/.cache/codegan``."""
    root = os.environ.get("CODEGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                           __name__.split(".")[0])
    return os.path.abspath(os.path.expanduser(root))


def import_tensorflow(threads: int | None = None):
    """``import tensorflow`` quietly, or a UserError saying how to install it. ``threads``: run
    each operation on that many threads, one operation at a time (set before TensorFlow's
    runtime starts, so on the first call; None leaves TensorFlow's default)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ info/warning banner
    try:
        # Triton's native library (pulled in by torchvision / torch._dynamo) segfaults when it
        # is loaded after TensorFlow's (measured: torch 2.14.1, triton 3.8.0, TF 2.21.0); the
        # other order is fine, so load it first when it is installed (0.4 s).
        import triton  # noqa: F401
    except ImportError:
        pass
    try:
        import tensorflow as tf
    except ImportError as e:
        raise UserError(f"TensorFlow is needed for the IS / FID protocol but cannot be "
                        f"imported ({e}). Install it: pip install {TF_PIN}") from None
    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf

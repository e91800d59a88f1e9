"""The TensorFlow IS / FID pipeline end to end, on a tiny frozen graph built here.

The stand-in graph honours the 2015-12-05 Inception graph's contract: ``ExpandDims:0`` takes raw
[0, 255] float images of any size with static batch 1 (the real graph was frozen that way), the
graph resizes them bilinearly to 299 x 299 and normalises (x - 128) / 128 itself, ``pool_3:0`` is
(N, 1, 1, D), ``pool_3/_reshape`` hard-codes batch 1 and ``softmax/logits/MatMul`` holds the
classifier weights (with a bias after it that IS must not use).

The reference every test compares with is the graph run the way it was frozen: one image at a
time through its own ``ExpandDims:0``, logits rebuilt in NumPy.
"""

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from codegan.evaluation import inception_tf
from codegan.errors import UserError

try:
    # not a bare `import tensorflow`: import_tensorflow loads Triton first, since Triton loaded
    # after TensorFlow segfaults the whole pytest process
    tf = inception_tf.import_tensorflow()
except UserError as e:
    pytest.skip(f"TensorFlow is not installed ({e})", allow_module_level=True)

from codegan.evaluation.fakes import codes_path_for  # noqa: E402
from codegan.metrics.fid import feature_stats, frechet_distance, intra_class_fid  # noqa: E402
from codegan.metrics.inception_score import inception_score_from_logits  # noqa: E402
from conftest import REPO, load_script  # noqa: E402

D, K = 16, 12  # feature width and number of logits of the tiny graph


def build_tiny_inception(path):
    """Write a frozen GraphDef with the Inception graph's tensor names and shape contract, and
    two of its 2015-era ops that current TensorFlow only runs in old GraphDefs
    (``BatchNormWithGlobalNormalization``, the old ``Concat``), at producer version 5."""
    rng = np.random.default_rng(0)
    half = D // 2
    g = tf.Graph()
    with g.as_default():
        decoded = tf.compat.v1.placeholder(tf.float32, [None, None, 3], name="Cast")
        x = tf.expand_dims(decoded, 0)  # "ExpandDims", static shape (1, ?, ?, 3)
        x = tf.compat.v1.image.resize_bilinear(x, [299, 299], align_corners=False)
        x = tf.multiply(tf.subtract(x, 128.0), 1.0 / 128.0)  # "Sub", "Mul"
        w_conv = tf.constant(rng.normal(0, 0.05, (13, 13, 3, half)).astype(np.float32))
        conv = tf.nn.conv2d(x, w_conv, strides=23, padding="VALID", name="conv")  # (1,13,13,D/2)
        for name, value in [("bn/mean", rng.normal(0, 0.1, half)),
                            ("bn/variance", rng.uniform(0.5, 2.0, half)),
                            ("bn/beta", rng.normal(0, 0.1, half)),
                            ("bn/gamma", rng.uniform(0.5, 1.5, half))]:
            tf.constant(value.astype(np.float32), name=name)
        tf.constant(3, name="mixed/axis")
        bn = tf.identity(conv, name="bn")  # becomes BatchNormWithGlobalNormalization below
        mixed = tf.concat([bn, tf.square(bn)], 3, name="mixed")  # becomes the old Concat
        pool3 = tf.nn.avg_pool2d(tf.nn.relu(mixed), 13, 1, "VALID", name="pool_3")  # (1,1,1,D)
        flat = tf.reshape(pool3, [1, D], name="pool_3/_reshape")  # batch 1 hard-coded
        with tf.name_scope("softmax"):
            w = tf.constant(rng.normal(0, 2.0, (D, K)).astype(np.float32), name="weights")
            b = tf.constant(rng.normal(0, 5.0, K).astype(np.float32), name="biases")
            with tf.name_scope("logits"):
                logits = tf.nn.bias_add(tf.matmul(flat, w, name="MatMul"), b)
        tf.nn.softmax(logits, name="probs")
    assert pool3.shape.as_list() == [1, 1, 1, D]
    gd = g.as_graph_def()
    for node in gd.node:
        if node.name == "bn":
            node.op = "BatchNormWithGlobalNormalization"
            node.input.extend(["bn/mean", "bn/variance", "bn/beta", "bn/gamma"])
            node.attr["variance_epsilon"].f = 1e-3
            node.attr["scale_after_normalization"].b = True
        elif node.name == "mixed":
            node.op = "Concat"  # inputs (axis, values...) instead of ConcatV2's (values..., axis)
            del node.input[:]
            node.input.extend(["mixed/axis", "bn", "Square"])
            del node.attr["Tidx"]
    gd.versions.producer = 5  # the era of the 2015-12-05 graph: these ops still allowed
    with open(path, "wb") as f:
        f.write(gd.SerializeToString())
    return path


def native_features_and_logits(graph_path, images):
    """The graph as frozen: batch 1 through its own ExpandDims:0; logits = pool_3 @ W."""
    gd = tf.compat.v1.GraphDef()
    with open(graph_path, "rb") as f:
        gd.ParseFromString(f.read())
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as sess:
        w = sess.run(g.get_operation_by_name("softmax/logits/MatMul").inputs[1])
        feats = []
        for img in images:
            img = img.astype(np.float32)
            if img.shape[-1] == 1:
                img = np.concatenate([img] * 3, axis=-1)
            feats.append(sess.run("pool_3:0", {"ExpandDims:0": img[None]}).reshape(-1))
    feats = np.array(feats, np.float64)
    return feats, feats @ w.astype(np.float64)


@pytest.fixture(scope="module")
def tiny_graph(tmp_path_factory):
    return build_tiny_inception(str(tmp_path_factory.mktemp("graph") / "tiny_inception.pb"))


@pytest.fixture(scope="module")
def net(tiny_graph):
    with inception_tf.InceptionGraph(tiny_graph) as n:
        yield n


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def random_images(n, size=20, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), np.uint8)


# ------------------------------------------------------------------ the network


# Features of a batch against those of one image at a time (or of another batch size): float32
# convolutions (sums of 13 * 13 * 3 = 507 terms) whose kernels, and so summation order, the
# CPU's library may choose per batch size. Their rounding moves a pool_3 feature (size ~0.3) by
# ~1e-7; any error in the pipeline (scaling, resizing, channels, order) by 1e-3 or more.
FEATURES_TOL = dict(rtol=1e-4, atol=1e-5)


def test_batched_extraction_equals_the_graph_run_one_image_at_a_time(net, tiny_graph):
    images = random_images(7)
    assert (net.feature_dim, net.num_classes) == (D, K)  # widths read from the graph
    feats, logits = net.features_and_logits(images, batch_size=3)
    ref_f, ref_z = native_features_and_logits(tiny_graph, images)
    np.testing.assert_allclose(feats, ref_f, **FEATURES_TOL)
    # logits are pool_3 @ W without the graph's (large) bias, as improved-gan computes them
    np.testing.assert_allclose(logits, ref_z, rtol=1e-4, atol=1e-4)
    again, _ = net.features_and_logits(images, batch_size=7)
    np.testing.assert_allclose(again, feats, **FEATURES_TOL)


def test_gray_images_are_replicated_to_three_channels(net):
    gray = random_images(4, channels=1, seed=1)
    f_gray, _ = net.features_and_logits(gray, batch_size=4)
    f_rgb, _ = net.features_and_logits(np.repeat(gray, 3, axis=-1), batch_size=4)
    np.testing.assert_array_equal(f_gray, f_rgb)


def test_images_of_any_size_are_resized_by_the_graph(net, tiny_graph):
    small = random_images(2, size=8, seed=2)
    feats, _ = net.features_and_logits(small)
    np.testing.assert_allclose(feats, native_features_and_logits(tiny_graph, small)[0],
                               **FEATURES_TOL)


@pytest.mark.parametrize("bad, why", [
    (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
    (np.zeros((8, 8, 3), np.uint8), "4-D"),
    (np.zeros((2, 3, 8, 8), np.uint8), "channels-first"),
    (np.zeros((2, 8, 8, 4), np.uint8), "C = 1"),
])
def test_bad_images_are_rejected(net, bad, why):
    with pytest.raises(UserError, match=why):
        net.features_and_logits(bad)


def test_a_graph_without_the_contract_is_rejected(tmp_path):
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
    p = tmp_path / "other.pb"
    p.write_bytes(g.as_graph_def().SerializeToString())
    with pytest.raises(UserError, match="lacks the Inception contract"):
        inception_tf.InceptionGraph(str(p))
    p.write_bytes(b"not a graph at all \x00\xff")
    with pytest.raises(UserError, match="not a TensorFlow GraphDef"):
        inception_tf.InceptionGraph(str(p))


# ------------------------------------------------------------------ download and cache


def make_archive(graph_path, dest):
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(graph_path, arcname=inception_tf.GRAPH_NAME)
        info = tarfile.TarInfo("LICENSE")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    return dest


def test_graph_is_downloaded_checked_and_cached(tiny_graph, tmp_path, cache, monkeypatch):
    archive = make_archive(tiny_graph, tmp_path / "inception-2015-12-05.tgz")
    monkeypatch.setattr(inception_tf, "INCEPTION_URL", archive.as_uri())
    monkeypatch.setattr(inception_tf, "ARCHIVE_SIZE", archive.stat().st_size)
    monkeypatch.setattr(inception_tf, "GRAPH_MD5", inception_tf.file_md5(tiny_graph))
    path, official = inception_tf.ensure_inception_graph()
    assert official and path == str(cache / "inception" / inception_tf.GRAPH_NAME)
    assert open(path, "rb").read() == open(tiny_graph, "rb").read()
    os.remove(cache / "inception" / inception_tf.ARCHIVE_NAME)
    monkeypatch.setattr(inception_tf, "INCEPTION_URL", "file:///nonexistent/x.tgz")
    assert inception_tf.ensure_inception_graph()[0] == path  # cached: no second download
    with open(path, "ab") as f:  # a damaged cache is refused, not used
        f.write(b"x")
    with pytest.raises(UserError, match="Delete it"):
        inception_tf.ensure_inception_graph()


def test_archive_with_the_wrong_graph_is_refused(tiny_graph, tmp_path, cache, monkeypatch):
    archive = make_archive(tiny_graph, tmp_path / "inception-2015-12-05.tgz")
    monkeypatch.setattr(inception_tf, "INCEPTION_URL", archive.as_uri())
    monkeypatch.setattr(inception_tf, "ARCHIVE_SIZE", archive.stat().st_size)
    with pytest.raises(UserError, match="not the 2015-12-05 Inception release"):
        inception_tf.ensure_inception_graph()  # md5 is the real graph's, not the tiny one's
    assert not (cache / "inception" / inception_tf.GRAPH_NAME).exists()


def test_without_network_the_message_says_what_to_fetch_and_where(cache, monkeypatch):
    monkeypatch.setattr(inception_tf, "INCEPTION_URL", "file:///nonexistent/inception.tgz")
    with pytest.raises(UserError) as e:
        inception_tf.ensure_inception_graph()
    msg = str(e.value)
    assert "could not be downloaded" in msg
    assert str(cache / "inception" / inception_tf.GRAPH_NAME) in msg
    assert inception_tf.GRAPH_MD5 in msg and "--inception" in msg


def test_explicit_graph_other_than_the_official_one_warns(tiny_graph, capsys):
    path, official = inception_tf.ensure_inception_graph(tiny_graph)
    assert path == tiny_graph and not official
    assert "not comparable with published" in capsys.readouterr().err
    with pytest.raises(UserError, match="no such file"):
        inception_tf.ensure_inception_graph(tiny_graph + ".missing")


# ------------------------------------------------------------------ the protocol


class FakeLoader:
    """Stands in for codegan.data.datasets.load_images: uint8 (N, C, H, W) images and labels."""

    def __init__(self, n=36, classes=3, channels=3):
        rng = np.random.default_rng(7)
        self.y = np.arange(n) % classes
        # each class has its own brightness, so classes differ in feature space
        base = (40 + 70 * self.y)[:, None, None, None]
        self.x = np.clip(base + rng.integers(-30, 30, (n, channels, 28, 28)), 0, 255
                         ).astype(np.uint8)
        self.calls = 0

    def __call__(self, dataset, data_root, split):
        assert split == "train"
        self.calls += 1
        return self.x, self.y


def write_fakes(tmp_path, n=40, codes=3):
    images = random_images(n, seed=3)
    path = str(tmp_path / "fakes.npy")
    np.save(path, images)
    np.save(codes_path_for(path), (np.arange(n) % codes).astype(np.int64))
    return path, images


def test_evaluate_fakes_matches_the_maths_on_native_features(tiny_graph, tmp_path, cache):
    fakes, images = write_fakes(tmp_path)
    loader = FakeLoader()
    r = inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=5,
                                    batch_size=8, loader=loader, progress=False)
    f, z = native_features_and_logits(tiny_graph, images[:30])
    rf, _ = native_features_and_logits(tiny_graph, loader.x.transpose(0, 2, 3, 1))
    assert r["is30"] == pytest.approx(inception_score_from_logits(z, splits=5)[0], rel=1e-4)
    assert r["is30_std"] == pytest.approx(inception_score_from_logits(z, splits=5)[1],
                                          rel=1e-3, abs=1e-6)
    expected_fid = frechet_distance(*feature_stats(f), *feature_stats(rf))
    assert r["fid30_train"] == pytest.approx(expected_fid, rel=1e-4)
    codes = np.arange(30) % 3
    expected = intra_class_fid({c: feature_stats(f[codes == c]) for c in range(3)},
                               {k: feature_stats(rf[loader.y == k]) for k in range(3)})
    assert r["icfid30_train"] == pytest.approx(expected["icfid"], rel=1e-3)
    assert r["icfid_match"] == {str(c): k for c, k in expected["match"].items()}
    assert r["icfid_images_per_code"] == {"0": 10, "1": 10, "2": 10}
    assert r["official_inception_graph"] is False and r["feature_dim"] == D
    # the reference statistics are cached: a second run reads the images again only to check
    # they are the ones cached (their digest names the file) and at the same batch size (the
    # same float32 kernels) gives the same FID from the cache
    assert loader.calls == 1
    stamp = os.stat(r["reference_stats"]).st_mtime_ns
    r2 = inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=5,
                                     batch_size=8, loader=loader, progress=False)
    assert loader.calls == 2 and r2["fid30_train"] == pytest.approx(r["fid30_train"], rel=1e-9)
    assert r2["reference_stats"] == r["reference_stats"]
    assert os.stat(r["reference_stats"]).st_mtime_ns == stamp  # read, not written again
    cached = np.load(r["reference_stats"])
    np.testing.assert_allclose(cached["mu"], rf.mean(axis=0), rtol=1e-4, atol=1e-6)
    assert cached["sigma"].shape == (D, D) and list(cached["class_n"]) == [12, 12, 12]


def test_fid_of_the_real_images_against_their_own_stats_is_zero(tiny_graph, tmp_path, cache):
    loader = FakeLoader(n=30)
    path = str(tmp_path / "real_as_fakes.npy")
    np.save(path, loader.x.transpose(0, 2, 3, 1))
    r = inception_tf.evaluate_fakes(path, "toy", num=30, inception=tiny_graph, splits=3,
                                    loader=loader, progress=False)
    assert r["fid30_train"] == pytest.approx(0.0, abs=1e-4)
    assert "icfid_note" in r and "codes" in r["icfid_note"]  # no codes file: ICFID skipped


def test_a_smaller_reference_is_the_first_images_of_a_fixed_shuffle(tiny_graph, tmp_path,
                                                                     cache):
    """--reference_num N: the real statistics of the first N images of numpy's
    default_rng(0).permutation of the training set, cached apart from the full set's, and named
    in the metric."""
    fakes, images = write_fakes(tmp_path)
    loader = FakeLoader()
    r = inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=5,
                                    loader=loader, progress=False, reference_num=12)
    pick = np.random.default_rng(0).permutation(len(loader.x))[:12]
    f, _ = native_features_and_logits(tiny_graph, images[:30])
    rf, _ = native_features_and_logits(tiny_graph, loader.x[pick].transpose(0, 2, 3, 1))
    assert "fid30_train" not in r and r["reference_num"] == 12
    assert r["fid30_train12"] == pytest.approx(
        frechet_distance(*feature_stats(f), *feature_stats(rf)), rel=1e-4)
    assert r["icfid30_train12"] > 0
    assert os.path.basename(r["reference_stats"]).startswith("toy_train_n12-")
    whole = inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=5,
                                        loader=loader, progress=False, icfid=False)
    assert os.path.basename(whole["reference_stats"]).startswith("toy_train_n36-")
    assert whole["fid30_train"] != pytest.approx(r["fid30_train12"], rel=1e-3)
    for bad in (1, 37):
        with pytest.raises(UserError, match="give 2 to 36"):
            inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=5,
                                        loader=loader, progress=False, reference_num=bad)
    with pytest.raises(UserError, match="cannot apply to a --reference file"):
        inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=5,
                                    reference=str(tmp_path / "stats.npz"), loader=loader,
                                    progress=False, reference_num=12)


@pytest.mark.parametrize("make, why", [
    (lambda: random_images(10), "fewer than the --num=20"),
    (lambda: random_images(30).astype(np.float32), "uint8"),
    (lambda: random_images(30).transpose(0, 3, 1, 2), "channels-first"),
    (lambda: (random_images(30) > 127).astype(np.uint8), "without scaling"),
])
def test_bad_fakes_files_are_rejected(tiny_graph, tmp_path, cache, make, why):
    path = str(tmp_path / "bad.npy")
    np.save(path, np.ascontiguousarray(make()))
    with pytest.raises(UserError, match=why):
        inception_tf.evaluate_fakes(path, "toy", num=20, inception=tiny_graph, splits=2,
                                    loader=FakeLoader(), progress=False)


def test_codes_that_do_not_pair_with_the_images_are_rejected(tiny_graph, tmp_path, cache):
    fakes, _ = write_fakes(tmp_path, n=40)
    np.save(codes_path_for(fakes), np.zeros(39, np.int64))
    with pytest.raises(UserError, match="not a pair"):
        inception_tf.evaluate_fakes(fakes, "toy", num=20, inception=tiny_graph, splits=2,
                                    loader=FakeLoader(), progress=False)


def write_tiny_mnist(root, n=30):
    """A data root whose mnist.npz holds ``n`` gray training images of 3 classes."""
    loader = FakeLoader(n=n, classes=3, channels=1)
    os.makedirs(root, exist_ok=True)
    x = loader.x[:, 0]  # gray (N, H, W), as the real file stores it
    np.savez(os.path.join(root, "mnist.npz"), x_train=x, y_train=loader.y.astype(np.int64),
             x_test=x[:3], y_test=loader.y[:3].astype(np.int64))
    return loader


def test_reference_stats_from_the_data_root_with_the_real_loader(tiny_graph, net, tmp_path,
                                                                  cache):
    loader = write_tiny_mnist(tmp_path / "data")
    stats, path = inception_tf.real_reference_stats("mnist", net, str(tmp_path / "data"),
                                                    progress=False)
    rf, _ = native_features_and_logits(tiny_graph, loader.x.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(stats["mu"], rf.mean(axis=0), rtol=1e-4, atol=1e-6)
    assert os.path.basename(path).startswith("mnist_train_n30-")
    assert list(stats["classes"]) == [0, 1, 2] and stats["class_sigma"].shape == (3, D, D)
    # another data root with a subset of those images: its own statistics, not the cached ones
    sub = write_tiny_mnist(tmp_path / "subset", n=21)
    stats2, path2 = inception_tf.real_reference_stats("mnist", net, str(tmp_path / "subset"),
                                                      progress=False)
    assert path2 != path and os.path.basename(path2).startswith("mnist_train_n21-")
    rf2, _ = native_features_and_logits(tiny_graph, sub.x.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(stats2["mu"], rf2.mean(axis=0), rtol=1e-4, atol=1e-6)
    again, path3 = inception_tf.real_reference_stats("mnist", net, str(tmp_path / "data"),
                                                     progress=False)
    assert path3 == path and np.array_equal(again["mu"], stats["mu"])  # the cache, read back


class CountingNet:
    """Wraps a network: counts the images it is given and dies (as a killed process would)
    when asked for the chunk after ``die_after`` calls."""

    def __init__(self, net, die_after=None):
        self.net, self.die_after, self.images, self.calls = net, die_after, 0, 0
        self.cache_key, self.feature_dim = net.cache_key, net.feature_dim
        self.num_classes = net.num_classes

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def features_and_logits(self, images, batch_size, progress=None):
        if self.calls == self.die_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.images += len(images)
        return self.net.features_and_logits(images, batch_size)


def test_a_killed_reference_pass_resumes_at_the_first_missing_chunk(net, cache, monkeypatch,
                                                                    capsys):
    """60,000 training images are an hour or two of Inception on a CPU: a pass that is killed
    keeps its finished chunks and the next run computes only the rest, to the same statistics."""
    monkeypatch.setattr(inception_tf, "FEATURE_CHUNK", 8)  # 30 images: chunks 8, 8, 8, 6
    loader = FakeLoader(n=30)
    whole, path = inception_tf.real_reference_stats("toy", net, loader=loader, batch_size=4,
                                                    progress=False)
    os.remove(path)
    parts = path[:-len(".npz")] + ".parts-b4"
    with pytest.raises(KeyboardInterrupt):
        inception_tf.real_reference_stats("toy", CountingNet(net, die_after=2), loader=loader,
                                          batch_size=4, progress=False)
    assert not os.path.exists(path) and sorted(os.listdir(parts)) == [
        "0000000-0000008.npy", "0000008-0000016.npy"]
    rerun = CountingNet(net)
    stats, path2 = inception_tf.real_reference_stats("toy", rerun, loader=loader, batch_size=4,
                                                     progress=False)
    assert path2 == path and rerun.images == 14  # the last two chunks only
    for k in whole:
        np.testing.assert_array_equal(stats[k], whole[k], err_msg=k)
    assert not os.path.exists(parts)  # folded into the statistics file
    # a damaged part is computed again, and said so; not read as features
    os.remove(path)
    with pytest.raises(KeyboardInterrupt):
        inception_tf.real_reference_stats("toy", CountingNet(net, die_after=1), loader=loader,
                                          batch_size=4, progress=False)
    with open(os.path.join(parts, "0000000-0000008.npy"), "wb") as f:
        f.write(b"not an array")
    rerun = CountingNet(net)
    stats, _ = inception_tf.real_reference_stats("toy", rerun, loader=loader, batch_size=4,
                                                 progress=False)
    assert rerun.images == 30 and "computing it again" in capsys.readouterr().err
    np.testing.assert_array_equal(stats["sigma"], whole["sigma"])


def test_a_killed_fakes_pass_resumes_to_the_same_scores(net, tiny_graph, tmp_path, cache,
                                                        monkeypatch):
    """50,000 fakes are over an hour of Inception on a CPU: the fakes' pass keeps its finished
    chunks (features and logits) until the scores are computed, and the command run again
    computes only the rest, to the same IS, FID and intra-class FID."""
    monkeypatch.setattr(inception_tf, "FEATURE_CHUNK", 8)  # 30 fakes: chunks 8, 8, 8, 6
    fakes, _ = write_fakes(tmp_path)
    score = dict(num=30, inception=tiny_graph, splits=5, batch_size=4, loader=FakeLoader(),
                 progress=False)
    whole = inception_tf.evaluate_fakes(fakes, "toy", **score)  # also caches the reference
    kept = cache / "fid_fakes"
    assert not kept.exists() or not list(kept.iterdir())  # gone once the scores are computed

    def graph_dying_after(calls):
        counting = CountingNet(net, die_after=calls)
        monkeypatch.setattr(inception_tf, "InceptionGraph", lambda path: counting)
        return counting

    graph_dying_after(2)
    with pytest.raises(KeyboardInterrupt):
        inception_tf.evaluate_fakes(fakes, "toy", **score)
    [parts] = list(kept.iterdir())
    assert sorted(os.listdir(parts)) == ["0000000-0000008.logits.npy", "0000000-0000008.npy",
                                         "0000008-0000016.logits.npy", "0000008-0000016.npy"]
    os.remove(parts / "0000008-0000016.logits.npy")  # a chunk without its logits is not whole
    rerun = graph_dying_after(None)
    again = inception_tf.evaluate_fakes(fakes, "toy", **score)
    assert rerun.images == 22  # the chunk without logits and the two never computed
    for k in ("is30", "is30_std", "fid30_train", "icfid30_train", "icfid_match"):
        assert again[k] == whole[k], k
    assert not parts.exists()


def test_a_full_disk_while_saving_a_part_is_one_clear_message(net, cache, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(inception_tf.np, "save", full)
    with pytest.raises(UserError, match=r"disk is full.*Nothing written before it was lost.*"
                                        r"choose another \$CODEGAN_CACHE"):
        inception_tf.real_reference_stats("toy", net, loader=FakeLoader(), progress=False)
    assert not [f for _, _, fs in os.walk(cache) for f in fs]  # no half-written file left


def test_icfid_is_skipped_with_a_reason_when_only_ttur_stats_are_available(
        tiny_graph, net, tmp_path, cache):
    fakes, _ = write_fakes(tmp_path, n=20)
    rf, _ = net.features_and_logits(FakeLoader().x.transpose(0, 2, 3, 1))
    ref = tmp_path / "ttur_stats.npz"
    np.savez(ref, mu=rf.mean(axis=0), sigma=np.cov(rf, rowvar=False))

    def missing(dataset, data_root, split):
        raise UserError(f"{dataset} not found in the data root")

    r = inception_tf.evaluate_fakes(fakes, "toy", num=20, inception=str(tiny_graph),
                                    reference=str(ref), splits=2, loader=missing,
                                    progress=False)
    assert "fid20_train" in r and "icfid20_train" not in r
    assert "not found" in r["icfid_note"]
    with pytest.raises(UserError, match="not found"):  # without --reference: a clear error
        inception_tf.evaluate_fakes(fakes, "toy", num=20, inception=str(tiny_graph),
                                    splits=2, loader=missing, progress=False)


def test_saved_reference_statistics_give_the_data_roots_fid_and_icfid(tiny_graph, net,
                                                                       tmp_path, cache):
    """A statistics file written from the real images' features in another order (as
    bench/real_fid_check.py writes the CIFAR-10 training split's) serves as --reference: the
    same FID and intra-class FID as the statistics computed from the data root."""
    fakes, _ = write_fakes(tmp_path, n=30)
    loader = FakeLoader()
    from_root = inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph,
                                            splits=3, loader=loader, progress=False)
    order = np.random.default_rng(5).permutation(len(loader.y))
    rf, _ = net.features_and_logits(loader.x.transpose(0, 2, 3, 1)[order])
    path = str(tmp_path / "reference.npz")
    inception_tf.save_reference_npz(path, rf, loader.y[order])

    def unused(dataset, data_root, split):
        raise AssertionError("the data root was read although --reference gave every statistic")

    saved = inception_tf.evaluate_fakes(fakes, "toy", num=30, inception=tiny_graph, splits=3,
                                        reference=path, loader=unused, progress=False)
    assert saved["fid30_train"] == pytest.approx(from_root["fid30_train"], rel=1e-4)
    assert saved["icfid30_train"] == pytest.approx(from_root["icfid30_train"], rel=1e-3)
    assert saved["icfid_match"] == from_root["icfid_match"]
    # an existing file is refused, and kept as it was
    before = open(path, "rb").read()
    with pytest.raises(UserError, match="already exists"):
        inception_tf.save_reference_npz(path, rf[:5], loader.y[:5])
    assert open(path, "rb").read() == before
    with pytest.raises(UserError, match="end in .npz"):
        inception_tf.save_reference_npz(str(tmp_path / "reference"), rf, loader.y)


def test_the_script_end_to_end(tiny_graph, net, tmp_path, cache):
    """FID against a TTUR .npz, IS, and ICFID against per-class statistics the script computes
    from the data root; then a second run that would overwrite the JSON is refused."""
    fakes, images = write_fakes(tmp_path, n=40)
    real = write_tiny_mnist(tmp_path / "data")
    rf, _ = native_features_and_logits(tiny_graph, real.x.transpose(0, 2, 3, 1))
    mu, sigma = feature_stats(rf)
    ref = tmp_path / "ttur_stats.npz"
    np.savez(ref, mu=mu + 1.0, sigma=sigma)  # shifted: FID must come from this file
    env = dict(os.environ, PYTHONPATH=REPO, CODEGAN_CACHE=str(cache),
               CODEGAN_DATA=str(tmp_path / "data"))
    cmd = [sys.executable, os.path.join(REPO, "test", "test_IS&FID.py"), f"--fakes={fakes}",
           "--dataset=mnist", "--num=40", "--splits=4", f"--inception={tiny_graph}",
           f"--reference={ref}"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fid40_train:" in done.stdout and "is40:" in done.stdout
    result = json.load(open(str(tmp_path / "fakes_metrics.json")))
    f, z = native_features_and_logits(tiny_graph, images)
    assert result["is40"] == pytest.approx(inception_score_from_logits(z, splits=4)[0], rel=1e-4)
    assert result["fid40_train"] == pytest.approx(
        frechet_distance(*feature_stats(f), mu + 1.0, sigma), rel=1e-4)
    codes = np.arange(40) % 3
    expected = intra_class_fid({c: feature_stats(f[codes == c]) for c in range(3)},
                               {k: feature_stats(rf[real.y == k]) for k in range(3)})
    assert result["icfid40_train"] == pytest.approx(expected["icfid"], rel=1e-3)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "Traceback" not in again.stderr


def test_the_script_stopped_by_ctrl_c_says_what_is_kept_and_how_to_go_on(tmp_path, cache,
                                                                        monkeypatch, capsys):
    script = load_script("is_fid_script", "test", "test_IS&FID.py")

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(inception_tf, "evaluate_fakes", stopped)
    with pytest.raises(SystemExit) as e:
        try:
            script.main([f"--fakes={tmp_path / 'fakes.npy'}", "--dataset=mnist"])
        except KeyboardInterrupt:  # not re-raised: that would stop pytest itself
            pytest.fail("Ctrl-C left the script as a traceback")
    err = capsys.readouterr().err
    assert e.value.code == 130 and "Traceback" not in err
    assert f"in {cache} (fid_stats, fid_fakes)" in err and "run the same command again" in err
    assert not (tmp_path / "fakes_metrics.json").exists()

"""dSprites re-rendering (codegan.data.dsprites, dSprites/make_dsprites.py): the official grid,
index order and keys; hand-checked sprites. Rendering speed is not asserted."""

import os
import subprocess
import sys

import numpy as np
import pytest

from codegan.data import dsprites as D
from codegan.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def idx(shape=0, scale=5, orient=0, x=16, y=16):
    return int(np.ravel_multi_index((0, shape, scale, orient, x, y), D.SIZES))


def test_grid_and_index_order_equal_the_official_metadata():
    pv = D.possible_values()
    assert D.NAMES == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert tuple(len(pv[n]) for n in D.NAMES) == D.SIZES == (1, 3, 6, 40, 32, 32)
    assert np.prod(D.SIZES) == D.N_IMAGES == 737_280
    assert list(pv["shape"]) == [1, 2, 3]
    assert np.allclose(pv["scale"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert pv["orientation"][0] == 0 and np.isclose(pv["orientation"][-1], 2 * np.pi)
    assert np.allclose(pv["posX"], np.arange(32) / 31) and np.allclose(pv["posY"], pv["posX"])
    c = D.classes_of([0, 1, 32, 1024, 40960, 245760, 737279])
    assert c.tolist() == [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0],
                          [0, 0, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0],
                          [0, 2, 5, 39, 31, 31]]
    v = D.values_of(c)
    assert v[-1].tolist() == pytest.approx([1, 3, 1, 2 * np.pi, 1, 1])
    md = D.metadata()
    assert list(md["latents_sizes"]) == list(D.SIZES) and md["latents_names"] == D.NAMES


def test_sprites_are_binary_and_grow_with_scale():
    for shape in range(3):
        imgs = D.render([idx(shape, s) for s in range(6)])
        assert imgs.shape == (6, 64, 64) and imgs.dtype == np.uint8
        assert set(np.unique(imgs)) == {0, 1}
        area = imgs.reshape(6, -1).sum(1)
        assert np.all(np.diff(area) > 0), (shape, area)


def centroid(img):
    """(row, column) in pixel coordinates: pixel j covers [j, j + 1), its centre j + 0.5."""
    r, c = np.nonzero(img)
    return r.mean() + 0.5, c.mean() + 0.5


def test_centre_moves_with_posx_and_posy():
    for x, y in [(0, 0), (31, 0), (0, 31), (10, 20)]:
        row, col = centroid(D.render([idx(0, 0, 0, x, y)])[0])  # small upright square
        assert col == pytest.approx(64 * (0.25 + 0.5 * x / 31), abs=0.5)  # sampling at pixel centres: half a pixel at most
        assert row == pytest.approx(64 * (0.25 + 0.5 * y / 31), abs=0.5)  # sampling at pixel centres: half a pixel at most


def test_orientation():
    a, b, full = D.render([idx(0, 5, 0), idx(0, 5, 5), idx(0, 5, 39)])
    assert (a != b).sum() > 20  # a turned square differs from the upright one
    assert abs(int(a.sum()) - int(b.sum())) < 0.1 * a.sum()  # but keeps its area
    assert np.array_equal(a, full)  # 0 and 2 pi: one image, as in the official set
    # upright sprites at posX 0 (centre column 16) are mirror-symmetric about it
    for shape in range(3):
        img = D.render([idx(shape, 5, 0, 0, 16)])[0]
        assert np.array_equal(img[:, :32], img[:, :32][:, ::-1]), shape


def test_make_dsprites_writes_the_official_keys_and_refuses_to_overwrite(tmp_path):
    cmd = [sys.executable, os.path.join(REPO, "dSprites", "make_dsprites.py"),
           f"--out={tmp_path}", "--limit=2000"]
    env = dict(os.environ, PYTHONPATH=REPO)
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    d = D.load(str(tmp_path / "dsprites_first2000_64x64.npz"))
    assert d["imgs"].shape == (2000, 64, 64) and d["imgs"].dtype == np.uint8
    assert d["latents_classes"].tolist() == D.classes_of(np.arange(2000)).tolist()
    assert np.allclose(d["latents_values"], D.values_of(d["latents_classes"]))
    assert list(d["metadata"]["latents_sizes"]) == list(D.SIZES)
    assert np.array_equal(d["imgs"][[0, 777, 1999]], D.render([0, 777, 1999]))
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr
    with pytest.raises(UserError, match="full grid"):
        D.DSpritesFactors(d["imgs"])


def test_missing_file_says_where_to_get_it_and_where_to_put_it(tmp_path):
    with pytest.raises(UserError) as e:
        D.load(str(tmp_path))
    msg = str(e.value)
    assert "github.com/deepmind/dsprites-dataset" in msg and D.FILENAME in msg
    assert str(tmp_path) in msg and "make_dsprites.py" in msg


def test_factor_sampler_renders_on_the_fly():
    f = D.DSpritesFactors()
    c = f.sample_factors(5, np.random.default_rng(0))
    assert c.shape == (5, 6) and (c[:, 0] == 0).all() and (c < np.array(D.SIZES)).all()
    x = f.images(c)
    assert x.shape == (5, 1, 64, 64)
    assert np.array_equal(x[:, 0], D.render(np.ravel_multi_index(c.T, D.SIZES)))

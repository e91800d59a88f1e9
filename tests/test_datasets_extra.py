"""COIL-20, 3D-Chairs and 3D-Cars readers (codegan/data/datasets_extra.py), on generated fixtures in
the public formats and on the shared real COIL-20 and 3D-Cars."""

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from codegan.data import datasets_extra as dx
from codegan.config import validate
from codegan.data.datasets import DATASETS, load_images
from codegan.errors import UserError
from extra_fixtures import (SHARED, chair_colour, chair_name, have_shared, make_cars, make_chairs,
                            make_coil_png, real_coil_subset)

BASE = {"max_step": 1, "zn_dim": 4, "fc_dim": 4, "beta_1": 1, "beta_2": 1, "lr": 1e-4,
        "g_batch_size": 2, "d_batch_size": 2, "ec_batch_size": 2, "ez_batch_size": 2}


def cfg_for(dataset, **kw):
    return validate({**BASE, "dataset": dataset, "zc_dim": DATASETS[dataset].num_classes, **kw})


def test_registered_specs():
    assert (DATASETS["coil20"].num_classes, DATASETS["coil20"].channels,
            DATASETS["coil20"].size) == (20, 1, 32)
    for name in ("chairs", "cars"):
        s = DATASETS[name]
        assert (s.num_classes, s.channels, s.size, tuple(s.image_range)) == (10, 3, 64, (-1, 1))


def test_resize_is_antialiased():
    # a 1-pixel checkerboard averages to mid-gray when antialiased (plain bilinear would alias)
    board = ((np.indices((128, 128)).sum(0) % 2) * 255).astype(np.uint8)[None, None]
    out = dx.resize_uint8(board, 32)
    assert out.shape == (1, 1, 32, 32) and np.abs(out.astype(int) - 128).max() <= 1


@pytest.mark.skipif(not have_shared("coil20.npz"), reason="no shared coil20.npz")
def test_real_coil20():
    from extra_fixtures import SHARED

    x, y = load_images("coil20", SHARED)
    assert x.shape == (1440, 1, 32, 32) and x.dtype == torch.uint8
    assert torch.equal(torch.bincount(y), torch.full((20,), 72))
    with np.load(f"{SHARED}/coil20.npz") as f:
        first = torch.from_numpy(f["images"][:1]).float()[None]
    want = F.interpolate(first, size=(32, 32), mode="bilinear", antialias=True)
    assert (x[0].float() - want[0].round()).abs().max() <= 1


@pytest.mark.skipif(not have_shared("coil20.npz"), reason="no shared coil20.npz")
def test_coil20_png_folder_equals_npz(tmp_path):
    npz_root, images, labels, poses = real_coil_subset(tmp_path / "npz", poses=(0, 35))
    png_root = make_coil_png(tmp_path / "png", images, labels, poses)
    a = dx.read_coil20(npz_root)
    b = dx.read_coil20(png_root)
    order = np.lexsort((a[2], a[1]))
    order_b = np.lexsort((b[2], b[1]))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u[order], v[order_b])


def test_coil20_official_layout_32px_without_poses(tmp_path):
    """The official code reads ``coil20.npz`` with keys images (already 32x32) and labels only
    (COIL-20/dataloader.py:10-17): read as is, poses numbered by order within each object."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(20), 3)[::-1].copy()  # objects 19..0, three views each
    images = rng.integers(0, 256, size=(60, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "coil20.npz", images=images, labels=labels)
    dx.read_coil20.cache_clear()
    x, y, view = dx.read_coil20(str(tmp_path))
    assert x.shape == (60, 1, 32, 32)
    np.testing.assert_array_equal(x[:, 0], images)  # no resize at 32x32
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(view, np.tile([0, 1, 2], 20))
    np.savez(tmp_path / "coil20.npz", images=images[:, None], labels=labels)  # (N, 1, 32, 32)
    dx.read_coil20.cache_clear()
    np.testing.assert_array_equal(dx.read_coil20(str(tmp_path))[0][:, 0], images)
    np.savez(tmp_path / "coil20.npz", images=images[:, :, :16], labels=labels)
    dx.read_coil20.cache_clear()
    with pytest.raises(UserError, match="square images"):
        dx.read_coil20(str(tmp_path))


def test_coil20_missing_and_incomplete(tmp_path):
    with pytest.raises(UserError, match="coil-20-proc.*cs.columbia.edu"):
        load_images("coil20", str(tmp_path))
    imgs = np.zeros((3, 128, 128), np.uint8)
    make_coil_png(tmp_path, imgs, [0, 1, 2], [0, 0, 0])
    with pytest.raises(UserError, match="3 objects, not 20"):
        load_images("coil20", str(tmp_path))


def test_chairs_default_selection_crop_and_labels(tmp_path):
    root = make_chairs(tmp_path)
    x, y, view = dx.read_with_views("chairs", root, cfg_for("chairs"))
    assert x.shape == (40, 3, 64, 64) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 4))  # first 10 sorted folders
    np.testing.assert_array_equal(view, np.tile(np.arange(4), 10))
    for m in range(10):  # the chair's colour at the centre; label m is folder m
        np.testing.assert_array_equal(x[4 * m, :, 32, 32], chair_colour(m))
    assert x.min() > 0  # the black frame outside the central 2/3 crop is cut away
    # through the registry, with the settings of param.yml
    xt, yt = load_images("chairs", root, "train", cfg_for("chairs"))
    assert torch.equal(xt, torch.from_numpy(x)) and torch.equal(yt, torch.from_numpy(y))


def test_chairs_named_models_and_errors(tmp_path):
    root = make_chairs(tmp_path)
    names = [chair_name(m) for m in (10, 3, 0, 1, 2, 4, 5, 6, 7, 8)]
    x, y, _ = dx.read_with_views("chairs", root, cfg_for("chairs", chairs_models=names))
    np.testing.assert_array_equal(x[0, :, 32, 32], chair_colour(10))  # label 0 = first listed
    np.testing.assert_array_equal(x[4, :, 32, 32], chair_colour(3))
    with pytest.raises(UserError, match="'nope'.*chairs_models"):
        load_images("chairs", root, "train", cfg_for("chairs", chairs_models=["nope"] + names[1:]))
    with pytest.raises(UserError, match="lists 2 models"):
        cfg_for("chairs", chairs_models=names[:2])
    with pytest.raises(UserError, match="rendered_chairs.*di.ens.fr"):
        load_images("chairs", str(tmp_path / "empty"))


def test_cars_official_layout_and_selection(tmp_path):
    root = make_cars(tmp_path)
    models = [3, 0, 11, 1, 2, 4, 5, 6, 7, 8]
    x, y, view = dx.read_with_views("cars", root, cfg_for("cars", cars_models=models))
    assert x.shape == (960, 3, 64, 64)
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 96))
    np.testing.assert_array_equal(view, np.tile(np.arange(96), 10))
    # channel 0 = 10 * file index (sorted order), channel 1 = 10 * azimuth, 2 = 50 * elevation
    for label, idx in enumerate(models):
        assert (x[y == label, 0] == 10 * idx).all()
    az, el = np.divmod(view, 4)
    np.testing.assert_array_equal(x[:, 1, 5, 5], 10 * az)
    np.testing.assert_array_equal(x[:, 2, 5, 5], 50 * el)
    # float copies of 'im' in [0, 1] give the same images
    froot = make_cars(tmp_path / "f", n_files=4, float_im=True)
    xf, _, _ = dx.read_cars(froot, (3, 0))
    np.testing.assert_array_equal(xf, x[:192])


def test_cars_errors(tmp_path):
    with pytest.raises(UserError, match="cars/car_<NNN>_mesh.mat.*scottreed"):
        load_images("cars", str(tmp_path))
    root = make_cars(tmp_path / "few", n_files=3, n_az=2, n_el=1)
    with pytest.raises(UserError, match="model index 141.*lists 3 models"):
        load_images("cars", root, "train", cfg_for("cars"))  # the official indices need 183
    with open(f"{root}/cars/car_001_mesh.mat", "wb") as f:
        f.write(b"broken")
    with pytest.raises(UserError, match="car_001_mesh.mat could not be read"):
        dx.read_cars(root, (0, 1))


def test_cars_indices_go_through_list_txt_and_only_selected_files_are_needed(tmp_path):
    """The release's list.txt orders the models; a folder with only the selected files is
    enough, and a selected file that is missing is named."""
    names = [f"car_{k:03d}_mesh" for k in range(1, 41)]  # 40 listed, files for 001, 003, 005
    root = make_cars(tmp_path, n_files=3, n_az=2, n_el=1, listed=names[::-1])  # order: sorted
    x, y, _ = dx.read_cars(root, (4, 0, 2))  # car_005, car_001, car_003
    assert [int(v) for v in x[::2, 0, 5, 5]] == [20, 0, 10]  # channel 0 = 10 * file number
    with pytest.raises(UserError, match="selects car_002_mesh.mat, which is not in"):
        dx.read_cars(root, (0, 1))
    with pytest.raises(UserError, match="model index 40.*lists 40 models"):
        dx.read_cars(root, (40, 0))
    # without list.txt: the sorted files there
    bare = make_cars(tmp_path / "bare", n_files=3, n_az=2, n_el=1, listed=[])
    xb, _, _ = dx.read_cars(bare, (2, 0))
    assert [int(v) for v in xb[::2, 0, 5, 5]] == [20, 0]


@pytest.mark.skipif(not have_shared("cars/list.txt"), reason="no shared 3D-Cars renders")
def test_real_cars_are_the_official_ten_models():
    """The shared folder's ten real models under the official indices: 960 images, the
    release's car_056 first (index 54 of the 183 sorted names)."""
    from scipy.io import loadmat

    root = os.path.dirname(os.path.join(SHARED, "cars"))
    x, y, view = dx.read_with_views("cars", root, cfg_for("cars"))
    assert x.shape == (960, 3, 64, 64) and x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), [96] * 10)
    first = loadmat(os.path.join(root, "cars", "car_056_mesh.mat"))["im"]  # (128, 128, 3, 24, 4)
    view0 = torch.from_numpy(first[:, :, :, 0, 0].transpose(2, 0, 1).copy()).float()[None]
    small = F.interpolate(view0, size=64, mode="bilinear", antialias=True, align_corners=False)
    assert np.abs(small[0].numpy() - x[0].astype(np.float64)).mean() < 2.0
    assert x.std() > 20  # real renders, not a flat stand-in


def test_list_settings_are_checked():
    assert cfg_for("cars", cars_models="[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]").cars_models[0] == 1
    with pytest.raises(UserError, match="cars_models"):
        cfg_for("cars", cars_models=[1.5] * 10)
    with pytest.raises(UserError, match="distinct"):
        cfg_for("cars", cars_models=[1] * 10)
    with pytest.raises(UserError, match="lists 3 models"):
        cfg_for("cars", cars_models=[1, 2, 3])

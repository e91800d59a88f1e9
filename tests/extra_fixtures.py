"""Fixtures in the public raw formats of COIL-20, 3D-Chairs and 3D-Cars, written into temporary
folders by the tests (never committed), plus small subsets of the shared real datasets.

- ``make_chairs``: ``rendered_chairs/<model>/renders/image_<k>_p<pitch>_t<theta>_r096.png``,
  600x600 RGB on white; model ``m`` draws a square of colour ``chair_colour(m)`` in the centre,
  and a black frame in the outer 60 pixels (outside the central 2/3 crop).
- ``make_cars``: ``cars/car_<NNN>_mesh.mat`` with ``im`` uint8 (128, 128, 3, n_az, n_el):
  channel 0 = 10 * file index, channel 1 = 10 * azimuth, channel 2 = 50 * elevation.
- ``make_coil_png``: ``coil-20-proc/obj<N>__<pose>.png`` 128x128 gray from given arrays.
"""

from __future__ import annotations

import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared", "datasets")


def chair_colour(m: int):
    return ((37 * m) % 200 + 20, (91 * m) % 200 + 20, (53 * m) % 200 + 20)


def chair_name(m: int) -> str:
    return f"{m:02d}_{(m * 2654435761) % 16 ** 8:08x}"  # hash-like folder names, sortable by m


def make_chairs(root, n_models=11, views=((20, 0), (20, 90), (30, 0), (30, 90))):
    from PIL import Image

    base = os.path.join(str(root), "rendered_chairs")
    for m in range(n_models):
        d = os.path.join(base, chair_name(m), "renders")
        os.makedirs(d)
        for k, (p, t) in enumerate(views):
            a = np.full((600, 600, 3), 255, dtype=np.uint8)
            a[:60], a[-60:], a[:, :60], a[:, -60:] = 0, 0, 0, 0
            a[200:400, 200 + t // 10:400 + t // 10] = chair_colour(m)
            Image.fromarray(a).save(os.path.join(d, f"image_{k:03d}_p{p:03d}_t{t:03d}_r096.png"))
    os.makedirs(os.path.join(base, "not_a_model"))  # no renders/: ignored
    with open(os.path.join(base, "all_chair_names.mat"), "wb") as f:
        f.write(b"not used")
    return str(root)


def make_cars(root, n_files=12, n_az=24, n_el=4, float_im=False, listed=None):
    """``n_files`` models ``car_001``, ``car_003``, ... (odd numbers); ``list.txt`` names
    ``listed`` (default: the files made; [] writes no list.txt)."""
    from scipy.io import savemat

    d = os.path.join(str(root), "cars")
    os.makedirs(d, exist_ok=True)
    az = np.arange(n_az).reshape(1, 1, n_az, 1)
    el = np.arange(n_el).reshape(1, 1, 1, n_el)
    for i in range(n_files):
        im = np.zeros((128, 128, 3, n_az, n_el), dtype=np.uint8)
        im[:, :, 0] = 10 * i
        im[:, :, 1] = np.broadcast_to(10 * az, (128, 128, n_az, n_el))
        im[:, :, 2] = np.broadcast_to(50 * el, (128, 128, n_az, n_el))
        if float_im:
            im = im.astype(np.float32) / 255.0
        savemat(os.path.join(d, f"car_{2 * i + 1:03d}_mesh.mat"), {"im": im})
    names = [f"car_{2 * i + 1:03d}_mesh" for i in range(n_files)] if listed is None else listed
    if names:
        with open(os.path.join(d, "list.txt"), "w") as f:
            f.write("".join(n + "\n" for n in names))
    return str(root)


def make_coil_png(root, images, labels, poses):
    from PIL import Image

    d = os.path.join(str(root), "coil-20-proc")
    os.makedirs(d, exist_ok=True)
    for img, y, p in zip(images, labels, poses):
        Image.fromarray(img).save(os.path.join(d, f"obj{y + 1}__{p}.png"))
    return str(root)


def real_coil_subset(root, poses=(0, 18, 36, 54)):
    """A coil20.npz with the given poses of all 20 objects, cut from the shared real file."""
    with np.load(os.path.join(SHARED, "coil20.npz")) as f:
        keep = np.isin(f["poses"], poses)
        images, labels, p = f["images"][keep], f["labels"][keep], f["poses"][keep]
    os.makedirs(str(root), exist_ok=True)
    np.savez(os.path.join(str(root), "coil20.npz"), images=images, labels=labels, poses=p)
    return str(root), images, labels, p


def real_cifar_subset(root, n_train=64, n_test=40):
    """A cifar10.npz holding every (50000 / n_train)-th real training image and every
    (10000 / n_test)-th test image (all classes present: the shared file is sorted by class)."""
    with np.load(os.path.join(SHARED, "cifar10.npz")) as f:
        xtr, ytr = f["x_train"], f["y_train"]
        xte, yte = f["x_test"], f["y_test"]
    s_tr, s_te = len(xtr) // n_train, len(xte) // n_test
    os.makedirs(str(root), exist_ok=True)
    np.savez(os.path.join(str(root), "cifar10.npz"), x_train=xtr[::s_tr][:n_train],
             y_train=ytr[::s_tr][:n_train], x_test=xte[::s_te][:n_test],
             y_test=yte[::s_te][:n_test])
    return str(root)


def have_shared(name: str) -> bool:
    return os.path.isfile(os.path.join(SHARED, name))


# -- a tiny trained evaluation classifier, shared by the tests of one session ---------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def coil_subset(tmp_path_factory):
    """(data_root, images, labels, poses): poses 0 and 1 of all 20 real COIL-20 objects."""
    if not have_shared("coil20.npz"):
        pytest.skip("no shared coil20.npz")
    return real_coil_subset(tmp_path_factory.mktemp("coil"), poses=(0, 1))


@pytest.fixture(scope="session")
def coil_classifier(coil_subset, tmp_path_factory):
    """A COIL-20 ResNet-18 classifier file written by train_classifier.py's code path (1 epoch,
    20 training images, pose 1 held out). ResNet-18 (not the default ResNet-50) keeps the tests
    fast; configs that use it set classifier_arch: resnet18."""
    from codegan.evaluation.classifier import main

    out = str(tmp_path_factory.mktemp("clf") / "resnet18.pt")
    main(os.path.join(REPO, "COIL-20"), [f"--data_root={coil_subset[0]}", "--epochs=1",
                                         "--batch_size=10", "--holdout_every=2", f"--out={out}",
                                         "--device=cpu", "--classifier_arch=resnet18",
                                         "--progress=false"])
    return out

"""The repository's dataset folders: where they are, and the networks their ``models.py`` build.

A dataset folder (``MNIST/``, ``CIFAR-10/``, ...) holds ``param.yml`` and ``models.py``, whose
``build_nets(cfg, encoders=True)`` returns the folder's ``codegan.nets.Nets``: G, D and, when
``encoders`` is true, CoDeGAN's encoders. Checkpoints record the folder
that built them; ``find_dataset_dir`` finds it again after a checkout moved.
"""

from __future__ import annotations

import importlib.util
import inspect
import os

from .errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10",
           "coil20": "COIL-20", "chairs": "3D-Chairs", "cars": "3D-Cars",
           "dsprites": "dSprites"}


def repo_dataset_dir(folder_name: str) -> str:
    """``<repository>/<folder_name>``."""
    return os.path.join(REPO, folder_name)


def dataset_folder(dataset: str) -> str:
    """This repository's folder of ``dataset`` (e.g. coil20 -> <repo>/COIL-20)."""
    return repo_dataset_dir(FOLDERS[dataset])


def load_models(dataset_dir: str):
    """Import ``<dataset_dir>/models.py`` (it must define ``build_nets(cfg, encoders=True) ->
    Nets``)."""
    path = os.path.join(dataset_dir, "models.py")
    if not os.path.isfile(path):
        raise UserError(f"{path} not found: a dataset folder needs models.py with "
                        f"build_nets(cfg, encoders=True).")
    name = "codegan_models_" + os.path.basename(os.path.normpath(dataset_dir)).replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "build_nets"):
        raise UserError(f"{path} defines no build_nets(cfg, encoders=True).")
    if "encoders" not in inspect.signature(module.build_nets).parameters:
        module.build_nets = _encoders_argument(module.build_nets)
    return module


def _encoders_argument(build_nets):
    """A ``build_nets(cfg)`` written before the ``encoders`` argument, given it: it builds the
    encoders always, and they are dropped when not asked for (so they still draw weights from
    the seed before a method's heads, as they did)."""
    def build(cfg, encoders=True):
        nets = build_nets(cfg)
        if not encoders:
            nets.drop_encoders()
        return nets
    return build


def find_dataset_dir(state: dict) -> str:
    """The dataset folder whose models.py built a checkpoint: the recorded path, else the folder
    of the same name in this repository (a moved or re-cloned checkout)."""
    recorded = state.get("dataset_dir", "")
    if os.path.isfile(os.path.join(recorded, "models.py")):
        return recorded
    here = repo_dataset_dir(os.path.basename(os.path.normpath(recorded)))
    if os.path.isfile(os.path.join(here, "models.py")):
        return here
    raise UserError(f"cannot find the models.py that built this checkpoint (was {recorded}).")

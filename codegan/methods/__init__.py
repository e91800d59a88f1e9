"""Methods: what each disentangling GAN computes on the shared training loop.

``METHODS`` maps the ``method`` setting to its class (a ``codegan.methods.base.Method``). Adding
a method is a module here and one line below; the loop (``codegan.training.loop``) and the
evaluation do not change. The losses the methods compose live in ``losses``; CoDeGAN's per-mode
rules of the official code in ``codegan_rules``.
"""

from ..folders import load_models
from .base import Method, RepresentView
from .clustergan import ClusterGAN
from .codegan import CoDeGAN
from .congan import ConGAN
from .infogan import InfoGAN
from .infogan_cr import InfoGANCR
from .mathieu16 import Mathieu16

METHODS: dict[str, type[Method]] = {m.name: m for m in (CoDeGAN, InfoGAN, ClusterGAN, InfoGANCR,
                                                      Mathieu16, ConGAN)}


def build_method_nets(dataset_dir: str, cfg):
    """The dataset folder's networks (its ``models.py``: G, D, and the encoders where the
    method asks for them, ``Method.folder_encoders``) with the heads of ``cfg.method`` attached
    (``Method.attach``): what a run of that method trains and its checkpoints hold."""
    models = load_models(dataset_dir)
    method = METHODS[cfg.method]
    nets = models.build_nets(cfg, encoders=method.folder_encoders)
    method.attach(nets, cfg, lambda: models.build_nets(cfg, encoders=False))
    return nets


__all__ = ["METHODS", "Method", "RepresentView", "CoDeGAN", "InfoGAN", "ClusterGAN", "InfoGANCR",
           "Mathieu16", "ConGAN", "build_method_nets"]

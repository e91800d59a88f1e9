"""Methods: what each disentangling GAN computes on the shared training loop.

``METHODS`` maps the ``method`` setting to its class (a ``codegan.methods.base.Method``). Adding
a method is a module here and one line below; the loop (``codegan.training.loop``) and the
evaluation do not change. The losses the methods compose live in ``losses``; CoDeGAN's per-mode
rules of the official code in ``codegan_rules``.
"""

from .base import Method
from .codegan import CoDeGAN

METHODS: dict[str, type[Method]] = {CoDeGAN.name: CoDeGAN}

__all__ = ["METHODS", "Method", "CoDeGAN"]

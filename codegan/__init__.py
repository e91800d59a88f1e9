"""CoDeGAN: Contrastive Disentanglement for Generative Adversarial Networks (arXiv 2103.03636).

The shared engine: configuration, data, latents, losses, augmentation, networks, the training
loop, evaluation, sampling and checkpoints. Each dataset folder of the repository holds only its
settings (``param.yml``) and its networks (``models.py``).
"""

__version__ = "0.1.0"

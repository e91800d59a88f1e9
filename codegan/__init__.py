"""CoDeGAN: Contrastive Disentanglement for Generative Adversarial Networks (arXiv 2103.03636).

The shared engine. Each dataset folder of the repository holds only its settings
(``param.yml``) and its networks (``models.py``). The parts, lowest first; each imports only
parts listed before it (``tests/test_import_graph.py`` keeps it so):

1. ``errors``, ``latent`` (the prior of z and c), ``device``, ``folders`` (the dataset folders
   and their ``models.py``), ``checkpoint`` (complete, atomically written snapshots);
2. ``data`` (datasets in memory, augmentation, the labelled subset), ``nets`` (networks),
   ``metrics`` (clustering scores, IS, FID);
3. ``methods`` (what each method computes: its losses, steps and rules; CoDeGAN today);
4. ``config`` (every setting, checked; it knows the datasets and the methods by name);
5. ``evaluation`` (E-based and G-based protocols, sampling, IS / FID, figures and the
   comparison report);
6. ``pretraining`` (SimCLR and MAML pre-training of E_c) and ``training`` (the loop every
   method runs on, run folders, the train / test commands);
7. ``compare`` (``python -m codegan.compare``: every method x seed trained, one report).
"""

__version__ = "0.1.0"

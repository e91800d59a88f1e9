"""Disentanglement metrics of a representation against ground-truth factors, by InfoGAN-CR's
procedures (its ``gan/metric.py`` and ``load_data.py``, read from fjxmlzn/InfoGAN-CR), each
module naming where google-research/disentanglement_lib's differ.

dHSIC (``dhsic``) is InfoGAN-CR's eighth dSprites number: the joint dependence of the code's
dimensions on real images, lower is better; it reads no factor labels.

One signature for all: ``score(represent, factors, *, seed=0, **protocol) -> dict``, with
``represent(images) -> (n, d)`` codes and ``factors`` a ground-truth sampler (``sizes``,
``sample_factors(n, rng)``, ``images(idx)``, optional ``categorical``; see ``_common``). The
defaults are the published dSprites protocol; the dict's first key is the headline number.
The same seed gives every metric the same evaluation images, as in InfoGAN-CR.

Reference checks: no implementation of InfoGAN-CR's variants is on the package registry
(``latte-metrics`` is absent). ``disent`` 0.8.0 ports disentanglement_lib; where the two protocols
compute the same thing from the same codes (MIG's discretiser, MI and gap; SAP's continuous score
matrix and top-two gap; DCI's disentanglement and per-factor completeness from an importance
matrix) ``bench/crosscheck_disent.py`` compares them: equal to rounding
(``bench/results/crosscheck_disent.txt``). It is a bench script, not a test, because disent needs
lightning, which the project does not install. The rest is tested by known answers.
"""

from . import beta_vae, dci, dhsic, explicitness, factor_vae, mig, modularity, sap
from .synthetic import SyntheticFactors

# name -> score function; the headline key of each result is given beside it
METRICS = {
    "factor_vae": factor_vae.score,  # "factor_vae"
    "beta_vae": beta_vae.score,  # "beta_vae"
    "sap": sap.score,  # "sap"
    "mig": mig.score,  # "mig"
    "modularity": modularity.score,  # "modularity"
    "explicitness": explicitness.score,  # "explicitness"
    "dci": dci.score,  # "dci_disentanglement" (and "dci_completeness")
    "dhsic": dhsic.score,  # "dhsic": the code's own dependence, no factor labels (InfoGAN-CR)
}

__all__ = ["METRICS", "SyntheticFactors", "beta_vae", "dci", "dhsic", "explicitness", "factor_vae",
           "mig", "modularity", "sap"]

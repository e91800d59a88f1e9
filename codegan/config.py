"""Settings: one schema for every dataset folder's ``param.yml``, plus ``--key=value`` overrides.

Every key is declared once in ``SCHEMA`` with its type, default and the check it must pass.
``load_config`` reads a ``param.yml``, applies command-line overrides and validates the result
before anything is trained: an unknown or misspelt key, a wrong type or an impossible value is a
``UserError`` whose message names the key and the fix.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from typing import Any

import yaml

from .errors import UserError
from .keys import Key, keys_with_roles, nonneg, pos, unit

# the names of codegan.metrics.disentanglement.METRICS (kept here: reading settings imports no
# torch or scikit-learn; tests/test_dsprites_infogan_cr.py checks the two agree)
DISENTANGLEMENT_METRICS = ("factor_vae", "beta_vae", "sap", "mig", "modularity", "explicitness",
                           "dci", "dhsic")
# the spectral norm's power-step orders, codegan.nets.spectral.ORDERS (kept here too: reading
# settings imports no torch, and nets cannot import config, which imports the methods;
# tests/test_spectral_norm.py checks the two agree)
SN_POWER_ORDERS = ("v_first", "u_first")

RUN = {
    "dataset": Key("str", None, "which dataset the folder trains on",
                   choices=("mnist", "fashion_mnist", "cifar10", "coil20", "chairs", "cars",
                            "dsprites")),
    "mode": Key("str", "unsupervised", "a name for the run folder (runs/00000-<dataset>-<mode>); "
                "a name listed under param.yml's modes: also applies its settings", role="name"),
    "method": Key("str", "codegan", "the training method, a name in codegan.methods.METHODS"),
    "data_root": Key("str", None, "folder with the dataset files; else $CODEGAN_DATA, else ./data",
                     optional=True, role="place"),
    "device": Key("str", "auto", "auto (CUDA when present, else CPU), cpu, cuda or cuda:N",
                  role="place"),
    "seed": Key("int", 0, "seed of every random draw", nonneg, ">= 0"),
    "out": Key("str", "runs", "folder that holds the numbered run folders", role="place"),
    "resume": Key("str", None, "checkpoint to continue from (a new run folder is made)",
                  optional=True),
    "max_step": Key("int", None, "number of epochs (passes over the real training set)",
                    pos, "> 0", role="budget"),
    "max_iters": Key("int", None, "stop after this many iterations in total (smoke runs, budgets)",
                     pos, "> 0", optional=True, role="budget"),
    "test_step": Key("int", 10, "evaluate every this many epochs", pos, "> 0", role="schedule"),
    "save_step": Key("int", 10, "checkpoint every this many epochs", pos, "> 0", role="files"),
    "test_iters": Key("int", None, "also evaluate every this many iterations", pos, "> 0",
                      optional=True, role="schedule"),
    "save_iters": Key("int", None, "also checkpoint every this many iterations", pos, "> 0",
                      optional=True, role="files"),
    "keep_checkpoints": Key("int", 0, "keep only the newest N checkpoints (0: keep all)",
                            nonneg, ">= 0", role="files"),
    "progress": Key("bool", True, "show a progress bar", role="place"),
    "rollback_on_divergence": Key("int", 0, "when a loss turns NaN or infinite, go back to the "
                                  "last checkpoint with the learning rates times "
                                  "rollback_lr_factor, at most this many times (0: stop the run)",
                                  nonneg, ">= 0"),
    "rollback_lr_factor": Key("float", 0.5, "learning-rate factor of each rollback",
                              lambda v: 0 < v < 1, "in (0, 1)"),
    "finite_check_every": Key("int", 1, "stop the run when a loss is NaN or infinite, checked "
                              "every this many iterations (one host synchronisation each); "
                              "weights are checked before every checkpoint. 0: losses unchecked",
                              nonneg, ">= 0"),
}

MODEL = {
    "zn_dim": Key("int", None, "size of the continuous code z", pos, "> 0"),
    "zc_dim": Key("int", None, "number of class codes K (= number of classes); 0: no class "
                  "code (only for methods without one: InfoGAN / InfoGAN-CR on dSprites)",
                  nonneg, ">= 0"),
    "fc_dim": Key("int", None, "size of E_c's L2-normalised feature", pos, "> 0"),
    "z_prior": Key("str", "normal", "distribution of each entry of z: normal N(0, z_scale^2) "
                   "(CoDeGAN, ClusterGAN) or uniform U(-z_scale, z_scale) (InfoGAN)",
                   choices=("normal", "uniform")),
    "z_scale": Key("float", 1.0, "scale of z's prior (std of the normal, half-width of the "
                   "uniform)", pos, "> 0"),
    "shared_encoder": Key("bool", False, "one encoder trunk serves E_z and E_c (MNIST, Fashion)"),
    # v_first: torch.nn.utils.spectral_norm, the official code's (codegan/nets/spectral.py)
    "sn_power_order": Key("str", "v_first", "spectral norm (CIFAR-10 D, dSprites D and E): the "
                          "power step of each training call updates v, then u, from random "
                          "start vectors (v_first: torch.nn.utils.spectral_norm, the official "
                          "code's) or u, then v, after 16 start steps (u_first: "
                          "torch.nn.utils.parametrizations.spectral_norm)",
                          choices=SN_POWER_ORDERS),
}

LOSSES = {
    "gan_loss": Key("str", "wgan-gp", "adversarial loss: wgan-gp, hinge, or ns (the standard "
                    "GAN's cross-entropy, non-saturating for G: InfoGAN, InfoGAN-CR)",
                    choices=("wgan-gp", "hinge", "ns")),
    "gp_weight": Key("float", 10.0, "gradient-penalty weight of WGAN-GP", nonneg, ">= 0"),
}

OPTIMISATION = {
    "lr": Key("float", None, "Adam learning rate of G and the encoders (and of D unless lr_d "
              "is set)", pos, "> 0"),
    "lr_d": Key("float", None, "Adam learning rate of D (and the heads that train with it); "
                "null: lr", pos, "> 0", optional=True),
    "adam_betas": Key("floats", [0.5, 0.9], "Adam's (beta1, beta2)",
                      lambda v: all(0 <= b < 1 for b in v), "each in [0, 1)", length=2),
    "weight_decay": Key("float", 0.0, "Adam weight decay on G and the encoders", nonneg, ">= 0"),
    "lr_decay": Key("bool", False, "linear learning-rate decay (CIFAR-10)"),
    "lr_decay_iters": Key("int", 900000, "lr falls by lr * lr_decay_every / lr_decay_iters after "
                          "every lr_decay_every-th iteration of each epoch (official CIFAR-10: "
                          "2e-4 / 180000 after idx % 5 == 4)",
                          pos, "> 0"),
    "lr_decay_every": Key("int", 5, "apply the decay every this many iterations", pos, "> 0"),
    "use_ema": Key("bool", False, "keep an exponential moving average of G for sampling/eval"),
    "ema_decay": Key("float", 0.9999, "EMA decay", unit, "in [0, 1)"),
    "ema_start": Key("int", 5000, "iteration at which the EMA starts", nonneg, ">= 0"),
}

BATCHES = {
    "g_batch_size": Key("int", None, "latents per G step", pos, "> 0"),
    "d_batch_size": Key("int", None, "real images (and as many fakes) per D step", pos, "> 0"),
    "critic": Key("int", 1, "G and E step at the iterations of each epoch whose index is a "
                  "multiple of critic (official idx % critic == 0)", pos, "> 0"),
}

EVALUATION = {
    "eval_protocol": Key("str", "e-based", "e-based: k-means on E_c features of the real test set; "
                         "g-based: a real-data classifier scores generated images per code",
                         choices=("e-based", "g-based")),
    "kmeans_runs": Key("int", 10, "seeded single-init k-means runs per evaluation", pos, "> 0",
                       role="evaluation"),
    "eval_batch_size": Key("int", 500, "images per encoder call in evaluation", pos, "> 0",
                           role="evaluation"),
    "grid_per_class": Key("int", 10, "columns of the sample grids written at each evaluation "
                          "(images per class code)", pos, "> 0"),
    # dSprites only: disentanglement metrics at every periodic evaluation (metrics.jsonl),
    # at small protocol sizes (test.py scores a checkpoint at the published ones)
    "train_metrics": Key("strs", [], "dSprites: disentanglement metrics computed at each "
                         "periodic evaluation (names of codegan.metrics.disentanglement.METRICS; "
                         "[]: none)",
                         lambda v: set(v) <= set(DISENTANGLEMENT_METRICS),
                         f"names among {', '.join(DISENTANGLEMENT_METRICS)}"),
    "train_metric_n": Key("int", 2000, "dSprites: size of the training-time metrics' std and "
                          "labelled sets (InfoGAN-CR's protocol: 73,728)", pos, "> 0"),
    "train_metric_groups": Key("int", 50, "dSprites: groups of the training-time FactorVAE / "
                               "BetaVAE votes (InfoGAN-CR's protocol: 500)", pos, "> 0"),
    "train_metric_group_size": Key("int", 50, "dSprites: images per group of the training-time "
                                   "FactorVAE / BetaVAE (InfoGAN-CR's protocol: 100)",
                                   lambda v: v >= 2, ">= 2"),
    "train_metric_represent": Key("str", "zc", "dSprites: the code the training-time metrics "
                                  "score (as test.py's --represent)", choices=("zc", "z", "c")),
}

SPEED = {
    # All but `precision` and `compile` compute the same losses and updates as the plain path
    # (equal within float rounding; tests/test_fast_path.py checks it).
    "precision": Key("str", "float32", "float32; or bf16: bfloat16 autocast of the forward passes "
                     "(AMP on CUDA; on a CPU without native bf16 it is slower, not faster)",
                     choices=("float32", "bf16")),
    "fused_adam": Key("bool", True, "one fused kernel per Adam step instead of a loop of small ops"),
    "stack_d_batches": Key("bool", True, "D step: one D call on real and fake images together "
                           "(D without BatchNorm or spectral norm only)"),
    "channels_last": Key("bool", False, "NHWC memory layout for the networks"),
    "num_threads": Key("int", 0, "CPU threads of torch and k-means (0: the libraries' default; "
                       "1 is faster when other processes share the cores)", nonneg, ">= 0",
                       role="place"),
    "compile": Key("bool", False, "torch.compile G and the encoders (compile time counts)"),
    "cuda_graphs": Key("bool", False, "CUDA only: capture each branch of the iteration as a CUDA "
                       "graph after 3 eager iterations and replay it (same losses and updates; "
                       "ignored on the CPU; codegan.training.graphs)"),
}

START = {
    "load_path": Key("str", None, "checkpoint of an earlier run whose G and D start this run; "
                     "required where the official code loads pre_G / pre_D (Fashion-MNIST "
                     "pretrain / meta, CIFAR-10 few labels + pretrain / meta); 'scratch': start "
                     "them from random weights there (a documented difference)", optional=True),
}

DATA_SELECTION = {
    "chairs_models": Key("strs", None, "3D-Chairs: the rendered_chairs model folders used, in "
                         "label order (null: the first zc_dim folders in sorted order)",
                         lambda v: len(set(v)) == len(v), "distinct names", optional=True),
    "cars_models": Key("ints", [54, 141, 4, 7, 1, 25, 26, 24, 43, 23], "3D-Cars: 0-based "
                       "indices into the sorted car_*_mesh.mat files, in label order (official)",
                       lambda v: len(set(v)) == len(v) and min(v) >= 0, "distinct, >= 0"),
    "dsprites_test_images": Key("int", 10_000, "dSprites: size of the held-out evaluation "
                                "subset (a fixed seeded draw; the rest is the training set)",
                                pos, "> 0"),
    "classifier_arch": Key("str", "resnet50", "G-based evaluation: the real-data classifier's "
                           "network, a CIFAR-stem ResNet-50 (the official Classifier()) or "
                           "ResNet-18 (cheaper on CPUs)", choices=("resnet50", "resnet18"),
                           role="evaluation"),
    "classifier_path": Key("str", None, "G-based evaluation: the real-data classifier file "
                           "(train_classifier.py), relative to the dataset folder; null: "
                           "classifier/<classifier_arch>.pt", optional=True, role="evaluation"),
    "g_eval_per_class": Key("int", 1000, "G-based evaluation: generated images per code c",
                            pos, "> 0", role="evaluation"),
    "g_eval_e_based": Key("bool", True, "G-based evaluation: also score the E-based numbers "
                          "(k-means on E_c's features of the real images, e_*); false skips "
                          "the encoding of every real image (the official code has none)"),
    "g_eval_assign": Key("str", "kmeans", "G-based evaluation: cluster the classifier outputs "
                         "with k-means, or take its argmax as the cluster (3D-Cars, official)",
                         choices=("kmeans", "argmax"), role="evaluation"),
    "g_eval_features": Key("str", "logits", "G-based evaluation: what k-means clusters, the "
                           "classifier's raw logits (official) or its softmax probabilities",
                           choices=("logits", "softmax"), role="evaluation"),
}

# the shared settings, in groups (docs/settings.md lists them so): the loop, G and D, evaluation
GROUPS: dict[str, dict[str, Key]] = {
    "run": RUN,
    "model": MODEL,
    "losses": LOSSES,
    "optimisation": OPTIMISATION,
    "batches": BATCHES,
    "evaluation": EVALUATION,
    "speed (bench/bench_speed.py switches each off in turn)": SPEED,
    "start from an earlier run": START,
    "data selection of the 3D sets and the G-based protocol": DATA_SELECTION,
}
SCHEMA: dict[str, Key] = {k: v for group in GROUPS.values() for k, v in group.items()}
# the method a folder's param.yml describes at its top level (the official code's); its own
# settings (codegan.methods.codegan_settings) are left out of another method's run
BASE = SCHEMA["method"].default

# settings the code no longer has, and why: a run's stored config.yml (or checkpoint) that
# holds one still reads (the key is dropped: none of them changed what a run computes); a
# param.yml or command line that sets one is told to remove it
RETIRED = {
    "im2col_first_conv": "1-channel first convolutions as unfold + matmul were slower than "
                         "oneDNN's convolution on an idle CPU and on CUDA (bench/SPEED.md)",
}

# settings added after runs had been stored: the value that reproduces what a run stored
# without the key computed, for the runs whose maths the key changes (the others read the
# default). A stored config.yml or checkpoint that lacks one reads it so (``stored``): a resumed
# run keeps its maths, and --resume=auto does not take such a run for one of the new default
ADDED = {
    # CoDeGAN's T crops where aug_crop_scale is set
    "aug_crop_edge": ("image", lambda v: v.get("method", "codegan") == "codegan"
                      and v.get("aug_crop_scale") is not None),
    # the spectral norm of CIFAR-10's D (every method but ConGAN, whose nets are its own) and of
    # dSprites' D and E (not InfoGAN-CR's own networks)
    "sn_power_order": ("u_first", lambda v: (
        v.get("dataset") == "cifar10" and v.get("method") != "congan")
        or (v.get("dataset") == "dsprites" and not v.get("infogan_cr_nets"))),
}


def stored(values: dict) -> dict:
    """A run's stored settings (its config.yml, a checkpoint's ``config``) with each key added
    since (``ADDED``) set to what the run computed, where the key changes its maths, and, for a
    method other than CoDeGAN, without CoDeGAN's settings (runs stored them before they were
    CoDeGAN's own; the method never read them)."""
    old = {k: value for k, (value, applies) in ADDED.items()
           if k not in values and applies(values)}
    values = {**old, **values}
    return without_base_keys(values, str(values.get("method", BASE)))


def without_base_keys(values: dict, method: str) -> dict:
    """``values`` without the settings of ``BASE`` (CoDeGAN) that ``method`` does not read: a
    folder's param.yml holds CoDeGAN's settings at its top level, and another method's run
    neither reads nor stores them."""
    if method == BASE or method not in _methods():
        return values
    own = schema_for(method)
    return {k: v for k, v in values.items()
            if k in own or k not in _methods()[BASE].settings}


def required(spec: Key) -> bool:
    """Whether a dataset's param.yml must set the key: the paper's value has no sensible global
    default (a default of None that may not stay None)."""
    return spec.default is None and not spec.optional


class Config:
    """Validated settings. Attribute access (``cfg.beta_1``); ``to_dict()`` for saving."""

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Config is read-only; use replace()")

    def replace(self, **changes) -> "Config":
        return validate({**self._values, **changes})

    def to_dict(self) -> dict:
        return dict(self._values)

    def __repr__(self):
        return f"Config({self._values})"


def _methods() -> dict:
    from .methods import METHODS  # late: importing config needs no torch

    return METHODS


def keys_of_roles(*roles: str) -> set:
    """Every setting (shared, and each method's own) whose declared role (``Key.role``,
    ``codegan.keys.ROLES``) is one of ``roles``."""
    every = dict(SCHEMA)
    for m in _methods().values():
        every.update(m.settings)
    return keys_with_roles(every, roles)


def schema_for(method: str) -> dict:
    """The shared ``SCHEMA`` plus the settings ``method`` declares (``Method.settings``)."""
    methods = _methods()
    if method not in methods:
        raise UserError(f"'method' is {method!r}; choose one of {', '.join(methods)}.")
    return {**SCHEMA, **methods[method].settings}


def _suggest(key: str, schema: dict | None = None) -> str:
    owners = [name for name, m in _methods().items() if key in m.settings]
    if owners:
        return f" It is a setting of method {' and '.join(owners)}: add --method={owners[0]}."
    close = difflib.get_close_matches(key, (schema or SCHEMA).keys(), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def _coerce(key: str, value: Any, source: str, schema: dict | None = None) -> Any:
    spec = (schema or SCHEMA)[key]
    where = source if source.startswith("--") else f"'{key}' (from {source})"
    if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
        if spec.optional:
            return None
        raise UserError(f"{where} must be set; it cannot be null. {spec.doc}.")
    t = spec.type
    try:
        if t == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
                return value.lower() in ("true", "yes")
            raise ValueError
        if t == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(value)
            if isinstance(value, int):
                return value
            raise ValueError
        if t == "float":
            if isinstance(value, bool):
                raise ValueError
            v = float(value)  # also parses '1e-4', which YAML 1.1 reads as a string
            if not math.isfinite(v):
                raise ValueError
            return v
        if t == "str":
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if t in ("floats", "ints", "strs"):
            if isinstance(value, str):
                value = yaml.safe_load(value)
            if not isinstance(value, (list, tuple)):
                raise ValueError
            if t == "floats":
                v = [float(x) for x in value]
            elif t == "ints":
                if any(isinstance(x, bool) or not float(x).is_integer() for x in value):
                    raise ValueError
                v = [int(x) for x in value]
            else:
                if any(isinstance(x, (list, dict)) for x in value):
                    raise ValueError
                v = [str(x) for x in value]
            if spec.length is not None and len(v) != spec.length:
                raise ValueError
            return v
    except (TypeError, ValueError):
        pass
    want = {"bool": "true or false", "int": "a whole number", "float": "a number",
            "str": "a string", "floats": f"a list of {spec.length or ''} numbers like [0.5, 0.9]",
            "ints": "a list of whole numbers like [54, 141, 4]",
            "strs": "a list of names like [name1, name2]"}[t]
    raise UserError(f"{where} is {value!r}, but must be {want}. {spec.doc}.")


def validate(values: dict, source: str = "settings", cli_keys=()) -> Config:
    """Type-check, fill defaults, and check each value and the cross-key rules. The keys are
    the shared ``SCHEMA``'s and those of the method named by ``values['method']``. A bad value
    of a key in ``cli_keys`` is reported as the ``--key`` option it came from."""
    schema = schema_for(str(values.get("method", SCHEMA["method"].default)))
    values = {k: v for k, v in values.items() if k not in RETIRED}  # a stored config.yml
    for key in values:
        if key not in schema:
            raise UserError(f"unknown setting '{key}' in {source}.{_suggest(key, schema)} "
                            f"Remove it or fix its name; docs/settings.md lists every setting.")
    out = {}
    for key, spec in schema.items():
        if key in values:
            out[key] = _coerce(key, values[key], f"--{key}" if key in cli_keys else source,
                               schema)
        elif required(spec):
            raise UserError(f"'{key}' is missing from {source}; add '{key}: <value>' "
                            f"({spec.doc}).")
        else:
            out[key] = spec.default
    for key, spec in schema.items():
        v = out[key]
        if v is None:
            continue
        if spec.choices and v not in spec.choices:
            raise UserError(f"'{key}' is {v!r}; choose one of {', '.join(spec.choices)}.")
        if spec.check and not spec.check(v):
            raise UserError(f"'{key}' is {v!r}, but must be {spec.need} ({spec.doc}).")
    _check_rules(out)
    return Config(out)


def _check_rules(c: dict) -> None:
    from .data.datasets import DATASETS  # late: importing config needs no torch

    n_classes = DATASETS[c["dataset"]].num_classes
    method = _methods()[c["method"]]
    if c["train_metrics"] and c["dataset"] != "dsprites":
        raise UserError(f"'train_metrics' needs ground-truth factors, which only dsprites has; "
                        f"{c['dataset']} trains without them: set train_metrics: [].")
    if c["zc_dim"] == 0 and not method.class_code_optional:
        optional = [m for m, cls in _methods().items() if cls.class_code_optional]
        raise UserError(f"'zc_dim' is 0 (no class code), which only {', '.join(optional)} "
                        f"allow; {c['method']} needs one: set zc_dim: {n_classes}.")
    if c["zc_dim"] not in (0, n_classes):
        raise UserError(f"'zc_dim' is {c['zc_dim']} but {c['dataset']} has {n_classes} classes; "
                        f"set zc_dim: {n_classes}.")
    dev = c["device"]
    if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise UserError(f"'device' is {dev!r}; use auto, cpu, cuda or cuda:N.")
    for key, ds in (("chairs_models", "chairs"), ("cars_models", "cars")):
        if c["dataset"] == ds and c[key] is not None and len(c[key]) != n_classes:
            raise UserError(f"'{key}' lists {len(c[key])} models but {ds} uses {n_classes} "
                            f"classes (zc_dim); list exactly {n_classes}.")
    _methods()[c["method"]].check(c)


def parse_overrides(argv: list[str]) -> dict:
    """``['--beta_1=50', '--device=cpu']`` -> ``{'beta_1': 50, 'device': 'cpu'}`` (YAML-typed)."""
    out = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise UserError(f"cannot read argument {arg!r}: write overrides as --key=value, "
                            f"e.g. --beta_1=50 --max_iters=200.")
        key, text = arg[2:].split("=", 1)
        key = key.replace("-", "_")
        try:
            out[key] = yaml.safe_load(text) if text != "" else None
        except yaml.YAMLError:
            out[key] = text
    return out


def read_yaml(path: str) -> dict:
    if not os.path.isfile(path):
        raise UserError(f"settings file {path} not found; run from a dataset folder "
                        f"(e.g. cd MNIST) or pass --config=PATH.")
    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must be a mapping of 'key: value' lines.")
    return data


def load_config(yml_path: str, overrides: dict | None = None) -> Config:
    """Read ``param.yml``, apply the chosen method's published settings, then overrides.

    Precedence, lowest first: the schema's defaults; ``param.yml``'s keys (the folder's
    CoDeGAN settings and what all methods share); the method's published settings
    (``Method.published_settings(dataset)``, nothing for CoDeGAN); the mapping under the
    method's name in ``param.yml`` (``infogan: {lr: 2.0e-4}``), where present; the settings of
    the chosen ``mode`` under ``param.yml``'s ``modes:`` (``modes: {self: {pretrain: true}}``:
    the paper's other modes of the folder), where it is listed there; the command line.
    """
    values = read_yaml(yml_path)
    methods = _methods()
    sections = {name: values.pop(name) for name in list(values) if name in methods}
    modes = mode_settings(values.pop("modes", None) or {}, yml_path)
    overrides = dict(overrides or {})
    method = str(overrides.get("method", values.get("method", BASE)))
    mode = str(overrides.get("mode", values.get("mode", SCHEMA["mode"].default)))
    schema = schema_for(method)
    # the top level describes the folder's CoDeGAN; a command line given to every method of a
    # comparison sets CoDeGAN's settings for CoDeGAN alone
    values = without_base_keys(values, method)
    kept = without_base_keys(overrides, method)
    left_out = sorted(set(overrides) - set(kept))
    if left_out:
        print(f"note: {', '.join('--' + k for k in left_out)}: settings of {BASE}, which method "
              f"{method} does not read; left out of its run.", file=sys.stderr)
    overrides = kept
    foreign = [k for k in modes.get(mode, {}) if k not in schema]
    if foreign:
        raise UserError(f"mode '{mode}' of {yml_path} sets {', '.join(foreign)}: settings of "
                        f"{BASE}, which method {method} does not read. Run the mode with "
                        f"method {BASE}, or choose another mode for {method}.")
    for name, section in sections.items():
        if not isinstance(section, dict):
            raise UserError(f"'{name}' in {yml_path} must be a mapping of that method's "
                            f"settings, e.g. '{name}: {{lr: 1.0e-4}}'.")
        own = {**SCHEMA, **methods[name].settings}
        for key in section:
            if key not in own:
                raise UserError(f"unknown setting '{key}' under '{name}' in {yml_path}."
                                f"{_suggest(key, own)} Remove it or fix its name.")
    for key in [*values, *overrides]:
        if key in RETIRED:
            raise UserError(f"'{key}' is no longer a setting ({RETIRED[key]}); remove it from "
                            f"{yml_path if key in values else 'the command line'}.")
    for key in values:
        if key not in schema:
            raise UserError(f"unknown setting '{key}' in {yml_path}.{_suggest(key, schema)} "
                            f"Remove it or fix its name.")
    for key in overrides:
        if key not in schema:
            raise UserError(f"unknown option --{key}.{_suggest(key, schema)} "
                            f"Options are the keys of param.yml (plus --config and --resume).")
    dataset = values.get("dataset")
    published = methods[method].published_settings(dataset) if dataset else {}
    return validate({**values, **published, **sections.get(method, {}), **modes.get(mode, {}),
                     **overrides}, source=os.path.basename(yml_path), cli_keys=set(overrides))


def folder_modes(dataset_dir: str) -> dict:
    """The ``modes:`` of a dataset folder's ``param.yml``: ``{mode name: {setting: value}}``."""
    path = os.path.join(dataset_dir, "param.yml")
    return mode_settings(read_yaml(path).get("modes") or {}, path)


def mode_settings(modes, yml_path: str) -> dict:
    """``param.yml``'s ``modes:`` mapping checked: ``{mode name: {setting: value}}``, every
    setting a key of CoDeGAN's schema (a mode is a way to run the folder's CoDeGAN; a mode names
    no method and no other mode)."""
    if not isinstance(modes, dict) or not all(isinstance(v, dict) for v in modes.values()):
        raise UserError(f"'modes' in {yml_path} must map each mode's name to its settings, e.g. "
                        f"'modes: {{self: {{pretrain: true, chain_step: 200}}}}'.")
    schema = schema_for(BASE)
    for name, settings in modes.items():
        for key in settings:
            if key not in schema or key in ("mode", "method"):
                raise UserError(f"modes: {name}: '{key}' in {yml_path} is not a setting a mode "
                                f"can set.{_suggest(key, schema)} Remove it or fix its name.")
    return {str(k): v for k, v in modes.items()}

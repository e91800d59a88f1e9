"""What a method is to the training loop: the split of NVlabs/stylegan2-ada-pytorch between
``training_loop.py`` (here ``codegan.training.loop.Trainer``) and ``loss.py`` (here a method).

The loop owns what every method shares: the data stream, G and D with their optimisers, the run
folder, logging, the evaluation schedule, checkpoints, resume, Ctrl-C, the speed settings, the
learning-rate decay and the EMA of G. A method owns its maths: the networks and optimisers it
adds, its steps and their order, its losses, what it adds to a checkpoint, and what it infers
from real images (``represent``, the one hook of every evaluation). A method reads the loop's
attributes and never writes them: where its schedule differs it answers the loop's questions
(``batches_per_iteration``, ``lr_factor``, ``eval_data``). Adding a method is a module with a
``Method`` subclass and one line in ``codegan.methods.METHODS``; the loop and the evaluation do
not change.

What the loop offers a method (attributes of ``self.loop``): ``cfg``, ``device``, ``nets`` (the
dataset folder's ``Nets``), ``opt`` (every optimiser by name: ``G``, ``D`` and the method's),
``stream`` (the real minibatches, uint8), ``fresh_nets()`` (another G and D of the
folder, new weights), ``total_iters()`` (the run's last iteration), ``train_x`` / ``train_y``
(the training set, uint8, on the device), ``dataset_dir``, ``iteration`` (iterations done),
``iters_per_epoch``, ``stack_d`` (D may score real and fake images in one call: no batch
statistics, no spectral norm), and ``amp()`` (the autocast context of the forward passes),
``latents(n)`` (``z``, ``c`` from the prior), ``real(x_uint8)`` (images in the dataset's range),
``adam(params, weight_decay, lr)`` (the run's Adam), ``replace_optimizer(name, opt)`` (a
new optimiser in the place of one of the method's), ``update_ema()`` (call it after each
optimiser step of G).
``Method.minimize(opt_name, loss)`` takes one optimiser step.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn

from ..keys import Key


class Method:
    """One method's training maths on the shared loop. Subclasses set ``name`` (the value of the
    ``method`` setting) and define ``train_iteration`` and ``eval_encoder``; the other hooks
    default to a method that adds nothing beyond G and D."""

    name: str = ""
    # the method's own settings (beside the shared ``codegan.config.SCHEMA``), declared as the
    # shared ones are; they appear in the run's config.yml and take --key=value overrides
    settings: dict[str, Key] = {}
    # the method's published values of shared and own settings, for every dataset, and where its
    # authors published per-dataset values, per ``dataset`` (they override param.yml, which holds
    # CoDeGAN's; codegan.config.load_config)
    published: dict[str, Any] = {}
    published_by_dataset: dict[str, dict[str, Any]] = {}
    # whether the encoder's features end in a K-way class head (softmax): ``represent`` then
    # also gives its probabilities (``"class_probs"``), which the E-based evaluation scores as a
    # direct assignment (``assign_*`` metrics)
    class_head: bool = False
    # whether ``nets.G(z, c)`` generates images from the prior (sample grids, fakes for IS/FID,
    # the comparison's t-SNE of fakes); a decoder of encoded real images (split codes) does not
    noise_generator: bool = True
    # whether the method's networks need the encoders the dataset folder's models.py defines
    # (``build_nets(cfg, encoders=True)``: CoDeGAN's E or E_c / E_z); a method without them gets
    # G and D alone, and its heads draw their weights from the seed right after D's
    folder_encoders: bool = False
    # whether the method may run without a class code (``zc_dim: 0``: latents of continuous
    # codes and noise only, G's input ``z`` alone; InfoGAN / InfoGAN-CR on dSprites): the
    # E-based k-means of the class is then not applicable and is skipped
    class_code_optional: bool = False
    # the CoDeGAN paper's main table (arXiv 2103.03636) for this method, by ``dataset``: the
    # E-based protocol's ACC (purity: each k-means cluster takes its majority class) / NMI / ARI,
    # and ``rerun``: the CoDeGAN authors re-ran the method themselves (starred in the table)
    paper_scores: dict[str, dict[str, Any]] = {}
    # the same for the method in another mode of the folders (param.yml's ``modes:``), by mode,
    # then ``dataset`` (CoDeGAN's pre-trained "CoDeGAN (self)" rows)
    paper_scores_by_mode: dict[str, dict[str, dict[str, Any]]] = {}
    # what ``represent``'s entries are, in words, for the evaluations' protocol lines, by key
    # (``describe``); a key not named here reads "<name>'s <key> code"
    code_names: dict[str, str] = {"features": "encoder features"}

    @classmethod
    def published_settings(cls, dataset: str) -> dict:
        """The method's published settings for ``dataset``: general, then per-dataset."""
        return {**cls.published, **cls.published_by_dataset.get(dataset, {})}

    @classmethod
    def check(cls, c: dict) -> None:
        """Cross-key rules of the method's settings (``c``: every setting, validated one by
        one); raise ``UserError`` naming the key and the fix."""

    @classmethod
    def attach(cls, nets, cfg, fresh_nets: Callable[[], nn.Module]) -> None:
        """Give the folder's ``nets`` this method's networks, in place: drop what it does not
        train, add its heads as sub-modules (saved and loaded with the rest). ``nets`` holds the
        folder's encoders when ``folder_encoders`` is true. ``fresh_nets()`` builds another G
        and D of the folder (new weights), for heads that reuse an architecture (ClusterGAN's
        encoder is D's trunk). A class method: ``test.py`` rebuilds a checkpoint's networks
        without the loop. CoDeGAN keeps the folder's nets as they are."""

    def __init__(self, loop):
        """Called once the loop has built the networks, before any optimiser exists and before
        any weights are loaded; reads the settings it needs, changes no weights."""
        self.loop = loop
        self.cfg = loop.cfg
        self.nets = loop.nets

    # -- what the method adds to G and D ---------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        """The trainable networks this method trains beyond G and D, by name (``torch.compile``
        reaches them with ``compile: true``)."""
        return {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser of the method, by name (the loop keeps them in ``loop.opt``, decays
        their learning rates and saves them): by default Adam on G (``lr``, with
        ``weight_decay``) and Adam on D (``lr_d``, else ``lr``)."""
        cfg, loop = self.cfg, self.loop
        return {"G": loop.adam(self.nets.G.parameters(), cfg.weight_decay),
                "D": loop.adam(self.nets.D.parameters(), lr=cfg.lr_d)}

    # -- start, checkpoints, run folder ---------------------------------------------------------
    def start(self) -> None:
        """A fresh run (not a resume): the method's own start weights and data, before the loop
        loads ``load_path``'s G and D."""

    def state_dict(self) -> dict:
        """What a checkpoint holds for this method beyond the shared entries (config, iteration,
        networks, EMA, optimisers, data stream, RNG states): top-level entries of the file."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Resume: restore what ``state_dict`` saved (``state`` is the whole checkpoint)."""

    @classmethod
    def named_checkpoints(cls, state: dict) -> dict[str, int]:
        """The iterations of a run's checkpoints that its paper reports under a name of their
        own, read from a checkpoint ``state`` of the run (InfoGAN-CR: "InfoGAN (modified)", the
        state before its CR switch): ``{name: iteration}``, only those already reached. The one
        hook for such checkpoints: the loop writes and keeps them (``extra_checkpoints``), the
        comparison scores them."""
        return {}

    def extra_checkpoints(self) -> set:
        """Iteration counts at which the loop also evaluates and checkpoints, beside its
        schedule, and which ``keep_checkpoints`` never removes: ``named_checkpoints`` of this
        run as planned to its last iteration (not overridden; override that instead)."""
        plan = {"config": self.cfg.to_dict(), "iteration": self.loop.total_iters(),
                **self.state_dict()}
        return set(self.named_checkpoints(plan).values())

    @classmethod
    def run_name(cls, cfg) -> str:
        """The name in the run folder's (``runs/00001-<dataset>-<name>``): the method's."""
        return cls.name

    def write_run_files(self, run_dir: str) -> None:
        """Files the method adds to a new run folder, beside config.yml."""

    # -- training and evaluation ----------------------------------------------------------------
    def train_iteration(self, epoch: int, idx: int) -> dict[str, torch.Tensor]:
        """One iteration (one real minibatch of the stream): every step of the method, in its
        order. ``epoch`` is 0-based, ``idx`` the iteration's index within the epoch; the loop
        counts the iteration and decays the learning rate afterwards. Returns the losses by
        name (``"G/L_c"``: network, then loss), detached."""
        raise NotImplementedError

    def graph_key(self, epoch: int, idx: int):
        """Which branch iteration (``epoch``, ``idx``) takes, as a hashable key, when the
        iteration can be captured as a CUDA graph (``cuda_graphs``; codegan.training.graphs):
        no host synchronisation, exactly one ``loop.next_real()``, randomness from the global
        generator only. Iterations of one key must launch the same kernels. None: run it
        eagerly (the default: a method is captured only once it is checked on a GPU)."""
        return None

    def d_then_g(self, idx: int) -> dict[str, torch.Tensor]:
        """The plain GAN cadence: ``self.d_step()`` every iteration, then ``self.g_step()``
        after every ``critic``-th (InfoGAN: 1, ClusterGAN: 5 critic steps per G step). Returns
        both steps' losses."""
        losses = self.d_step()
        if idx % self.cfg.critic == self.cfg.critic - 1:
            losses.update(self.g_step())
        return losses

    def minimize(self, opt_name: str, loss: torch.Tensor) -> None:
        """One step of the optimiser ``loop.opt[opt_name]`` on ``loss`` (gradients set to None
        first, so only this loss's gradients are in it; in a multi-process run averaged over
        the processes first: ``codegan.training.distributed``)."""
        opt = self.loop.opt[opt_name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.loop.dist is not None:  # several processes: the gradient of the global batch
            self.loop.dist.average_grads([p for g in opt.param_groups for p in g["params"]])
        opt.step()

    # -- the loop's schedule, as the method needs it ------------------------------------------
    @classmethod
    def batches_per_iteration(cls, cfg) -> int:
        """Real minibatches one iteration draws from the stream. The loop's epoch stays a pass
        over the training images: ``batches per pass // this`` iterations (at least one).
        Default 1; ConGAN draws ``1 + 2 * critic``."""
        return 1

    def lr_factor(self, epoch: int, idx: int) -> float | None:
        """The factor on every optimiser's start learning rate (``base_lr``) for iteration
        (``epoch``, ``idx``), which the loop writes just before that iteration runs; None (the
        default): the loop's own schedule (``lr_decay``) alone. ConGAN: ``congan_lr_gamma **
        epoch``."""
        return None

    def eval_data(self) -> dict[str, torch.Tensor]:
        """Entries the periodic evaluation's ``data`` needs beyond the loop's test set, by name
        (e.g. ``"train_x"``, uint8 (N, C, H, W), and ``"train_y"``, int64 (N,), for probes
        trained on the training codes); the loop adds those it does not hold already."""
        return {}

    # -- what the method encodes ----------------------------------------------------------------
    @classmethod
    def codes(cls, cfg) -> tuple[str, ...]:
        """The keys ``represent`` returns for a run of settings ``cfg``, known without encoding
        anything: the evaluations choose their protocols from them. By default ``"features"``,
        and ``"class_probs"`` with a class head and a class code."""
        return ("features", "class_probs") if cls.class_head and cfg.zc_dim else ("features",)

    @classmethod
    def represent(cls, nets, cfg, x: torch.Tensor, keys=None) -> dict[str, torch.Tensor]:
        """What the method infers from images: the one hook every evaluation reads (E-based
        k-means, assignment, disentanglement metrics, probes, t-SNE), so none names a method.

        ``x``: float (n, C, H, W) in the dataset's image range, on the networks' device; the
        caller puts ``nets`` in eval mode and runs without gradients. ``keys``: the entries the
        caller reads (None: every one); a method may leave the others out where they cost a
        pass of their own (CoDeGAN's E_z). A class method, so that ``test.py`` evaluates a
        checkpoint without building the loop. Returns float tensors (n, d) on ``x``'s device,
        by key (``codes(cfg)`` lists them):

        * ``"features"`` (always): what the E-based k-means clusters and the comparison's t-SNE
          shows (CoDeGAN: E_c's features; InfoGAN: Q's class softmax);
        * ``"class_probs"``: a K-way class head's probabilities (n, K = ``zc_dim``), in [0, 1],
          rows summing to 1; its argmax is scored as a direct assignment;
        * ``"class"``: the class part of the code (probabilities or features, any range);
        * ``"continuous"``: estimates of continuous codes (noise, InfoGAN's continuous codes),
          unbounded;
        * ``"specified"`` / ``"unspecified"``: a split encoder's class code ``s`` and the mean
          of its unspecified code ``z`` (Mathieu16); with them the evaluation adds the probes
          of both and draws a swap grid ``nets.G(z, s)``.

        By default the features of ``eval_encoder`` (its last K entries as ``"class_probs"``
        with a class head): a method defines one of the two."""
        if cls.eval_encoder.__func__ is Method.eval_encoder.__func__:
            raise NotImplementedError(f"{cls.__name__} defines neither represent nor "
                                      f"eval_encoder")
        module, read = cls.eval_encoder(nets, cfg)
        feats = read(module(x)).float()
        out = {"features": feats}
        if "class_probs" in cls.codes(cfg):
            out["class_probs"] = feats[:, -cfg.zc_dim:]
        return out

    @classmethod
    def describe(cls, cfg, key: str = "features") -> str:
        """Entry ``key`` of ``represent`` in words, for protocol lines (e.g. "E_c features")."""
        return cls.code_names.get(key, f"{cls.name}'s {key} code")

    @classmethod
    def sample_grid(cls, G, cfg, path: str, device) -> bool:
        """Write the method's own sample grid of ``G`` to ``path`` and return True, or return
        False for the shared one (row ``c`` = class code ``c``; ``codegan.evaluation.sampling``;
        a swap grid for split codes). ConGAN, whose G ignores ``c``, varies its representation
        along the rows instead."""
        return False

    @classmethod
    def eval_encoder(cls, nets, cfg) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
        """The ``features`` of ``represent`` as an encoder of real images: a module (of
        ``nets``, or a view of some of them) and the function that reads the (n, d) features
        from its output. A method defines ``represent`` or this (the default ``represent`` then
        reads it; with ``class_head`` its last K = ``cfg.zc_dim`` features are the class head's
        softmax); by default a view of ``represent``."""
        if cls.represent.__func__ is Method.represent.__func__:
            raise NotImplementedError(f"{cls.__name__} defines neither represent nor "
                                      f"eval_encoder")
        return RepresentView(cls, nets, cfg, ("features",)), (lambda out: out["features"])


class RepresentView(nn.Module):
    """``method.represent(nets, cfg, x, keys)`` as a module (the default ``eval_encoder``, the
    evaluation's copy for inference): its ``eval()``, ``train()`` and ``to()`` reach the
    networks, which it registers under ``nets`` but which it saves nowhere."""

    def __init__(self, method: type[Method], nets, cfg, keys=None):
        super().__init__()
        self.method, self.nets, self.cfg, self.keys = method, nets, cfg, keys

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.method.represent(self.nets, self.cfg, x, self.keys)

    def __deepcopy__(self, memo):
        """A copy of the networks (the evaluation's channels_last copy); the settings are
        read-only and shared."""
        return RepresentView(self.method, copy.deepcopy(self.nets, memo), self.cfg, self.keys)

"""CoDeGAN's own settings, declared beside its maths (``codegan.methods.codegan``) and read only
when ``method: codegan``: the weights of its losses, when its encoders train, their batches, the
augmentation T, the modes of the official folders, and the pre-training of its E_c (the last two
groups: ``codegan.pretraining``, ``pretrain.py`` and ``meta_pretrain.py``, which always run as
codegan). Another method's run neither reads nor stores them; a folder's ``param.yml`` holds
them at its top level, where the user edits CoDeGAN's settings, and
``codegan.config.load_config`` leaves them out for the other methods.
"""

from __future__ import annotations

from ..errors import UserError
from ..keys import Key, nonneg, pos

LOSSES = {
    "beta_1": Key("float", None, "weight of L_c (contrastive class loss) in G's objective",
                  pos, "> 0"),
    "beta_2": Key("float", None, "weight of L_z (noise reconstruction) in G's objective",
                  pos, "> 0"),
    "temp_C": Key("float", 0.07, "temperature of the SupCon loss L_c", pos, "> 0"),
    "supcon_base_temp": Key("float", 0.07, "L_c is multiplied by temp_C / supcon_base_temp, as "
                            "the official SupConLoss (base_temperature 0.07); null: no factor",
                            pos, "> 0", optional=True),
    "detach_aug_in_g": Key("bool", None, "G's L_c gradient flows through the plain view only; "
                           "null: the official rule (CIFAR-10: detach unless few_labels, "
                           "pretrain or meta; every other dataset: detach)", optional=True),
}

SCHEDULE = {
    "chain_step": Key("int", 0, "epoch from which E_c is updated", nonneg, ">= 0"),
    "chain_step_offset": Key("int", 0, "E_c trains from epoch chain_step - chain_step_offset: 0 "
                             "(official MNIST / Fashion-MNIST: epoch >= chain_step), 1 (official "
                             "CIFAR-10, COIL-20, 3D sets: epoch >= chain_step - 1)",
                             nonneg, ">= 0"),
    "chain_iters": Key("int", None, "iteration from which E_c is updated; when set it replaces "
                       "chain_step (for iteration budgets shorter than an epoch)", nonneg,
                       ">= 0", optional=True),
    "d_step_first": Key("bool", False, "D steps before G and the encoders in each iteration "
                        "(official COIL-20 and 3D sets); false: G, E_c, E_z, then D"),
}

ENCODER_BATCHES = {
    "e_batch_size": Key("int", None, "latents per step of a shared encoder", pos, "> 0",
                        optional=True),
    "ec_batch_size": Key("int", None, "latents per E_c step (separate encoders)", pos, "> 0",
                         optional=True),
    "ez_batch_size": Key("int", None, "latents per E_z step (separate encoders)", pos, "> 0",
                         optional=True),
}

AUGMENT = {
    "aug_crop_scale": Key("floats", None, "random resized crop: area scale range (lo, hi)",
                          lambda v: 0 < v[0] <= v[1] <= 1, "0 < lo <= hi <= 1", optional=True,
                          length=2),
    # torchvision's RandomResizedCrop default (3/4, 4/3), which the official train_transform uses;
    # 4 / 3 in full, so that the log-ratio bounds of a drawn box are torchvision's bit for bit
    "aug_crop_ratio": Key("floats", [0.75, 4 / 3], "random resized crop: aspect ratio range",
                          lambda v: 0 < v[0] <= v[1], "0 < lo <= hi", length=2),
    # box: the official torchvision crop (RandomResizedCrop: crop, then resize) to rounding;
    # image: one grid_sample of the whole image, whose outermost output ring blends in the pixel
    # just outside the box (this project's only crop before the setting existed)
    "aug_crop_edge": Key("str", "box", "random resized crop: what the outermost ring of output "
                         "pixels reads: the box's own edge pixels (box, torchvision's crop) or a "
                         "blend with the pixel outside the box (image)", choices=("box", "image")),
    "aug_hflip": Key("bool", False, "random horizontal flip (p = 0.5)"),
    "aug_color_jitter": Key("floats", None, "colour jitter (brightness, contrast, saturation, hue)",
                            lambda v: min(v) >= 0 and v[3] <= 0.5, ">= 0, hue <= 0.5",
                            optional=True, length=4),
    "aug_color_jitter_p": Key("float", 0.8, "probability of the colour jitter",
                              lambda v: 0 <= v <= 1, "in [0, 1]"),
    "aug_grayscale_p": Key("float", 0.0, "probability of random grayscale",
                           lambda v: 0 <= v <= 1, "in [0, 1]"),
    "aug_per_sample": Key("bool", False, "draw T's parameters per image (False: one per batch, "
                                         "as the official code)"),
}

MODES = {
    "pretrain": Key("bool", False, "start E_c from self-supervised pre-trained weights"),
    "meta": Key("bool", False, "start E_c from MAML pre-trained weights (needs few_labels)"),
    "pretrain_path": Key("str", "pretrained/E_c_simclr.pt", "weights file of `pretrain`, "
                         "relative to the dataset folder"),
    "meta_path": Key("str", "pretrained/E_c_maml.pt", "weights file of `meta`, relative to the "
                     "dataset folder"),
    "few_labels": Key("bool", False, "add a class-balanced labelled subset of real images to L_c"),
    "n_labels": Key("int", 100, "size of the labelled subset (class-balanced)", pos, "> 0"),
    "r_batch_size": Key("int", 50, "labelled real images per G/E step", pos, "> 0"),
    "label_seed": Key("int", 0, "seed of the labelled-subset draw", nonneg, ">= 0"),
    "labels_file": Key("str", None, "reuse a saved list of labelled indices (.json)",
                       optional=True),
}

SPEED = {
    "split_detached_view": Key("bool", True, "G step: encode the detached T(x) without a graph "
                               "(encoders without BatchNorm only; not read under CoDeGAN's "
                               "encoder_calls: per_view, whose calls are split already)"),
}

SIMCLR = {
    "pretrain_loss": Key("str", "simclr", "loss of the pre-training: simclr (NT-Xent) or "
                         "simsiam (negative cosine of a predictor head against the other "
                         "view's stop-gradient feature; ConGAN's encoder: write it to "
                         "--pretrain_path=pretrained/E_c_simsiam.pt)",
                         choices=("simclr", "simsiam")),
    "pretrain_pred_dim": Key("int", None, "SimSiam: hidden size of the predictor head (null: "
                             "fc_dim // 4, SimSiam's 2048 -> 512 bottleneck ratio)", pos, "> 0",
                             optional=True),
    "pretrain_epochs": Key("int", 100, "epochs of the SimCLR pre-training", pos, "> 0",
                           role="budget"),
    "pretrain_iters": Key("int", None, "stop the pre-training after this many iterations "
                          "(budgets, smoke runs)", pos, "> 0", optional=True, role="budget"),
    "pretrain_batch_size": Key("int", 256, "real images per pre-training step (2x as many "
                               "views)", lambda v: v >= 2, ">= 2"),
    "pretrain_lr": Key("float", 1e-3, "Adam learning rate of the pre-training", pos, "> 0"),
    "pretrain_weight_decay": Key("float", 1e-6, "Adam weight decay of the pre-training",
                                 nonneg, ">= 0"),
    "pretrain_temp": Key("float", 0.5, "NT-Xent temperature (SimCLR: 0.5 on CIFAR-10)",
                         pos, "> 0"),
    "pretrain_crop_scale": Key("floats", [0.2, 1.0], "SimCLR views: random resized crop area "
                               "range, drawn per image",
                               lambda v: 0 < v[0] <= v[1] <= 1, "0 < lo <= hi <= 1", length=2),
    "pretrain_hflip": Key("bool", True, "SimCLR views: random horizontal flip per image"),
    "pretrain_color_jitter": Key("floats", [0.4, 0.4, 0.4, 0.1], "SimCLR views: colour jitter "
                                 "(brightness, contrast, saturation, hue); SimCLR's strength s "
                                 "gives (0.8s, 0.8s, 0.8s, 0.2s)",
                                 lambda v: min(v) >= 0 and v[3] <= 0.5, ">= 0, hue <= 0.5",
                                 optional=True, length=4),
    "pretrain_color_jitter_p": Key("float", 0.8, "SimCLR views: probability of the jitter",
                                   lambda v: 0 <= v <= 1, "in [0, 1]"),
    "pretrain_grayscale_p": Key("float", 0.2, "SimCLR views: probability of grayscale (colour "
                                "images only)", lambda v: 0 <= v <= 1, "in [0, 1]"),
    "pretrain_save_iters": Key("int", 1000, "checkpoint the pre-training every this many "
                               "iterations", pos, "> 0", role="files"),
}

MAML = {
    "meta_iters": Key("int", 2000, "outer (meta) steps of the MAML pre-training", pos, "> 0",
                      role="budget"),
    "meta_batch": Key("int", 4, "episodes (tasks) per outer step", pos, "> 0"),
    "meta_lr": Key("float", 1e-3, "Adam learning rate of the outer step", pos, "> 0"),
    "meta_n_way": Key("int", 5, "classes per episode (N-way)", lambda v: v >= 2, ">= 2"),
    "meta_k_shot": Key("int", 1, "support images per class and episode (K-shot)", pos, "> 0"),
    "meta_query": Key("int", 5, "query images per class and episode", pos, "> 0"),
    "meta_inner_steps": Key("int", 5, "SGD steps of the inner (task) adaptation", pos, "> 0"),
    "meta_inner_lr": Key("float", 0.05, "SGD learning rate of the inner adaptation", pos, "> 0"),
    "meta_first_order": Key("bool", False, "first-order MAML (drop the second-order term)"),
    "meta_temp": Key("float", 0.1, "temperature of the prototype classifier's cosine logits",
                     pos, "> 0"),
    "meta_save_iters": Key("int", 500, "checkpoint the meta pre-training every this many outer "
                           "steps", pos, "> 0", role="files"),
}


# what differs between the official folders' steps beyond the shared settings (dSprites)
OFFICIAL_STEPS = {
    "d_loss_scale": Key("float", 1.0, "D's adversarial loss (not its gradient penalty) "
                        "times this factor (dSprites: 0.5, the official "
                        "(BCE(real) + BCE(fake)) / 2)", pos, "> 0"),
    "encoder_calls": Key("str", "stacked", "how G's and E's steps hand L_c's views to the "
                         "encoder: one call on all views (stacked), or one call per view in "
                         "the official dSprites order: plain fakes, augmented fakes, plain "
                         "labelled reals, augmented labelled reals (per_view). Each call is "
                         "a spectral-norm power step and its own BatchNorm statistics",
                         choices=("stacked", "per_view")),
}

GROUPS = {
    "CoDeGAN's losses": LOSSES,
    "the steps' schedule": SCHEDULE,
    "encoder batches": ENCODER_BATCHES,
    "augmentation T": AUGMENT,
    "modes (pre-training, few labels, meta)": MODES,
    "the official dSprites steps": OFFICIAL_STEPS,
    "speed": SPEED,
    "self-supervised pre-training of E_c (pretrain.py: SimCLR's NT-Xent)": SIMCLR,
    "MAML meta pre-training of E_c (meta_pretrain.py)": MAML,
}
SETTINGS = {k: v for group in GROUPS.values() for k, v in group.items()}


def check(c: dict) -> None:
    """CoDeGAN's cross-key rules (``c``: every setting of a codegan run, validated one by one);
    each raises ``UserError`` naming the key and the fix."""
    from ..data.datasets import DATASETS

    n_classes = DATASETS[c["dataset"]].num_classes
    if c["meta_n_way"] > n_classes:
        raise UserError(f"'meta_n_way' ({c['meta_n_way']}) exceeds the {n_classes} classes of "
                        f"{c['dataset']}; lower meta_n_way.")
    if c["chain_step"] > c["max_step"]:
        raise UserError(f"'chain_step' ({c['chain_step']}) is beyond 'max_step' "
                        f"({c['max_step']}): E_c would never train. Lower chain_step.")
    if c["chain_iters"] is not None and c["max_iters"] is not None and \
            c["chain_iters"] >= c["max_iters"]:
        raise UserError(f"'chain_iters' ({c['chain_iters']}) is not below 'max_iters' "
                        f"({c['max_iters']}): E_c would never train. Lower chain_iters.")
    if c["shared_encoder"]:
        if c["e_batch_size"] is None:
            raise UserError("a shared encoder needs 'e_batch_size' (latents per encoder step).")
    else:
        for k in ("ec_batch_size", "ez_batch_size"):
            if c[k] is None:
                raise UserError(f"separate encoders E_c and E_z need '{k}'.")
    if c["meta"] and not c["few_labels"]:
        raise UserError("'meta: true' pre-trains E_c on the labelled subset, so it needs "
                        "'few_labels: true'.")
    if c["meta"] and c["pretrain"]:
        raise UserError("set only one of 'pretrain' and 'meta': both load E_c's start weights.")
    if c["few_labels"] and c["n_labels"] % n_classes:
        raise UserError(f"'n_labels' ({c['n_labels']}) must be a multiple of the {n_classes} "
                        f"classes so the labelled subset is class-balanced.")
    if c["few_labels"] and c["r_batch_size"] % n_classes:
        raise UserError(f"'r_batch_size' ({c['r_batch_size']}) must be a multiple of the "
                        f"{n_classes} classes so every labelled batch is class-balanced.")
    if c["few_labels"] and c["r_batch_size"] > c["n_labels"]:
        raise UserError(f"'r_batch_size' ({c['r_batch_size']}) exceeds 'n_labels' "
                        f"({c['n_labels']}).")

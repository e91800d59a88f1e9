"""One cell of the table (``codegan.table``) for one seed: the scores of its untrained networks
and the checkpoint it reports. The local launcher and the cluster jobs (``codegan.cluster``)
both compute them here, so a cell reads the same whichever ran it."""

from __future__ import annotations

import json
import os

from .config import load_config
from .errors import write_text
from .evaluation.collapse import nets_collapse
from .training.runs import checkpoint_iteration, list_checkpoints, resume_chain

UNTRAINED = "iteration0.json"  # in each seed folder: the scores of the untrained networks


def untrained_scores(req, method: str, seed: int) -> dict:
    """The scores and collapse count of the untrained networks of (``method``, ``seed``): the
    networks its run starts from (the same seed, so the same weights), evaluated with the
    folder's protocol as the trainer evaluates, once; kept in ``<seed folder>/iteration0.json``
    and read back after. Returns ``{"iteration": 0, "scores": {...}, "collapse": {...}}``."""
    from .evaluation.evaluate import evaluate
    from .training.loop import Trainer

    path = os.path.join(req.seed_dir(method, seed), UNTRAINED)
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    print(f"{os.path.basename(req.folder)} {method} seed {seed}: scoring the untrained "
          f"networks (iteration 0)", flush=True)
    cfg = load_config(os.path.join(req.folder, "param.yml"),
                      {**req.overrides, "method": method, "seed": seed,
                       "max_iters": req.max_iters})
    tr = Trainer(cfg, req.folder)
    data = {**tr.eval_data, "dataset_dir": req.folder}
    res = {"iteration": 0, "scores": evaluate(tr.nets, tr.cfg, data, tr.device),
           "collapse": nets_collapse(tr.nets, tr.cfg, tr.device, req.folder)}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_text(path, json.dumps(res, default=str))
    return res


def final_checkpoint(req, method: str, seed: int):
    """The checkpoint ``--select=final`` reports: the newest of the run history, at
    ``max_iters``; None when the cell has not got there."""
    chain = resume_chain(req.seed_dir(method, seed))
    if not chain:
        return None
    ckpt = list_checkpoints(chain[-1][0])[-1]
    return ckpt if checkpoint_iteration(ckpt) == req.max_iters else None


# the rules that choose the checkpoint a cell reports (``--select``); none reads a test label
SELECT = {
    "final": "each run's final checkpoint (the iteration --max_iters / --budget names)",
    "fake_codes": "each run's evaluated checkpoint whose encoder best recovers G's class codes "
                  "from 2,000 held-out fakes (NMI of k-means on its features against the codes "
                  "drawn; no real image, no label; codegan/evaluation/fake_codes.py), the "
                  "latest of equal ones",
}


def select_checkpoint(req, method: str, seed: int, rule: str, evaluated) -> tuple:
    """The checkpoint rule ``rule`` (``SELECT``) reports for (``method``, ``seed``), and what it
    chose from: ``(checkpoint or None, {"iteration": it, "candidates": {it: score}})``. None
    while the cell has not reached ``max_iters``. ``evaluated``: the iterations that have an
    evaluation record (the page's scores come from it); ``fake_codes`` chooses among the
    checkpoints of those iterations (train with ``--test_iters`` = ``--save_iters`` to give it
    more than the final one)."""
    final = final_checkpoint(req, method, seed)
    if final is None:
        return None, {}
    if rule == "final":
        return final, {"iteration": req.max_iters, "candidates": {}}
    from .evaluation.fake_codes import best_iteration, checkpoint_fake_codes

    ckpts = {}
    for run, until in resume_chain(req.seed_dir(method, seed)):
        for ckpt in list_checkpoints(run):
            it = checkpoint_iteration(ckpt)
            if 0 < it <= req.max_iters and (until is None or it <= until) and it in evaluated:
                ckpts[it] = ckpt  # a later run's checkpoint of the same iteration wins
    scores = {it: checkpoint_fake_codes(ckpts[it], req.device) for it in sorted(ckpts)}
    best = best_iteration(scores)
    return ckpts[best], {"iteration": best, "candidates": {it: s["fake_nmi"]
                                                           for it, s in scores.items()}}


def ensure_pretrained(dataset_dir: str, argv: list, weights: str) -> None:
    """The pre-trained E_c a cell of a pre-trained mode starts from: ``pretrain.py`` of
    ``dataset_dir`` with ``argv`` (which names ``--pretrain_path=weights``), run once. A
    pre-training stopped early continues from the resume file it left; the other jobs of the
    cell wait on a lock file beside ``weights`` until the first has written it."""
    import fcntl

    from .pretraining.encoder_loop import from_command_line, stem_of
    from .pretraining.simclr import make_pretrainer

    os.makedirs(os.path.dirname(weights), exist_ok=True)
    with open(weights + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if os.path.isfile(weights):
            return
        resume = stem_of(weights) + ".resume.pt"
        print(f"{os.path.basename(dataset_dir)}: pre-training E_c -> {weights}", flush=True)
        from_command_line(dataset_dir, [f"--resume={resume}"] if os.path.isfile(resume)
                          else argv, make_pretrainer).run()

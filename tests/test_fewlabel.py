"""Few-label mode: the labelled subset (class-balanced, seeded, from the training set only, saved
and reused) and the labelled batches that join L_c (class-balanced, true labels)."""

import json
import os

import pytest
import torch
from modes_util import FASHION, fashion_cfg, make_tiny

from codegan.errors import UserError
from codegan.data.fewlabel import LabelledBatches, load_indices, save_indices, select_labelled


def labels_like_fashion(n=6000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 10, (n,), generator=g)  # unequal class sizes, as real data may be


def test_subset_is_class_balanced_from_the_training_set_and_seeded():
    y = labels_like_fashion()
    idx = select_labelled(y, 100, 10, seed=0)
    assert idx.dtype == torch.int64 and len(idx) == 100 and len(torch.unique(idx)) == 100
    assert idx.min() >= 0 and idx.max() < len(y)
    assert torch.equal(torch.bincount(y[idx], minlength=10), torch.full((10,), 10))
    assert torch.equal(select_labelled(y, 100, 10, seed=0), idx)  # deterministic
    assert not torch.equal(select_labelled(y, 100, 10, seed=1), idx)  # the seed matters
    big = select_labelled(y, 500, 10, seed=0)  # CIFAR-10's size: 50 per class
    assert torch.equal(torch.bincount(y[big], minlength=10), torch.full((10,), 50))
    with pytest.raises(UserError, match="class 3"):
        select_labelled(torch.tensor([0, 1, 2] * 20 + [3]), 20, 4, seed=0)


def test_saved_list_round_trips_and_bad_lists_are_rejected(tmp_path):
    y = labels_like_fashion()
    idx = select_labelled(y, 100, 10, seed=2)
    path = str(tmp_path / "labelled_indices.json")
    save_indices(path, idx, y)
    with pytest.raises(FileExistsError):  # never overwritten
        save_indices(path, idx, y)
    assert torch.equal(load_indices(path, y, 10, n_labels=100), idx)

    def bad(data, match, **kw):
        p = str(tmp_path / f"bad{len(os.listdir(tmp_path))}.json")
        with open(p, "w") as f:
            json.dump(data, f)
        with pytest.raises(UserError, match=match):
            load_indices(p, y, 10, **kw)

    bad({"indices": idx.tolist()}, "n_labels", n_labels=50)
    bad({"indices": [len(y)] + idx.tolist()[1:]}, "outside the training set")
    bad({"indices": idx.tolist()[:-1] + [int(idx[0])]}, "twice")
    bad({"indices": idx.tolist()[:-1]}, "not class-balanced")
    bad({"indices": idx.tolist(), "labels": ((y[idx] + 1) % 10).tolist()}, "another dataset")
    bad({"nothing": 1}, "not a labelled-indices file")
    with pytest.raises(UserError, match="not found"):
        load_indices(str(tmp_path / "missing.json"), y, 10)


def test_every_labelled_batch_is_class_balanced_with_true_labels():
    y = labels_like_fashion(2000)
    x = torch.arange(len(y), dtype=torch.int64).view(-1, 1, 1, 1)  # image i holds its index i
    idx = select_labelled(y, 100, 10, seed=0)
    batches = LabelledBatches(x, y, idx, 10, 50)
    seen = set()
    torch.manual_seed(0)
    for _ in range(30):
        xb, yb = batches.next()
        src = xb.flatten()
        assert len(xb) == 50 and torch.equal(torch.bincount(yb, minlength=10), torch.full((10,), 5))
        assert torch.equal(y[src], yb)  # each image comes with its true label
        assert len(torch.unique(src)) == 50  # no image twice in a batch
        seen |= set(src.tolist())
    assert seen == set(idx.tolist())  # only, and eventually all, labelled images
    with pytest.raises(UserError, match="r_batch_size"):
        LabelledBatches(x, y, idx, 10, 120)  # 12 per class from 10 per class
    with pytest.raises(UserError, match="r_batch_size"):
        LabelledBatches(x, y, idx, 10, 55)  # not a multiple of the classes


def test_config_rejects_unbalanced_sizes(tmp_path):
    with pytest.raises(UserError, match="n_labels"):
        fashion_cfg(tmp_path, tmp_path, few_labels=True, n_labels=105)
    with pytest.raises(UserError, match="r_batch_size"):
        fashion_cfg(tmp_path, tmp_path, few_labels=True, r_batch_size=15)
    with pytest.raises(UserError, match="exceeds"):
        fashion_cfg(tmp_path, tmp_path, few_labels=True, r_batch_size=30)


def test_run_saves_its_subset_and_reuses_a_saved_one(tmp_path):
    from codegan.training.loop import Trainer

    data = make_tiny(tmp_path / "data")
    cfg = fashion_cfg(data, tmp_path / "runs", few_labels=True, label_seed=4)
    t = Trainer(cfg, FASHION)
    train_x, _ = t.train_x, t.train_y
    run = t.run()
    saved = os.path.join(run, "labelled_indices.json")
    idx = load_indices(saved, t.train_y, 10, cfg.n_labels)
    assert torch.equal(idx, select_labelled(t.train_y, 20, 10, 4))
    # the labelled images are training images (never test images) with their true labels
    xb, yb = t.method.labelled.next()
    rows = {bytes(train_x[i].numpy().tobytes()): int(t.train_y[i]) for i in idx.tolist()}
    assert all(rows[bytes(img.numpy().tobytes())] == int(lab) for img, lab in zip(xb, yb))
    test_rows = {bytes(img.numpy().tobytes()) for img in t.eval_data["test_x"]}
    assert not test_rows & set(rows)
    # a later run given the saved list uses it, whatever its own seed
    t2 = Trainer(cfg.replace(label_seed=9, labels_file=saved), FASHION)
    assert torch.equal(t2.method.labelled_idx, idx)

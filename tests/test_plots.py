import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from codegan.errors import UserError
from codegan.evaluation.plots import plot_curves, read_metrics


def test_curve_from_metrics_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with open(path, "w") as f:
        for it in (500, 250, 750):  # written out of order: read back sorted
            f.write(json.dumps({"iteration": it, "acc": it / 1000, "acc_std": 0.01,
                                "acc_purity": 0.5, "nmi": 0.4, "ari": 0.3}) + "\n")
    recs = read_metrics(str(tmp_path))
    assert [r["iteration"] for r in recs] == [250, 500, 750]
    out = tmp_path / "curve.png"
    plot_curves(recs, str(out))
    assert Image.open(out).size[0] > 100
    with pytest.raises(UserError, match="exists"):
        plot_curves(recs, str(out))
    with pytest.raises(UserError, match="metrics.jsonl"):
        read_metrics(str(tmp_path / "nothing"))


def test_a_second_run_is_drawn_beside_the_first(tmp_path):
    """``beside`` adds the second run's curves (dashed) to the same axes: the figure changes,
    and the plotting command checks its --labels."""
    a = [{"iteration": it, "acc": 0.5, "acc_purity": 0.5, "nmi": 0.4, "ari": 0.3}
         for it in (250, 500)]
    b = [dict(r, acc=0.9, nmi=0.8) for r in a]
    plot_curves(a, str(tmp_path / "one.png"))
    plot_curves(a, str(tmp_path / "two.png"), beside=b, labels=("eager", "graphs"))
    one, two = Image.open(tmp_path / "one.png"), Image.open(tmp_path / "two.png")
    assert one.size == two.size and one.tobytes() != two.tobytes()
    for name, recs in (("a", a), ("b", b)):
        with open(tmp_path / f"{name}.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, f"{repo}/Figure/plot_metrics.py", f"--run={tmp_path}/a.jsonl",
           f"--beside={tmp_path}/b.jsonl"]
    bad = subprocess.run(cmd + ["--labels=eager", f"--out={tmp_path}/x.png"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "two names" in bad.stderr
    ok = subprocess.run(cmd + ["--labels=eager,graphs", f"--out={tmp_path}/x.png"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and (tmp_path / "x.png").is_file(), ok.stderr

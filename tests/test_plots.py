import json

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

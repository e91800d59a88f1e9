"""Render the dSprites grid procedurally: python make_dsprites.py --out=DIR [--limit=N].

Writes DIR/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz with the official keys, factor grid and
index order (a re-rendering, not the original images: see README.md); with --limit, only the
first N images, under dsprites_first<N>_64x64.npz. Refuses to overwrite an existing file.
"""

import argparse
import sys
import time

from codegan.data import dsprites
from codegan.data.datasets import resolve_data_root
from codegan.errors import cli_guard


@cli_guard
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None,
                   help="folder to write into (default: the data root: $CODEGAN_DATA, else "
                        "<repo>/data)")
    p.add_argument("--limit", type=int, default=None,
                   help="render only the first N images (posY fastest), for a quick check")
    a = p.parse_args(argv)
    out = resolve_data_root(a.out)
    start = time.time()

    def progress(done, total):
        print(f"\r{done}/{total} images, {time.time() - start:.0f} s", end="", file=sys.stderr)

    path = dsprites.write_npz(out, a.limit, progress=progress)
    print(f"\nwrote {path} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()

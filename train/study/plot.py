"""Training curves from metrics.jsonl → RUN_DIR/curves.png.   python -m train.study.plot RUN_DIR

Top row: per-step train loss and PSNR (with a running mean) and per-epoch / validation points;
bottom: test PSNR per validation and the learning rate.
"""
import sys
from pathlib import Path

from ..atomic import replacing
from ..metrics_log import METRICS, read_metrics


def _running_mean(values, k):
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= k:
            acc -= values[i - k]
        out.append(acc / min(i + 1, k))
    return out


def plot_run(run_dir, out=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    recs = read_metrics(run_dir)
    steps = [r for r in recs if r["kind"] == "step"]
    epochs = [r for r in recs if r["kind"] == "epoch"]
    vals = [r for r in recs if r["kind"] in ("epoch", "val")]
    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    k = max(1, len(steps) // 50)
    if steps:
        x = [r["step"] for r in steps]
        ax[0, 0].plot(x, [r["loss"] for r in steps], alpha=0.3, label="train loss (step)")
        ax[0, 0].plot(x, _running_mean([r["loss"] for r in steps], k), label=f"running mean ({k})")
        ax[0, 1].plot(x, [r["psnr"] for r in steps], alpha=0.3, label="train PSNR (step, unclamped)")
        ax[0, 1].plot(x, _running_mean([r["psnr"] for r in steps], k), label=f"running mean ({k})")
        ax[1, 1].plot(x, [r["lr"] for r in steps], label="lr")
    if epochs:
        ax[0, 0].plot([r["step"] for r in epochs], [r["train_loss"] for r in epochs], "o-", label="train loss (epoch)")
        ax[0, 0].plot([r["step"] for r in epochs], [r["val_loss"] for r in epochs], "s-", label="test loss (epoch)")
        ax[0, 1].plot([r["step"] for r in epochs], [r["train_psnr"] for r in epochs], "o-", label="train PSNR (epoch)")
    if vals:
        ax[1, 0].plot([r["step"] for r in vals], [r["val_psnr"] for r in vals], "s-", label="test PSNR (clamped)")
        ax[0, 1].plot([r["step"] for r in vals], [r["val_psnr"] for r in vals], "s", label="test PSNR (clamped)")
    ax[0, 0].set_yscale("log")
    for a, title in zip(ax.flat, ["loss (MSE)", "PSNR (dB)", "test PSNR (dB)", "learning rate"]):
        a.set_title(title)
        a.set_xlabel("step")
        if a.lines:
            a.legend(fontsize=7)
    fig.suptitle(f"training curves: {Path(run_dir).resolve().name}")
    fig.tight_layout()
    out = Path(out) if out else Path(run_dir) / "curves.png"
    with replacing(out) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return out


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m train.study.plot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="a run folder holding metrics.jsonl")
    p.add_argument("out", nargs="?", default=None, help="the figure to write (default RUN_DIR/curves.png)")
    a = p.parse_args(argv)
    if not (Path(a.run_dir) / METRICS).is_file():
        p.error(f"{a.run_dir} holds no metrics.jsonl (is it a run folder written by python -m train?)")
    print(plot_run(a.run_dir, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

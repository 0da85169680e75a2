"""Class separation of the latents (the notes' "strong class separation in t-SNE"), measured.

    python -m train.study.separation [--weights DIR ...] [--data PATH] [--out weights/eval]
                                     [--measure-cache runs/claims-cache/per-image] [--n-train 10000]
                                     [--n-embed 2000] [--encode-only] [--threads 1]

Each image's latents are mean-pooled over the tokens (d values). On --n-train training images
(class-balanced, drawn from outside the validation split) the features are standardised, then a
k-nearest-neighbour classifier (k = 10, Euclidean) and a linear probe (multinomial logistic
regression, its L2 strength C chosen by 3-fold cross-validation on the training features alone, the
grid widened while the best C is at its end) are
fitted; both are scored on the whole test split: accuracy with its 95 % bootstrap
interval over test images, and the difference between two models as a paired difference on the same
images. The figure shows PCA and t-SNE of --n-embed test latents side by side, coloured by class.

t-SNE is scikit-learn's (Barnes-Hut, PCA initialisation, seeded): the same well-kept library already
fits the kNN and the probe, so one dependency serves all three, and Barnes-Hut is fast enough for a
few thousand points on a CPU. (openTSNE is faster on very large sets, which are not needed here.)

Latents come from train/eval/per_image.py's cache, shared with `train.eval.evaluate --measure-cache`, so the
test latents that evaluation encoded are not encoded again. --encode-only fills the cache and stops;
--cached-only uses only what the cache holds (the images every model has; the report gives n).
Writes OUT/separation.json, OUT/separation.md, OUT/separation.png.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from lainr.cpu_threads import set_cpu_threads

from ..atomic import atomic_write
from ..data import DataError, load_split
from ..eval.eval_split import describe_data, entry_key
from ..eval.evaluate import load_weights, weights_sha256
from ..eval.per_image import measure
from ..splits import train_indices, validation_indices
from ..eval.stats import bootstrap_mean, paired_difference
from ..eval.validate import val_indices

DEFAULT_WEIGHTS = ("weights/simplified", "weights/corrected")
K = 10
N_TRAIN = 10_000
N_EMBED = 2_000
SEED = 23
PROBE_CS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # the linear probe's L2 strengths tried (cross-validated on training features)


def probe_train_indices(labels, n, seed=SEED):
    """n training images, n / classes per class, drawn (seeded) from outside the validation split."""
    labels = torch.as_tensor(labels)
    pool = train_indices(len(labels), validation_indices(labels))
    classes = int(labels.max()) + 1
    per_class = n // classes
    rng = np.random.default_rng(seed)
    picked = []
    for c in range(classes):
        members = pool[labels[pool] == c].numpy()
        if len(members) < per_class:
            raise ValueError(f"class {c} has only {len(members)} training images outside the validation split; "
                             f"{per_class} wanted")
        picked.append(rng.choice(members, per_class, replace=False))
    return torch.from_numpy(np.sort(np.concatenate(picked)))


def pooled_latents(model, split, idx, split_name, sha, cache, cached_only=False):
    """→ (indices measured, pooled latents (n, d)); cached_only: only those already in the cache."""
    per = measure(model, split.images, idx, (), split=split_name, weights_sha=sha, cache_dir=cache,
                  cached_only=cached_only)
    return per.indices, per.pooled


def _common(found):
    """{model: (indices, feats)} → the same images for every model: {model: feats}, indices."""
    common = found[next(iter(found))][0]
    for idx, _ in found.values():
        common = np.intersect1d(common, idx)
    if not len(common):
        raise ValueError("the models' latent caches share no image; encode more (drop --cached-only)")
    return {k: f[np.isin(idx, common)] for k, (idx, f) in found.items()}, common


def pixel_features(images_u8):
    """(n, 3, 32, 32) uint8 → (n, 3072) float: the raw-pixel baseline."""
    return images_u8.reshape(len(images_u8), -1).float().div(255).numpy()


def choose_probe_c(x, y, cs=PROBE_CS, folds=3, widen=3):
    """The probe's C with the best mean accuracy over `folds` stratified folds of the training features
    (x (n, f) standardised, y (n,)); the test split plays no part. While the best C is at an end of the
    grid, the grid is widened by a decade that way (at most `widen` times). Too few images per class → 1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = min(folds, int(np.bincount(y).min()))
    if folds < 2:
        return 1.0
    split = StratifiedKFold(folds, shuffle=True, random_state=0)
    score = (lambda c: cross_val_score(LogisticRegression(C=c, max_iter=3000), x, y, cv=split).mean())
    scores = {c: score(c) for c in cs}
    for _ in range(widen):
        best = max(scores, key=scores.get)  # ties: the first in the grid
        if best == max(scores):
            scores[best * 10] = score(best * 10)
        elif best == min(scores):
            scores[best / 10] = score(best / 10)
        else:
            break
    return float(max(scores, key=scores.get))


def classify(train_x, train_y, test_x, test_y, k=K):
    """→ ({"knn": correct (n_test,) bool, "probe": correct (n_test,) bool}, the probe's C), on features
    standardised with the training features' statistics."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    a, b = scaler.transform(train_x), scaler.transform(test_x)
    knn = KNeighborsClassifier(n_neighbors=k).fit(a, train_y)
    c = choose_probe_c(a, train_y)
    probe = LogisticRegression(C=c, max_iter=3000).fit(a, train_y)
    return {"knn": knn.predict(b) == test_y, "probe": probe.predict(b) == test_y}, c


def embed_2d(feats, seed=0):
    """feats (n, d) → (PCA (n, 2), t-SNE (n, 2))."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    pca = PCA(n_components=2, random_state=seed).fit_transform(feats)
    tsne = TSNE(n_components=2, perplexity=min(30.0, (len(feats) - 1) / 3), init="pca", random_state=seed).fit_transform(
        (feats - feats.mean(0)) / (feats.std(0) + 1e-8))
    return pca, tsne


def figure(path, embeds, labels, classes):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(len(embeds), 2, figsize=(10, 4.5 * len(embeds)), squeeze=False)
    for row, (name, (pca, tsne)) in enumerate(embeds.items()):
        for col, (xy, what) in enumerate(((pca, "PCA"), (tsne, "t-SNE"))):
            sc = axs[row, col].scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=4, vmin=-0.5,
                                       vmax=len(classes) - 0.5)
            axs[row, col].set_title(f"{Path(name).name}: {what} of mean-pooled latents ({len(labels):,} test images)",
                                    fontsize=8)
            axs[row, col].set_xticks([])
            axs[row, col].set_yticks([])
    cb = fig.colorbar(sc, ax=axs.ravel().tolist(), ticks=range(len(classes)))
    cb.ax.set_yticklabels(classes, fontsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(res):
    lines = [f"Class separation of mean-pooled latents. Classifiers fitted on {res['n_train']:,} training images "
             f"(outside the validation split), scored on the {res['data']}, n = {res['n_test']:,}; "
             f"[95 % bootstrap interval over test images]; chance = {100 / len(res['classes']):.0f} %.", "",
             "The probe's L2 strength C is chosen by 3-fold cross-validation on the training features.", "",
             "| weights | kNN (k = 10) accuracy % | linear-probe accuracy % | probe C |", "|---|---|---|---|"]
    pct = (lambda e: f"{100 * e['mean']:.1f} [{100 * e['low']:.1f}, {100 * e['high']:.1f}]")
    c_of = (lambda r: f"{r['probe_C']:g}" if "probe_C" in r else "1")
    for name, r in res["models"].items():
        lines.append(f"| {name} | {pct(r['knn'])} | {pct(r['probe'])} | {c_of(r)} |")
    if "baselines" in res:
        b = res["baselines"]["pixels"]
        lines.append(f"| raw pixels (baseline) | {pct(b['knn'])} | {pct(b['probe'])} | {c_of(b)} |")
    for name, d in res.get("differences", {}).items():
        lines.append(f"| {name} (paired, points) | {pct(d['knn'])} | {pct(d['probe'])} | |")
    return "\n".join(lines) + "\n"


def run(weights, data, out, cache, n_train=N_TRAIN, n_embed=N_EMBED, encode_only=False, data_root="data",
        data_cache=None, cached_only=False):
    """cached_only: use only the latents already in the cache (the chunks are strided, so they are a
    spread-out, class-balanced subset); the reports say how many images that was."""
    train = load_split(data, "train", data_root=data_root, cache_dir=data_cache)
    test = load_split(data, "test", data_root=data_root, cache_dir=data_cache)
    tr_all, te_all = probe_train_indices(train.labels, n_train), val_indices(len(test), 0)
    found_tr, found_te, shas = {}, {}, {}
    for source in weights:
        key = entry_key(source)
        model, shas[key] = (None if cached_only else load_weights(source)), weights_sha256(source)
        with torch.no_grad():
            found_tr[key] = pooled_latents(model, train, tr_all, "train", shas[key], cache, cached_only)
            if not encode_only:
                found_te[key] = pooled_latents(model, test, te_all, "test", shas[key], cache, cached_only)
    if encode_only:
        return None
    (f_tr, tr_idx), (f_te, te_idx) = _common(found_tr), _common(found_te)
    y_tr, y_te = train.labels[tr_idx].numpy(), test.labels[te_idx].numpy()
    emb_pos = val_indices(len(te_idx), n_embed, seed=1).numpy()
    res = {"n_train": len(tr_idx), "n_test": len(te_idx), "n_embed": len(emb_pos), "k": K,
           "data": describe_data("test", test.source),
           "train_images": "class-balanced, outside the validation split (train/splits.py), seeded",
           "classes": test.classes, "models": {}, "differences": {}}
    correct, embeds = {}, {}
    for key in f_tr:
        correct[key], probe_c = classify(f_tr[key], y_tr, f_te[key], y_te)
        res["models"][key] = {m: bootstrap_mean(c.astype(float)).as_dict() for m, c in correct[key].items()}
        res["models"][key].update(weights_sha256=shas[key], probe_C=probe_c)
        embeds[key] = embed_2d(f_te[key][emb_pos])
    keys = list(correct)
    for a, b in ((a, b) for i, a in enumerate(keys) for b in keys[:i]):  # every pair, later − earlier
        res["differences"][f"{a} − {b}"] = {m: paired_difference(correct[a][m].astype(float),
                                                                  correct[b][m].astype(float)).as_dict()
                                            for m in ("knn", "probe")}
    pixels, probe_c = classify(pixel_features(train.images[tr_idx]), y_tr, pixel_features(test.images[te_idx]), y_te)
    res["baselines"] = {"pixels": {**{m: bootstrap_mean(c.astype(float)).as_dict() for m, c in pixels.items()},
                                   "probe_C": probe_c},
                        "note": "the same classifiers on the raw pixels (3,072 values per image)"}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figure(out / "separation.png", embeds, y_te[emb_pos], test.classes)
    atomic_write(out / "separation.md", table(res))
    atomic_write(out / "separation.json", json.dumps(res, indent=2) + "\n")
    return res


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.separation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", action="append", help="weights folder (repeatable; default both bundled models)")
    p.add_argument("--data", default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="", help="decoded-data cache (train.data)")
    p.add_argument("--out", default="weights/eval")
    p.add_argument("--measure-cache", default="runs/claims-cache/per-image")
    p.add_argument("--n-train", type=int, default=N_TRAIN)
    p.add_argument("--n-embed", type=int, default=N_EMBED)
    p.add_argument("--encode-only", action="store_true", help="fill the latent cache and stop")
    p.add_argument("--cached-only", action="store_true",
                   help="use only the latents already in --measure-cache (a spread-out subset; the report says how many)")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        set_cpu_threads(a.threads)
    try:
        res = run(a.weights or list(DEFAULT_WEIGHTS), a.data, a.out, a.measure_cache, a.n_train, a.n_embed,
                  a.encode_only, a.data_root, a.cache_dir or None, a.cached_only)
    except (DataError, ValueError, OSError) as err:  # FileNotFoundError: nothing cached yet
        print(f"error: {err}", file=sys.stderr)
        return 2
    if res is not None:
        print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The validation split: a fixed, class-balanced tenth of the *training* images, never trained on by default.

Every choice (recipes, sweeps, refinement defaults, early stops) is made on it; the test split is
scored once, for the report. The rule, the same for every data source (torchvision arrays, an
ImageFolder copy, a pack), works on each image's *rank within its class* (its order of appearance in
the split, which is the original batch order for CIFAR-10 in either source):

    for class c with n_c training images: k_c = round(VAL_FRACTION · n_c) (at least 1 when n_c ≥ 2);
    ranks_c = sorted(first k_c of numpy.random.default_rng([VAL_SEED, c]).permutation(n_c))

For the full CIFAR-10 (5,000 per class) that is 500 per class, 5,000 in all; `VALIDATION_LIST`
(committed) holds those ranks so that anyone can check them without running this code, and a test
ties the file to the rule. A custom list (`--val-list FILE`, the same JSON layout) is checked: it
must come from the training split, name existing classes and ranks, and repeat nothing.
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

VAL_SEED = 20261203
VAL_FRACTION = 0.1
VALIDATION_LIST = Path(__file__).with_name("validation_split.json")
VAL_FROM = ("train", "test")  # --val-from: held-out training images (default) or the test split


class SplitError(ValueError):
    """A validation list that cannot be used (wrong split, repeats, out of range)."""


def rule_ranks(class_sizes, *, fraction=VAL_FRACTION, seed=VAL_SEED):
    """{class index: sorted ranks within the class} by the seeded rule above."""
    out = {}
    for c, n in enumerate(class_sizes):
        k = int(round(fraction * n))
        k = max(k, 1) if n >= 2 else 0
        out[c] = np.sort(np.random.default_rng([seed, c]).permutation(n)[:k]).tolist()
    return out


def ranks_to_indices(labels, ranks):
    """labels (N,) of a split, {class: ranks} → sorted global indices (K,) int64; SplitError if out of range."""
    labels = torch.as_tensor(labels)
    picked = []
    for c, rs in ranks.items():
        members = torch.nonzero(labels == int(c)).flatten()  # this class's images, in split order
        if len(rs) != len(set(rs)):
            raise SplitError(f"validation list repeats an index in class {c}")
        bad = [r for r in rs if not 0 <= r < len(members)]
        if bad:
            raise SplitError(f"validation list names rank {bad[0]} of class {c}, which has {len(members)} images")
        picked.append(members[torch.as_tensor(rs, dtype=torch.long)])
    return torch.cat(picked).sort().values if picked else torch.zeros(0, dtype=torch.long)


def read_list(path):
    """A validation-list JSON → {class index: ranks}; SplitError on anything but a training-split list."""
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SplitError(f"cannot read the validation list {path}: {err}") from err
    if spec.get("split") != "train":
        raise SplitError(f"the validation list {path} is drawn from the {spec.get('split')!r} split; it must come "
                         f"from 'train' (a validation list from the test split would overlap the report's split)")
    ranks = spec.get("ranks")
    if not isinstance(ranks, dict):
        raise SplitError(f"the validation list {path} has no 'ranks' mapping (class → ranks within the class)")
    return {int(c): [int(r) for r in rs] for c, rs in ranks.items()}


def validation_indices(labels, list_path=None):
    """Indices (K,) into a *training* split held out for validation.

    list_path None: the committed list when the split is the full CIFAR-10 (10 classes × 5,000),
    else the seeded rule on the split's own class sizes.
    """
    labels = torch.as_tensor(labels)
    sizes = torch.bincount(labels).tolist() if len(labels) else []
    if list_path is not None:
        ranks = read_list(list_path)
        if any(c >= len(sizes) for c in ranks):
            raise SplitError(f"the validation list {list_path} names class {max(ranks)}; the split has {len(sizes)}")
    elif sizes == [5000] * 10 and VALIDATION_LIST.is_file():
        ranks = read_list(VALIDATION_LIST)
    else:
        ranks = rule_ranks(sizes)
    return ranks_to_indices(labels, ranks)


def train_indices(n_total, val_idx):
    """The complement of the validation indices in range(n_total) → (N − K,) int64."""
    keep = torch.ones(n_total, dtype=torch.bool)
    keep[val_idx] = False
    return torch.nonzero(keep).flatten()


def describe(val_from, val_idx, list_path=None):
    """What run.json and the cards record about the validation images."""
    if val_from == "test":
        return {"from": "test", "note": "validated on the test split (the figures then are not held-out choices)"}
    digest = hashlib.sha256(",".join(map(str, val_idx.tolist())).encode()).hexdigest()[:16]
    rule = (f"list {Path(list_path).name}" if list_path else
            f"{VAL_FRACTION:.0%} of each class, numpy default_rng([{VAL_SEED}, class]) (train/splits.py)")
    return {"from": "train", "n": len(val_idx), "rule": rule, "indices_sha256_16": digest,
            "note": "held out of training"}


def write_committed_list(path=VALIDATION_LIST):
    """Write the full CIFAR-10 list by the rule (used once; kept for re-checking)."""
    ranks = rule_ranks([5000] * 10)
    spec = {"split": "train", "rule": f"rank-within-class, {VAL_FRACTION:.0%} per class, "
                                      f"numpy.random.default_rng([{VAL_SEED}, class]).permutation(n)[:k], sorted",
            "classes": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
            "ranks": {str(c): rs for c, rs in ranks.items()}}
    Path(path).write_text(json.dumps(spec, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    write_committed_list()

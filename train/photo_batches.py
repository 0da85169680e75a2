"""One training step's inputs, queries and targets from a folder of photos (train/photo_folder.py).

For each image of the batch: a scale s ~ U(lo, hi) (capped at the photo's short side / N), a random square crop of
side c = round(s·N) pixels of the decoded copy (the target), and its area-reduction to N×N (the input). The loss
is read at `pixels` target pixel centres drawn uniformly with replacement, mapped to [0, 1] in the crop:
((i + 0.5) / c, (j + 0.5) / c). So with s > 1 the model learns to up-sample, as arbitrary-scale SR methods train.
Each model keeps its own protocol otherwise (SPEC §5): the corrected model jitters the queries (σ 0.01, the
target staying at the unjittered centre), the simplified model does not.

scale range (1, 1) (`--scale-range 1,1`, scale-aware training off): N×N crops, queried as a CIFAR batch is
(train.batches.queries at N: every pixel centre in raster order when pixels ≥ N², else random pixels).
The crops and draws come from generators seeded by (seed, step, rank): fresh every step, replayed on resume.
"""
import torch
import torch.nn.functional as F

from lainr import jitter

from .batches import queries

CROP_SALT = 7919  # the crop generator's seed differs from the pixel generator's


def crop_generator(seed, step, rank):
    """CPU generator of one step's scales and crop positions: a pure function of (seed, step, rank)."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 64 + rank) * CROP_SALT + 1)


def pick_crop(photo, size, scale_range, generator):
    """photo (3, h, w) uint8, every side ≥ N → its crop (3, c, c) uint8, c = round(s·N) with s in scale_range
    (capped so the crop fits)."""
    lo, hi = scale_range
    short = min(photo.shape[-2:])
    hi_fit = min(hi, short / size)
    s = lo if lo >= hi_fit else lo + (hi_fit - lo) * torch.rand((), generator=generator).item()
    side = max(size, min(short, round(s * size)))
    h, w = photo.shape[-2:]
    y0 = torch.randint(0, h - side + 1, (), generator=generator).item()
    x0 = torch.randint(0, w - side + 1, (), generator=generator).item()
    return photo[:, y0:y0 + side, x0:x0 + side]


def area_reduce(crop, size):
    """crop (B, 3, c, c) float → (B, 3, N, N): each output pixel the mean of the input pixels it covers (adaptive
    average pooling: the exact area average when N divides c, else each window rounded outward to whole pixels)."""
    if crop.shape[-1] == size:
        return crop
    return F.interpolate(crop, size=(size, size), mode="area")


def target_queries(crop, pixels, generator):
    """crop (3, c, c) float → coords (Q, 2) at `pixels` random pixel centres in [0, 1], targets (Q, 3)."""
    side = crop.shape[-1]
    idx = torch.randint(0, side * side, (pixels,), generator=generator, device=crop.device)  # (Q,)
    coords = torch.stack([(idx // side + 0.5) / side, (idx % side + 0.5) / side], dim=-1)  # (Q, 2) (y, x)
    targets = crop.flatten(1)[:, idx].t()  # (Q, 3)
    return coords, targets


def photo_batch(photos, indices, size, scale_range, pixels, sigma, crop_gen, pixel_gen, device):
    """→ inputs (B, 3, N, N), coords (B, Q, 2), targets (B, Q, 3) on `device` for photos[i], i in indices."""
    crops = [pick_crop(photos[i], size, scale_range, crop_gen) for i in indices.tolist()]
    if tuple(scale_range) == (1, 1):
        x = torch.stack(crops).to(device).float().div_(255.0)  # (B, 3, N, N)
        return (x, *queries(x, pixels, sigma, pixel_gen))
    inputs, coords, targets = [], [], []
    for crop in crops:
        c = crop.to(device).float().div_(255.0)[None]  # (1, 3, c, c)
        inputs.append(area_reduce(c, size))
        q, t = target_queries(c[0], pixels, pixel_gen)
        coords.append(q)
        targets.append(t)
    coords = jitter(torch.stack(coords), sigma, pixel_gen)  # (B, Q, 2); targets stay at the unjittered centres
    return torch.cat(inputs), coords, torch.stack(targets)

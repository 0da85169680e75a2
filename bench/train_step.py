"""One training step of either protocol (SPEC §5) on random images, for throughput measurements.

simplified: batch 32, 512 pixel centres per image drawn with replacement, MSE over them.
corrected:  batch 16, all 1024 pixel centres jittered by N(0, 0.01²), mean of per-image MSE.
Both: AdamW (torch defaults, weight decay 1e-5), gradient-norm clipping at 1.0.
"""
import torch
import torch.nn.functional as F
from einops import rearrange

from lainr import pixel_centres
from lainr.coords import jitter


class TrainStep:
    """Callable: one forward + backward + clip + AdamW step on a fixed random batch."""

    def __init__(self, model, *, batch, pixels, sigma, lr, weight_decay, device="cpu", autocast_dtype=None,
                 seed=0):
        self.model = model.train()
        self.batch, self.pixels, self.sigma = batch, pixels, sigma
        self.autocast_dtype = autocast_dtype
        self.device = torch.device(device)
        g = torch.Generator().manual_seed(seed)
        size = model.config.image_size
        self.images = torch.rand(batch, 3, size, size, generator=g).to(self.device)
        self.grid = pixel_centres(size, device=self.device)  # (P, 2)
        self.targets = rearrange(self.images, "b c h w -> b (h w) c")  # (B, P, 3)
        self.gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    def _queries(self):
        num = self.grid.shape[0]
        if self.pixels is None:  # all pixels, jittered per sample
            coords = jitter(self.grid.expand(self.batch, -1, -1).contiguous(), self.sigma, self.gen)
            return coords, self.targets
        idx = torch.randint(0, num, (self.batch, self.pixels), generator=self.gen, device=self.device)
        coords = self.grid[idx]  # (B, n, 2)
        targets = torch.gather(self.targets, 1, idx[..., None].expand(-1, -1, 3))
        return coords, targets

    def __call__(self):
        coords, targets = self._queries()
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            pred = self.model(self.images, coords)
        pred = pred.float()
        if self.pixels is None:  # corrected: mean over images of the per-image MSE
            loss = ((pred - targets) ** 2).mean(dim=(1, 2)).mean()
        else:
            loss = F.mse_loss(pred, targets)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        return loss.detach()

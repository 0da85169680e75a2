"""What both models share: input checks, encode / decode / render, attention read-out."""
import torch
import torch.nn as nn
from einops import rearrange

from .coords import jitter, pixel_centres

DEFAULT_CHUNK = 16384  # queries decoded at once by `render`: bounds memory at any output size


class GINR(nn.Module):
    """Generalizable INR: an encoder to latent tokens and a decoder at continuous coordinates.

    Subclasses set `self.config`, `self.encoder` and `self.decoder`.
    """

    config = None

    # ---- input checks -------------------------------------------------------------------------
    def _check_images(self, images):
        size = self.config.image_size
        if not isinstance(images, torch.Tensor):
            raise ValueError(f"images must be a torch.Tensor, got {type(images).__name__}")
        if images.ndim == 4 and images.shape[1] == 3 and images.shape[2:] != (size, size):
            got = f"{images.shape[-2]}×{images.shape[-1]}"  # H×W; the config's image_size is the side it trained at
            raise ValueError(f"this model takes {size}×{size} images; got {got} "
                             f"(images must have shape (B, 3, {size}, {size}), got {tuple(images.shape)})")
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, {size}, {size}), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"images must be floating point in [0, 1], got dtype {images.dtype}")

    def _check_coords(self, coords, batch, name="coords"):
        if not isinstance(coords, torch.Tensor) or not coords.is_floating_point():
            raise ValueError(f"{name} must be a floating-point torch.Tensor")
        if coords.ndim != 3 or coords.shape[-1] != 2 or coords.shape[0] != batch:
            raise ValueError(f"{name} must have shape ({batch}, Q, 2) (y, x in [0, 1]), got {tuple(coords.shape)}")

    def _check_latents(self, latents):
        m, d = self.config.num_lp, self.config.dim
        if not isinstance(latents, torch.Tensor) or latents.ndim != 3 or latents.shape[1:] != (m, d):
            shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
            raise ValueError(f"latents must have shape (B, {m}, {d}), got {shape}")

    # ---- the model ----------------------------------------------------------------------------
    def encode(self, images):
        """images (B, 3, S, S) in [0, 1], S = config.image_size → latents (B, m, d)."""
        self._check_images(images)
        return self.encoder(images.to(self._dtype()))

    def decode(self, latents, coords, mod_coords=None):
        """latents (B, m, d), coords (B, Q, 2) → RGB (B, Q, 3) (unclamped); differentiable w.r.t. the latents.

        The decoder's forward (what trains), or after `fuse()` its folded inference copy.
        """
        self._check_decode_inputs(latents, coords, mod_coords)
        fused = self._modules.get("fused_decoder")
        if fused is not None:
            return fused(latents, coords, mod_coords)
        # need_weights=False: one fused attention kernel, the weights never formed
        return self.decoder(latents, coords, mod_coords, need_weights=False)[0]

    def fuse(self):
        """For inference: decode (and render) through the decoder with its Linear pairs folded
        (lainr.fused; the same function to ~1e-6, fewer FLOPs per query). Puts the model in eval mode
        and freezes the decoder's parameters (requires_grad False; the latents still get gradients).
        The folded weights are a copy taken now: `train()` or `unfuse()` drops them. Returns self."""
        self.eval()
        self.decoder.requires_grad_(False)
        self.fused_decoder = self.decoder.fuse()
        return self

    def unfuse(self):
        """Back to the decoder's own forward, its parameters trainable again. Returns self."""
        if self._modules.get("fused_decoder") is not None:
            del self.fused_decoder
            self.decoder.requires_grad_(True)
        return self

    def train(self, mode=True):
        if mode:  # training runs the readable forward; a fused copy would go stale
            self.unfuse()
        return super().train(mode)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        if self._modules.get("fused_decoder") is not None:  # new weights: fold them again
            self.fused_decoder = self.decoder.fuse()
        return result

    def decode_with_attention(self, latents, coords, mod_coords=None):
        """→ rgb (B, Q, 3), attention weights (B, heads, Q, m), spatial bias (B, Q, m) or None."""
        self._check_decode_inputs(latents, coords, mod_coords)
        return self.decoder(latents, coords, mod_coords, need_weights=True)

    def _check_decode_inputs(self, latents, coords, mod_coords):
        self._check_latents(latents)
        self._check_coords(coords, latents.shape[0])
        if mod_coords is not None:
            self._check_coords(mod_coords, latents.shape[0], "mod_coords")
            if mod_coords.shape != coords.shape:
                raise ValueError(f"mod_coords {tuple(mod_coords.shape)} must match coords {tuple(coords.shape)}")

    def forward(self, images, coords):
        """images (B, 3, S, S), coords (B, Q, 2) → RGB (B, Q, 3)."""
        return self.decode(self.encode(images), coords)

    def query_grid(self, batch, height, width=None, *, sigma=0.0, generator=None):
        """Pixel-centre grid (B, H·W, 2), each sample jittered independently by N(0, σ²)."""
        grid = pixel_centres(height, width, device=self._device())
        return jitter(grid.expand(batch, -1, -1).contiguous(), sigma, generator)

    @torch.no_grad()
    def render(self, images, size, sigma=0.0, generator=None, *, chunk=DEFAULT_CHUNK, clamp=True):
        """Render images (B, 3, S, S) on a size×size pixel-centre grid → (B, 3, size, size).

        sigma jitters every query by N(0, σ²) (clamped to [0, 1]); `generator` makes it
        reproducible. Queries are decoded `chunk` at a time so memory stays bounded, by the folded
        decoder (`fuse()`, built for this call unless the model is fused). `clamp` clips to [0, 1] (the
        image a user sees).
        """
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        latents = self.encode(images)
        coords = self.query_grid(latents.shape[0], size, sigma=sigma, generator=generator)
        decoder = self._modules.get("fused_decoder")
        decoder = self.decoder.fuse() if decoder is None else decoder  # inference: the folded decoder
        rgb = torch.cat([decoder(latents, queries) for queries in coords.split(chunk, dim=1)], dim=1)
        rgb = rgb.clamp(0, 1) if clamp else rgb
        return rearrange(rgb, "b (h w) c -> b c h w", h=size, w=size)

    def fit_latents(self, images, **kw):
        """Test-time refinement of the latents of `images` (decoder frozen) → lainr.refine.RefineResult.

        Keywords as `lainr.refine.fit_latents` (steps, lr, sigma, seed, latents, callback, …)."""
        from .refine import fit_latents
        return fit_latents(self, images, **kw)

    @torch.no_grad()
    def attention_maps(self, images, coords):
        """Attention of the given queries over the LP tokens.

        images (B, 3, S, S), coords (B, Q, 2) → dict with
        "weights" (B, heads, Q, m) after softmax, "bias" (B, Q, m) or None (simplified model).
        """
        _, weights, bias = self.decode_with_attention(self.encode(images), coords)
        return {"weights": weights, "bias": bias}

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())

    def _device(self):
        return next(self.parameters()).device

    def _dtype(self):
        return next(self.parameters()).dtype

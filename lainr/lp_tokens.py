"""Learnable position (LP) tokens and where they sit in the encoder's sequence."""
import torch
import torch.nn as nn


def lp_positions(num_data, num_lp):
    """Slots of the m LP tokens among L + m: linspace(0, L+m−1, m) truncated to integers."""
    pos = torch.linspace(0, num_data + num_lp - 1, num_lp, dtype=torch.float64).long()
    if pos.unique().numel() != num_lp:
        raise ValueError(f"{num_lp} LP tokens do not fit distinctly among {num_data} data tokens")
    return pos


class LPTokens(nn.Module):
    """m learned vectors (N(0, 0.02²)) interleaved with the data tokens, then read back out."""

    def __init__(self, num_data, num_lp, dim):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(num_lp, dim) * 0.02)  # (m, d)
        lp = lp_positions(num_data, num_lp)
        is_lp = torch.zeros(num_data + num_lp, dtype=torch.bool)
        is_lp[lp] = True
        self.register_buffer("lp_index", lp, persistent=False)  # (m,)
        self.register_buffer("data_index", (~is_lp).nonzero().squeeze(1), persistent=False)  # (L,)

    def interleave(self, data):
        """data (B, L, d) → (B, L+m, d) with LP tokens at `lp_index`, data in order elsewhere."""
        batch, length, dim = data.shape
        seq = data.new_empty(batch, length + self.tokens.shape[0], dim)
        seq[:, self.data_index] = data
        seq[:, self.lp_index] = self.tokens.to(data.dtype)
        return seq

    def extract(self, seq):
        """(B, L+m, d) → the LP outputs (B, m, d)."""
        return seq[:, self.lp_index]

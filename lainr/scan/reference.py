"""The plain sequential selective scan: the ground truth every fast variant is tested against."""
import torch


def selective_scan_ref(u, delta, A, B, C, D):
    """Sequential loop over time. Shapes: see `lainr.scan`. Differentiable by autograd."""
    batch, d_inner, length = u.shape
    deltaA = torch.exp(torch.einsum("bdl,dn->bldn", delta, A))  # (B, L, D, N)
    deltaBu = torch.einsum("bdl,bnl,bdl->bldn", delta, B, u)  # (B, L, D, N)
    h = u.new_zeros(batch, d_inner, A.shape[1])  # (B, D, N)
    ys = []
    for dA_t, dBu_t, C_t in zip(deltaA.unbind(1), deltaBu.unbind(1), C.unbind(2)):
        h = dA_t * h + dBu_t  # (B, D, N)
        ys.append(torch.einsum("bdn,bn->bd", h, C_t))
    y = torch.stack(ys, dim=2)  # (B, D, L)
    return y + u * D[None, :, None]

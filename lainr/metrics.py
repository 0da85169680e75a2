"""Image-quality metrics, per image then averaged. Images are (B, C, H, W) in [0, 1]."""
import torch
import torch.nn.functional as F

_MIN_MSE = 1e-10  # caps PSNR at 100 dB for identical images


def _check_pair(pred, target):
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")


def psnr_per_image(pred, target):
    """−10·log10(MSE) per image (data range 1). Returns (B,)."""
    _check_pair(pred, target)
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse.clamp_min(_MIN_MSE))


def psnr(pred, target):
    """Mean over images of per-image PSNR in dB."""
    return psnr_per_image(pred, target).mean()


def _gaussian_window(size=11, sigma=1.5, device=None, dtype=torch.float32):
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g)  # (size, size)


def ssim_per_image(pred, target, *, window=11, sigma=1.5, k1=0.01, k2=0.03):
    """SSIM (Wang et al. 2004) per image: Gaussian window, per channel, valid region, averaged.

    Returns (B,). Images smaller than the window are compared with a window of their own size.
    """
    _check_pair(pred, target)
    channels = pred.shape[1]
    size = min(window, pred.shape[-2], pred.shape[-1])
    w = _gaussian_window(size, sigma, pred.device, pred.dtype).expand(channels, 1, size, size)
    c1, c2 = k1 ** 2, k2 ** 2

    def filt(img):
        return F.conv2d(img, w, groups=channels)

    mu_p, mu_t = filt(pred), filt(target)
    var_p = filt(pred * pred) - mu_p ** 2
    var_t = filt(target * target) - mu_t ** 2
    cov = filt(pred * target) - mu_p * mu_t
    ssim_map = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p ** 2 + mu_t ** 2 + c1) * (var_p + var_t + c2))
    return ssim_map.flatten(1).mean(dim=1)


def ssim(pred, target, **kwargs):
    """Mean over images of per-image SSIM."""
    return ssim_per_image(pred, target, **kwargs).mean()

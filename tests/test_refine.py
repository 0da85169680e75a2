"""Test-time refinement (lainr.refine): the fused decoder's split, the contract of fit_latents, frozen weights."""
import math
import threading

import pytest
import torch
from einops import rearrange

import lainr
from lainr import CorrectedGINR, RefineDiverged, SimplifiedGINR
from lainr.refine import sample_image
from train.tiny import tiny_corrected, tiny_simplified

ARCHS = {"simplified": (SimplifiedGINR, tiny_simplified), "corrected": (CorrectedGINR, tiny_corrected)}


def _model(arch, seed=0):
    cls, cfg = ARCHS[arch]
    torch.manual_seed(seed)
    return cls(cfg()).eval()


def _images(n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 4, 4, generator=g)
    return torch.nn.functional.interpolate(base, size=(32, 32), mode="bilinear", align_corners=False)


def _psnr_at_centres(model, latents, images):
    rgb = model.decode(latents, model.query_grid(len(images), 32)).clamp(0, 1)
    return lainr.psnr_per_image(rearrange(rgb, "b (h w) c -> b c h w", h=32), images)


@pytest.mark.parametrize("arch", ARCHS)
def test_split_matches_decode(arch):
    model = _model(arch)
    images = _images()
    with torch.no_grad():
        latents = model.encode(images)
        coords = model.query_grid(len(images), 32, sigma=0.02, generator=torch.Generator().manual_seed(0))
        fused = model.decoder.fuse()  # what fit_latents evaluates: coordinate part once, latent part per step
        ours = fused.latent_part(latents, fused.coordinate_part(coords))
        ref = model.decode(latents, coords)
    assert ours.shape == ref.shape == (3, 1024, 3)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_refinement_improves_fit_and_row0_is_one_pass(arch):
    model = _model(arch)
    images = _images()
    lr, gain = {"simplified": (1.0, 0.05), "corrected": (3e-2, 1.0)}[arch]  # a tiny untrained simplified model barely listens to its latents
    result = model.fit_latents(images, steps=30, lr=lr)
    assert result.latents.shape == (3, model.config.num_lp, model.config.dim)
    assert not result.latents.requires_grad
    assert result.psnr.shape == (31, 3) and result.steps_done == 30 and result.stopped is None
    assert result.seconds > 0
    with torch.no_grad():
        one_pass = _psnr_at_centres(model, model.encode(images), images)
        refined = _psnr_at_centres(model, result.latents, images)
    torch.testing.assert_close(result.psnr[0], one_pass, atol=1e-3, rtol=0)
    torch.testing.assert_close(result.psnr[-1], refined, atol=1e-3, rtol=0)
    assert (result.psnr[-1] > result.psnr[0] + gain).all()


@pytest.mark.parametrize("arch", ARCHS)
def test_weights_untouched_even_when_callback_raises(arch):
    model = _model(arch)
    model.encoder.patch_embed.requires_grad_(False)  # mixed flags: each must come back as it was
    next(model.decoder.children()).requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    model.fit_latents(_images(), steps=5, sigma=0.01)

    def boom(step, psnr):
        if step == 2:
            raise RuntimeError("user cancelled by raising")

    with pytest.raises(RuntimeError, match="raising"):
        model.fit_latents(_images(), steps=5, callback=boom)
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("arch", ARCHS)
def test_batch_equals_one_by_one(arch):
    model = _model(arch)
    images = _images(3)
    batch = model.fit_latents(images, steps=8, lr=1e-2, seed=0)
    for i in range(3):
        one = model.fit_latents(images[i:i + 1], steps=8, lr=1e-2, seed=0)
        torch.testing.assert_close(one.latents[0], batch.latents[i], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(one.psnr[:, 0], batch.psnr[:, i], atol=1e-3, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_deterministic_for_a_seed(arch):
    model = _model(arch)
    images = _images(2)
    a = model.fit_latents(images, steps=6, sigma=0.02, seed=3)
    b = model.fit_latents(images, steps=6, sigma=0.02, seed=3)
    c = model.fit_latents(images, steps=6, sigma=0.02, seed=4)
    assert torch.equal(a.latents, b.latents) and torch.equal(a.psnr, b.psnr)
    assert not torch.equal(a.latents, c.latents)


def test_denormals_are_flushed_during_refinement_and_the_flag_restored():
    from lainr.denormals import flushing_denormals
    model, seen = _model("corrected"), []
    before = flushing_denormals()
    model.fit_latents(_images(1), steps=2, callback=lambda step, psnr: seen.append(flushing_denormals()))
    assert flushing_denormals() == before
    if torch.set_flush_denormal(True):  # the CPU supports flushing: it was on during the steps …
        assert all(seen)
        model.fit_latents(_images(1), steps=1)
        assert flushing_denormals()  # … and a caller's own setting is left as it was
        torch.set_flush_denormal(before)


def test_callback_stops_and_sees_every_step():
    model = _model("corrected")
    seen = []

    def cb(step, psnr):
        seen.append((step, psnr.shape))
        return step == 4

    result = model.fit_latents(_images(2), steps=50, callback=cb)
    assert result.stopped == "callback" and result.steps_done == 4
    assert result.psnr.shape == (5, 2)
    assert seen == [(s, (2,)) for s in range(5)]


def test_zero_steps_is_the_one_pass_and_a_start_point_is_used():
    model = _model("simplified")
    images = _images(2)
    result = model.fit_latents(images, steps=0)
    with torch.no_grad():
        assert torch.equal(result.latents, model.encode(images))
    assert result.psnr.shape == (1, 2)
    start = result.latents + 0.1
    again = model.fit_latents(images, steps=0, latents=start)
    assert torch.equal(again.latents, start)


def test_defaults_fill_in_none():
    d = lainr.REFINE_DEFAULTS
    assert 0 <= d.steps <= 1000 and d.lr > 0 and d.sigma >= 0
    model = _model("simplified")
    result = model.fit_latents(_images(1))
    assert result.steps_done == d.steps
    with pytest.raises(Exception):
        d.steps = 3  # frozen


@pytest.mark.parametrize("kw, match", [
    (dict(steps=-1), "steps"), (dict(steps=1001), "steps"), (dict(steps=2.5), "steps"), (dict(steps=True), "steps"),
    (dict(lr=0), "lr"), (dict(lr=-1e-2), "lr"), (dict(lr=float("nan")), "lr"), (dict(lr=float("inf")), "lr"),
    (dict(sigma=-0.1), "sigma"), (dict(sigma=float("nan")), "sigma"), (dict(seed=1.5), "seed"),
    (dict(optimizer="lbfgs"), "optimizer"), (dict(schedule="step"), "schedule"), (dict(callback=3), "callback"),
])
def test_bad_arguments_raise_value_error(kw, match):
    with pytest.raises(ValueError, match=match):
        _model("simplified").fit_latents(_images(1), **kw)


def test_bad_images_and_latents_raise_value_error():
    model = _model("corrected")
    with pytest.raises(ValueError, match="shape"):
        model.fit_latents(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="NaN"):
        model.fit_latents(torch.full((1, 3, 32, 32), float("nan")))
    with pytest.raises(ValueError, match="latents"):
        model.fit_latents(_images(2), latents=torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="latents are for 1"):
        model.fit_latents(_images(2), latents=torch.zeros(1, model.config.num_lp, model.config.dim))


@pytest.mark.parametrize("arch", ARCHS)
def test_divergence_raises_refine_diverged(arch):
    model = _model(arch)
    images = _images(1)
    start = model.encode(images).detach()
    start[0, 0, 0] = float("inf")
    with pytest.raises(RefineDiverged, match="step 0"):
        model.fit_latents(images, steps=5, latents=start)
    assert issubclass(RefineDiverged, ValueError)


def test_two_threads_do_not_mix_latents():
    model = _model("corrected")
    a_img, b_img = _images(1, seed=5), _images(1, seed=6)
    alone_a = model.fit_latents(a_img, steps=10, sigma=0.01, seed=1)
    alone_b = model.fit_latents(b_img, steps=10, sigma=0.01, seed=2)
    out = {}

    def run(name, img, seed):
        out[name] = model.fit_latents(img, steps=10, sigma=0.01, seed=seed)

    threads = [threading.Thread(target=run, args=("a", a_img, 1)), threading.Thread(target=run, args=("b", b_img, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    torch.testing.assert_close(out["a"].latents, alone_a.latents, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["b"].latents, alone_b.latents, atol=1e-5, rtol=1e-5)


def test_sample_image_is_exact_at_pixel_centres():
    images = _images(2)
    centres = lainr.pixel_centres(32).expand(2, -1, -1)
    got = sample_image(images, centres)
    torch.testing.assert_close(got, rearrange(images, "b c h w -> b (h w) c"), atol=1e-5, rtol=0)


@pytest.mark.parametrize("schedule", ["cosine", "warmup"])
def test_schedules_and_sgd_run(schedule):
    model = _model("simplified")
    r = model.fit_latents(_images(1), steps=10, optimizer="sgd", schedule=schedule, lr=0.5)
    assert r.psnr.shape == (11, 1) and math.isfinite(r.psnr[-1].item())


def test_schedule_rates():
    from lainr.refine import _lr_at
    assert [_lr_at("warmup", 1.0, t, 40) for t in (0, 1, 19, 30)] == [0.05, 0.1, 1.0, 1.0]
    assert _lr_at("warmup", 1.0, 4, 10) == _lr_at("warmup", 1.0, 4, 1000)  # independent of the run's length
    assert _lr_at("cosine", 1.0, 0, 40) == 1.0 and abs(_lr_at("cosine", 1.0, 20, 40) - 0.5) < 1e-12
    assert _lr_at("constant", 0.3, 7, 40) == 0.3


def test_snapshots_match_shorter_constant_rate_runs():
    model = _model("corrected")
    images = _images(2)
    long = model.fit_latents(images, steps=6, snapshots=(0, 3))
    short = model.fit_latents(images, steps=3)
    assert sorted(long.snapshots) == [0, 3]
    torch.testing.assert_close(long.snapshots[3], short.latents)
    with torch.no_grad():
        torch.testing.assert_close(long.snapshots[0], model.encode(images))


@pytest.mark.parametrize("lr", [3e-2, 3.0])  # 3.0: a rate high enough for the fit to swing, so the best step is not the last
def test_best_latents_are_each_images_highest_psnr_step(lr):
    model = _model("corrected")
    images = _images(3)
    result = model.fit_latents(images, steps=25, lr=lr, schedule="constant")
    expected = result.psnr.argmax(dim=0)  # first maximum per image
    assert torch.equal(result.best_step, expected)
    with torch.no_grad():
        at_best = _psnr_at_centres(model, result.best_latents, images)
    torch.testing.assert_close(at_best, result.psnr[expected, torch.arange(3)], atol=1e-3, rtol=0)
    assert result.best_latents.shape == result.latents.shape and not result.best_latents.requires_grad


def test_best_latents_of_zero_steps_and_of_a_stopped_run():
    model = _model("simplified")
    images = _images(2)
    none = model.fit_latents(images, steps=0)
    assert torch.equal(none.best_latents, none.latents) and none.best_step.tolist() == [0, 0]
    stopped = model.fit_latents(images, steps=50, lr=1.0, callback=lambda step, psnr: step == 3)
    assert (stopped.best_step <= 3).all()

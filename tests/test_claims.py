"""train.eval.claims: verdicts from the measurement files; a missing file is named and nothing is written."""
import json

import numpy as np
import pytest

from train.eval.stats import bootstrap_mean


def _est(values):
    return bootstrap_mean(np.asarray(values, dtype=float), n_boot=200).as_dict()


def _info(batch, step, pixels):
    return {"step": step, "epochs": step * batch / 50000, "elapsed": 3600.0, "hardware": "CPU only: 2 cores, x",
            "config": {"batch_size": batch, "pixels": pixels},
            "lineage": [{"step": 10, "batch_size": 128, "epochs": 0.03, "elapsed": 60.0, "hardware": "NVIDIA H200 (CUDA)"}]}


@pytest.fixture
def measured(tmp_path):
    """A fake eval folder with every measurement train.eval.claims reads, and two weights folders."""
    rng = np.random.default_rng(0)
    n = 50
    ev, ws, wc = tmp_path / "eval", tmp_path / "simplified", tmp_path / "corrected"
    for d in (ev, ws, wc):
        d.mkdir()
    sig = np.asarray([0.0, 0.02])
    s = np.stack([22.5 + rng.normal(0, 1, n), 11.3 + rng.normal(0, 1, n)])
    c = np.stack([29.3 + rng.normal(0, 1, n), 22.7 + rng.normal(0, 1, n)])
    arrays, metrics = {}, {}
    for key, vals in ((str(ws), s), (str(wc), c)):
        prefix = key.replace("/", "__")
        arrays.update({f"{prefix}.indices": np.arange(n), f"{prefix}.sigmas": sig, f"{prefix}.psnr": vals,
                       f"{prefix}.ssim": vals / 40})
        metrics[key] = {"split": "test", "data": "CIFAR-10 test split (lossy JPEG copy, q ≈ 75)", "n_test": n,
                        "test_psnr": vals[0].mean(), "test_psnr_ci": _est(vals[0]),
                        "jitter_psnr": {"0.0": vals[0].mean(), "0.02": vals[1].mean()},
                        "per_image": {"file": "per_image.npz", "prefix": prefix}}
    np.savez(ev / "per_image.npz", **arrays)
    (ev / "metrics.json").write_text(json.dumps(metrics))
    d = lambda mu: _est(mu + rng.normal(0, 0.3, n))  # noqa: E731
    inf = {"ablations": {"alpha=0": {"delta": d(-0.2), "what": "α = 0"}, "alpha=20": {"delta": d(-0.1), "what": "α = 20"},
                         "drop-band-0": {"delta": d(-8.0), "what": "band 0 (σ = 128) removed"},
                         "drop-band-1": {"delta": d(-12.0), "what": "band 1 (σ = 32) removed"}}}
    (ev / "inference_ablations.json").write_text(json.dumps(inf))
    acc = lambda p: _est(rng.random(n) < p)  # noqa: E731
    sep = {"n_train": 100, "n_test": n, "n_embed": 20, "k": 10, "data": "CIFAR-10 test split",
           "models": {str(ws): {"knn": acc(0.3), "probe": acc(0.35)}, str(wc): {"knn": acc(0.35), "probe": acc(0.4)}},
           "differences": {f"{wc} − {ws}": {"knn": _est(rng.normal(0.05, 0.1, n)), "probe": _est(rng.normal(0.05, 0.1, n))}},
           "baselines": {"pixels": {"knn": acc(0.3), "probe": acc(0.39)}}}
    (ev / "separation.json").write_text(json.dumps(sep))
    (ws / "training_info.json").write_text(json.dumps(_info(8, 33000, 512)))
    (wc / "training_info.json").write_text(json.dumps(_info(4, 2000, 1024)))
    photos = {"S": 6, "T": 8}
    per = {s_: {f"{m}@{size}": {"psnr": list(mu + rng.normal(0, 0.5, k)), "hf_ratio": list(r + rng.normal(0, 0.02, k)),
                                "hf_corr": list(hc + rng.normal(0, 0.02, k))}
                for m, mu, r, hc in (("bicubic", 23.0, 0.1, 0.3), ("simplified", 13.0, 3.0, 0.05),
                                     ("corrected", 21.0, 0.08, 0.3), ("simplified refined", 13.0, 3.0, 0.05),
                                     ("corrected refined", 22.5, 0.09, 0.35)) for size in (128, 256)}
           for s_, k in photos.items()}
    thumbs = {"baselines": {"8×8 thumbnail": {"floats": 192, "psnr": _est(21.4 + rng.normal(0, 1, n))},
                            "16×16 thumbnail": {"floats": 768, "psnr": _est(26.7 + rng.normal(0, 1, n))}},
              "margins": {str(wc): {"16×16 thumbnail": _est(2.7 + rng.normal(0, 1, n))},
                          str(ws): {"8×8 thumbnail": _est(1.0 + rng.normal(0, 1, n))}}}
    (ev / "thumbnails.json").write_text(json.dumps(thumbs))
    (ev / "sr_benchmarks.json").write_text(json.dumps({"steps": 200, "sets": list(photos), "n": photos,
                                                       "per_photo": per}))
    return ev, ws, wc


def _args(ev, ws, wc, *extra):
    return ["--eval-dir", str(ev), "--simplified", str(ws), "--corrected", str(wc), *extra]


def test_claims_json_has_the_eight_claims_in_the_page_format(measured):
    from train.eval.claims import VERDICTS, main
    ev, ws, wc = measured
    assert main(_args(ev, ws, wc, "--ablations", "")) == 0
    out = json.loads((ev / "claims.json").read_text())
    assert set(out) == {"claims", "generated", "sources"}
    ids = [c["id"] for c in out["claims"]]
    assert ids == ["psnr", "jitter", "spatial-bias", "full-image", "multi-scale", "class-separation",
                   "super-resolution", "jitter-training"]
    for c in out["claims"]:
        assert set(c) == {"id", "claim", "measurement", "verdict", "needs", "scale"} and c["verdict"] in VERDICTS
        assert c["claim"].startswith('"')
    by = {c["id"]: c for c in out["claims"]}
    assert by["psnr"]["verdict"] == "partly" and "n = 50" in by["psnr"]["measurement"]  # 6.8 dB, not +8–12
    assert "image passes" in by["psnr"]["measurement"]  # the compute, from training_info.json
    assert "8×8 thumbnail 21." in by["psnr"]["measurement"] and "Corrected one pass − 16×16 thumbnail: +2." in \
        by["psnr"]["measurement"]  # what a one-pass GINR buys over a thumbnail
    assert by["jitter"]["verdict"] == "partly"  # more robust, but loses ~6.6 dB at σ = 0.02
    assert by["spatial-bias"]["verdict"] == "not measured" and "ablate" in by["spatial-bias"]["needs"]
    assert by["full-image"]["verdict"] == "not measured" and "H200" in by["full-image"]["needs"]
    assert by["multi-scale"]["verdict"] == "partly"
    assert by["class-separation"]["verdict"] in ("partly", "does not hold")
    # better than simplified, its detail closer to the photo's, but not sharper than bicubic → partly
    assert by["super-resolution"]["verdict"] == "partly" and "n = 14" in by["super-resolution"]["measurement"]
    assert by["jitter-training"]["verdict"] == "not measured"
    md = (ev / "claims.md").read_text()
    assert md.count("\n| ") == 1 + 8 and "**not measured**" in md


def _t(mu, half=0.3):
    return {"mean": mu, "low": mu - half, "high": mu + half, "k": 5, "sd": half, "n": 40}


def _ablations(rows, seeds=(0, 1, 2, 3, 4), tested=True):
    """An ablations.json as train.study.ablate writes it: rows name → (Δ PSNR, Δ off-grid loss) on both splits."""
    base = {"seeds_done": list(seeds), "passes": 96000, "metrics": {"psnr@0": _t(23.4, 0.2)}}
    out, test = {"corrected": base}, {"corrected": base}
    for name, (mu, off) in rows.items():
        row = {"removed": f"the {name.upper()} part removed", "seeds_done": list(seeds), "passes": 96000, "delta": {"psnr@0": _t(mu), "offgrid_loss@0.02": _t(off)},
               "trend": {"psnr@0": {"trend": "grows", "from_passes": 48000, "to_passes": 96000, "delta_half": mu / 2,
                                    "delta_end": mu, "gap_change": _t(0.4, 0.2)}}}
        out[name] = row
        test[name] = {k: v for k, v in row.items() if k != "trend"}
    b = {"8×8 thumbnail": {"psnr": 21.5, "floats": 192}, "16×16 thumbnail": {"psnr": 26.8, "floats": 768}}
    study = {"scale": "reduced", "params": 260422, "base": "corrected", "ablations": out, "seeds": list(seeds),
             "passes": 96000, "epochs": 2.1, "test_images": 2000, "eval_images": 1000,
             "model_config": {"num_lp": 64, "dim": 64}, "baselines": b}
    if tested:
        study["test"] = {"ablations": test, "baselines": b}
    return study


def test_training_verdict_rule_holds_partly_inconclusive_does_not_hold():
    from train.eval.training_claims import verdict
    cost = lambda lo, hi: {"low": lo, "high": hi}  # noqa: E731
    assert verdict(cost(-2.0, -1.2), -1, 1.0) == "holds"
    assert verdict(cost(-1.3, -0.2), -1, 1.0) == "partly"  # a cost shown, its size not shown to reach 1 dB
    assert verdict(cost(-1.4, +0.3), -1, 1.0) == "inconclusive"  # holds both 0 and the claimed 1 dB
    assert verdict(cost(-0.4, +0.3), -1, 1.0) == "does not hold"  # excludes 1 dB, no cost shown
    assert verdict(cost(+0.2, +0.6), -1, 1.0) == "does not hold"
    assert verdict(cost(+1.2, +2.0), +1, 1.0) == "holds" and verdict(cost(-0.1, +1.5), +1, 1.0) == "inconclusive"


def test_a_training_ablation_file_settles_the_training_claims(measured, tmp_path):
    from train.eval.claims import main
    ev, ws, wc = measured
    (tmp_path / "ablations.json").write_text(json.dumps(_ablations({
        "alpha0": (-0.5, 0), "pixels512": (-1.5, 0), "one-band": (0.0, 0.0), "no-jitter": (0.1, 2.0)})))
    assert main(_args(ev, ws, wc, "--ablations", str(tmp_path / "ablations.json"))) == 0
    by = {c["id"]: c for c in json.loads((ev / "claims.json").read_text())["claims"]}
    assert by["full-image"]["verdict"] == "holds" and by["spatial-bias"]["verdict"] == "partly"
    assert by["multi-scale"]["verdict"] == "does not hold"  # [−0.3, +0.3]: excludes 1 dB, shows no cost
    assert by["jitter-training"]["verdict"] == "holds"
    m = by["spatial-bias"]["measurement"]
    assert "260,422 parameters" in m and "8×8 thumbnail 21.50 dB (192 floats)" in m and "5 paired seeds" in m
    assert "the gap grows" in m and "96,000 image passes (2.1 epochs)" in m and "Rule:" in m
    assert {k for k, c in by.items() if c["scale"]} == {"spatial-bias", "full-image", "multi-scale", "jitter-training"}
    assert by["full-image"]["scale"] == "reduced" and by["psnr"]["scale"] is None
    table = (ev / "claims.md").read_text()
    assert "**holds** at reduced scale" in table  # the verdict itself says the scale it rests on


def test_a_study_still_running_leaves_training_claims_unmeasured_naming_the_runs(measured, tmp_path):
    from train.eval.claims import main
    ev, ws, wc = measured
    study = _ablations({"pixels512": (-1.5, 0)}, seeds=(0, 1, 2), tested=False)
    study["seeds"] = [0, 1, 2, 3, 4]
    (tmp_path / "ablations.json").write_text(json.dumps(study))
    assert main(_args(ev, ws, wc, "--ablations", str(tmp_path / "ablations.json"))) == 0
    by = {c["id"]: c for c in json.loads((ev / "claims.json").read_text())["claims"]}
    assert by["full-image"]["verdict"] == "not measured" and by["full-image"]["scale"] is None
    m = by["full-image"]["measurement"]
    assert "3 of 5 seeds of the intact model and 3 of 5 of this ablation are in" in m and "pixels512" not in m
    assert "So far, on the validation split, 5 paired seed(s), no verdict: Δ PSNR -1.50 dB" in \
        by["full-image"]["measurement"]


@pytest.mark.parametrize("missing", ["separation.json", "inference_ablations.json", "metrics.json", "per_image.npz",
                                     "sr_benchmarks.json", "thumbnails.json"])
def test_a_missing_measurement_is_named_and_nothing_is_written(measured, missing, capsys):
    from train.eval.claims import main
    ev, ws, wc = measured
    (ev / missing).unlink()
    assert main(_args(ev, ws, wc, "--ablations", "")) == 2
    assert missing in capsys.readouterr().err
    assert not (ev / "claims.json").exists() and not (ev / "claims.md").exists()
    assert not list(ev.glob(".*tmp"))

"""bench.refine_speed runs end to end (a few steps, freshly initialised full-size models)."""
from bench.refine_speed import main


def test_refine_speed_smoke(tmp_path, capsys):
    main(["--threads", "1", "--steps", "2", "--repeats", "1", "--weights-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "corrected: fit_latents" in out and "simplified: fit_latents" in out and "both models:" in out

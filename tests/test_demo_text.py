"""The page's texts: the notes' claims table (from weights/eval/claims.json, absent → nothing), the banner."""
import json
import subprocess
import sys
from pathlib import Path

from demo import ui_text

ROOT = Path(__file__).resolve().parent.parent


def test_claims_table_from_json(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"generated": "2026-12-03 by train.eval.claims", "claims": [
        {"id": "grid", "claim": "the simplified model overfits to exact grid positions",
         "measurement": "22.47 dB on the grid, 11.73 dB at σ = 0.01", "verdict": "holds"},
        {"id": "sr", "claim": "good | super-resolution", "measurement": "below bicubic", "verdict": "does not hold"},
        {"id": "x", "claim": "", "verdict": "holds"},
        {"id": "bias", "claim": "bias is critical", "measurement": "Δ −0.8 dB", "verdict": "partly", "scale": "reduced"}]}))
    table = ui_text.claims_markdown(path)
    lines = table.splitlines()
    assert lines[0] == "| the notes claim | we measured | verdict |"
    assert "| the simplified model overfits to exact grid positions | 22.47 dB on the grid" in lines[2]
    assert "**holds**" in lines[2] and "**does not hold**" in lines[3] and "good \\| super-resolution" in lines[3]
    assert "**partly** at reduced scale" in lines[4]  # a verdict resting on reduced-scale training says so
    assert len([line for line in lines if line.startswith("| ")]) == 4  # a claim without words is left out
    assert "2026-12-03 by train.eval.claims" in table


def test_no_claims_file_no_section(tmp_path):
    assert ui_text.claims_markdown(tmp_path / "absent.json") == ""
    (tmp_path / "broken.json").write_text("{")
    assert ui_text.claims_markdown(tmp_path / "broken.json") == ""


def test_the_demo_does_not_import_train():
    code = "import sys, demo.app; sys.exit(any(m == 'train' or m.startswith('train.') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_claims_table_has_words_not_emoji_and_no_jargon(tmp_path):
    import json

    from demo.ui_text import claims_markdown

    path = tmp_path / "claims.json"
    path.write_text(json.dumps({"claims": [{"claim": "a", "measurement": "not run (no GPU lent).", "verdict": "partly"}]}))
    text = claims_markdown(path)
    assert "**partly**" in text and "no GPU lent" not in text and "needs a GPU run" in text
    assert not any(ord(ch) > 0x2FFF for ch in text)  # no emoji (a box where no emoji font is installed)

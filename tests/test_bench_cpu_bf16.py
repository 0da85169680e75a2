"""bench.cpu_bf16 runs end to end (tiny models) and reports both precisions."""
import json

from bench.cpu_bf16 import main


def test_cpu_bf16_bench_quick(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["--quick", "--rounds", "1", "--steps", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert [row["model"] for row in r["rows"]] == ["corrected", "simplified"]
    for row in r["rows"]:
        assert row["fp32_ms"] > 0 and row["bf16_ms"] > 0 and row["speedup"] > 0
    assert r["machine"].startswith("CPU only:") and "speed-up" in capsys.readouterr().out

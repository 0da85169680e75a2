"""A pair's measured figures, read for the page. A figure no file holds is "not measured yet", never made up.

They are read from the pair's eval folder, beside the weights they measure (weights/eval for the
CIFAR-10 pair, weights/<pair>/eval for another; none for weights loaded from the Hub). Two layouts:

- `figures.json`, written by the training side for a new pair (e.g. weights/photos64/eval/figures.json):
  {"pair", "input_size", "data": {"name", "licence", "source"},
   "test": {"n", "rows": {row: {"mean", "low", "high"}}},       PSNR (dB) on the test split at the input size
   "sr": {"x4": {"Set14": {"n", "rows": {row: {…}}}, …}, …}}    PSNR at the ×k output vs the benchmark photo
- the CIFAR-10 pair's evaluation files: metrics.json (one pass, the whole test split), refine.json
  (200 refinement steps, a seeded 1,000 of the split) and sr_benchmarks.json (Set5 / Set14 / BSD68 from
  their 32×32 area average, rendered at 128 and 256: ×4 and ×8).

Rows: "bicubic", "corrected", "corrected refined", "simplified" (others in a file are ignored).
"""
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

NOT_MEASURED = "not measured yet"
ROWS = ("bicubic", "corrected", "corrected refined", "simplified")
FIGURES_FILE = "figures.json"
CIFAR_FILES = ("metrics.json", "refine.json", "sr_benchmarks.json")
REFINE_STEPS = "200"  # the refined figure the page quotes: the library's default refinement


@dataclass
class Figures:
    """What was measured for one pair. test: {"n", "rows": {row: interval}}; sr: {factor: {set: {"n",
    "rows": {row: interval}}}}; an interval is {"mean", "low", "high"[, "n"]} in dB. `source`: where they
    were read from, in words a visitor may see ("" when nothing was found)."""
    input_size: int
    data: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    sr: dict = field(default_factory=dict)
    source: str = ""
    problem: str = ""  # why a file that exists could not be used

    @property
    def measured(self):
        return bool(self.test.get("rows") or self.sr)

    def factors(self):
        return sorted(self.sr)

    def sr_sets(self, factor):
        """The sets measured at ×factor, largest n first → [(name, {"n", "rows"})]."""
        sets = self.sr.get(factor) or {}
        return sorted(sets.items(), key=lambda kv: -(kv[1].get("n") or 0))


# ---- reading ------------------------------------------------------------------------------------
def _interval(value):
    """{"mean", "low", "high"[, "n"]} of finite numbers → the same dict; anything else → None."""
    if not isinstance(value, dict):
        return None
    out = {}
    for key in ("mean", "low", "high"):
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        out[key] = float(v)
    if isinstance(value.get("n"), int) and not isinstance(value.get("n"), bool):
        out["n"] = value["n"]
    return out


def _rows(raw):
    rows = {}
    for row in ROWS:
        interval = _interval((raw or {}).get(row)) if isinstance(raw, dict) else None
        if interval is not None:
            rows[row] = interval
    return rows


def _factor(key):
    """"x4" → 4, "x1.5" → 1.5; else None."""
    try:
        value = float(str(key).lower().lstrip("x×"))
    except ValueError:
        return None
    return int(value) if value == int(value) else value


def read_figures(path, input_size):
    """A figures.json → Figures (empty, with `problem` said, when it cannot be read)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        return Figures(input_size, problem=f"{path.name} could not be read ({type(err).__name__})")
    size = raw.get("input_size")
    if isinstance(size, int) and size != input_size:
        return Figures(input_size, problem=f"{path.name} measures a {size}×{size} input, not this pair's "
                                           f"{input_size}×{input_size}")
    data = {k: str(v) for k, v in (raw.get("data") or {}).items() if k in ("name", "licence", "source") and v} \
        if isinstance(raw.get("data"), dict) else {}
    test = raw.get("test") if isinstance(raw.get("test"), dict) else {}
    test = {"n": test.get("n") if isinstance(test.get("n"), int) else None, "rows": _rows(test.get("rows"))}
    sr = {}
    for key, sets in (raw.get("sr") or {}).items() if isinstance(raw.get("sr"), dict) else ():
        factor = _factor(key)
        if factor is None or not isinstance(sets, dict):
            continue
        for name, entry in sets.items():
            if isinstance(entry, dict) and _rows(entry.get("rows")):
                n = entry.get("n") if isinstance(entry.get("n"), int) else None
                sr.setdefault(factor, {})[str(name)] = {"n": n, "rows": _rows(entry.get("rows"))}
    return Figures(input_size, data, test, sr)


def _json(path):
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return raw if isinstance(raw, dict) else {}
    except (OSError, ValueError):
        return {}


def read_cifar_eval(folder, input_size):
    """The CIFAR-10 pair's metrics.json + refine.json + sr_benchmarks.json → Figures (what exists of them)."""
    folder = Path(folder)
    metrics, refine, sr_file = (_json(folder / name) for name in CIFAR_FILES)
    rows, data = {}, {}
    for name in ("simplified", "corrected"):
        entry = metrics.get(f"weights/{name}") or {}
        interval = _interval(entry.get("test_psnr_ci"))
        if interval is not None:
            rows[name] = interval
            data.setdefault("name", entry.get("data"))
    refined = _interval((((refine.get("models") or {}).get("corrected") or {}).get("steps") or {})
                        .get(REFINE_STEPS, {}).get("psnr"))
    if refined is not None:
        rows["corrected refined"] = refined
    n = next((r.get("n") for r in rows.values() if r.get("n")), None)
    sr = {}
    for name, summary in (sr_file.get("summary") or {}).items():
        for out_size in sorted({int(k.rsplit("@", 1)[1]) for k in summary if "@" in k and k.rsplit("@", 1)[1].isdigit()}):
            got = {row: _interval((summary.get(f"{row}@{out_size}") or {}).get("psnr")) for row in ROWS}
            got = {row: v for row, v in got.items() if v is not None}
            if got and out_size % input_size == 0:
                sr.setdefault(out_size // input_size, {})[name] = {"n": (sr_file.get("n") or {}).get(name), "rows": got}
    return Figures(input_size, {k: v for k, v in data.items() if v}, {"n": n, "rows": rows}, sr)


def load(folder, input_size, shown=None):
    """The figures in a pair's eval `folder` (None: no folder) → Figures; never raises. `shown`: how the
    page names the folder (no server path)."""
    if folder is None or not Path(folder).is_dir():
        return Figures(input_size)
    folder = Path(folder)
    where = shown or folder.name
    if (folder / FIGURES_FILE).is_file():
        figures = read_figures(folder / FIGURES_FILE, input_size)
        figures.source = f"{where}/{FIGURES_FILE}"
        return figures
    if any((folder / name).is_file() for name in CIFAR_FILES):
        figures = read_cifar_eval(folder, input_size)
        figures.source = where
        return figures
    return Figures(input_size)


# ---- wording ------------------------------------------------------------------------------------
def fmt(interval, n=None, unit=" dB"):
    """"22.81 [22.04, 23.57] dB" (with its n when it differs from `n`), or "not measured yet"."""
    if not interval:
        return NOT_MEASURED
    text = f"{interval['mean']:.2f} [{interval['low']:.2f}, {interval['high']:.2f}]{unit}"
    if interval.get("n") and interval["n"] != n:
        text += f" (n = {interval['n']:,})"
    return text


def factor_of(output_size, input_size):
    """The up-sampling factor of an output side → int when whole, else float."""
    f = output_size / input_size
    return int(f) if f == int(f) else round(f, 3)


def bicubic_line(figures, factor):
    """One line to stand beside bicubic: the pair's measured bicubic, one-pass and refined PSNR at ×factor
    on the largest benchmark set, or "not measured yet"."""
    sets = figures.sr_sets(factor) if factor in figures.sr else []
    def said(rows, row, label):
        return f"{label} {rows[row]['mean']:.2f} dB" if row in rows else f"{label} {NOT_MEASURED}"

    if factor == 1:
        test = figures.test.get("rows") or {}
        if not test:
            return f"this pair measured on its test split: {NOT_MEASURED}"
        return "this pair measured on its test split: " + " · ".join(
            said(test, row, label) for row, label in (("corrected", "one pass"), ("corrected refined", "refined")))
    if not sets:
        return f"this pair measured at ×{factor:g} on benchmark photos: {NOT_MEASURED}"
    name, entry = sets[0]
    n = f", n = {entry['n']}" if entry.get("n") else ""
    return (f"this pair measured at ×{factor:g} ({name}{n}, PSNR vs the photo): " + " · ".join(
        said(entry["rows"], row, label) for row, label in
        (("bicubic", "bicubic"), ("corrected", "corrected one pass"), ("corrected refined", "refined"))))


NOT_STATED = "not stated yet"


def data_line(figures, licence=False):
    """What the pair's figures say of its data (and, with `licence`, its licence: "not stated yet" when the
    file does not say)."""
    data = figures.data
    text = f"data: {data.get('name') or NOT_STATED}"
    if data.get("source"):
        text += f" ({data['source']})"
    if licence or data.get("licence"):
        text += f" · data licence: **{data.get('licence') or NOT_STATED}**"
    return text


def markdown(figures, pair, output_size=None):
    """The pair's measured figures beside bicubic: the test split at the input size, and the benchmark
    table at the ×k of `output_size` (all measured factors when that one is not)."""
    n = figures.input_size
    head = f"**Measured figures of the {pair} pair** (mean PSNR [95 % interval])"
    if not figures.measured:
        why = f" ({figures.problem})" if figures.problem else ""
        return f"{head}: {NOT_MEASURED}{why}."
    lines = [head + f", from `{figures.source}`:", ""]
    test, tn = figures.test.get("rows") or {}, figures.test.get("n")
    count = f", n = {tn:,}" if tn else ""
    what = f" ({figures.data['name']})" if figures.data.get("name") else ""
    shown = [row for row in ROWS if row != "bicubic" or row in test]  # bicubic at the input's own size is the input
    lines.append(f"- test split at the {n}×{n} input{what}{count}: " + "; ".join(
        f"{row} {fmt(test.get(row), tn)}" for row in shown))
    factor = factor_of(output_size, n) if output_size else None
    factors = [factor] if factor in figures.sr else figures.factors()
    if factor is not None and factor not in figures.sr and factor != 1:
        lines.append(f"- ×{factor:g} (output {output_size} from the {n}×{n} input): {NOT_MEASURED}; "
                     f"measured: " + (", ".join(f"×{f:g}" for f in figures.factors()) or "none"))
    for f in factors:
        lines += ["", f"×{f:g} (output {round(f * n)} from the {n}×{n} input), PSNR (dB) vs the benchmark photo:", "",
                  "| set (n) | " + " | ".join(ROWS) + " |", "|---" * (len(ROWS) + 1) + "|"]
        for name, entry in figures.sr_sets(f):
            lines.append(f"| {name} ({entry.get('n') or '?'}) | "
                         + " | ".join(fmt(entry["rows"].get(row), entry.get("n"), "") for row in ROWS) + " |")
    if figures.data:
        lines += ["", data_line(figures)]
    return "\n".join(lines)

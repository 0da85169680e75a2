"""The README's refinement speed is what a visitor sees through the page, with the CPU it was measured on,
and the same figure as the page's measurement in docs/demo.md (issue 36, item 12)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _text(name):
    return " ".join((ROOT / name).read_text(encoding="utf-8").split())  # lines unwrapped


def test_the_readme_refine_speed_is_the_pages_with_its_cpu():
    readme = re.search(r"Refining one image for 200 steps through the page \(both models at once[^)]*\) took "
                       r"\*\*([0-9.]+) s\*\* \(simplified ([0-9.]+) s, corrected ([0-9.]+) s[^)]*\) on (\d+) vCPUs of an? "
                       r"(Intel Xeon|AMD EPYC) \((AVX-512|AVX2)\)[^(]*\(`python -m bench\.page_refine`", _text("README.md"))
    assert readme, "README.md: the refinement speed through the page, with its CPU"
    total, simplified, corrected, cores, cpu, isa = readme.groups()
    demo = re.search(r"Refine through the page, measured [^`]*`OMP_WAIT_POLICY=PASSIVE python -m bench\.page_refine"
                     r"[^`]*`, on (\d+) vCPUs of an \"([^\"]+)\" \(`lscpu`; ([\w-]+)\).*?refinement \*\*([0-9.]+) s\*\* "
                     r"\(simplified ([0-9.]+) s, corrected ([0-9.]+) s", _text("docs/demo.md"))
    assert demo, "docs/demo.md: the page's refinement measurement"
    assert (demo.group(1), demo.group(3)) == (cores, isa) and cpu.split()[0] in demo.group(2)
    assert (demo.group(4), demo.group(5), demo.group(6)) == (total, simplified, corrected)

"""Every fenced shell command in README.md, train/README.md and docs/*.md, run as written from the repository
root in a clean environment (no PYTHONPATH, no virtualenv variables: PATH, HOME, LANG only), so that a broken
documented command fails the suite.

How a command is run — one rule per kind, nothing else is skipped:
- `python -m MOD …`, `python FILE …`, `bash FILE …` (with any VAR=value prefix): run exactly as written with
  `--help` appended (training, servers, uploads and hour-long evaluations only parse their flags and import
  what they need); it must exit 0 and print a usage text. A shell script therefore has to honour `--help`
  (train/gpu/gpu_run.sh and space/rehearse.sh do) after setting up its own environment.
- `python -c CODE`: its import statements are executed (the call itself needs files a run writes).
- `pip install -r FILE …`: not run (no network in the suite); every `-r FILE` must exist.
- SKIPPED below, each with its reason: system package installs.
A block is shell when its fence says bash/sh/shell or nothing; one command per line (backslash continues
it), `&&` chains split, `#` comments dropped.
"""
import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "train/README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
SKIPPED = {"apt-get": "installs system packages as root (the browser test's Chromium); .ci/run does it"}
FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```", re.S | re.M)
SHELL_FENCES = {"", "bash", "sh", "shell", "console"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_commands(text):
    """[(line number, command)] of the fenced shell blocks of one markdown text."""
    out = []
    for m in FENCE.finditer(text):
        if m.group(1).lower() not in SHELL_FENCES:
            continue
        first = text.count("\n", 0, m.start(2)) + 1
        joined, start = "", None
        for i, line in enumerate(m.group(2).splitlines()):
            start = first + i if start is None else start
            if line.rstrip().endswith("\\"):
                joined += line.rstrip()[:-1] + " "
                continue
            words = shlex.split(joined + line, comments=True)
            joined, n = "", start
            start = None
            command = []
            for w in words + ["&&"]:
                if w == "&&":
                    if command:
                        out.append((n, command))
                    command = []
                else:
                    command.append(w)
    return out


def documented():
    cases = []
    for doc in DOCS:
        for line, command in shell_commands((ROOT / doc).read_text()):
            cases.append(pytest.param(command, id=f"{doc}:{line}:{' '.join(command)[:60]}"))
    return cases


def clean_env(extra):
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
           "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.update(extra)
    return env


def run(argv, env):
    return subprocess.run(argv, cwd=ROOT, env=clean_env(env), capture_output=True, text=True, timeout=300)


def test_the_docs_have_commands_to_check():
    assert len(documented()) >= 10


@pytest.mark.parametrize("command", documented())
def test_documented_command(command):
    env = {}
    while command and ASSIGNMENT.match(command[0]):
        key, value = command.pop(0).split("=", 1)
        env[key] = value
    program, args = command[0], command[1:]
    if program in SKIPPED:
        pytest.skip(SKIPPED[program])
    if program in ("pip", "pip3") or (program == "python" and args[:2] == ["-m", "pip"]):
        files = [args[i + 1] for i, a in enumerate(args) if a in ("-r", "--requirement")]
        assert "install" in args and files, f"no rule for {' '.join(command)}"
        for f in files:
            assert (ROOT / f).is_file(), f"{f} does not exist"
        return
    if program == "python" and args[:1] == ["-c"]:
        tree = ast.parse(args[1])
        imports = "\n".join(ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))
        assert imports, f"nothing to check in {args[1]!r}"
        r = run([program, "-c", imports], env)
        assert r.returncode == 0, r.stderr[-3000:]
        return
    assert program in ("python", "bash"), f"no rule for {' '.join(command)}: add one to this test"
    r = run([program, *args, "--help"], env)
    assert r.returncode == 0, f"{' '.join(command)} --help exited {r.returncode}:\n{r.stderr[-3000:]}"
    assert "usage" in (r.stdout + r.stderr).lower(), r.stdout[-2000:]

"""One call on a GPU machine: check the scan, benchmark, train, export, evaluate, pack the results.

    python -m train.gpu.gpu_job --model {simplified,corrected,both} --data PACK.npz --budget 6m --out OUT_DIR
    DEVICE=cpu train/gpu/gpu_run.sh both PACK.npz 20s OUT_DIR          # the same as a dry run on CPU

Stages (each writes report.json again, so a call cut short still returns what it finished):
 1. checks before any work: MODEL known, OUT_DIR empty, CUDA present when --device cuda, data readable;
 2. the machine: GPU name, memory, torch / triton versions;
 3. the selective scan on this device: the Triton kernel against the float64 reference (outputs and
    all gradients); if it is missing, fails or disagrees, the pure-torch `blelloch` scan is used
    (LAINR_SCAN_VARIANT for the training processes) and the report says so;
 4. a throughput benchmark per model at its recipe batch under bf16 autocast (CUDA): img/s of a
    whole training step, the scan's share of it (the model's scan calls timed alone), peak memory;
 5. the training budget split between the models (corrected 70 %, simplified 30 % with `both`) and
    turned into a fixed number of optimiser steps from the measured img/s (× SAFETY), so the rate
    schedule is a function of the step alone; each run also has a wall-clock guard (it is stopped
    right after a checkpoint, and the card says the schedule had not ended);
 6. export (Hub format, card with the GPU, budget, steps and recipe), then `train.eval.evaluate` of all
    exported models on the test split, then the export again with the card's figures taken from
    that evaluation (sha256-checked);
 7. OUT_DIR: report.json, log.txt, MODEL.tar per model and eval.tar, any file over PART_BYTES split
    into .00, .01 … parts (a returned file may be at most 16 MiB; at most 8 files come back).
`python -m train.publish.collect OUT_DIR DEST` turns what came back into DEST/<model> folders.
"""
import argparse
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_json
from ..tiny import TINY  # --tiny: the pipeline on small models (the CPU dry run)

PART_BYTES = 15 * 2 ** 20  # < the 16 MiB a returned file may have
SAFETY = 0.9  # planned steps = budget × measured img/s × SAFETY / batch
SHARE = {"corrected": 0.7, "simplified": 0.3}  # of the training budget, with --model both
MODELS = ("simplified", "corrected")


class JobError(ValueError):
    """Bad input, found before any training."""


def _models(name):
    if name == "both":
        return list(MODELS)
    if name not in MODELS:
        raise JobError(f"unknown MODEL {name!r}; choose simplified, corrected or both")
    return [name]


def check_call(a):
    """What every GPU call refuses before any work (OUT_DIR not empty, CUDA missing, unreadable data, a bad
    budget) → (OUT_DIR, budget in seconds)."""
    from ..config import parse_duration
    from ..data import check_source
    out = Path(a.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise JobError(f"OUT_DIR {out} is not empty; give an empty or new folder (nothing was written)")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise JobError(f"DEVICE={a.device} but no CUDA GPU is visible here; DEVICE=cpu runs the dry run")
    check_source(a.data)
    budget = parse_duration(a.budget)
    if budget <= 0:
        raise JobError(f"the budget must be positive, e.g. 6m (got {a.budget})")
    return out, budget


def check_inputs(a):
    """Everything that can be refused is refused here, before any work."""
    models = _models(a.model)
    out, budget = check_call(a)
    for model in models:
        if a.init_from and not (Path(a.init_from) / model / "config.json").is_file():
            raise JobError(f"--init-from {a.init_from}: no {model}/config.json there")
    from ..recipes import recipe
    recipe(a.recipe, models[0])  # unknown recipe → ValueError listing the known ones
    return models, out, budget


def call_arguments(p, budget_help):
    """The arguments every GPU call takes (train/gpu/gpu_run.sh passes them)."""
    p.add_argument("--data", required=True, help="a train.gpu.pack .npz (or an ImageFolder root)")
    p.add_argument("--budget", required=True, help=budget_help)
    p.add_argument("--out", required=True, help="an empty folder: what the call returns")
    p.add_argument("--work", default="", help="scratch folder (runs, checkpoints); default OUT_work beside OUT")
    p.add_argument("--device", default=os.environ.get("DEVICE", "cuda"))


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:  # the whole group has exited
        pass


class Job:
    def __init__(self, a, models, out, budget):
        self.a, self.models, self.out, self.budget = a, models, out, budget
        self.work = Path(a.work) if a.work else out.parent / (out.name + "_work")
        self.cuda = a.device.startswith("cuda")
        self.report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": a.device,
                       "budget_s": budget, "models": models, "stages": {}, "files": {}}
        self.t0 = time.time()
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")

    # ---- bookkeeping ------------------------------------------------------------------------
    def log(self, msg):
        line = f"[{time.time() - self.t0:7.1f}s] {msg}"
        print(line, flush=True)
        with open(self.out / "log.txt", "a") as f:
            f.write(line + "\n")

    def save_report(self):
        atomic_write_json(self.out / "report.json", self.report, sort_keys=False, default=str)

    def stage(self, name, **facts):
        self.report["stages"][name] = dict(facts, at_s=round(time.time() - self.t0, 1))
        self.save_report()

    def run(self, args, timeout=None):
        """python -m … with output appended to log.txt; → return code (124 on timeout: SIGTERM to the command and
        everything it started — a study's trainers, torchrun's workers — then SIGKILL after 30 s)."""
        self.log("$ python -m " + " ".join(a if len(a) < 120 else a[:40] + "…" for a in args))
        with open(self.out / "log.txt", "a") as f:
            proc = subprocess.Popen([sys.executable, "-m", *args], stdout=f, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True)  # its own process group, so the guard reaches all
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                _signal_group(proc.pid, signal.SIGKILL)  # whatever of the group is still there
                proc.wait()
                return 124

    # ---- stages -----------------------------------------------------------------------------
    def machine(self):
        info = {"torch": torch.__version__, "python": sys.version.split()[0], "cpus": os.cpu_count()}
        try:
            import triton
            info["triton"] = triton.__version__
        except ImportError:
            info["triton"] = None
        if self.cuda:
            p = torch.cuda.get_device_properties(0)
            info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2 ** 30, 1), capability=f"{p.major}.{p.minor}")
        self.report["machine"] = info
        self.log(f"machine: {info}")
        self.save_report()

    def data(self):
        """Decode the data once into an array pack in the work folder: every process then loads it at once."""
        from .pack import pack
        t = time.time()
        decoded = self.work / "data_decoded.npz"
        if not decoded.is_file():
            pack(self.a.data, decoded)
        with np.load(decoded) as z:
            meta = json.loads(bytes(z["meta"]).decode())
        self.data_path = str(decoded)
        self.stage("data", seconds=round(time.time() - t, 1), source=meta["source"], n_train=meta.get("n_train"),
                   n_test=meta.get("n_test"))
        self.log(f"data: {meta['source']} ({time.time() - t:.1f} s)")

    def scan(self):
        from lainr.scan import available_variants
        variant, detail = ("blelloch" if self.cuda else "default (CPU)"), {}
        if self.cuda:
            if "triton" in available_variants():
                try:
                    from lainr.scan.triton import self_check
                    detail = self_check(self.a.device)
                    worst = max(detail.values())
                    variant = "triton" if worst < 1e-4 else "blelloch"
                    if variant != "triton":
                        self.log(f"scan: the Triton kernel disagrees with the reference (max rel err {worst:.2e})")
                except Exception as err:  # noqa: BLE001 — any failure of the kernel means: use the fallback
                    detail = {"error": f"{type(err).__name__}: {err}"}
                    self.log(f"scan: the Triton kernel failed here: {detail['error']}")
            else:
                detail = {"error": "triton is not importable"}
            self.env["LAINR_SCAN_VARIANT"] = variant
        self.scan_variant = variant
        self.stage("scan", variant=variant, check=detail)
        self.log(f"scan: {variant} {detail}")

    def recipe(self, model):
        from ..recipes import recipe
        r = recipe(self.a.recipe, model)
        if self.a.batch_size:
            r["batch_size"] = self.a.batch_size
        if self.a.lr:
            r["lr"] = self.a.lr
        return r

    def model_config(self, model):
        return TINY[model] if self.a.tiny else {}

    def benchmark(self):
        from .gpu_throughput import measure
        results = {}
        for model in self.models:
            r = measure(model, self.model_config(model), self.recipe(model)["batch_size"], self.a.device,
                        bf16=self.cuda, steps=self.a.bench_steps, scan_variant=self.env.get("LAINR_SCAN_VARIANT"))
            results[model] = r
            self.log(f"benchmark {model}: {r}")
            self.report["benchmark"] = results
            self.save_report()
        self.stage("benchmark", **{m: {"img_per_s": r["img_per_s"]} for m, r in results.items()})

    def train(self, model):
        rec = self.recipe(model)
        share = SHARE[model] if len(self.models) == 2 else 1.0
        seconds = self.budget * share
        img_s = self.report["benchmark"][model]["img_per_s"]
        steps = max(1, int(seconds * img_s * SAFETY / rec["batch_size"]))
        run_dir = self.work / f"run_{model}"
        args = ["train", "--model", model, "--data", self.data_path, "--out", str(run_dir), "--device", self.a.device,
                "--max-steps", str(steps), "--recipe", self.a.recipe, "--batch-size", str(rec["batch_size"]),
                "--lr", str(rec["lr"]),
                "--val-limit", str(self.a.val_limit), "--ckpt-minutes", "1", "--log-every", "10",
                "--workers", "0", "--no-export", "--no-progress", "--seed", str(self.a.seed)]
        if self.cuda:
            args.append("--bf16")
        if self.a.tiny:
            args += ["--config-json", json.dumps(TINY[model])]
        if self.a.init_from:
            args += ["--init-from", str(Path(self.a.init_from) / model)]
        guard = seconds * 1.5 + 60  # a wall-clock guard only; the schedule is set by the steps
        t = time.time()
        rc = self.run(args, timeout=guard)
        took = time.time() - t
        requested = steps
        run_json = run_dir / "run.json"
        if run_json.is_file():  # the trainer's own plan: --max-steps, at most the protocol's epochs
            steps = json.loads(run_json.read_text()).get("total_steps", steps)
        facts = dict(planned_steps=steps, requested_steps=requested, budget_s=round(seconds, 1), batch_size=rec["batch_size"], lr=rec["lr"],
                     rc=rc, wall_s=round(took, 1), guard_s=round(guard))
        if rc == 124:
            self.log(f"train {model}: stopped by the wall-clock guard after {took:.0f} s; exporting its last checkpoint")
        self.stage(f"train_{model}", **facts)
        return run_dir, facts

    def notes(self, model, facts):
        m, bench = self.report.get("machine", {}), self.report["benchmark"][model]
        return (f"\n## How this folder was made (one GPU call, `train/gpu/gpu_run.sh`)\n\n"
                f"- Machine: {m.get('gpu', 'CPU dry run')}, torch {m.get('torch')}, triton {m.get('triton')}; "
                f"bf16 autocast (Fourier features and the spatial bias in fp32); selective scan: "
                f"{self.scan_variant}.\n"
                + (f"- Started from the weights in `{Path(self.a.init_from) / model}` (`--init-from`), "
                   f"fresh optimiser state.\n" if self.a.init_from else "")
                + f"- Budget: {facts['budget_s']:.0f} s of this model's training in a {self.budget:.0f} s call budget; "
                f"measured {bench['img_per_s']:.0f} img/s at batch {facts['batch_size']} → "
                f"{facts['requested_steps']} optimiser steps (× {SAFETY} safety)"
                + (f", capped at the protocol's epochs: {facts['planned_steps']} planned optimiser steps"
                   if facts['planned_steps'] != facts['requested_steps'] else " planned optimiser steps")
                + ", the rate schedule compressed over them.\n"
                f"- Recipe `{self.a.recipe}` (train/recipes.py): batch {facts['batch_size']}, peak lr {facts['lr']}"
                + (" — the rates scaled by √(batch ratio) from the calibrated ones, not chosen by a sweep on "
                   "the GPU.\n" if self.a.recipe == "gpu" else ".\n"))

    def export(self, model, run_dir, facts, metrics=None):
        dest = self.work / "export" / model
        args = ["train.publish.export", str(run_dir), str(dest), "--device", self.a.device, "--eval-limit",
                str(self.a.export_eval_limit), "--dtype-check-limit", str(self.a.export_eval_limit),
                "--notes", self.notes(model, facts)]
        if metrics:
            args += ["--metrics", str(metrics)]
        else:
            args.append("--jitter")
        rc = self.run(args, timeout=600)
        if rc != 0:
            self.log(f"export {model}: failed (rc {rc})")
            return None
        for name, as_name in (("metrics.jsonl", "metrics.jsonl"), ("run.json", "run.json"),
                              ("curves.png", "training_curves.png")):  # the run's history travels along
            if (run_dir / name).is_file():
                (dest / as_name).write_bytes((run_dir / name).read_bytes())
        info = json.loads((dest / "training_info.json").read_text())
        self.stage(f"export_{model}", test=info["test"], dtype=info["dtype"], step=info["step"],
                   epochs=info["epochs"], with_full_metrics=bool(metrics))
        self.ship(model, dest)
        return dest

    def evaluate(self, exported):
        ev = self.work / "eval"
        args = ["train.eval.evaluate", "--data", self.data_path, "--out", str(ev), "--device", self.a.device,
                "--limit", str(self.a.eval_limit)]
        for d in exported.values():
            args += ["--weights", str(d)]
        rc = self.run(args, timeout=self.a.eval_timeout)
        if rc != 0 or not (ev / "metrics.json").is_file():
            self.log(f"evaluate: failed or cut short (rc {rc})")
            return None
        results = json.loads((ev / "metrics.json").read_text())
        self.stage("evaluate", **{Path(k).name: {"test_psnr": v.get("test_psnr"), "n_test": v.get("n_test")}
                                  for k, v in results.items()})
        self.ship("eval", ev)
        return ev / "metrics.json"

    # ---- OUT_DIR ------------------------------------------------------------------------------
    def ship(self, name, folder, only=None):
        """folder (or only its entries named in `only`) → OUT/name.tar (or .tar.00, .01 … parts); report.json
        lists them with sha256."""
        for old in self.out.glob(f"{name}.tar*"):
            old.unlink()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for f in sorted(Path(folder).rglob("*")):
                rel = f.relative_to(folder)
                if f.is_file() and (only is None or rel.parts[0] in only):
                    tar.add(f, arcname=str(rel))
        data = buf.getvalue()
        parts = [data[i:i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
        names = [f"{name}.tar"] if len(parts) == 1 else [f"{name}.tar.{i:02d}" for i in range(len(parts))]
        for n, part in zip(names, parts):
            (self.out / n).write_bytes(part)
        self.report["files"][name] = {"parts": names, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self.save_report()
        self.log(f"shipped {name}: {', '.join(names)} ({len(data) / 2 ** 20:.1f} MiB)")

    def main(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log(f"gpu_job: models {self.models}, budget {self.budget:.0f} s, device {self.a.device}, out {self.out}")
        self.machine()
        self.data()
        self.scan()
        self.benchmark()
        runs, exported = {}, {}
        for model in sorted(self.models, key=MODELS.index):  # simplified first: a short run, shipped early
            run_dir, facts = self.train(model)
            runs[model] = (run_dir, facts)
            dest = self.export(model, run_dir, facts)
            if dest:
                exported[model] = dest
        if exported and self.a.eval_limit >= 0:
            metrics = self.evaluate(exported)
            if metrics:  # the cards' figures from that evaluation (same files: sha256-checked by export)
                for model in exported:
                    self.export(model, *runs[model], metrics=metrics)
        self.finish()
        return 0 if len(exported) == len(self.models) else 1

    def finish(self):
        self.report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.report["seconds"] = round(time.time() - self.t0, 1)
        self.save_report()
        self.log(f"done in {time.time() - self.t0:.0f} s: {sorted(p.name for p in self.out.iterdir())}")


def parser():
    p = argparse.ArgumentParser(prog="python -m train.gpu.gpu_job", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="simplified, corrected or both")
    call_arguments(p, "training time for all models together, e.g. 6m")
    p.add_argument("--recipe", default="gpu", help="a train/recipes.py preset (default gpu: batch 128)")
    p.add_argument("--batch-size", type=int, default=0, help="override the recipe's batch")
    p.add_argument("--lr", type=float, default=0.0, help="override the recipe's peak rate")
    p.add_argument("--val-limit", type=int, default=1000, help="test images per validation during training")
    p.add_argument("--export-eval-limit", type=int, default=1000, help="test images for the export's checks")
    p.add_argument("--eval-limit", type=int, default=0, help="test images for train.eval.evaluate (0 = all; -1 = skip)")
    p.add_argument("--eval-timeout", type=float, default=300.0)
    p.add_argument("--bench-steps", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", default="", help="a folder holding simplified/ and corrected/ weights the runs "
                   "start from (e.g. weights: continue the bundled models); default: random initialisation")
    p.add_argument("--tiny", action="store_true", help="small models (the CPU dry run of the test suite)")
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    try:
        models, out, budget = check_inputs(a)
    except ValueError as err:  # JobError, DataError, bad duration
        print(f"error: {err}", file=sys.stderr)
        return 2
    return Job(a, models, out, budget).main()


if __name__ == "__main__":
    sys.exit(main())

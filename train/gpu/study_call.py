"""The prepared GPU call for the studies: a DDP smoke, a speed probe and the training ablations, in one budget.

    bash train/gpu/gpu_run.sh study PACK.npz 8m OUT_DIR        # = python -m train.gpu.study_call …
    DEVICE=cpu TINY=1 bash train/gpu/gpu_run.sh study PACK.npz 3m OUT_DIR      # the dry run on CPU

Stages (report.json is rewritten after each, so a call cut short still returns what it finished):
 1. checks before any work (OUT_DIR empty, CUDA present for --device cuda, the data readable, the budget);
    the machine; the data decoded once; the selective scan checked on this device (`train.gpu.gpu_job`'s);
 2. DDP smoke: `torchrun --nproc_per_node 2 -m train` for a few steps with both processes on the one GPU
    (`--device cuda:0`), backend nccl. NCCL ≥ 2.5 refuses two ranks of one communicator on one GPU
    ("Duplicate GPU detected"); the report then says so, and the same two processes run again with the gloo
    backend (`LAINR_DDP_BACKEND=gloo`) on that GPU, which tests the rest of the DDP path (the wrapper, the
    collectives' CUDA tensors, rank 0's checkpoint). On CPU only gloo runs;
 3. speed probe: img/s of the corrected model's whole training step at the recipe's batch (bf16 autocast
    on CUDA), with the scan's share;
 4. the training ablations (`train.study.ablate`, the claims' five rows by default, --seeds, the real corrected model unless
    --tiny) at the largest number of image passes per run that fits the time left: passes = (time left
    − scoring − a per-run start-up allowance) × measured img/s ÷ runs. A wall-clock guard stops the study at
    the budget's end; `ablate --report` then reports the runs scored so far (the report says how many);
 5. OUT_DIR: report.json, log.txt, ablations.tar (tables, figure, per-run results and logs), ddp.tar (the
    smoke's logs) — at most 8 files, each at most 15 MiB (larger ones split into parts).
"""
import argparse
import json
import shutil
import socket
import sys
import time

from .gpu_job import Job, call_arguments, check_call

SMOKE_STEPS = 3
RUN_STARTUP_S = {"cuda": 20.0, "cpu": 60.0}  # process start, data, model, first (compiling) step, checkpoint
RESERVE_S = 45.0  # the report, packing and shipping after the ablations
SCORE_PASS_COST = 1 / 3  # a scored image (forward only) ≈ a third of a training pass (train.study.ablate)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StudyCall(Job):
    def __init__(self, a, out, budget):
        super().__init__(a, ["corrected"], out, budget)
        self.recipe_name = a.recipe or ("gpu" if self.cuda else "cpu")

    def left(self):
        return self.budget - (time.time() - self.t0)

    # ---- 2. DDP smoke --------------------------------------------------------------------------
    def ddp_smoke(self):
        from ..tiny import TINY
        results = {}
        backends = ["nccl", "gloo"] if self.cuda else ["gloo"]
        for backend in backends:
            run_dir = self.work / f"ddp_{backend}"
            args = ["torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m",
                    "train", "--model", "corrected", "--data", self.data_path, "--out", str(run_dir),
                    "--device", "cuda:0" if self.cuda else "cpu", "--max-steps", str(SMOKE_STEPS),
                    "--batch-size", "8", "--val-limit", "8", "--no-export", "--no-progress", "--workers", "0",
                    "--ckpt-minutes", "1"]
            if self.a.tiny:
                args += ["--config-json", json.dumps(TINY["corrected"])]
            self.env["LAINR_DDP_BACKEND"] = backend
            start = (self.out / "log.txt").stat().st_size
            rc = self.run(args, timeout=min(180.0, max(60.0, 0.15 * self.budget)))
            self.env.pop("LAINR_DDP_BACKEND")
            with open(self.out / "log.txt", errors="replace") as f:
                f.seek(start)
                log = f.read()  # this attempt's output only
            facts = {"rc": rc, "processes": 2, "device": "cuda:0 (both)" if self.cuda else "cpu"}
            if rc != 0 and "Duplicate GPU" in log:
                facts["refused"] = "NCCL: Duplicate GPU detected (two ranks on one GPU are not supported)"
            if (run_dir / "run.json").is_file():
                facts["world_size"] = json.loads((run_dir / "run.json").read_text()).get("world_size")
            results[backend] = facts
            self.log(f"ddp smoke ({backend}): {facts}")
            if rc == 0:
                break
        self.stage("ddp_smoke", **results)
        self.ship("ddp", self.work, only=[f"ddp_{b}" for b in results])

    # ---- 3. speed probe ------------------------------------------------------------------------
    def probe(self):
        from ..recipes import recipe
        from ..tiny import TINY
        from .gpu_throughput import measure
        batches = [recipe(self.recipe_name, "corrected")["batch_size"]]
        conf = TINY["corrected"] if self.a.tiny else {}
        results = {str(b): measure("corrected", conf, b, self.a.device, bf16=self.cuda, steps=self.a.bench_steps,
                                   scan_variant=self.env.get("LAINR_SCAN_VARIANT")) for b in batches}
        self.report["probe"] = results
        self.stage("probe", **{b: {"img_per_s": r["img_per_s"]} for b, r in results.items()})
        self.log(f"probe: {results}")
        return min(r["img_per_s"] for r in results.values())  # plan with the slower batch

    # ---- 4. the ablations ------------------------------------------------------------------------
    def plan_passes(self, img_s, runs):
        """The largest equal number of image passes per run that fits the time left."""
        startup = RUN_STARTUP_S["cuda" if self.cuda else "cpu"]
        scoring = runs * 2 * self.a.eval_images * SCORE_PASS_COST / img_s  # validation and test images
        seconds = self.left() - RESERVE_S - runs * startup - scoring
        passes = int(seconds * img_s * 0.9 / runs)
        self.log(f"plan: {runs} runs, {seconds:.0f} s of training at {img_s:.0f} img/s → {passes} passes per run")
        return passes

    def ablations(self, img_s):
        from ..study.ablate_plan import DEFAULT_ABLATIONS, MIN_SEEDS
        from ..tiny import TINY
        names = self.a.ablations or ",".join(DEFAULT_ABLATIONS)
        runs = len(names.split(",")) * len(self.a.seeds.split(","))
        passes = self.plan_passes(img_s, runs)
        if passes < 1:
            self.stage("ablations", skipped=f"no time left for {runs} runs")
            return
        ev = self.work / "ablations"
        args = ["train.study.ablate", "--data", self.data_path, "--out", str(ev), "--passes", str(passes),
                "--ablations", names, "--seeds", self.a.seeds, "--eval-images", str(self.a.eval_images),
                "--test-images", str(self.a.eval_images), "--recipe", self.recipe_name, "--device", self.a.device]
        if len(self.a.seeds.split(",")) < MIN_SEEDS:
            args.append("--pilot")  # fewer than the study's seeds: the most passes per run in the time
        if not self.cuda:
            args.append("--fp32")  # the CPU dry run: bf16 autocast is for the GPU
        if self.a.tiny:
            args += ["--config-json-base", json.dumps(TINY["corrected"])]
        rc = self.run(args, timeout=max(10.0, self.left() - RESERVE_S))
        if rc != 0:  # cut short by the guard (124) or a failed run: report what was scored
            self.run(["train.study.ablate", *args[1:], "--report"], timeout=max(10.0, min(120.0, self.left())))
        if (ev / "runs" / "logs").is_dir():  # the trainers' logs sit beside the checkpoints, which stay here
            shutil.copytree(ev / "runs" / "logs", ev / "logs", dirs_exist_ok=True)
        scored = sorted(p.stem for p in (ev / "results").glob("*.json") if not p.name.endswith(".curve.json")) \
            if (ev / "results").is_dir() else []
        self.stage("ablations", rc=rc, passes_per_run=passes, runs_planned=runs, runs_scored=len(scored),
                   recipe=self.recipe_name, seeds=self.a.seeds)
        self.ship("ablations", ev, only=["ablations.json", "table.md", "ablations.png", "results", "logs"])

    def main(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log(f"study_call: budget {self.budget:.0f} s, device {self.a.device}, out {self.out}")
        self.machine()
        self.data()
        self.scan()
        self.ddp_smoke()
        img_s = self.probe()
        self.ablations(img_s)
        self.finish()
        smoke = self.report["stages"].get("ddp_smoke", {})
        return 0 if any(f["rc"] == 0 for f in smoke.values()) and "ablations" in self.report["stages"] else 1


def parser():
    p = argparse.ArgumentParser(prog="python -m train.gpu.study_call", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    call_arguments(p, "the whole call's time, e.g. 8m (it ends by then)")
    p.add_argument("--recipe", default="", help="the ablations' base recipe (default gpu on CUDA, cpu on CPU)")
    p.add_argument("--ablations", default="", help="comma-separated (default: all of train.study.ablate)")
    p.add_argument("--seeds", default="0", help="seeds per ablation (one: the most passes per run)")
    p.add_argument("--eval-images", type=int, default=1000, help="validation images scored per run")
    p.add_argument("--bench-steps", type=int, default=8)
    p.add_argument("--tiny", action="store_true", help="small models (the CPU dry run)")
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    a.init_from, a.seed = "", 0  # what the shared stages of train.gpu.gpu_job read
    try:
        out, budget = check_call(a)
    except ValueError as err:  # JobError, DataError, bad duration
        print(f"error: {err}", file=sys.stderr)
        return 2
    return StudyCall(a, out, budget).main()

if __name__ == "__main__":
    sys.exit(main())

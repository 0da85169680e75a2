#!/usr/bin/env bash
# Boot rehearsal of the Hugging Face Space, from a clean folder, as a Space boots it.
#
#   bash space/rehearse.sh [--bundled | --weights-from-hub | --both] [--json FILE] [--keep]
#
# 1. stages the Space with `python -m space.deploy --dry-run --staging …` (its own checks included);
# 2. copies the staged folder to a fresh temporary directory outside the checkout;
# 3. creates a fresh virtual environment there from the staged requirements.txt alone
#    (`python -m venv` + `pip install -r requirements.txt`; pip's local cache/wheels are reused;
#    no --system-site-packages, so nothing of the checkout's environment is visible);
# 4. starts `python app.py` in that folder as a Space does (GRADIO_SERVER_NAME=0.0.0.0,
#    GRADIO_SERVER_PORT/PORT, SPACE_ID, HF_HUB_OFFLINE=1, a bare environment: env -i);
# 5. through gradio_client (the venv's): measures start-up (launch → the page answers), the first
#    /reconstruct click (128², the page's default, sent as soon as the page answers), the app's RSS
#    (whole process tree) at rest and its peak during a 512² render; reads the page's banner from
#    /config and checks that it names where the weights came from.
# --weights-from-hub: the Space has no weights/ folder; both models are loaded by Hub id from an HF
# cache pre-populated here (from weights/) and read offline. --both runs both Spaces on one venv.
# Exit status 0 only if every check passed. Needs: python3 with venv, the checkout's requirements
# (for step 1), ~5 GB of disk for the venv (torch's CUDA wheels: what pip installs on a Space too).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$(command -v python || command -v python3)}"
MODES=(bundled)
JSON_OUT=""
KEEP=0
SPACE_ID="${REHEARSAL_SPACE_ID:-rehearsal/mamba-ginr}"
while [ $# -gt 0 ]; do
  case "$1" in
    --bundled) MODES=(bundled) ;;
    --weights-from-hub) MODES=(hub) ;;
    --both) MODES=(bundled hub) ;;
    --json) JSON_OUT="$(realpath -m "$2")"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

WORK="$(mktemp -d /tmp/space-rehearsal.XXXXXX)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
T_ALL=$(date +%s.%N)
APP_PID=""
cleanup() {
  if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; fi
  if [ "$KEEP" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
now() { date +%s.%N; }
say() { echo "[rehearse $(date +%H:%M:%S)] $*"; }

# ---- the probe: runs with the Space venv's python (its gradio_client) -------------------------
cat > "$WORK/probe.py" <<'PROBE'
import json, os, sys, threading, time, urllib.request

url, pid, t_launch, mode, out_path, space = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
ids = json.loads(os.environ.get("REHEARSAL_HUB_IDS", "{}"))
result = {"mode": mode}
failures = []

def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop(); out.append(p); todo += kids.get(p, [])
    return out

def rss_mib():
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024

def alive():
    return os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"

deadline = time.time() + 600
while True:
    if not alive():
        sys.exit("the app exited during start-up (see its log)")
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit("the app did not answer within 600 s")
    time.sleep(0.1)
result["startup_s"] = round(time.time() - t_launch, 2)
result["rss_at_ready_mib"] = round(rss_mib(), 1)

from gradio_client import Client, handle_file

cat = os.path.join(os.getcwd(), "demo", "assets", "cifar10", "cat_0000.png")
t0 = time.time()
client = Client(url, verbose=False)
t1 = time.time()
s_png, c_png, metrics = client.predict(handle_file(cat), 128, 0.0, api_name="/reconstruct")
t2 = time.time()
result["client_connect_s"] = round(t1 - t0, 2)
result["first_click_128_s"] = round(t2 - t1, 2)
for name, path in (("simplified", s_png), ("corrected", c_png)):
    if not (path and os.path.getsize(path) > 0):
        failures.append(f"no {name} render")
if not all(k in metrics.get("metrics", {}) for k in ("simplified", "corrected")):
    failures.append(f"metrics lack a model: {list(metrics.get('metrics', {}))}")
result["psnr_128"] = {k: v.get("psnr") for k, v in metrics.get("metrics", {}).items() if isinstance(v, dict)}

time.sleep(10)  # let the warm-up render and the first click's garbage settle
result["rss_at_rest_mib"] = round(rss_mib(), 1)

t3 = time.time()
client.predict(handle_file(cat), 128, 0.0, api_name="/reconstruct")
result["second_click_128_s"] = round(time.time() - t3, 2)

peak = [0.0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib()); time.sleep(0.05)
th = threading.Thread(target=sample, daemon=True); th.start()
t4 = time.time()
s512, c512, m512 = client.predict(handle_file(cat), 512, 0.0, api_name="/reconstruct")
result["click_512_s"] = round(time.time() - t4, 2)
stop.set(); th.join()
result["rss_peak_512_mib"] = round(peak[0], 1)
time.sleep(3)
result["rss_after_512_mib"] = round(rss_mib(), 1)

# the banner, as the page serves it
with urllib.request.urlopen(url.rstrip("/") + "/config", timeout=10) as r:
    config = json.load(r)
banner = next((c.get("props", {}).get("value") for c in config.get("components", [])
               if c.get("props", {}).get("elem_id") == "banner"), None)
result["banner"] = banner
if not banner:
    failures.append("no banner on the page")
else:
    if "UNTRAINED" in banner or "Weights notice" in banner:
        failures.append("the banner reports a fall-back or untrained weights")
    if "no training record" in banner:
        failures.append("the banner has no training record (training_info.json missing)")
    if mode == "hub":
        for name, repo in ids.items():
            if f"Hub {repo} (local cache)" not in banner:
                failures.append(f"the banner does not say {name} came from {repo} (hub-cache)")
    else:
        for name in ("simplified", "corrected"):
            if f"weights/{name} (bundled)" not in banner:
                failures.append(f"the banner does not say {name} came from the bundled weights/{name}")
result["failures"] = failures
json.dump(result, open(out_path, "w"), indent=1)
print(json.dumps(result, indent=1))
sys.exit(1 if failures else 0)
PROBE

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- stage ----------------------------------------------------------------------------------
HF_CACHE="$WORK/hf-cache/hub"
HUB_IDS="{}"
for mode in "${MODES[@]}"; do
  flags=(--space-id "$SPACE_ID" --dry-run --staging "$WORK/staged-$mode")
  if [ "$mode" = hub ]; then
    # pre-populate an offline HF cache with both models under the front matter's Hub ids
    HUB_IDS="$(cd "$ROOT" && "$PY" - "$HF_CACHE" <<'PYCACHE'
import json, shutil, sys
from pathlib import Path
from space import staging
_, meta = staging.read_front_matter()
ids = staging.hub_ids(meta)
commit = "0" * 40
for name, repo in ids.items():
    snap = Path(sys.argv[1]) / ("models--" + repo.replace("/", "--")) / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in staging.WEIGHT_FILES + staging.OPTIONAL_WEIGHT_FILES:  # as `train.publish.publish` uploads them
        if (staging.REPO_ROOT / "weights" / name / f).is_file():
            shutil.copy2(staging.REPO_ROOT / "weights" / name / f, snap / f)
    (snap.parents[1] / "refs").mkdir(exist_ok=True)
    (snap.parents[1] / "refs" / "main").write_text(commit)
print(json.dumps(ids))
PYCACHE
)"
    flags+=(--weights-from-hub)
    say "offline HF cache at $HF_CACHE: $HUB_IDS"
  fi
  say "staging ($mode): python -m space.deploy ${flags[*]}"
  t0=$(now)
  (cd "$ROOT" && HF_HUB_CACHE="$HF_CACHE" HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 "$PY" -m space.deploy "${flags[@]}") \
    > "$WORK/deploy-$mode.log" 2>&1 || { cat "$WORK/deploy-$mode.log"; exit 1; }
  tail -n 4 "$WORK/deploy-$mode.log"
  say "staged in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s"
  mkdir "$WORK/space-$mode"
  cp -a "$WORK/staged-$mode/." "$WORK/space-$mode/"
done

# ---- a fresh venv from the staged requirements.txt alone -------------------------------------
say "python -m venv + pip install -r requirements.txt (fresh, no system site-packages)"
t0=$(now)
"$PY" -m venv "$WORK/venv"
(cd "$WORK/space-${MODES[0]}" && env -u PYTHONPATH "$WORK/venv/bin/python" -m pip install -r requirements.txt) \
  > "$WORK/pip.log" 2>&1 || { grep -v "^WARNING: Location" "$WORK/pip.log" | tail -n 40; exit 1; }
VENV_S="$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')"
say "venv ready in ${VENV_S} s ($(du -sh "$WORK/venv" | cut -f1))"
"$WORK/venv/bin/python" -c 'import sys; assert sys.prefix != sys.base_prefix; import gradio, torch; print("venv:", sys.version.split()[0], "gradio", gradio.__version__, "torch", torch.__version__)'

# ---- boot each Space as a Space does ----------------------------------------------------------
STATUS=0
RESULTS=()
for mode in "${MODES[@]}"; do
  dir="$WORK/space-$mode"
  port="$(free_port)"
  say "booting the $mode Space: cd $dir && python app.py (port $port)"
  t_launch=$(now)
  (cd "$dir" && exec env -i HOME="$HOME" PATH="$WORK/venv/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
      GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT="$port" PORT="$port" SPACE_ID="$SPACE_ID" \
      SYSTEM=spaces HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HF_CACHE" PYTHONUNBUFFERED=1 \
      python app.py) > "$WORK/app-$mode.log" 2>&1 &
  APP_PID=$!
  if (cd "$dir" && REHEARSAL_HUB_IDS="$HUB_IDS" env -u PYTHONPATH "$WORK/venv/bin/python" "$WORK/probe.py" \
        "http://127.0.0.1:$port/" "$APP_PID" "$t_launch" "$mode" "$WORK/result-$mode.json" "$SPACE_ID"); then
    say "$mode Space: all checks passed"
  else
    STATUS=1
    say "$mode Space: FAILED; its log:"; tail -n 40 "$WORK/app-$mode.log"
  fi
  kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; APP_PID=""
  RESULTS+=("$WORK/result-$mode.json")
done

TOTAL_S="$(awk -v a="$T_ALL" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$VENV_S" "$JSON_OUT" "$TOTAL_S" "$LOAD_BEFORE" "$LOAD_AFTER" "${RESULTS[@]}" <<'SUMMARY'
import json, platform, subprocess, sys
venv_s, out, total_s, load_before, load_after = float(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.argv[3:] = sys.argv[6:]
cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if l.startswith("Model name")), platform.processor())
runs = [json.load(open(p)) for p in sys.argv[3:] if __import__("os").path.exists(p)]
summary = {"cpu": cpu, "nproc": __import__("os").cpu_count(), "venv_install_s": venv_s, "total_s": total_s,
           "loadavg_before": load_before, "loadavg_after": load_after, "runs": runs}
for r in runs:
    print(f"{r['mode']}: start-up {r['startup_s']} s · first click (128²) {r['first_click_128_s']} s · "
          f"RSS at rest {r['rss_at_rest_mib']} MiB · peak during a 512² render {r['rss_peak_512_mib']} MiB "
          f"(512² click {r['click_512_s']} s) · failures: {r['failures'] or 'none'}")
print(f"venv install {venv_s} s, whole rehearsal {total_s} s on {summary['nproc']} × {cpu} "
      f"(load average {load_before} before, {load_after} after)")
if out:
    json.dump(summary, open(out, "w"), indent=1)
SUMMARY
exit $STATUS

"""`python -m space.deploy`: the staged Space file set, its checks and the upload call (HfApi faked; no network).

The full boot rehearsal (fresh venv, `python app.py`, gradio_client) is `space/rehearse.sh`:
minutes, so it is a script, not a test here.
"""
import re
import shutil
from pathlib import Path

import pytest

from space import deploy, staging
from space.staging import StagingError

ROOT = Path(__file__).resolve().parents[1]
SPACE = "alice/mamba-ginr"


def run_deploy(capsys, *args):
    code = deploy.main(["--space-id", SPACE, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def listed(stdout):
    """{path: size} from the listing lines `  1,234  path [(generated)]`."""
    rows = re.findall(r"^\s+([\d,]+)  (\S+)", stdout, flags=re.MULTILINE)
    return {path: int(size.replace(",", "")) for size, path in rows}


class FakeApi:
    """Stands in for huggingface_hub.HfApi: records the calls and the uploaded folder's files."""
    calls = []
    fail = None

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/spaces/{repo_id}"

    def upload_folder(self, **kwargs):
        if FakeApi.fail:
            raise FakeApi.fail
        folder = Path(kwargs["folder_path"])
        files = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        FakeApi.calls.append(("upload_folder", kwargs, files))


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    FakeApi.calls, FakeApi.fail = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    return FakeApi


@pytest.fixture(scope="module")
def weights_root(demo_weight_dirs):
    return demo_weight_dirs["simplified"].parent


@pytest.fixture(scope="module")
def bundled_dry_run(weights_root, tmp_path_factory):
    """One real dry run (tiny weights): → (exit code, stdout, stderr, staged folder)."""
    import contextlib
    import io

    staged = tmp_path_factory.mktemp("deploy") / "space"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = deploy.main(["--space-id", SPACE, "--dry-run", "--weights", str(weights_root),
                            "--staging", str(staged)])
    return code, out.getvalue(), err.getvalue(), staged


# ---- the file set -----------------------------------------------------------------------------
def test_dry_run_lists_exactly_the_space_files_with_sizes(bundled_dry_run, weights_root):
    code, out, err, staged = bundled_dry_run
    assert code == 0, err
    files = listed(out)
    on_disk = {p.relative_to(staged).as_posix(): p.stat().st_size for p in staged.rglob("*") if p.is_file()}
    assert files == on_disk  # the listing is the staged folder, sizes included
    expected_top = {"app.py", "README.md", "requirements.txt", ".gitattributes"}
    assert expected_top <= set(files)
    assert {p.split("/")[0] for p in files} == expected_top | {"demo", "lainr", "weights"}
    for name in ("simplified", "corrected"):
        expected = ("config.json", "model.safetensors", "README.md") + (
            ("training_info.json",) if (weights_root / name / "training_info.json").is_file() else ())
        assert {p for p in files if p.startswith(f"weights/{name}/")} == {f"weights/{name}/{f}" for f in expected}
        assert files[f"weights/{name}/model.safetensors"] == (weights_root / name / "model.safetensors").stat().st_size
    sources = {p.relative_to(ROOT).as_posix() for d in ("demo", "lainr") for p in (ROOT / d).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")}
    assert {p for p in files if p.split("/")[0] in ("demo", "lainr")} == sources - staging.TOOLING
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in files)
    assert "demo/assets/cifar10/cat_0000.png" in files and "lainr/scan/fused_numba.py" in files
    total = re.search(r"(\d+) files, ([\d,]+) bytes", out)
    assert int(total.group(1)) == len(files) and int(total.group(2).replace(",", "")) == sum(files.values())
    assert "dry run: nothing uploaded" in out and "loads strictly" in out


def test_a_photo_pair_is_staged_when_its_folder_is_there(weights_root, demo_photo_pair_dirs, tmp_path, capsys):
    """weights/photos64/{simplified,corrected} (config, weights, card, training_info) and its eval/figures.json
    go to the Space beside the CIFAR-10 pair; the check loads them strictly, and the staged page builds."""
    weights = tmp_path / "weights"
    shutil.copytree(weights_root, weights)
    photo_root = demo_photo_pair_dirs["corrected"].parent
    shutil.copytree(photo_root, weights / "photos64")
    (weights / "photos64" / "corrected" / "training_info.json").write_text("{}")
    for name in ("simplified", "corrected"):
        (weights / "photos64" / name / "README.md").write_text(f"# photo {name}\n")
    code, out, err = run_deploy(capsys, "--dry-run", "--weights", str(weights), "--staging", str(tmp_path / "space"))
    assert code == 0, err
    files = listed(out)
    expected = {f"weights/photos64/{name}/{f}" for name in ("simplified", "corrected")
                for f in ("config.json", "model.safetensors", "README.md")}
    expected |= {"weights/photos64/corrected/training_info.json", "weights/photos64/eval/figures.json"}
    assert {p for p in files if p.startswith("weights/photos64/")} == expected
    assert f"corrected: {tmp_path / 'space'}/weights/photos64/corrected loads strictly" in out
    assert "import check: the staged app imports and builds its page" in out


def test_an_incomplete_photo_pair_is_refused(weights_root, demo_photo_pair_dirs, tmp_path, capsys, fake_hub):
    weights = tmp_path / "weights"
    shutil.copytree(weights_root, weights)
    shutil.copytree(demo_photo_pair_dirs["corrected"], weights / "photos64" / "corrected")  # no simplified
    code, out, err = run_deploy(capsys, "--weights", str(weights))
    assert code == 2 and "the photos64 pair's bundled weights incomplete" in err and "simplified" in err
    assert fake_hub.calls == []


def test_staged_readme_takes_the_repository_front_matter(bundled_dry_run):
    staged = bundled_dry_run[3]
    block, meta = staging.read_front_matter(ROOT / "README.md")
    readme = (staged / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"---\n{block}---\n")
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert SPACE in readme
    assert not (ROOT / "demo" / "SPACE_FRONT_MATTER.yaml").exists()  # the one source of truth
    assert (staged / "app.py").read_bytes() == (ROOT / "app.py").read_bytes()


def test_staged_requirements_are_the_apps_without_test_tools(bundled_dry_run):
    staged = bundled_dry_run[3]
    req = (staged / "requirements.txt").read_text()
    names = {re.split(r"[\s<>=!~\[;]", l.strip())[0].lower() for l in req.splitlines()
             if l.strip() and not l.startswith("#")}
    repo = {re.split(r"[\s<>=!~\[;]", l.strip())[0].lower() for l in (ROOT / "requirements.txt").read_text().splitlines()
            if l.strip() and not l.startswith("#")}
    assert names == repo - {"pytest"} and "gradio" in names and "torch" in names
    assert "gradio==6.31.0" in req  # the Space's SDK version, as in the front matter


def test_gitattributes_sends_weights_and_images_through_lfs():
    rules = (ROOT / ".gitattributes").read_text()
    for pattern in ("*.safetensors", "*.png", "*.jpg", "*.gif", "*.webp"):
        assert re.search(rf"^{re.escape(pattern)} filter=lfs diff=lfs merge=lfs -text$", rules, re.MULTILINE), pattern


def test_the_staged_app_imports_from_the_staged_folder_alone(bundled_dry_run):
    out = bundled_dry_run[1]
    staged = bundled_dry_run[3]
    assert "import check: the staged app imports and builds its page" in out
    assert f"simplified local {staged}/weights/simplified" in out  # loaded from the Space's folder, not the checkout


# ---- --weights-from-hub -----------------------------------------------------------------------
def _hf_cache(cache, ids, weights_root):
    commit = "0123456789abcdef0123456789abcdef01234567"
    for name, repo in ids.items():
        snap = cache / ("models--" + repo.replace("/", "--")) / "snapshots" / commit
        shutil.copytree(weights_root / name, snap)
        (snap.parents[1] / "refs").mkdir()
        (snap.parents[1] / "refs" / "main").write_text(commit)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_weights_from_hub_stages_no_weights_and_configures_the_ids(capsys, tmp_path, offline_cache, weights_root):
    ids = {"simplified": "someone/ginr-simplified-test", "corrected": "someone/ginr-corrected-test"}
    _hf_cache(offline_cache, ids, weights_root)
    code, out, err = run_deploy(capsys, "--dry-run", "--weights-from-hub", "--simplified-id", ids["simplified"],
                                "--corrected-id", ids["corrected"], "--staging", str(tmp_path / "space"))
    assert code == 0, err
    files = listed(out)
    assert not any(p.startswith("weights/") for p in files)
    app = (tmp_path / "space" / "app.py").read_text()
    assert repr(ids["simplified"]) in app and repr(ids["corrected"]) in app
    front = (tmp_path / "space" / "README.md").read_text().split("---")[1]
    assert f"models:\n  - {ids['simplified']}\n  - {ids['corrected']}\n" in front
    # both loaded strictly from the (offline) cache, by the check and by the staged app itself
    assert f"simplified: {ids['simplified']} loads strictly" in out
    assert f"simplified hub-cache {ids['simplified']}" in out and f"corrected hub-cache {ids['corrected']}" in out


def test_weights_from_hub_defaults_to_the_front_matter_ids():
    _, meta = staging.read_front_matter(ROOT / "README.md")
    ids = staging.hub_ids(meta)
    assert set(ids) == {"simplified", "corrected"} and set(ids.values()) == set(meta["models"])
    with pytest.raises(StagingError, match="--corrected-id"):
        staging.hub_ids({"models": ["a/x-simplified"]})


def test_dry_run_notes_hub_ids_it_cannot_check_offline(weights_root, tmp_path, offline_cache):
    p = staging.plan(SPACE, weights_from_hub=True, simplified_id="nobody/not-cached-simplified",
                     corrected_id="nobody/not-cached-corrected")
    notes = staging.check_weights(p, tmp_path, offline=True)
    assert all("not checked" in n for n in notes) and len(notes) == 2


# ---- bad input: a clear error, nothing uploaded -----------------------------------------------
@pytest.mark.parametrize("space_id", ["alice", "alice/", "/space", "a/b/c", "a/b--c", "a b/c", "a/b.git", ""])
def test_bad_space_id_is_refused_before_anything(capsys, fake_hub, space_id):
    code = deploy.main(["--space-id", space_id])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --space-id") and space_id in err
    assert fake_hub.calls == []


@pytest.mark.parametrize("damage", ["truncated", "wrong architecture", "missing tensor", "no weights file"])
def test_weights_that_do_not_load_are_refused_before_upload(capsys, fake_hub, tmp_path, weights_root, damage):
    bad = tmp_path / "weights"
    shutil.copytree(weights_root, bad)
    target = bad / "corrected" / "model.safetensors"
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:1000])
    elif damage == "wrong architecture":
        shutil.copy(bad / "simplified" / "model.safetensors", target)
    elif damage == "missing tensor":
        from safetensors.torch import load_file, save_file

        state = load_file(str(target))
        state.pop(sorted(state)[0])
        save_file(state, str(target))
    else:
        target.unlink()
    code, out, err = run_deploy(capsys, "--weights", str(bad))
    assert code == 2, out
    assert "corrected" in err and ("do not load" in err or "incomplete" in err), err
    assert fake_hub.calls == []


def test_a_file_the_app_imports_missing_from_the_set_is_refused(capsys, fake_hub, monkeypatch, weights_root):
    monkeypatch.setattr(staging, "TOOLING", staging.TOOLING | {"demo/metrics_view.py"})
    code, out, err = run_deploy(capsys, "--weights", str(weights_root))
    assert code == 2
    assert "would miss files the app imports" in err and "demo.metrics_view" in err
    assert fake_hub.calls == []


def test_static_check_sees_imports_inside_functions(bundled_dry_run, tmp_path):
    staged = tmp_path / "space"
    shutil.copytree(bundled_dry_run[3], staged)
    assert staging.local_imports(staged) == []
    (staged / "demo" / "late.py").write_text("def f():\n    from .zoom_helpers import walk\n    from lainr import nope\n")
    problems = staging.local_imports(staged)
    assert any("demo.zoom_helpers" in p for p in problems) and any("lainr.nope" in p for p in problems)


def test_import_check_has_no_access_to_the_checkout(bundled_dry_run, tmp_path):
    """Without lainr/ in the staged folder the import fails, although the checkout (our cwd) has it."""
    staged = tmp_path / "space"
    shutil.copytree(bundled_dry_run[3], staged)
    shutil.rmtree(staged / "lainr")
    with pytest.raises(StagingError, match="lainr"):
        staging.import_staged(staged)


def test_staging_inside_the_sources_is_refused(capsys, fake_hub):
    for dest in (ROOT, ROOT / "demo", ROOT / "weights" / "x", ROOT.parent):
        code, _, err = run_deploy(capsys, "--dry-run", "--staging", str(dest))
        assert code == 2 and "would overwrite" in err
    assert (ROOT / "demo" / "app.py").is_file() and fake_hub.calls == []


def test_staging_over_an_unrelated_folder_is_refused(capsys, fake_hub, tmp_path, weights_root):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run_deploy(capsys, "--dry-run", "--weights", str(weights_root), "--staging", str(tmp_path))
    assert code == 2 and "not empty and not an earlier staging" in err and "notes.txt" in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_hub_ids_need_weights_from_hub(capsys, fake_hub):
    code, _, err = run_deploy(capsys, "--dry-run", "--simplified-id", "a/b")
    assert code == 2 and "--weights-from-hub" in err


def test_readme_without_front_matter_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("# no front matter\n")
    with pytest.raises(StagingError, match="front matter"):
        staging.read_front_matter(tmp_path / "README.md")


@pytest.fixture
def no_import_check(monkeypatch):
    """The upload tests skip the (slow, separately tested) import subprocess; → the folders it was given."""
    seen = []

    def fake(staged, **kwargs):
        seen.append(Path(staged))
        return {"simplified": ["local", "x"], "corrected": ["local", "y"]}

    monkeypatch.setattr(staging, "check_imports", fake)
    return seen


# ---- the upload -------------------------------------------------------------------------------
def test_upload_creates_a_gradio_space_and_uploads_the_staged_folder(capsys, fake_hub, weights_root, bundled_dry_run,
                                                                    no_import_check):
    code, out, err = run_deploy(capsys, "--weights", str(weights_root), "--private")
    assert code == 0, err
    (create, repo_id, kwargs), (upload, up, files) = fake_hub.calls
    assert [str(p) for p in no_import_check] == [up["folder_path"]]  # the uploaded folder is the checked one
    assert create == "create_repo" and repo_id == SPACE
    assert kwargs == {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True, "private": True}
    assert upload == "upload_folder"
    assert up["repo_id"] == SPACE and up["repo_type"] == "space" and up["delete_patterns"] == "*"
    assert files == listed(out) == listed(bundled_dry_run[1])  # exactly the dry run's set
    assert f"done: https://huggingface.co/spaces/{SPACE}" in out


def test_upload_failure_is_reported(capsys, fake_hub, weights_root, no_import_check):
    fake_hub.fail = PermissionError("401 Unauthorized: log in with `hf auth login`")
    code, out, err = run_deploy(capsys, "--weights", str(weights_root))
    assert code == 1 and "upload failed: PermissionError: 401" in err


def test_rehearsal_script_is_valid_bash():
    import subprocess

    subprocess.run(["bash", "-n", str(ROOT / "space" / "rehearse.sh")], check=True)

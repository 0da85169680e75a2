"""The live demo's `/refine` API (tiny models): refined renders, the PSNR history, validation, no server
paths in any endpoint's output (one in-process server, tests/conftest.py: demo_server)."""
import json

import pytest
from gradio_client import handle_file
from PIL import Image

from demo.images import cifar_examples, photo_examples

CAT, DOG = cifar_examples()[6], cifar_examples()[10]


def refine(client, path=CAT, steps=3, resolution=48):
    return client.predict(handle_file(str(path)), steps, resolution, api_name="/refine")


def test_refine_returns_refined_renders_history_and_scores(demo_client):
    simplified, corrected, metrics = refine(demo_client, CAT, 4, 48)
    for path in (simplified, corrected):
        with Image.open(path) as im:
            assert path.endswith(".png") and im.size == (48, 48)
    r = metrics["refinement"]
    assert r["steps"] == 4 and r["steps_done"] == {"simplified": 4, "corrected": 4} and not r["cancelled"]
    for name in ("simplified", "corrected"):
        history = r["psnr_history"][name]
        assert len(history) == 5 and history[-1] >= history[0] - 1e-6  # Adam on the latents does not get worse here
        assert r["seconds"][name] > 0
    assert {"simplified_refined", "corrected_refined", "simplified", "corrected"} <= set(metrics["metrics"])
    json.dumps(metrics, allow_nan=False)


def test_zero_steps_is_the_one_pass_result(demo_client):
    *_, metrics = refine(demo_client, DOG, 0, 32)
    m = metrics["metrics"]
    assert m["corrected_refined"]["psnr"] == pytest.approx(m["corrected"]["psnr"], abs=1e-3)


@pytest.mark.parametrize("steps", [1001, -1, 2.5])
def test_steps_out_of_range_are_refused(demo_client, steps):
    with pytest.raises(Exception, match="Refinement steps must be a whole number from 0 to 1000"):
        refine(demo_client, CAT, steps)


def test_a_diverging_refinement_is_a_message_and_keeps_the_one_pass_result(demo_server, monkeypatch):
    from lainr import RefineDiverged

    from demo.service import Service, UserError

    engine = demo_server[2]
    model = engine.model("corrected")

    def diverge(*args, **kwargs):
        raise RefineDiverged("refinement diverged at step 3: the loss is nan")

    monkeypatch.setattr(model, "fit_latents", diverge)
    with pytest.raises(UserError, match="diverged at step 3.*one-pass result is kept"):
        Service(engine).refine(CAT, 5, 32)


def test_cancel_stops_both_models_at_their_next_step_and_keeps_what_is_done(demo_server):
    """Both models refine at once; Cancel stops both, each keeping its steps so far (its best one)."""
    import threading

    from demo import refine as refine_mod
    from demo.images import prepare

    seen, lock = {}, threading.Lock()

    def stop():
        with lock:
            name = threading.current_thread().name
            seen[name] = seen.get(name, 0) + 1
            return len(seen) == 2 and min(seen.values()) >= 3  # both models have taken steps

    refined = refine_mod.run(demo_server[2], prepare(CAT), 1000, stop=stop)
    assert set(seen) == {"refine-simplified", "refine-corrected"}  # one thread per model
    assert refined.cancelled
    for name in ("simplified", "corrected"):
        assert 2 <= refined.steps_done(name) < 1000, refined.describe()
        assert 0 <= refined.best_step(name) <= refined.steps_done(name)
        assert refined.best_psnr(name) == max(refined.psnr[name])
    for name in ("simplified", "corrected"):  # each model's own steps, of the run's 1000, and its kept step
        assert (f"{name} {refined.steps_done(name)} of 1000 steps, cancelled, kept step {refined.best_step(name)}"
                in refined.describe())
    assert refined.as_dict()["kept_step"]


def test_a_cancelled_refinement_never_replaces_a_better_earlier_one(demo_server):
    from demo import refine as refine_mod
    from demo.images import prepare

    image = prepare(CAT)
    finished = refine_mod.run(demo_server[2], image, 40)
    cancelled = refine_mod.run(demo_server[2], image, 1000, stop=lambda: True)  # stopped at step 0
    kept = refine_mod.keep_better(cancelled, finished)
    for name in ("simplified", "corrected"):
        assert kept.best_psnr(name) == max(finished.best_psnr(name), cancelled.best_psnr(name))
        assert kept.latents[name] is (finished if name in kept.earlier else cancelled).latents[name]
    assert kept.earlier and kept.tag not in (finished.tag, cancelled.tag)
    assert refine_mod.keep_better(cancelled, refine_mod.run(demo_server[2], prepare(DOG), 3)) is cancelled  # another image
    assert refine_mod.keep_better(finished, cancelled) is finished  # a finished run is the visitor's choice
    again = refine_mod.keep_better(refine_mod.run(demo_server[2], image, 1000, stop=lambda: True), kept)
    for name in ("simplified", "corrected"):  # a second cancelled run keeps what the first merge kept
        assert again.best_psnr(name) >= kept.best_psnr(name)


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_no_absolute_server_path_in_any_endpoint_output(demo_client, demo_weight_dirs, tmp_path):
    """The JSON each endpoint returns (the images are files the client downloads) and its error messages."""
    outputs = [
        demo_client.predict(handle_file(CAT), 64, 0.0, api_name="/reconstruct")[-1],
        demo_client.predict(handle_file(photo_examples()[0]), 4, 4, 8, 64, api_name="/zoom")[-1],
        demo_client.predict(handle_file(CAT), handle_file(DOG), 32, "0, 1", api_name="/interpolate")[-1],
        refine(demo_client, CAT, 2, 32)[-1],
    ]
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    for api_name, args in (("/reconstruct", (handle_file(str(bad)), 64, 0.0)),
                           ("/refine", (handle_file(str(bad)), 2, 64))):
        with pytest.raises(Exception) as err:
            demo_client.predict(*args, api_name=api_name)
        outputs.append(str(err.value))
    texts = [s for out in outputs for s in _strings(out)]
    assert texts
    for text in texts:
        assert "/tmp/" not in text and str(demo_weight_dirs["corrected"].parent) not in text, text
        assert not text.startswith("/"), text


def test_two_refinements_of_one_image_never_share_latents_or_renders(demo_server):
    """Each refinement is its own record (kept in its visitor's gr.State) with its own cache tag."""
    import numpy as np

    from demo.images import prepare
    from demo.service import Service, apply_refined

    service = Service(demo_server[2])
    _, first, images_a, _ = service.refine(CAT, 1, 32)
    _, second, images_b, _ = service.refine(CAT, 6, 32)
    assert first.tag != second.tag
    assert not np.allclose(images_a["corrected_refined"], images_b["corrected_refined"])
    image = prepare(CAT)
    assert apply_refined(image, first).key != apply_refined(image, second).key != image.key
    assert apply_refined(prepare(DOG), first).latents is None  # another image: its own one-pass latents


def _raw_call(url, api_name, data):
    """POST /gradio_api/call/<api_name>, then read its event stream → (event, data dict)."""
    import httpx

    base = f"{url.rstrip('/')}/gradio_api/call/{api_name}"
    event_id = httpx.post(base, json={"data": data}, timeout=60).json()["event_id"]
    text = httpx.get(f"{base}/{event_id}", timeout=120).text
    event = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("event:"))
    payload = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("data:"))
    return event, json.loads(payload)


@pytest.mark.parametrize("data, expected", [
    ([], "/refine takes 3 inputs (image, steps, resolution)"),
    ([None, 5, 64], "No image given"),
    ([{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}, 5, 64], "a file must be uploaded with the request"),
    ([1, 2, 3], "an input is not in the expected form"),
])
def test_raw_api_call_with_missing_or_malformed_input_is_a_message_without_traceback(demo_server, capfd, caplog,
                                                                                      data, expected):
    import logging

    caplog.set_level(logging.INFO, logger="demo")
    event, payload = _raw_call(demo_server[0], "refine", data)
    assert event == "error" and expected in (payload.get("error") or ""), payload
    assert "Traceback" not in capfd.readouterr().err
    refusals = [r for r in caplog.records if r.name == "demo" and r.getMessage().startswith("refused")]
    assert len(refusals) == 1 and expected in refusals[0].getMessage() and not refusals[0].exc_info


def _record(steps, psnr, seconds, cancelled, wall):
    from demo import refine as refine_mod

    return refine_mod.Refined("key", steps, {n: object() for n in refine_mod.NAMES}, psnr, seconds, cancelled,
                              {n: max(range(len(v)), key=v.__getitem__) for n, v in psnr.items()}, wall=wall)


def test_each_figure_of_a_merged_refinement_names_its_run():
    """A cancelled run that keeps one model's earlier, better latents: every figure says which run it is
    from — never this run's seconds beside the earlier run's steps (issue 36, item 3)."""
    from demo import refine as refine_mod
    from demo.ui_refine import describe

    earlier = _record(200, {"simplified": [10.0] + [12.0] * 200, "corrected": [20.0] * 180 + [30.0] * 21},
                      {"simplified": 1.0, "corrected": 2.0}, False, 2.04)
    latest = _record(1000, {"simplified": [10.0] * 246 + [13.0], "corrected": [20.0] * 31},
                     {"simplified": 3.0, "corrected": 3.0}, True, 3.1)
    kept = refine_mod.keep_better(latest, earlier)
    assert kept.earlier == ("corrected",)
    text = describe(kept)
    this_run, _, kept_part = text.partition("Kept:")
    assert "3.1 s" in this_run and "simplified 246 steps" in this_run and "1,000 steps asked" in this_run
    assert "corrected" not in this_run  # its latents are not this run's: none of this run's figures for it
    corrected = kept_part.split("corrected", 1)[1]
    assert "earlier refinement (200 of 200 steps, finished, 2.0 s)" in corrected and "3.1" not in corrected
    assert "simplified step 246 (13.00 dB" in kept_part and "from this run" in kept_part
    # what Zoom and Walk say they decode: each model's steps of its own run
    zoom = kept.describe()
    assert "simplified 246 of 1000 steps, cancelled" in zoom
    assert "corrected 200 of 200 steps in an earlier run" in zoom and "200 steps of 1000" not in zoom

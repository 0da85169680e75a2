"""`python app.py [--simplified SRC] [--corrected SRC] [--photos64-simplified SRC] [--photos64-corrected SRC]
[--port N]`: the side-by-side demo.

SRC is a local directory (config.json + model.safetensors) or a Hugging Face Hub repo id. The CIFAR-10
pair's defaults come from $GINR_SIMPLIFIED / $GINR_CORRECTED, else the bundled weights/<name>; the photo
pair's from $GINR_PHOTOS64_SIMPLIFIED / $GINR_PHOTOS64_CORRECTED, else weights/photos64/<name> (offered on
the page only when both are there; loaded on its first selection). See demo/pairs.py.
"""
import argparse
import logging
import os
import tempfile
import threading

from .engine import warm_up
from .pairs import Registry
from .service import Service
from .ui import build, launch_kwargs, queue


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simplified", help="weights of the simplified model: directory or Hub repo id "
                                             "(default: $GINR_SIMPLIFIED, else weights/simplified)")
    parser.add_argument("--corrected", help="weights of the corrected model: directory or Hub repo id "
                                            "(default: $GINR_CORRECTED, else weights/corrected)")
    parser.add_argument("--photos64-simplified", help="the photo pair's simplified model: directory or Hub repo id "
                                                      "(default: $GINR_PHOTOS64_SIMPLIFIED, else weights/photos64/simplified)")
    parser.add_argument("--photos64-corrected", help="the photo pair's corrected model: directory or Hub repo id "
                                                     "(default: $GINR_PHOTOS64_CORRECTED, else weights/photos64/corrected)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME"), help="bind address")
    parser.add_argument("--port", type=int, default=None, help="port (default: Gradio's, 7860)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests computed at once")
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the background warm-up render")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and the numba scan (default: all cores; "
                             "use 1 on a machine busy with other jobs)")
    return parser.parse_args(argv)


def create(simplified=None, corrected=None, env=None, photos64=None):
    """Load the first pair's weights and build the page → (blocks, the first pair's engine); the pairs are
    `blocks.registry` (demo.pairs.Registry; another pair is loaded on its first selection). photos64:
    {"simplified": SRC, "corrected": SRC} of the photo pair (default: environment, then bundled)."""
    registry = Registry.from_sources({"cifar10": {"simplified": simplified, "corrected": corrected},
                                      "photos64": dict(photos64 or {})}, env)
    engine = registry.service().engine
    for lm in engine.models.values():
        logging.getLogger("demo").info(lm.summary())
    blocks = build(registry)
    blocks.registry = registry
    return blocks, engine


def warm(engine, example=None):
    """The warm-up (demo.engine.warm_up), then the upload path once (Service.warm_upload)."""
    warm_up(engine, example=example)
    with tempfile.TemporaryDirectory(prefix="ginr-warm-") as directory:
        Service(engine).warm_upload(directory)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    if args.threads:
        from lainr.cpu_threads import set_cpu_threads

        set_cpu_threads(args.threads)
    demo, engine = create(args.simplified, args.corrected,
                          photos64={"simplified": args.photos64_simplified, "corrected": args.photos64_corrected})
    if not args.no_warm_up:  # the first decode and upload pay seconds of set-up; pay them while the page loads
        example = demo.registry.default.default_example()
        threading.Thread(target=warm, args=(engine, example), daemon=True, name="warm-up").start()
    queue(demo, concurrency=args.concurrency).launch(server_name=args.host, server_port=args.port,
                                                     share=args.share, **launch_kwargs())


if __name__ == "__main__":
    main()

"""Pieces every tab of the page uses: safe image inputs, errors as gr.Error, display enlargement."""
import contextlib
import functools
import logging

import gradio as gr
import numpy as np

from .service import UserError

log = logging.getLogger("demo")
DISPLAY_SIDE = 256  # renders smaller than this are shown enlarged by an integer factor


def enlarge(image, k):
    """(H, W, 3) → (k·H, k·W, 3) by pixel repetition."""
    return image if k == 1 else np.repeat(np.repeat(image, k, axis=0), k, axis=1)


def safe_image(which="", **kwargs):
    """A gr.Image (type="filepath", any mode) whose upload-decoding errors (non-images, decompression
    bombs) become clear gr.Errors, prefixed with `which` (e.g. "Image B") where given. Wraps the
    instance's preprocess (a subclass would make Gradio write a .pyi stub next to this file)."""
    component = gr.Image(type="filepath", image_mode=None, **kwargs)
    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001 - anything PIL raises on a bad upload
            log.info("rejected upload: %s: %s", type(err).__name__, err)
            prefix = f"{which}: " if which else ""
            if "DecompressionBomb" in type(err).__name__:
                raise gr.Error(f"{prefix}The image is too large (decompression-bomb limit); "
                               "use a smaller image.") from None
            raise gr.Error(f"{prefix}This file is not an image the demo can read (PNG, JPEG, WebP, BMP, GIF, "
                           "TIFF).") from None

    component.preprocess = preprocess
    return component


@contextlib.contextmanager
def errors_as_gr():
    """UserError → gr.Error; anything unexpected is logged and shown briefly (the server keeps going)."""
    try:
        yield
    except gr.Error:
        raise
    except UserError as err:
        raise gr.Error(str(err)) from None
    except MemoryError:
        raise gr.Error("Out of memory for this request; try a smaller resolution.") from None
    except Exception as err:  # noqa: BLE001
        log.exception("request failed")
        raise gr.Error(f"Something went wrong: {type(err).__name__}: {err}") from None


def guard(fn):
    """Decorator form of errors_as_gr for plain (non-generator) event functions."""
    @functools.wraps(fn)  # keeps the signature: Gradio reads gr.SelectData / gr.Progress parameters from it
    def wrapper(*args, **kwargs):
        with errors_as_gr():
            return fn(*args, **kwargs)
    return wrapper

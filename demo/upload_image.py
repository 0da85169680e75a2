"""An image input whose uploads reach the app undecoded.

The app's own reader (demo.images.prepare) checks every file and says what is wrong, so a bad
upload is a message — never an exception inside Gradio's preprocessing (an HTTP 500 and a
traceback in the log). A subclass rather than a patched instance: Gradio rebuilds a component from
its class when an event updates it. Gradio writes a typing stub for each component class beside its
module at import (upload_image.pyi, git-ignored; where the folder is read-only Gradio skips it).
"""
import gradio as gr


class UploadImage(gr.Image):
    """gr.Image(type="filepath") that passes an uploaded file on as its path, unopened; the browser
    draws it as a plain Image (`is_template`)."""

    is_template = True

    def preprocess(self, payload):
        if payload is not None and payload.path and not str(payload.url or "").startswith("data:"):
            return str(payload.path)
        try:  # a pasted image arrives as a data: URL
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001 - anything PIL raises on a pasted image
            raise gr.Error(f"This pasted image could not be read ({type(err).__name__}).",
                           print_exception=False) from None

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
        try:  # a pasted image arrives as a data: URL; a raw API call may give an http(s) URL
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - anything a download or PIL raises on it
            raise gr.Error(unreadable(payload), print_exception=False) from None


def unreadable(payload):
    """What was wrong with an image given by URL rather than uploaded, in words."""
    url = str(getattr(payload, "url", None) or "")
    if url.startswith("data:"):
        return "This pasted image could not be read: it is not an image the demo can read."
    if url:
        shown = url if len(url) <= 80 else url[:77] + "…"
        return (f"The image at {shown} could not be fetched or is not an image the demo can read; "
                "upload the file itself (gradio_client's handle_file).")
    return "The image was neither uploaded nor given by a URL the demo can fetch; upload the file itself."

"""Files over the upload limit, refused in the browser before they are sent.

Gradio's own check (launch(max_file_size=...)) answers with a pop-up and clears the image box, and so
the whole page. Here a capture-phase listener sees the chosen or dropped files first: a file over the
limit never reaches the image component (which keeps its previous image and results); its name and
size go through a hidden relay textbox to the server, which puts the refusal in the status line
beside the upload control and logs it once.
"""
import json
import logging

import gradio as gr

from .images import MAX_FILE_BYTES
from .ui_common import status

log = logging.getLogger("demo")
RELAY = "upload-refusal"
CSS = f"#{RELAY} {{ display: none !important; }}"
SCRIPT = """<script>
(() => {
  const limit = %(limit)d, zones = "%(zones)s";
  const refuse = (event, files) => {
    const zone = event.target.closest && event.target.closest(zones);
    const big = zone ? [...(files || [])].filter((f) => f.size > limit) : [];
    if (!big.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.target.value) event.target.value = "";
    const relay = document.querySelector("#%(relay)s textarea, #%(relay)s input");
    if (!relay) return;
    relay.value = JSON.stringify({zone: zone.id, files: big.map((f) => [f.name, f.size]), at: Date.now()});
    relay.dispatchEvent(new Event("input", {bubbles: true}));
  };
  document.addEventListener("change", (e) => refuse(e, e.target.files), true);
  document.addEventListener("drop", (e) => refuse(e, e.dataTransfer && e.dataTransfer.files), true);
})();
</script>"""


def script(zones):
    """The listener for the upload controls with these element ids."""
    return SCRIPT % {"limit": MAX_FILE_BYTES, "zones": ", ".join(f"#{z}" for z in zones), "relay": RELAY}


def message(files):
    """[[name, bytes], …] → the refusal, in the words the server's own check uses."""
    name, size = files[0]
    return f"{name}: The file is {size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB."


def wire(status_boxes):
    """The relay (call inside the Blocks); status_boxes: {upload control's elem_id: its status line}."""
    relay = gr.Textbox("", elem_id=RELAY, show_label=False, container=False)
    zones = list(status_boxes)

    def on_refusal(text):
        try:
            data = json.loads(text)
            zone, files = data["zone"], [(str(n), float(b)) for n, b in data["files"]]
        except (ValueError, KeyError, TypeError):
            return {}
        if zone not in status_boxes or not files:
            return {}
        text = message(files)
        log.info("rejected upload: %s", text)
        return {status_boxes[zone]: status(text)}

    relay.change(on_refusal, relay, [status_boxes[z] for z in zones], queue=False, show_progress="hidden",
                api_visibility="undocumented")
    return zones

"""Pieces every tab of the page uses: safe image inputs, errors as gr.Error, display enlargement."""
import contextlib
import functools
import inspect
import itertools
import logging
import threading
from collections import OrderedDict

import gradio as gr
import numpy as np

from .memory import TRIMMER
from .pairs import PairUnavailable
from .service import UserError, is_new_input
from .upload_image import UploadImage

log = logging.getLogger("demo")
DISPLAY_SIDE = 256  # renders smaller than this are shown enlarged by an integer factor


class Services:
    """The Service of each pair of the page (a demo.pairs.Registry), by the value of the page's pair choice:
    `services(key)` loads the pair on first use; a pair that is not there is a UserError."""

    def __init__(self, registry):
        self.registry = registry

    def __call__(self, key=None):
        try:
            return self.registry.service(key)
        except PairUnavailable as err:
            raise UserError(str(err)) from None

    @property
    def default(self):
        return self.registry.service()

    def of_state(self, state):
        """The Service of the pair that made the session's panels (`state["pair"]`)."""
        return self((state or {}).get("pair"))

    def is_new(self, image, state, key):
        """Whether the input box's `image` under pair `key` is another model input than the panels show:
        another pair, or another picture (False for a file the demo cannot read, and the same picture)."""
        if state and state.get("pair", key) != key:
            return True
        try:
            size = self(key).size
        except UserError:
            return False
        return is_new_input(image, state, size)


def render_panel(row, label):
    """One render of the page (PNG, pixelated when enlarged) and the caption line under it → (image, caption)."""
    with gr.Column(min_width=160, elem_classes=["render-card"]):  # a card: on a phone the caption stays with its image
        image = gr.Image(label=label, show_label=False, format="png", interactive=False, type="numpy",
                         elem_id=f"out-{row}", elem_classes=["pixelated", "render"], buttons=["download", "fullscreen"])
        caption = gr.Markdown(f"**{label}**", elem_id=f"cap-{row}", elem_classes=["caption"])
    return image, caption


def enlarge(image, k):
    """(H, W, 3) → (k·H, k·W, 3) by pixel repetition."""
    return image if k == 1 else np.repeat(np.repeat(image, k, axis=0), k, axis=1)


def safe_image(which="", **kwargs):
    """An UploadImage (type="filepath", any mode): uploads reach the app undecoded and the service's
    checks say what is wrong. `which` (e.g. "Image B") is accepted for the callers' symmetry."""
    del which
    return UploadImage(type="filepath", image_mode=None, **kwargs)


def whole_number(value=None, **kwargs):
    """A gr.Number typed "integer" in the API (precision 0) that hands the app the value as typed:
    the app refuses 100.5 or 1000 with a message instead of Gradio rounding or clamping it."""
    component = gr.Number(value, precision=0, **kwargs)
    component.preprocess = lambda payload: payload
    return component


def user_error(message):
    """A gr.Error for a request the demo refuses: one log line, no traceback, shown until closed."""
    log.info("refused: %s", message)
    return gr.Error(message, duration=None, print_exception=False)


def status(message=""):
    """The text of a status box: a refusal, in words ("" clears it)."""
    return f"⚠️ {message}" if message else ""


@contextlib.contextmanager
def errors_as_gr():
    """UserError → gr.Error (one log line); anything unexpected is logged with its traceback and shown
    briefly (the server keeps going)."""
    try:
        with TRIMMER:  # freed memory goes back to the system a few seconds after the last request
            yield
    except gr.Error:
        raise
    except UserError as err:
        raise user_error(str(err)) from None
    except MemoryError:
        raise user_error("Out of memory for this request; try a smaller resolution.") from None
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


def _refusals_to(fn, answer):
    """`fn` (a plain event function) as errors_as_gr, except that a refusal (a gr.Error made without its
    traceback: UserError, user_error) returns answer(message) instead of raising."""
    @functools.wraps(fn)  # keeps the signature for Gradio
    def wrapper(*args, **kwargs):
        try:
            with errors_as_gr():
                return fn(*args, **kwargs)
        except gr.Error as err:
            if getattr(err, "print_exception", True):
                raise
            return answer(err.message)
    return wrapper


def to_status(n_outputs, at):
    """Decorator for page events: a UserError becomes a message in the status box (output `at`, the
    others left as they are) instead of a pop-up; anything else as errors_as_gr. A generator's
    first refusal ends it the same way."""
    def skip_all(message):
        values = [gr.skip()] * n_outputs
        values[at] = status(message)
        return values[0] if n_outputs == 1 else tuple(values)

    def decorate(fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                try:
                    with errors_as_gr():
                        yield from fn(*args, **kwargs)
                except gr.Error as err:
                    if getattr(err, "print_exception", True):
                        raise
                    yield skip_all(err.message)
            return gen_wrapper

        return _refusals_to(fn, skip_all)
    return decorate


def message_to(box):
    """Decorator for page events that return {component: value}: a refusal (UserError, or a gr.Error made
    by user_error) becomes {box: message}, the other outputs left as they are; anything else as
    errors_as_gr. `box` is the status line beside the control that caused it."""
    return lambda fn: _refusals_to(fn, lambda message: {box: status(message)})


class Newest:
    """The newest render request of each page session: when renders overlap (a typed value committed, then
    Reconstruct clicked, while another runs), an older one's result is dropped instead of overwriting the
    newer one's. start(request, stamp) → ticket; is_newest(ticket).

    "Newer" is the order in which the page triggered them (`stamp`: the page's render counter, set in the
    browser when the event fires — RENDER_STAMP_JS), not the order in which they start on the server: under
    load, requests sent a few milliseconds apart can reach the queue, or start, in the other order, and an
    earlier request holding the values from before a change then won over the later one. A request without
    a stamp (an API call) counts as triggered when it starts."""

    def __init__(self, keep=10_000):
        self._lock, self._latest, self._count, self._keep = threading.Lock(), OrderedDict(), itertools.count(), keep

    def start(self, request, stamp=None):
        session = getattr(request, "session_hash", None) or "api"
        with self._lock:
            top = self._latest.get(session)
            given = isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and stamp > 0
            ticket = (session, (float(stamp) if given else (top[0] if top else 0.0), next(self._count)))
            if top is None or ticket[1] > top:
                self._latest[session] = ticket[1]
            self._latest.move_to_end(session)
            while len(self._latest) > self._keep:  # bounded: the oldest sessions are forgotten
                self._latest.popitem(last=False)
        return ticket

    def is_newest(self, ticket):
        with self._lock:
            return self._latest.get(ticket[0], ticket[1]) <= ticket[1]


def render_stamp_js(index, count):
    """The browser side of Newest: before an event of `count` inputs is sent, the input at `index` (a hidden
    number) gets the page's next render number, so the server knows the order the renders were asked for in
    (the function is given the inputs' values, then the outputs'; it returns the inputs')."""
    return ("(...args) => { const a = args.slice(0, %d); window.ginrRenderSeq = (window.ginrRenderSeq || 0) + 1;"
            " a[%d] = window.ginrRenderSeq; return a; }" % (count, index))


def unchanged(components):
    """{component: gr.skip()}: an event's answer that leaves every output as it is (an empty dict is not one)."""
    return {component: gr.skip() for component in components}


def status_line(elem_id):
    """A status line placed beside the control whose refusals it shows (empty: takes no room); a message in
    it is scrolled into view (keep_in_view)."""
    return keep_in_view(gr.Markdown("", elem_id=elem_id, elem_classes=["status-box"]))


def keep_in_view(line):
    """When `line` (a status line with an elem_id) gets a message, the browser scrolls it into view — the least
    scroll that shows it: a refusal under a control near the bottom of the window is not left below it."""
    js = ("(text) => { const el = document.getElementById(%r); if (!text || !el) return [];"
          " const r = el.getBoundingClientRect(), margin = 24;"
          " if (r.bottom > innerHeight - margin) window.scrollBy(0, r.bottom - innerHeight + margin);"
          " else if (r.top < margin) window.scrollBy(0, r.top - margin); return []; }" % line.elem_id)
    line.change(None, line, None, js=js, queue=False, show_progress="hidden", api_visibility="undocumented")
    return line


def request_error(block_fn, err):
    """A raw API call Gradio could not turn into the function's inputs → the message for its caller."""
    names = ", ".join(getattr(block, "label", None) or type(block).__name__ for block in block_fn.inputs)
    endpoint = f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "this event"
    text = str(err)
    if "didn't receive enough input values" in text:
        return f"{endpoint} takes {len(block_fn.inputs)} inputs ({names}); the request gave fewer."
    if type(err).__name__ == "InvalidPathError":
        return (f"{endpoint}: a file must be uploaded with the request (gradio_client's handle_file); "
                "a path on the server is not accepted.")
    if type(err).__name__ == "ValidationError":
        return f"{endpoint}: an input is not in the expected form ({names}): a file, then numbers or text."
    return f"{endpoint}: the request could not be read: its inputs are not in the expected form ({names})."


def unknown_endpoint(request, err):
    """FastAPI exception handler for a raw call to an endpoint that does not exist (Gradio's
    FnIndexInferError, otherwise an HTTP 500 with a traceback) → HTTP 404 naming the endpoints, one log line."""
    from fastapi.responses import JSONResponse

    name = request.path_params.get("api_name") or request.url.path.rsplit("/", 1)[-1]
    blocks = request.app.get_blocks()
    named = sorted(f"/{fn.api_name}" for fn in blocks.fns.values()
                   if fn.api_name and getattr(fn, "api_visibility", "public") == "public")
    message = f"No endpoint named /{name}; this server's endpoints are {', '.join(named)}."
    log.info("refused: %s", message)
    return JSONResponse({"detail": message, "error": message}, status_code=404)


def app_kwargs():
    """Arguments for the FastAPI app behind the page (launch(app_kwargs=...))."""
    from gradio.route_utils import FnIndexInferError

    return {"exception_handlers": {FnIndexInferError: unknown_endpoint}}


def refuse_bad_requests(demo):
    """Raw API calls with missing or malformed inputs get a message in the error event (gr.Error), one log
    line and no traceback: Gradio's own input preparation is wrapped on this Blocks instance."""
    prepare = demo.preprocess_data

    async def preprocess_data(block_fn, inputs, state, *args, **kwargs):
        try:
            return await prepare(block_fn, inputs, state, *args, **kwargs)
        except gr.Error as err:
            if not getattr(err, "print_exception", True):  # a refusal made while reading an input: its one line
                log.info("refused: %s", err.message)
            raise
        except Exception as err:  # noqa: BLE001 - any input Gradio cannot prepare is the caller's error
            raise user_error(request_error(block_fn, err)) from None

    demo.preprocess_data = preprocess_data
    return demo

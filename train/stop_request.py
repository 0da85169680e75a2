"""Stop a training run cleanly: Ctrl-C or SIGTERM asks the loop to finish the current optimiser step,
write a checkpoint and exit; the same command then resumes exactly there. A second signal quits at once
(the last checkpoint on disk is still valid: checkpoints are written atomically).

Single-process runs only: under torchrun every rank would have to agree on the step to stop at, so
there the signals keep their default behaviour.
"""
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingStopped(RuntimeError):
    """Training stopped on request after writing a checkpoint at `step`; rerunning the command resumes."""

    def __init__(self, message, step, signum):
        super().__init__(message)
        self.step, self.signum = step, signum

    @property
    def exit_code(self):
        return 128 + self.signum  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM


class StopRequest:
    """Context manager; `.signum` is the first signal received (None until then)."""

    def __init__(self, enabled=True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signum, self._previous = None, {}

    def __bool__(self):
        return self.signum is not None

    def _handle(self, signum, frame):
        if self.signum is not None:  # second signal: give up waiting for the step to end
            self._restore()
            raise KeyboardInterrupt
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping after this step, once a checkpoint is written "
              f"(send it again to quit at once)", flush=True)

    def _restore(self):
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous = {}

    def __enter__(self):
        if self.enabled:
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

"""A small progress bar on stderr, drawn only when stderr is a terminal, so
that redirected output and --json files stay clean."""
import sys


class Progress:
    def __init__(self, total, stream=None, width=30, enabled=None):
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = self.stream.isatty() if enabled is None else enabled

    def step(self, label=""):
        """One unit done; `label` says what is being measured."""
        self.done = min(self.done + 1, self.total)
        if self.enabled:
            filled = self.width * self.done // max(1, self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total} {label[:40]:<40}")
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 60) + "\r")
            self.stream.flush()

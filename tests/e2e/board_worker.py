"""The worker with the board installed, for the board's tests and bench until
service/app.py wires it itself (then `board.install` here is a no-op).

    python -m tests.e2e.board_worker      # same environment as `python -m service worker`
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import urllib.request

from tests.e2e.harness import ROOT, Deployment


class BoardDeployment(Deployment):
    """A harness Deployment whose worker is this module (the app with the board installed)."""

    def start_worker(self) -> None:
        subprocess.run([sys.executable, "-m", "service", "topics"], env=self.env(), check=True,
                       capture_output=True, timeout=60)
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.board_worker"], env=self.env(),
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    pass
                if "Ready" in self.log()[self._log_from:] and "board: following" in self.log()[self._log_from:]:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log()[-4000:]}")


def main() -> int:
    from faust.worker import Worker

    from service import board
    from service.app import create_app
    from service.cli import _settings
    from service.topics import ensure_topics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = _settings()
    if settings.create_topics:
        ensure_topics(settings)
    app = create_app(settings)
    board.install(app, app.tables["firing"], settings.topics.risk_warnings, settings)
    Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())

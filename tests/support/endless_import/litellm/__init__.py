"""Stands in for LiteLLM in a child process (on its PYTHONPATH): its import never finishes, so a test can act
while the app is still loading LiteLLM however long that takes, and an exit that waits for the import hangs.
The import touches $PLAYGROUND_TEST_IMPORT_STARTED (when set) as it begins."""

import os
import threading
from pathlib import Path

if os.environ.get("PLAYGROUND_TEST_IMPORT_STARTED"):
    Path(os.environ["PLAYGROUND_TEST_IMPORT_STARTED"]).touch()
threading.Event().wait()

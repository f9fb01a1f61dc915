"""Two processes writing one history store at once: no "database is locked", no lost write."""

from __future__ import annotations

import subprocess
import sys

from playground.history.store import Store

WRITER = """
import sys
from playground.history.store import Store
store = Store(sys.argv[1])
for i in range(150):
    conversation, _ = store.start_turn(None, f"{sys.argv[2]} prompt {i}", "p")
    reply = store.start_reply(conversation)
    store.save_reply(reply, "partial", "streaming")
    store.save_reply(reply, f"{sys.argv[2]} reply {i}", "complete", "m")
print("done")
"""


def test_two_writer_processes(tmp_path):
    db = tmp_path / "h.db"
    Store(db).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for name in ("alpha", "beta")]
    results = [w.communicate(timeout=120) for w in writers]
    for (out, err), writer in zip(results, writers):
        assert writer.returncode == 0, err
        assert out.strip() == "done" and "locked" not in err
    store = Store(db)
    rows = store.db.execute("SELECT role, status, count(*) FROM messages GROUP BY role, status").fetchall()
    assert sorted(rows) == [("assistant", "complete", 300), ("user", "complete", 300)]

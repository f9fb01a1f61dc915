"""Two processes writing one history store at once: no "database is locked", no lost write; and threads
of one process sharing the store under its one locking rule."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from playground.base.records import TurnSettings
from playground.history.migrations import MIGRATIONS
from playground.history.store import HistoryFilter, Store

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


def test_a_read_on_a_worker_thread_waits_for_a_write_in_progress(tmp_path):
    """The locking rule: a read never runs inside another thread's open transaction, so it sees
    what was committed, never a write still in progress (settings() once skipped the lock)."""
    store = Store(tmp_path / "h.db")
    conversation, _ = store.start_turn(None, "hi", "p")
    store.save_settings(conversation, TurnSettings("committed", 0.5))
    writing, read = threading.Event(), threading.Event()
    seen: list = []

    def worker() -> None:
        writing.wait(5)
        seen.append((store.settings(conversation), store.schema_version, store.conversations()[0].title))
        read.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with pytest.raises(RuntimeError, match="rolled back"), store.transaction() as conn:
        conn.execute("UPDATE conversations SET system_prompt = 'uncommitted', title = 'uncommitted'")
        writing.set()
        assert not read.wait(0.3), "a read ran inside another thread's transaction"
        raise RuntimeError("rolled back")
    thread.join(5)
    assert seen == [(TurnSettings("committed", 0.5), len(MIGRATIONS), "hi")]
    store.close()


def test_reads_and_writes_from_many_threads(tmp_path):
    """Worker threads reading every way the TUI does while another thread writes: no errors, and each
    read sees whole turns (a prompt and its reply are written in separate transactions, in order)."""
    store = Store(tmp_path / "h.db")
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(150):
                conversation, _ = store.start_turn(None, f"prompt {i}", "p")
                store.save_settings(conversation, TurnSettings(f"system {i}", None))
                store.save_reply(store.start_reply(conversation), f"reply {i}", "complete", "m")
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                for summary in store.conversations(HistoryFilter(search="prompt")):
                    store.settings(summary.id)
                    assert store.messages(summary.id)[0].role == "user"
                store.filter_choices()
                assert store.schema_version == len(MIGRATIONS)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert store.conversation_count() == 150
    store.close()

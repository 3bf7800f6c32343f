import logging
from pathlib import Path

import pytest

from pylm.runner.spool import LINE_OVERHEAD_BYTES, Spool, SpoolError


def _texts(batch):
    return [line["text"] for line in batch.lines()]


def test_lines_come_back_in_order_with_increasing_seqs(tmp_path: Path):
    spool = Spool(tmp_path)
    try:
        spool.append("n", "Master", "Master.0", "stdout", 1.0, ["a", "b"])
        spool.append("n", "Worker", "Worker.0", "stderr", 2.0, ["c"])
        spool.append("n", "Master", "Master.0", "stdout", 3.0, ["d"])
        batch = spool.next_batch(100, 1 << 20)
        assert _texts(batch) == ["a", "b", "c", "d"]
        assert [line["seq"] for line in batch.lines()] == [1, 2, 1, 3]
        assert batch.lines()[2] == {"node": "n", "service": "Worker", "instance": "Worker.0",
                                  "stream": "stderr", "time": "1970-01-01T00:00:02.000000+00:00",
                                  "seq": 1, "text": "c"}
        assert spool.pending_lines == 4
    finally:
        spool.close()


def test_batches_respect_line_and_byte_limits(tmp_path: Path):
    spool = Spool(tmp_path)
    try:
        spool.append("n", "S", "S.0", "stdout", 1.0, [f"line {i}" for i in range(10)])
        assert spool.next_batch(3, 1 << 20).count == 3
        assert spool.next_batch(100, 1).count == 1  # at least one line, always
    finally:
        spool.close()


def test_acknowledged_lines_leave_and_the_rest_survives_a_restart(tmp_path: Path):
    spool = Spool(tmp_path)
    source = spool.source
    spool.append("n", "S", "S.0", "stdout", 1.0, ["a", "b", "c"])
    spool.acknowledge(spool.next_batch(2, 1 << 20))
    spool.close()
    again = Spool(tmp_path)
    try:
        assert again.source == source
        assert (tmp_path / "source").read_text().strip() == source
        assert again.pending_lines == 1
        assert _texts(again.next_batch(10, 1 << 20)) == ["c"]
        again.append("n", "S", "S.0", "stdout", 2.0, ["d"])  # seqs continue, never reused
        assert [line["seq"] for line in again.next_batch(10, 1 << 20).lines()] == [3, 4]
    finally:
        again.close()


def test_a_spool_serves_one_runner_at_a_time(tmp_path: Path):
    spool = Spool(tmp_path)
    try:
        with pytest.raises(SpoolError, match="in use by another runner"):
            Spool(tmp_path)
    finally:
        spool.close()
    Spool(tmp_path).close()  # released on close


def test_full_spool_drops_new_lines_warns_and_says_so_later(tmp_path: Path, caplog):
    cap = 10 * (LINE_OVERHEAD_BYTES + 10) + 300
    spool = Spool(tmp_path, max_bytes=cap)
    try:
        with caplog.at_level(logging.WARNING, logger="pylm.runner"):
            kept = spool.append("n", "S", "S.0", "stdout", 1.0, ["x" * 10] * 20)
        assert 10 <= kept < 20
        assert "is full" in caplog.text
        assert spool.append("n", "S", "S.0", "stdout", 1.0, ["y"]) == 0
        spool.acknowledge(spool.next_batch(1000, 1 << 20))
        assert spool.append("n", "S", "S.0", "stdout", 2.0, ["z"]) == 2
        texts = _texts(spool.next_batch(10, 1 << 20))
        assert texts[1] == "z"
        assert f"{20 - kept + 1} lines of stdout dropped" in texts[0]
    finally:
        spool.close()


def test_events_and_processes_are_kept(tmp_path: Path):
    spool = Spool(tmp_path)
    try:
        spool.append_event({"kind": "start"})
        spool.append_event({"kind": "exit"})
        events, last = spool.next_events()
        assert [e["kind"] for e in events] == ["start", "exit"]
        spool.acknowledge_events(last)
        assert spool.next_events() is None
        spool.record_process("S.0", 1234, 99)
        assert spool.recorded_processes() == [("S.0", 1234, 99)]
        spool.forget_process("S.0")
        assert spool.recorded_processes() == []
        spool.set("node", "node-a")
        assert spool.get("node") == "node-a"
    finally:
        spool.close()


def test_unusable_directory_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="cannot use it"):
        Spool(blocker / "spool")


def test_a_batch_may_end_inside_a_chunk_and_the_rest_survives_a_restart(tmp_path: Path):
    spool = Spool(tmp_path)
    spool.append("n", "S", "S.0", "stdout", 1.0, ["a", "b", "c", "d"])
    first = spool.next_batch(3, 1 << 20)
    assert _texts(first) == ["a", "b", "c"]
    spool.acknowledge(first)
    assert spool.pending_lines == 1
    spool.close()
    again = Spool(tmp_path)
    try:
        batch = again.next_batch(10, 1 << 20)
        assert [(line["seq"], line["text"]) for line in batch.lines()] == [(4, "d")]
        again.acknowledge(batch)
        assert again.pending_lines == 0 and again.next_batch(10, 1 << 20) is None
    finally:
        again.close()


def test_lines_beyond_the_memory_cache_come_from_disk_in_order(tmp_path: Path):
    spool = Spool(tmp_path, cache_bytes=500)
    try:
        for i in range(50):
            spool.append("n", "S", "S.0", "stdout", float(i), [f"line {i}"])
        seen: list[str] = []
        late = False
        while (batch := spool.next_batch(7, 1 << 20)) is not None:
            seen += _texts(batch)
            spool.acknowledge(batch)
            if len(seen) > 20 and not late:  # appended while older lines are on disk only
                late = spool.append("n", "S", "S.1", "stdout", 99.0, ["late"]) == 1
        assert seen[:50] == [f"line {i}" for i in range(50)]
        assert seen[50:] == ["late"]
        assert spool.pending_lines == 0 and spool.pending_bytes == 0
    finally:
        spool.close()


def test_newlines_inside_a_text_end_lines(tmp_path: Path):
    spool = Spool(tmp_path)
    try:
        assert spool.append("n", "S", "S.0", "stdout", 1.0, ["a\nb", "c"]) == 3
        assert _texts(spool.next_batch(10, 1 << 20)) == ["a", "b", "c"]
    finally:
        spool.close()


def test_a_new_spool_directory_is_private(tmp_path: Path):
    Spool(tmp_path / "spool").close()
    assert (tmp_path / "spool").stat().st_mode & 0o077 == 0

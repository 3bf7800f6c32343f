import os

from hypothesis import given
from hypothesis import strategies as st

from pylm.runner.output import Echo, LineSplitter


def test_lines_split_across_chunks():
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == ["one"]
    assert splitter.feed(b"o\r\nthree\n") == ["two", "three"]
    assert splitter.feed(b"four") == []
    assert splitter.flush() == ["four"]
    assert splitter.flush() == []


def test_bad_utf8_is_replaced_not_fatal():
    assert LineSplitter().feed(b"caf\xe9\n") == ["caf\ufffd"]


def test_multibyte_character_split_between_chunks():
    data = "héllo\n".encode()
    splitter = LineSplitter()
    assert splitter.feed(data[:2]) == []
    assert splitter.feed(data[2:]) == ["héllo"]


def test_endless_line_is_cut_without_breaking_characters():
    splitter = LineSplitter(max_line=10)
    out = splitter.feed(("é" * 12).encode())  # 24 bytes, no newline
    assert out and all(len(text.encode()) <= 10 for text in out)
    out += splitter.flush()
    assert "".join(out) == "é" * 12


_LINE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")


@given(st.lists(st.text(alphabet=_LINE_CHARS, max_size=30), max_size=20),
       st.integers(min_value=1, max_value=17))
def test_any_chunking_gives_back_the_lines(lines, chunk):
    data = "".join(line + "\n" for line in lines).encode()
    splitter = LineSplitter()
    out = []
    for start in range(0, len(data), chunk):
        out += splitter.feed(data[start : start + chunk])
    out += splitter.flush()
    assert out == lines


def test_echo_writes_prefixed_lines(tmp_path):
    path = tmp_path / "echo"
    with open(path, "wb") as stream:
        echo = Echo(stream)
        echo.write("[Master.0] ", ["a", "b"])
        echo.close()
    assert path.read_text() == "[Master.0] a\n[Master.0] b\n"


def test_echo_never_blocks_on_an_unread_pipe():
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb", closefd=False) as stream:
            echo = Echo(stream, max_chunks=4)
            for _ in range(2000):  # far more than a pipe buffer holds
                echo.write("[x] ", ["y" * 1000])
            # reaching this line is the test: write() returned although nobody reads
            drained = b""
            os.set_blocking(read_end, False)
            while True:
                try:
                    chunk = os.read(read_end, 1 << 16)
                except BlockingIOError:
                    break
                drained += chunk
            assert b"[x] y" in drained
            assert b"lines not echoed: stdout is too slow" in drained + _rest(read_end)
            echo.close(timeout=2)
    finally:
        os.close(read_end)
        os.close(write_end)


def _rest(fd):
    """What else the echo thread writes once the pipe has room (it notes the skips)."""
    import select

    data = b""
    while select.select([fd], [], [], 1.0)[0]:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            break
        data += chunk
        if b"not echoed" in data:
            break
    return data

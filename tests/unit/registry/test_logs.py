from datetime import datetime

import pytest

from pylm.registry.logs import LogInputError, LogQuery, decode_cursor, encode_cursor, validate_lines

NOW = datetime(2026, 1, 1)


@pytest.mark.parametrize("raw", ["2026-12-04T15:00:00+00:00", "2026-12-04T15:00:00Z",
                                 "2026-12-04T17:00:00+02:00", "2026-12-04T15:00:00",
                                 "2026-12-04T20:00:00+05:00"])
def test_times_are_stored_as_naive_utc(raw):
    (row,) = validate_lines({"lines": [{"text": "x", "time": raw}]}, NOW)
    assert row.time == datetime(2026, 12, 4, 15, 0, 0)
    assert row.time.tzinfo is None


def test_doubled_zone_is_normalised_or_refused():
    try:
        (row,) = validate_lines({"lines": [{"text": "x",
                                             "time": "2026-12-04T20:00:00+05:00+00:00"}]}, NOW)
    except LogInputError:
        return
    assert row.time.tzinfo is None


@pytest.mark.parametrize("raw", ["noonZ", "Z", "+00:00", "2026-13-01T00:00:00+00:00", ""])
def test_bad_times_are_refused_naming_the_line(raw):
    with pytest.raises(LogInputError, match=r"lines\[1\]\.time"):
        validate_lines({"lines": [{"text": "ok"}, {"text": "x", "time": raw}]}, NOW)


@pytest.mark.parametrize(("line", "field"), [
    ({"text": 3}, "text"), ({"text": "x", "node": 1}, "node"),
    ({"text": "x", "service": "s" * 201}, "service"), ({"text": "x", "instance": None}, "instance"),
    ({"text": "x", "stream": "stdlog"}, "stream"), ({"text": "x", "stream": ["stdout"]}, "stream"),
    ({"text": "x", "seq": -1}, "seq"), ({"text": "x", "seq": True}, "seq"),
    ({"text": "x", "seq": "1"}, "seq"), ({"text": "x", "time": 5}, "time")])
def test_bad_fields_are_refused_naming_the_field(line, field):
    with pytest.raises(LogInputError, match=rf"lines\[0\]\.{field}"):
        validate_lines({"lines": [line]}, NOW)


def test_missing_time_is_now_and_labels_default():
    (row,) = validate_lines({"source": "s", "lines": [{"text": "x"}]}, NOW)
    assert row == (NOW, "", "", "", "stdout", "s", None, "x")


def test_cursor_round_trip_and_tampering():
    token = encode_cursor("secret", LogQuery(descending=False), 42)
    assert decode_cursor("secret", token) == (42, False)
    with pytest.raises(LogInputError):
        decode_cursor("other secret", token)
    with pytest.raises(LogInputError):
        decode_cursor("secret", token[:-2] + "AA")

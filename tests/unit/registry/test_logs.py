"""registry.logs: the JSON line format, the request-id rules, CLAWFT_LOG_FORMAT."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from registry import logs


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger("clawft.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_a_json_line_has_every_field_and_the_extras(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.info("upload %s approved\nsecond line", "abc", extra={"upload_id": "abc", "n": 3})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "upload abc approved\nsecond line"
    assert first["level"] == "INFO" and first["logger"] == "clawft.test.logs"
    assert first["request_id"] is None and first["upload_id"] == "abc" and first["n"] == 3
    assert first["time"].endswith("+00:00")
    assert "RuntimeError: boom" in second["exception"]


@pytest.mark.parametrize(
    "given",
    ["", "a" * 65, "a b", "evil\r\nSet-Cookie: x=1", "<script>", "héllo", "a/b", "a\x00"],
)
def test_a_request_id_that_is_not_a_sane_token_is_refused(given: str) -> None:
    assert logs.sane_request_id(given) is None


def test_a_sane_request_id_is_kept() -> None:
    assert logs.sane_request_id("a" * 64) == "a" * 64
    assert logs.sane_request_id("Trace-1.2_x") == "Trace-1.2_x"


def test_the_log_format_is_text_or_json() -> None:
    assert logs.log_format({}) == "text"
    assert logs.log_format({"CLAWFT_LOG_FORMAT": " JSON "}) == "json"
    with pytest.raises(ValueError, match="CLAWFT_LOG_FORMAT='xml' is not a log format"):
        logs.log_format({"CLAWFT_LOG_FORMAT": "xml"})


def test_celery_headers_carry_the_current_request_id_only() -> None:
    assert logs.celery_headers() == {}
    token = logs._request_id.set("req-1")
    try:
        assert logs.celery_headers() == {logs.CELERY_HEADER: "req-1"}
    finally:
        logs._request_id.reset(token)

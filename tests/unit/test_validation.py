"""Input checks name the offending value and choose the right error."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from jobledger import InvalidInput, InvalidJobDefinition, InvalidReport, JobNotFound, Status
from jobledger.domain.status import reportable_status
from jobledger.domain.validation import (
    check_components,
    check_message,
    check_metadata,
    check_name,
    check_progress,
    earlier,
    parse_duration,
    parse_job_id,
)


def test_status_strings_and_enums_are_accepted() -> None:
    assert reportable_status("in_progress") is Status.IN_PROGRESS
    assert reportable_status(Status.FAILED) is Status.FAILED


@pytest.mark.parametrize("value", ["Completed", "", None, 3, "cancelled", "pending"])
def test_other_statuses_are_invalid_reports(value: object) -> None:
    with pytest.raises(InvalidReport, match=repr(value) if value != "" else "''"):
        reportable_status(value)


def test_names_are_kept_verbatim_up_to_512_characters() -> None:
    assert check_name(" padded ") == " padded "
    assert check_name("x" * 512) == "x" * 512
    with pytest.raises(InvalidJobDefinition, match="513 characters"):
        check_name("x" * 513)
    with pytest.raises(InvalidJobDefinition, match="not valid Unicode"):
        check_name("lone \ud800 surrogate")


def test_components_may_extend_existing_names_but_not_repeat_them() -> None:
    assert check_components(iter(["b", "c"]), existing=["a"]) == ("b", "c")
    with pytest.raises(InvalidJobDefinition, match="'a'"):
        check_components(["a"], existing=["a"])
    with pytest.raises(InvalidJobDefinition, match="int"):
        check_components(5)


def test_messages_are_measured_in_utf8_bytes() -> None:
    assert check_message("é" * 32 * 1024) == "é" * 32 * 1024
    with pytest.raises(InvalidReport, match="65538 bytes"):
        check_message("é" * (32 * 1024 + 1))


@pytest.mark.parametrize(
    "value", [True, "0.5", float("inf"), float("-inf"), float("nan"), 2, -1e-9]
)
def test_progress_must_be_a_real_fraction(value: object) -> None:
    with pytest.raises(InvalidReport):
        check_progress(value)


def test_progress_ints_become_floats() -> None:
    assert check_progress(1) == 1.0
    assert check_progress(None) is None


def test_negative_zero_progress_is_zero() -> None:
    progress = check_progress(-0.0)
    assert progress is not None
    assert math.copysign(1.0, progress) == 1.0


@pytest.mark.parametrize(
    ("text", "span"),
    [("3d", timedelta(days=3)), ("1d12h", timedelta(days=1.5)), ("90s", timedelta(seconds=90)),
     ("2w", timedelta(weeks=2)), ("0.5m", timedelta(seconds=30)), ("0s", timedelta(0))],
)  # fmt: skip
def test_durations_are_parsed(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize(
    ("text", "problem"),
    [("soon", "not a duration"), ("3", "not a duration"), ("-3d", "not a duration"),
     ("3d 2h", "not a duration"), ("9999999999w", "before the year 1")],
)  # fmt: skip
def test_bad_durations_are_named(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=f"'{text}' .*{problem}"):
        parse_duration(text)


def test_earlier_is_the_one_range_check() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert earlier(now, timedelta(days=1), "span") == datetime(2025, 12, 31, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="span must be a non-negative timedelta"):
        earlier(now, timedelta(seconds=-1), "span")
    with pytest.raises(InvalidInput, match="span 800000 days, 0:00:00 reaches back"):
        earlier(now, timedelta(days=800_000), "span")


def test_malformed_job_ids_raise_the_requested_error() -> None:
    with pytest.raises(JobNotFound, match="'x'"):
        parse_job_id("x", JobNotFound)
    with pytest.raises(InvalidJobDefinition, match="42"):
        parse_job_id(42, InvalidJobDefinition)


@pytest.mark.parametrize(
    ("metadata", "where", "value"),
    [
        ({"f": float("nan")}, "'f'", "nan"),
        ({"f": float("inf")}, "'f'", "inf"),
        ({"deep": [1, {"g": float("-inf")}]}, "'deep.1.g'", "-inf"),
    ],
)
def test_metadata_numbers_json_cannot_hold_are_refused_naming_key_and_value(
    metadata: dict[str, object], where: str, value: str
) -> None:
    with pytest.raises(InvalidJobDefinition, match=f"not JSON-compatible at {where}.*not {value}"):
        check_metadata(metadata)


def test_finite_metadata_numbers_are_kept() -> None:
    assert check_metadata({"f": 1.5, "n": [0.0, -2, 1e300]}) == {"f": 1.5, "n": [0.0, -2, 1e300]}

"""Store URLs select persistence modules; bad ones are named, passwords never shown."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from eventsourcing.persistence import InfrastructureFactory, InfrastructureFactoryError
from eventsourcing.utils import Environment

from jobledger import ConfigurationError, StoreError, Tracker
from jobledger.application.stores import redact, resolve_store_url, store_environment


def test_memory_file_and_postgres_urls() -> None:
    assert store_environment("memory://") == {"PERSISTENCE_MODULE": "jobledger.adapters.memory"}
    assert store_environment("file:///var/lib/jobs")["JOBLEDGER_FILE_DIR"] == "/var/lib/jobs"
    assert store_environment("file://localhost/a%20b")["JOBLEDGER_FILE_DIR"] == "/a b"
    relative = store_environment("file:rel/dir")["JOBLEDGER_FILE_DIR"]
    assert relative.startswith("/")
    assert relative.endswith("/rel/dir")
    url = "postgresql://u:p@db:5432/jobs"
    assert store_environment(url)["JOBLEDGER_POSTGRES_URL"] == url


@pytest.mark.parametrize(
    "url",
    [
        "redis://x",
        "memory://elsewhere",
        "file://otherhost/dir",
        "file:",
        "",
        "mysql://u:s3cret@h/d",
    ],
)
def test_unsupported_urls_are_named_without_passwords(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        store_environment(url)
    assert "s3cret" not in str(raised.value)


def test_redact_rewrites_the_user_information_as_a_whole() -> None:
    assert redact("postgresql://app:s3cret@db:5432/jobs") == "postgresql://app:***@db:5432/jobs"
    assert redact("postgresql://db/jobs") == "postgresql://db/jobs"
    assert redact("postgresql://a:b@db/jobs?x=b") == "postgresql://a:***@db/jobs?x=b"
    assert redact("postgresql://jl:se/cr@db/jobs") == "postgresql://***@db/jobs"


MALFORMED = [
    "postgresql://jl:se/cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:p@ss_zz9@127.0.0.1:1/jl",
    "postgresql://jl:se?cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:se#cr_zz9@127.0.0.1:1/jl",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_user_information_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigurationError, match="percent-encode") as raised:
        Tracker.open(url)
    assert_user_information_hidden(url, "".join(traceback.format_exception(raised.value)))


def assert_user_information_hidden(url: str, shown: str) -> None:
    """No piece of the password in `url` (each holds `zz9`) appears in `shown`."""
    password = url.split("//")[1].rpartition("@")[0].partition(":")[2]
    for piece in (password, password[:4], password[3:], "zz9"):
        assert piece not in shown, (piece, shown)


def test_a_one_letter_password_hides_nothing_else() -> None:
    with pytest.raises(StoreError) as raised:
        Tracker.open("postgresql://app:o@127.0.0.1:9/jobs?connect_timeout=2")
    assert "to PostgreSQL database 'jobs' on host '127.0.0.1' port 9" in str(raised.value)
    assert "Connection refused" in str(raised.value)


def test_environment_variable_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLEDGER_STORE", "memory://")
    assert resolve_store_url(None) == "memory://"
    assert resolve_store_url("file:x") == "file:x"
    monkeypatch.setenv("JOBLEDGER_STORE", "bogus://")
    with pytest.raises(ConfigurationError, match="bogus"):
        Tracker.open()


def test_bad_store_settings_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Tracker.open("postgresql://app:s3cret@127.0.0.1:9/jobs?pool_size=many")
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("url", ["memory://", "file:{tmp}", "postgresql://u@127.0.0.1:9/jobs"])
@pytest.mark.parametrize("topic", ["builtins:dict", "no_such_module:Recorder", ":x"])
def test_a_recorder_topic_must_name_a_recorder_of_the_store(
    url: str, topic: str, tmp_path: Path
) -> None:
    env = {**store_environment(url.format(tmp=tmp_path)), "TRACKING_RECORDER_TOPIC": topic}
    factory = InfrastructureFactory.construct(Environment("Jobledger", env))
    with pytest.raises(InfrastructureFactoryError, match="TRACKING_RECORDER_TOPIC") as raised:
        factory.tracking_recorder()
    assert repr(topic) in str(raised.value)

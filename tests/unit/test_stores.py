"""Store URLs select persistence modules; bad ones are named, passwords never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.persistence import InfrastructureFactory, InfrastructureFactoryError
from eventsourcing.utils import Environment

from jobledger import ConfigurationError, Tracker
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


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://app:s3cret@db:5432/jobs") == "postgresql://app:***@db:5432/jobs"
    assert redact("postgresql://db/jobs") == "postgresql://db/jobs"


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

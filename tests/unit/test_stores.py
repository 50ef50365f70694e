"""Store URLs select persistence modules; bad ones are named, passwords never shown."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from eventsourcing.persistence import InfrastructureFactory, InfrastructureFactoryError
from eventsourcing.utils import Environment
from psycopg.conninfo import conninfo_to_dict

from jobledger import ConfigurationError, StoreError, Tracker
from jobledger.adapters.postgres.settings import PostgresSettings
from jobledger.application.stores import (
    describe_store,
    redact,
    resolve_store_url,
    store_environment,
)


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


@pytest.mark.parametrize("url", ["file:///tmp/a%00b", "file:rel/a%00b", "file:///tmp/a\x00b"])
def test_a_nul_in_a_file_path_is_refused_and_shown_escaped(url: str) -> None:
    with pytest.raises(ConfigurationError, match="NUL") as raised:
        Tracker.open(url)
    assert "a\\x00b" in str(raised.value)
    assert "\x00" not in str(raised.value)


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
    # The password's head would be read as a port, the rest as a path or a query.
    "postgresql://jl:p@ss/w_zz9@127.0.0.1:1/jl",
    "postgresql://jl:p@ss?w_zz9@127.0.0.1:1/jl",
    "postgresql://jl:se?a=cr_zz9@127.0.0.1:1/jl",
    "postgresql://jl:sekrit_zz9/jl",  # no host: the password would be read as the port
    # No `//`: libpq would read it as a keyword string and quote it whole.
    "postgresql:jl:sekrit_zz9@127.0.0.1:1/jl",
    "postgres:/jl:sekrit_zz9@127.0.0.1:1/jl",
    "POSTGRESQL:jl:sekrit_zz9@127.0.0.1:1/jl",
]
# Well-formed as a URL (host jl, port 12, query key `a`): only libpq's keywords tell.
NOT_LIBPQ = "postgresql://jl:12?a=cr_zz9@127.0.0.1:1/jl"


def password_of(url: str) -> str:
    """The password a user meant in `url`: between the first `:` after the user and the
    last `@` (or the last `/` when there is no `@`)."""
    rest = url.partition(":")[2].lstrip("/")
    return rest.partition(":")[2].rpartition("@" if "@" in rest else "/")[0]


@pytest.mark.parametrize("url", [*MALFORMED, NOT_LIBPQ])
def test_malformed_user_information_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigurationError, match="percent-encode") as raised:
        Tracker.open(url)
    assert "malformed" in str(raised.value)
    assert_user_information_hidden(url, "".join(traceback.format_exception(raised.value)))


@pytest.mark.parametrize("url", MALFORMED)
def test_redact_hides_all_of_a_malformed_user_information(url: str) -> None:
    assert_user_information_hidden(url, redact(url))


def assert_user_information_hidden(url: str, shown: str) -> None:
    """No piece of the password in `url` (each holds `zz9`) appears in `shown`."""
    password = password_of(url)
    assert "zz9" in password, password
    for piece in (password, password[:4], password[3:], "zz9"):
        assert piece not in shown, (piece, shown)


@pytest.mark.parametrize(
    "dsn", ["host=h password=sekrit_zz9", "dbname=jl user=jl password='se cr_zz9'", "jl:zz9"]
)
def test_a_string_that_is_no_url_is_refused_without_echoing_it(dsn: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported store") as raised:
        Tracker.open(dsn)
    shown = "".join(traceback.format_exception(raised.value))
    for piece in ("sekrit", "se cr", "zz9", "password="):
        assert piece not in shown


def test_an_unknown_scheme_is_named_alone() -> None:
    with pytest.raises(ConfigurationError, match="'mysql'") as raised:
        store_environment("mysql://jl:sekrit@h/db?password=zz9")
    assert "sekrit" not in str(raised.value)
    assert "zz9" not in str(raised.value)


SECRET_QUERIES = [
    ("postgresql://h/db?password=sekrit", "postgresql://h/db?password=***"),
    (
        "postgresql://u@h/db?sslmode=require&sslpassword=sekrit&application_name=x",
        "postgresql://u@h/db?sslmode=require&sslpassword=***&application_name=x",
    ),
    ("postgresql://u:p@h/db?pass%77ord=sekrit", "postgresql://u:***@h/db?pass%77ord=***"),
    ("postgresql:///db?user=u&password=sek%26rit", "postgresql:///db?user=u&password=***"),
    ("postgresql://h/db?oauth_client_secret=sekrit", "postgresql://h/db?oauth_client_secret=***"),
]


@pytest.mark.parametrize(("url", "redacted"), SECRET_QUERIES)
def test_a_password_in_the_query_is_hidden(url: str, redacted: str) -> None:
    assert redact(url) == redacted
    assert describe_store(url) == redacted


def test_an_at_sign_in_a_query_value_is_no_user_information() -> None:
    url = "postgresql://u:p@h/db?application_name=a@b"
    assert redact(url) == "postgresql://u:***@h/db?application_name=a@b"
    settings = PostgresSettings.from_url(url)
    assert settings.where == "database 'db' on host 'h' port 5432 as user 'u'"
    params = conninfo_to_dict(settings.conninfo)
    assert (params["application_name"], params["password"]) == ("a@b", "p")
    azure = "postgresql://h:6432/db?user=me@server&sslmode=require"
    assert redact(azure) == azure
    assert "as user 'me@server'" in PostgresSettings.from_url(azure).where


def test_a_url_without_a_host_keeps_its_query() -> None:
    settings = PostgresSettings.from_url("postgresql:///jl?host=/tmp&user=u&password=p%26q")
    params = conninfo_to_dict(settings.conninfo)
    assert (params["dbname"], params["host"], params["password"]) == ("jl", "/tmp", "p&q")
    assert settings.where == "database 'jl' on host '/tmp' port 5432 as user 'u'"


def test_query_values_reach_libpq_as_libpq_reads_them() -> None:
    url = "postgresql://h/db?options=-c%20work_mem%3D64MB&pool_size=2&application_name=a+b"
    settings = PostgresSettings.from_url(url)
    params = conninfo_to_dict(settings.conninfo)
    assert (params["options"], params["application_name"]) == ("-c work_mem=64MB", "a+b")
    assert "pool_size" not in params
    assert settings.pool_size == 2


def test_libpq_messages_are_not_quoted() -> None:
    with pytest.raises(ConfigurationError, match="malformed") as raised:
        store_environment("postgresql://u:sekrit@h/d%zz")
    assert "%zz" not in str(raised.value)
    with pytest.raises(ConfigurationError, match='unknown query parameter: "colour"'):
        store_environment("postgresql://u:sekrit@h/db?colour=blue")


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

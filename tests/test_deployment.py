"""The deployment files agree with each other: compose.yaml, the Procfile and the README."""

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_compose_services_run_the_procfile_commands():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    processes = procfile()
    for name in ("web", "worker", "beat", "telegram"):
        assert services[name]["command"] == processes[name], name
    assert services["migrate"]["command"] == processes["release"]
    assert "noeviction" in services["redis"]["command"]
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")


def test_readme_names_the_same_processes():
    readme = (ROOT / "README.md").read_text()
    for name in ("web", "worker", "beat"):
        command = procfile()[name]
        assert shlex.split(command)[0] in readme
        assert command in readme, f"README does not show the {name} command: {command}"


def test_an_sqlite_without_returning_is_refused_at_start_up():
    from crisis.checks import sqlite_supports_returning

    errors = sqlite_supports_returning(version=(3, 31, 1), vendors={"sqlite"})
    assert [e.id for e in errors] == ["crisis.E001"]
    assert "3.31.1" in errors[0].msg
    assert sqlite_supports_returning(version=(3, 35, 0), vendors={"sqlite"}) == []
    assert sqlite_supports_returning(version=(3, 31, 1), vendors={"postgresql"}) == []
    assert sqlite_supports_returning() == []  # this machine's

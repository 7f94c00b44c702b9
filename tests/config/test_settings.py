"""Production settings: check --deploy passes, and no secret key means no start."""


def test_production_settings_pass_check_deploy():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "x" * 60 + "-production-like-secret-key-0123456789",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "desk.example.com",
        "VAR_DIR": "var/test",
        # A Fernet key of its own for pulled sources' credentials (else integrations.W001).
        "SOURCE_CREDENTIALS_KEY": "A" * 43 + "=",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "false", "VAR_DIR": "var/test"},
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr

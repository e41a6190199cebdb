"""docker-compose.yml and the Dockerfile keep their promises: migrations run once before anything
serves or schedules, every long-running process has a health check, gunicorn recycles and times
out its workers."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ("web", "worker", "beat", "beat-standby")
GUNICORN_LIMITS = {
    "--timeout": "30",
    "--graceful-timeout": "30",
    "--max-requests": "1000",
    "--max-requests-jitter": "100",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def options(command: list[str]) -> dict[str, str]:
    """`--name value` pairs of a command line."""
    return {a: b for a, b in zip(command, command[1:], strict=False) if a.startswith("--")}


def test_there_is_no_obsolete_version_key(compose):
    assert "version" not in compose


def test_migrate_runs_once_and_the_portal_waits_for_it(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"][-3:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"  # one-shot: a finished migration is not restarted
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in PORTAL:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_every_portal_process_has_a_health_check(compose):
    services = compose["services"]
    for name in PORTAL:
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert "timeout" in check, name
    assert services["worker"]["healthcheck"]["test"][-2:] == ["heartbeat_check", "worker"]
    for beat in ("beat", "beat-standby"):
        assert services[beat]["healthcheck"]["test"][-2:] == ["heartbeat_check", "scheduler"]


def test_two_beats_take_the_lease_with_their_own_schedule_files(compose):
    services = compose["services"]
    volumes = []
    for beat in ("beat", "beat-standby"):
        command = services[beat]["command"]
        assert command[:4] == ["celery", "-A", "byods_portal", "beat"]
        assert options(command)["--scheduler"] == "byods_portal.scheduler:LeasedScheduler"
        [volume] = services[beat]["volumes"]
        volumes.append(volume.split(":")[0])
    assert len(set(volumes)) == 2 and set(volumes) <= set(compose["volumes"])


def test_gunicorn_times_out_and_recycles_workers_in_compose_and_the_image(compose):
    web = compose["services"]["web"]["command"]
    assert web[0] == "gunicorn"
    assert options(web).items() >= GUNICORN_LIMITS.items()
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*?\])\s*$", dockerfile.replace("\\\n", " "), re.M | re.S)
    image = yaml.safe_load(cmd)  # a JSON array, which YAML reads too
    assert image[0] == "gunicorn"
    assert options(image).items() >= GUNICORN_LIMITS.items()


def test_only_migrate_holds_the_database_owner_and_the_roles_are_created(compose):
    """The portal runs as a role that owns no table (audit/dbroles.py); only the one-shot
    migrate gets the owner's URL, and the database creates both roles at its first start."""
    services = compose["services"]
    owner_url = services["migrate"]["environment"]["DATABASE_OWNER_URL"]
    assert owner_url.startswith("postgres://byods_owner:")
    for name in PORTAL:
        env = services[name]["environment"]
        assert env["DATABASE_OWNER_URL"] == "", name
        assert env["DATABASE_URL"].startswith("postgres://byods_app:"), name
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://byods_app:")
    mounts = services["db"]["volumes"]
    assert any(m.startswith("./deploy/postgres/init-roles.sql:/docker-entrypoint-initdb.d/")
               for m in mounts)  # fmt: skip
    assert (ROOT / "deploy/postgres/init-roles.sql").exists()

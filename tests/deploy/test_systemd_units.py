"""The systemd units of deploy/systemd/: systemd's own checks, their commands, their environment file.

``systemd-analyze verify`` checks the syntax of every unit and that every ExecStart
binary exists and is executable. The units name their final paths (/opt/hypersight,
its .venv, the user hypersight), so the tests verify a copy in which the paths point
at this checkout and its virtual environment, and User=/Group= at the user running the
tests: systemd 252 does not look the user up, but others may warn about a missing one,
and those lines are the only change. Verify must then print nothing at all.

The commands of the units are then run as systemd would run them (the unit's
Environment= defaults, overridden by deploy/systemd/hypersight.env, ``${VAR}`` and
``$VAR`` expanded, ``%H`` replaced) with ``--help`` or gunicorn's ``--check-config``
appended, which load the Flask app or the detector (validating the configuration of the
environment file) without serving; the two gunicorn units also serve /health for real.
They run inside an emulation of their unit's sandbox where this machine allows it:
MemoryDenyWriteExecute=yes as prctl(PR_SET_MDWE) (Linux 6.3+), SystemCallFilter= and
RestrictAddressFamilies= as a seccomp filter built with libseccomp's Python binding
(Debian's python3-seccomp, for /usr/bin/python3) from systemd-analyze's own syscall
groups. A library that needs writable executable memory or a forbidden system call
then fails here, not in production. Where either is missing, that part is skipped and
the test says so in its assertion messages.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import grp
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS_DIR = ROOT / "deploy" / "systemd"
ENV_EXAMPLE = UNITS_DIR / "hypersight.env"
GPU_DROP_IN = UNITS_DIR / "gpu.conf"
RUN_SCRIPT = ROOT / "deploy" / "hypersight-run"
INSTALL_ROOT = "/opt/hypersight"
VENV = ROOT / ".venv" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.prefix)
SERVICES = sorted(UNITS_DIR.glob("*.service"))
TARGET = UNITS_DIR / "hypersight.target"
EXPECTED_SERVICES = {
    "hypersight-web.service", "hypersight-worker.service", "hypersight-beat.service",
    "hypersight-faces.service", "hypersight-detector.service", "hypersight-restart-watchers.service",
}
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is missing: install the Debian package systemd (apt-get install systemd)",
)
SECCOMP_PYTHON = "/usr/bin/python3"  # Debian's python3-seccomp is built for the system Python
# argv[1]: JSON {"mdwe": bool, "syscalls": [names] or null, "families": [numbers] or null};
# argv[2:]: the command, run with memory-deny-write-execute and the seccomp filter of a unit.
SANDBOX_EXEC = """
import ctypes, errno, json, os, sys
spec = json.loads(sys.argv[1])
if spec["mdwe"]:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        sys.exit("prctl(PR_SET_MDWE) failed: errno %d" % ctypes.get_errno())
if spec["syscalls"] is not None:
    import seccomp
    rules = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for name in spec["syscalls"]:
        if name == "socket" and spec["families"] is not None:
            continue
        try:
            rules.add_rule(seccomp.ALLOW, name)
        except RuntimeError:  # not a system call of this architecture
            pass
    for family in spec["families"] or ():
        rules.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, family))
    rules.load()
os.execv(sys.argv[2], sys.argv[2:])
"""


# --- reading units and the environment file ----------------------------------------

def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file, each a list of (key, value) in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: keep each setting on one line"
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        assert current is not None and "=" in line, f"{path.name}:{number}: {raw!r}"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def value(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str | None:
    found = values(unit, section, key)
    return found[-1] if found else None


def words(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> set[str]:
    return {word for entry in values(unit, section, key) for word in entry.split()}


# Values that systemd's EnvironmentFile= parser and sh read the same way: unquoted
# without shell metacharacters, or single-quoted without a single quote inside.
ENV_LINE = re.compile(r"^(?P<key>[A-Z][A-Z0-9_]*)=(?:(?P<plain>[A-Za-z0-9._:/@,+%=-]*)|'(?P<quoted>[^']*)')$")


def parse_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.match(line)
        assert match, f"{path.name}:{number}: {line!r} is not KEY=value in the subset systemd and sh agree on"
        assert match["key"] not in env, f"{path.name}:{number}: {match['key']} set twice"
        env[match["key"]] = match["plain"] if match["plain"] is not None else match["quoted"]
    return env


def unit_environment(unit: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """The unit's Environment= assignments (systemd quoting: words, optionally double-quoted)."""
    env: dict[str, str] = {}
    for entry in values(unit, "Service", "Environment"):
        for assignment in shlex.split(entry):
            key, _, val = assignment.partition("=")
            env[key] = val
    return env


def expand_exec(line: str, env: dict[str, str]) -> list[str]:
    """An Exec*= line as systemd runs it: prefixes dropped, specifiers and variables expanded."""
    line = line.lstrip("-+@!:")
    unknown = set(re.findall(r"%[^H%]", line))
    assert not unknown, f"specifiers this test does not expand: {unknown}"
    argv: list[str] = []
    for word in shlex.split(line):
        word = word.replace("%H", socket.gethostname()).replace("%%", "%")
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:  # $VAR alone: split on whitespace, zero words when empty
            argv.extend(env.get(whole[1], "").split())
            continue
        argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m[1], ""), word))
    return argv


def referenced_variables(line: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", line)) | set(
        re.findall(r"(?<![{\w])\$([A-Za-z_][A-Za-z0-9_]*)", line))


def to_checkout(text: str) -> str:
    """/opt/hypersight paths -> this checkout and its virtual environment."""
    return text.replace(INSTALL_ROOT + "/.venv", str(VENV)).replace(INSTALL_ROOT, str(ROOT))


# --- the units themselves ----------------------------------------------------------

def test_every_daemon_has_a_unit_and_the_target_groups_them() -> None:
    assert {path.name for path in SERVICES} == EXPECTED_SERVICES
    target = parse_unit(TARGET)
    assert words(target, "Install", "Also") == EXPECTED_SERVICES
    assert "multi-user.target" in words(target, "Install", "WantedBy")
    for path in SERVICES:
        unit = parse_unit(path)
        assert "hypersight.target" in words(unit, "Unit", "PartOf"), path.name
        assert {"hypersight.target", "multi-user.target"} <= words(unit, "Install", "WantedBy"), path.name


@pytest.mark.parametrize("path", SERVICES, ids=lambda path: path.name)
def test_service_runs_as_hypersight_from_opt_with_the_environment_file_and_hardening(path: Path) -> None:
    unit = parse_unit(path)
    name = path.name.removesuffix(".service")
    expect = {
        "User": "hypersight", "Group": "hypersight", "WorkingDirectory": INSTALL_ROOT,
        "EnvironmentFile": "/etc/hypersight/hypersight.env", "StandardOutput": "journal",
        "StandardError": "journal", "SyslogIdentifier": name, "UMask": "0027", "StateDirectory": "hypersight",
        "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectControlGroups": "yes", "RestrictNamespaces": "yes",
        "LockPersonality": "yes", "SystemCallArchitectures": "native",
    }
    for key, wanted in expect.items():
        assert value(unit, "Service", key) == wanted, f"{path.name}: {key}"
    assert words(unit, "Service", "RestrictAddressFamilies") == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert words(unit, "Service", "ReadWritePaths") >= {"/var/lib/hypersight", "-/opt/hypersight/var"}
    (start,) = values(unit, "Service", "ExecStart")
    assert start.startswith(INSTALL_ROOT + "/.venv/bin/"), start
    assert value(unit, "Service", "Restart") in {"always", "on-failure"}
    assert value(unit, "Service", "RestartSec")
    assert value(unit, "Unit", "StartLimitIntervalSec") and value(unit, "Unit", "StartLimitBurst")
    # A variable used on the command line has a default in the unit itself, so that an
    # environment file without it yields the default, not an empty argument.
    assert referenced_variables(start) <= set(unit_environment(unit)), path.name


def test_worker_stops_gracefully_and_may_read_webcams() -> None:
    unit = parse_unit(UNITS_DIR / "hypersight-worker.service")
    start = value(unit, "Service", "ExecStart") or ""
    assert " worker -Q watchers,control " in start
    assert "--autoscale=${HYPERSIGHT_WORKER_MAX},${HYPERSIGHT_WORKER_MIN}" in start
    assert value(unit, "Service", "KillMode") == "mixed"
    assert int(value(unit, "Service", "TimeoutStopSec") or 0) >= 60
    assert value(unit, "Service", "PrivateDevices") == "no"
    assert value(unit, "Service", "DevicePolicy") == "closed"
    assert values(unit, "Service", "DeviceAllow") == ["char-video4linux rw"]
    assert "video" in words(unit, "Service", "SupplementaryGroups")
    defaults = unit_environment(unit)
    assert int(defaults["HYPERSIGHT_WORKER_MAX"]) > int(defaults["HYPERSIGHT_WORKER_MIN"]) >= 2


def test_memory_deny_write_execute_only_where_no_code_is_generated() -> None:
    """Off for the worker (ffmpeg, OpenCV, PyAV) and the detector (ONNX Runtime, CUDA JIT); on elsewhere."""
    for path in SERVICES:
        unit = parse_unit(path)
        mdwe = value(unit, "Service", "MemoryDenyWriteExecute")
        if path.name in {"hypersight-worker.service", "hypersight-detector.service"}:
            assert mdwe is None, path.name
        else:
            assert mdwe == "yes", path.name
            assert value(unit, "Service", "PrivateDevices") == "yes", path.name


def test_privileged_system_calls_are_denied_except_to_gunicorn() -> None:
    """gunicorn chowns a unix: socket it binds (even to its own user): no ~@privileged there."""
    for path in SERVICES:
        unit = parse_unit(path)
        filters = values(unit, "Service", "SystemCallFilter")
        assert filters[0] == "@system-service", path.name
        assert value(unit, "Service", "SystemCallErrorNumber") == "EPERM", path.name
        gunicorn = "/bin/gunicorn " in (value(unit, "Service", "ExecStart") or "")
        assert ("~@privileged" in filters) is not gunicorn, path.name


def test_restart_watchers_is_a_one_shot_after_the_worker() -> None:
    unit = parse_unit(UNITS_DIR / "hypersight-restart-watchers.service")
    assert value(unit, "Service", "Type") == "oneshot"
    assert "hypersight-worker.service" in words(unit, "Unit", "Requires")
    assert "hypersight-worker.service" in words(unit, "Unit", "After")


def test_beat_keeps_its_schedule_in_the_state_folder() -> None:
    unit = parse_unit(UNITS_DIR / "hypersight-beat.service")
    assert "--schedule /var/lib/hypersight/celerybeat-schedule" in (value(unit, "Service", "ExecStart") or "")


def test_each_gunicorn_has_its_own_control_socket() -> None:
    """gunicorn 25+ defaults to ~/.gunicorn/gunicorn.ctl, which web and detector would share."""
    sockets = []
    for name in ("hypersight-web", "hypersight-detector"):
        unit = parse_unit(UNITS_DIR / f"{name}.service")
        start = value(unit, "Service", "ExecStart") or ""
        assert value(unit, "Service", "Type") == "notify"
        assert value(unit, "Service", "RuntimeDirectory") == name
        sockets.append(re.search(r"--control-socket (\S+)", start)[1])
        assert sockets[-1].startswith(f"/run/{name}/")
    assert len(set(sockets)) == 2


# --- systemd's checks ----------------------------------------------------------------

def verify_copy(tmp_path: Path, *, gpu: bool) -> Path:
    """The units with checkout paths and the current user, ready for systemd-analyze."""
    user = getpass.getuser()
    group = grp.getgrgid(os.getgid()).gr_name
    folder = tmp_path / "units"
    folder.mkdir()
    for path in [*SERVICES, TARGET]:
        text = to_checkout(path.read_text())
        text = re.sub(r"(?m)^User=hypersight$", f"User={user}", text)
        text = re.sub(r"(?m)^Group=hypersight$", f"Group={group}", text)
        (folder / path.name).write_text(text)
    if gpu:
        drop_in = folder / "hypersight-detector.service.d"
        drop_in.mkdir()
        (drop_in / GPU_DROP_IN.name).write_text(to_checkout(GPU_DROP_IN.read_text()))
    return folder


def analyze(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "info", "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "",
           "SYSTEMD_COLORS": "0"}
    return subprocess.run([SYSTEMD_ANALYZE, "--no-pager", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


@needs_systemd_analyze
@pytest.mark.parametrize("gpu", [False, True], ids=["plain", "detector-with-gpu.conf"])
def test_systemd_analyze_verify_is_silent(tmp_path: Path, gpu: bool) -> None:
    folder = verify_copy(tmp_path, gpu=gpu)
    names = [f"./{path.name}" for path in [*SERVICES, TARGET]]
    result = analyze("verify", "--man=no", *names, cwd=folder)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    # Unknown keys and bad values are warnings with exit status 0: none is allowed.
    assert output == "", output


@needs_systemd_analyze
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above is not vacuous: a typo and a missing binary are reported."""
    folder = verify_copy(tmp_path, gpu=False)
    unit = folder / "hypersight-faces.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=", "NoNewPrivilege=")
                    .replace("/bin/python -m", "/bin/no-such-python -m"))
    result = analyze("verify", "--man=no", f"./{unit.name}", cwd=folder)
    output = result.stdout + result.stderr
    assert "Unknown key 'NoNewPrivilege'" in output
    assert result.returncode != 0 and "no-such-python" in output


@needs_systemd_analyze
@pytest.mark.parametrize("path", SERVICES, ids=lambda path: path.name)
def test_systemd_analyze_security_exposure_is_low(tmp_path: Path, path: Path) -> None:
    """systemd's own score (0 best, 10 worst): every unit stays at 4.0 or below."""
    folder = verify_copy(tmp_path, gpu=False)
    result = analyze("security", "--offline=true", "--threshold=40", f"./{path.name}", cwd=folder)
    output = result.stdout + result.stderr
    if "--offline" in output and ("unrecognized" in output or "Unknown" in output):
        pytest.skip("this systemd-analyze has no offline security analysis (systemd < 250)")
    assert result.returncode == 0, output[-2000:]
    assert "Overall exposure level" in output


# --- the commands of the units -------------------------------------------------------

@functools.cache
def mdwe_supported() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    spec = json.dumps({"mdwe": True, "syscalls": None, "families": None})
    probe = subprocess.run([sys.executable, "-c", SANDBOX_EXEC, spec, "/bin/true"], capture_output=True, check=False)
    return probe.returncode == 0


@functools.cache
def seccomp_supported() -> bool:
    if SYSTEMD_ANALYZE is None or not Path(SECCOMP_PYTHON).is_file():
        return False
    probe = subprocess.run([SECCOMP_PYTHON, "-c", "import seccomp"], capture_output=True, check=False)
    return probe.returncode == 0


@functools.cache
def syscall_group(name: str) -> frozenset[str]:
    """The system calls of a systemd group (``@system-service``), nested groups expanded."""
    listing = subprocess.run([SYSTEMD_ANALYZE, "--no-pager", "syscall-filter", name], capture_output=True,
                             text=True, check=True).stdout
    calls: set[str] = set()
    for line in listing.splitlines()[1:]:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            calls |= syscall_group(entry) if entry.startswith("@") else {entry}
    return frozenset(calls)


def unit_syscalls(unit: dict[str, list[tuple[str, str]]]) -> list[str] | None:
    """SystemCallFilter= as systemd combines it: an allow list, then ~ lines remove, empty resets."""
    allowed: set[str] | None = None
    for entry in values(unit, "Service", "SystemCallFilter"):
        if not entry:
            allowed = None
            continue
        deny = entry.startswith("~")
        names: set[str] = set()
        for item in entry.lstrip("~").split():
            names |= syscall_group(item) if item.startswith("@") else {item}
        assert allowed is not None or not deny, "a deny list alone is not emulated here"
        allowed = (allowed or set()) - names if deny else (allowed or set()) | names
    return None if allowed is None else sorted(allowed)


def sandboxed(unit: dict[str, list[tuple[str, str]]], command: list[str]) -> tuple[list[str], str]:
    """``command`` inside the unit's MDWE and seccomp sandbox, as far as this machine can; and what was applied."""
    mdwe = value(unit, "Service", "MemoryDenyWriteExecute") == "yes" and mdwe_supported()
    syscalls = unit_syscalls(unit) if seccomp_supported() else None
    families = sorted(getattr(socket, name) for name in words(unit, "Service", "RestrictAddressFamilies"))
    applied = f"MDWE {'on' if mdwe else 'off'}, seccomp {'on' if syscalls is not None else 'off'}"
    if not mdwe and syscalls is None:
        return command, applied
    spec = json.dumps({"mdwe": mdwe, "syscalls": syscalls, "families": families if syscalls is not None else None})
    python = SECCOMP_PYTHON if syscalls is not None else sys.executable
    return [python, "-c", SANDBOX_EXEC, spec, *command], applied


def test_sandbox_emulation_denies_what_the_units_deny() -> None:
    """The wrappers used below really refuse W+X memory, chown (~@privileged) and netlink sockets."""
    unit = parse_unit(UNITS_DIR / "hypersight-faces.service")
    probes = {
        "mdwe": "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)",
        "seccomp": "import os, tempfile; os.chown(tempfile.mkstemp()[1], os.getuid(), os.getgid())",
        "families": "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
    }
    for name, code in probes.items():
        assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0, name
    if not mdwe_supported() and not seccomp_supported():
        pytest.skip("neither prctl(PR_SET_MDWE) (Linux 6.3+) nor python3-seccomp with systemd-analyze is here")
    command, applied = sandboxed(unit, [sys.executable, "-c", "pass"])
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0, applied
    for name, code in probes.items():
        if (name == "mdwe" and not mdwe_supported()) or (name != "mdwe" and not seccomp_supported()):
            continue
        command, applied = sandboxed(unit, [sys.executable, "-c", code])
        denied = subprocess.run(command, capture_output=True, text=True, check=False)
        assert denied.returncode != 0 and ("PermissionError" in denied.stderr or "OSError" in denied.stderr), (
            name, applied, denied.stderr[-500:])


def command_environment(unit: dict[str, list[tuple[str, str]]], tmp_path: Path) -> dict[str, str]:
    """What systemd hands the process: unit defaults, then the example file, as an operator fills it."""
    env = {key: val for key, val in os.environ.items() if not key.startswith("HYPERSIGHT_")}
    env.update(unit_environment(unit))
    env.update(parse_env_file(ENV_EXAMPLE))
    env.update({
        "HYPERSIGHT_SECRET_KEY": "a" * 64,  # the operator replaced the placeholder
        "HYPERSIGHT_INSTANCE_DIR": str(tmp_path / "no-instance"),  # no developer's instance/config.py
        "HYPERSIGHT_SEGMENTS_DIR": str(tmp_path / "segments"),
        "HYPERSIGHT_PROCESSORS_PREVIEW_DIR": str(tmp_path / "previews"),
    })
    return env


def check_argv(argv: list[str]) -> list[str]:
    """The ExecStart command, told to load its app and exit instead of serving."""
    program = Path(argv[0]).name
    if program == "gunicorn":
        return [*argv, "--check-config"]  # imports and builds the app, then exits 0
    if program == "celery":
        return [*argv, "--help"]  # -A loads the app first; click still rejects unknown options
    return [*argv, "--help"]


@pytest.mark.parametrize("path", SERVICES, ids=lambda path: path.name)
def test_exec_start_command_exists_and_loads(tmp_path: Path, path: Path) -> None:
    unit = parse_unit(path)
    (start,) = values(unit, "Service", "ExecStart")
    argv = expand_exec(to_checkout(start), command_environment(unit, tmp_path))
    assert Path(argv[0]).is_file(), f"{argv[0]} missing: run make venv"
    command, applied = sandboxed(unit, check_argv(argv))
    result = subprocess.run(command, cwd=to_checkout(value(unit, "Service", "WorkingDirectory") or ""),
                            env=command_environment(unit, tmp_path), capture_output=True, text=True,
                            timeout=120, check=False)
    output = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, f"{shlex.join(check_argv(argv))} ({applied})\n{output}"


@pytest.mark.parametrize("path", [path for path in SERVICES if "gunicorn" in path.read_text()],
                         ids=lambda path: path.name)
def test_gunicorn_check_really_loads_the_app(tmp_path: Path, path: Path) -> None:
    """--check-config fails on an app that does not load, so the test above means something."""
    unit = parse_unit(path)
    (start,) = values(unit, "Service", "ExecStart")
    argv = [word.replace(":create_app()", ":no_such_factory()") for word in
            expand_exec(to_checkout(start), command_environment(unit, tmp_path))]
    result = subprocess.run(check_argv(argv), cwd=ROOT, env=command_environment(unit, tmp_path),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "no_such_factory" in result.stdout + result.stderr


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def get_health(path: Path, deadline: float) -> tuple[int, dict]:
    """GET /health over a unix socket, retrying while gunicorn's worker is still loading the app."""
    while True:
        connection = UnixHTTPConnection(path)
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        except (ConnectionError, FileNotFoundError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            connection.close()


@pytest.mark.parametrize("name", ["hypersight-web", "hypersight-detector"])
def test_gunicorn_unit_notifies_systemd_serves_and_stops_gracefully(tmp_path: Path, name: str) -> None:
    """Type=notify is right (gunicorn sends READY=1 once it listens), /health answers inside the
    unit's sandbox, and SIGTERM to the main process alone (KillMode=mixed) ends it cleanly.

    The app binds a unix socket, which gunicorn chowns: a ~@privileged filter would break it.
    """
    unit = parse_unit(UNITS_DIR / f"{name}.service")
    env = command_environment(unit, tmp_path)
    http_socket = tmp_path / "http.sock"
    env["HYPERSIGHT_WEB_BIND" if name == "hypersight-web" else "HYPERSIGHT_DETECTOR_BIND"] = f"unix:{http_socket}"
    env["HYPERSIGHT_WEB_WORKERS"] = "1"
    env["HYPERSIGHT_SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'hypersight.db'}"
    env["HYPERSIGHT_REDIS_URL"] = "redis://127.0.0.1:9/0"  # nothing there: /health reports redis down
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(1)
    env["NOTIFY_SOCKET"] = str(tmp_path / "notify")
    (start,) = values(unit, "Service", "ExecStart")
    argv = expand_exec(to_checkout(start).replace(f"/run/{name}/", f"{tmp_path}/"), env)
    command, applied = sandboxed(unit, argv)
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready, deadline = "", time.monotonic() + 90
        while "READY=1" not in ready and process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                ready += notify.recv(4096).decode()
        assert "READY=1" in ready, f"no READY=1 from gunicorn ({applied}):\n{log_path.read_text()[-3000:]}"
        status, body = get_health(http_socket, time.monotonic() + 90)
        assert status == 200, (applied, body, log_path.read_text()[-3000:])
        if name == "hypersight-web":
            assert body["database"] is True and body["redis"] is False
        else:
            assert body["backend"] == "opencv"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()[-3000:]
    finally:
        notify.close()
        if process.poll() is None:
            process.kill()
            process.wait()


# --- the environment file --------------------------------------------------------------

def test_environment_file_is_a_valid_configuration_with_a_placeholder_secret() -> None:
    from detector_service.settings import settings_from_env
    from server.config import ConfigError, check_secret_key, load_config

    env = parse_env_file(ENV_EXAMPLE)
    for key in ("HYPERSIGHT_SECRET_KEY", "HYPERSIGHT_SQLALCHEMY_DATABASE_URI", "HYPERSIGHT_REDIS_URL",
                "HYPERSIGHT_OBJECT_DETECTOR_URL", "HYPERSIGHT_FACE_DETECTOR_URL", "HYPERSIGHT_WEB_BIND",
                "HYPERSIGHT_WORKER_MAX", "HYPERSIGHT_DETECTOR_BIND"):
        assert key in env, key
    config = load_config(environ=env, instance_dir=ROOT / "no-such-instance")
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert config["API_TOKENS"] == [] and config["FACE_WS_TOKENS"] == []
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_secret_key(config)  # the placeholder must be changed before anything starts
    check_secret_key(load_config(environ={**env, "HYPERSIGHT_SECRET_KEY": "0123456789abcdef" * 4},
                                 instance_dir=ROOT / "no-such-instance"))
    assert settings_from_env(env).backend == "opencv"


def test_unit_variables_are_not_configuration_keys() -> None:
    """The units' own variables must not shadow a key of the server or of the detector."""
    from detector_service.settings import ENV_PREFIX as DETECTOR_PREFIX
    from detector_service.settings import ServiceSettings
    from server.config import ENV_PREFIX, Settings

    config_keys = {ENV_PREFIX + key for key in Settings.model_fields}
    detector_keys = {DETECTOR_PREFIX + field.upper() for field in ServiceSettings.__dataclass_fields__}
    unit_keys = set()
    for path in SERVICES:
        unit_keys |= set(unit_environment(parse_unit(path)))
    unit_keys -= {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    assert unit_keys, "the units define no variables?"
    assert not unit_keys & (config_keys | detector_keys)
    # ... and the example file sets only known names: a typo would be silently ignored.
    assert set(parse_env_file(ENV_EXAMPLE)) <= config_keys | detector_keys | unit_keys


# --- deploy/hypersight-run -------------------------------------------------------------

def test_run_script_is_valid_sh() -> None:
    assert os.access(RUN_SCRIPT, os.X_OK)
    subprocess.run(["sh", "-n", str(RUN_SCRIPT)], check=True)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("runuser"),
                    reason="hypersight-run switches users: needs root and runuser")
def test_run_script_runs_in_the_checkout_with_the_environment_file(tmp_path: Path) -> None:
    env_file = tmp_path / "hypersight.env"
    env_file.write_text(ENV_EXAMPLE.read_text() + "HYPERSIGHT_API_TOKENS='[\"t 1\",\"t&2\"]'\n")
    probe = ("import json, os, sys; "
             "print(json.dumps([os.getcwd(), sys.prefix, os.environ['HYPERSIGHT_API_TOKENS']]))")
    result = subprocess.run(
        [str(RUN_SCRIPT), "python", "-c", probe],
        env={"PATH": os.environ.get("PATH", ""), "HYPERSIGHT_RUN_USER": getpass.getuser(),
             "HYPERSIGHT_RUN_ENV_FILE": str(env_file)},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    cwd, prefix, tokens = json.loads(result.stdout)
    assert Path(cwd) == ROOT
    if (ROOT / ".venv" / "bin" / "python").is_file():
        assert Path(prefix) == ROOT / ".venv"
    assert tokens == '["t 1","t&2"]'


def test_run_script_refuses_a_missing_environment_file(tmp_path: Path) -> None:
    result = subprocess.run([str(RUN_SCRIPT), "true"], env={"PATH": os.environ.get("PATH", ""),
                            "HYPERSIGHT_RUN_ENV_FILE": str(tmp_path / "missing.env")},
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "root" in result.stderr or "missing.env" in result.stderr

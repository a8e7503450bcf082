"""The ``cryptochat`` command as users run it: real processes, piped stdin, exit statuses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KEY

from demo.conductor import Line, Participant, run_conversation
from demo.conductor import spawn as demo_spawn

CHAT = (sys.executable, "-m", "cryptochat")
SERVE = (*CHAT, "serve", "--host", "127.0.0.1")


def connect(port: str, key_file: str, name: str) -> list[str]:
    return [*CHAT, "connect", "127.0.0.1", port, "--key-file", key_file, "--name", name]


_running: list[Participant] = []


async def spawn(name: str, argv: list[str]) -> Participant:
    participant = await demo_spawn(name, argv)
    _running.append(participant)
    return participant


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    """A failed assertion must not leave a server running: kill whatever a test started and left."""
    yield
    while _running:
        participant = _running.pop()
        if participant.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(participant.process.pid, signal.SIGKILL)


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHAT, *args], capture_output=True, text=True, timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_file(path: str, data: bytes, mode: int = 0o600) -> str:
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


# ---------------------------------------------------------------- keys


def test_keygen_writes_32_random_bytes_readable_only_by_the_owner(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "k")
    result = run("keygen", path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, "rb") as f:
        key = f.read()
    assert len(key) == 32
    assert key.hex() not in result.stdout + result.stderr


def test_keygen_refuses_to_overwrite(key_file: str) -> None:
    with open(key_file, "rb") as f:
        before = f.read()
    result = run("keygen", key_file)
    assert result.returncode == 2
    assert result.stderr.strip() == f"cryptochat: key file {key_file} already exists; not overwriting it"
    with open(key_file, "rb") as f:
        assert f.read() == before


@pytest.mark.parametrize(
    ("content", "mode", "complaint"),
    [
        (None, 0o600, "does not exist"),
        (b"short", 0o600, "must hold exactly 32 bytes (too short)"),
        (KEY + b"\n", 0o600, "must hold exactly 32 bytes (too long)"),
        (KEY, 0o640, "accessible by group or others"),
        (KEY, 0o604, "accessible by group or others"),
    ],
)
def test_bad_key_files_are_one_line_and_status_2(
    tmp_path: os.PathLike[str], content: bytes | None, mode: int, complaint: str
) -> None:
    path = os.path.join(tmp_path, "k")
    if content is not None:
        write_file(path, content, mode)
    result = run("connect", "127.0.0.1", "1", "--key-file", path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr
    assert KEY.hex() not in result.stderr and "\\x00\\x01" not in result.stderr


def test_a_key_file_that_is_not_a_file_is_one_line_and_status_2(tmp_path: os.PathLike[str]) -> None:
    # A directory opens but is no key, even for root (who can read a mode-000 file).
    path = os.path.join(tmp_path, "k")
    os.mkdir(path, 0o700)
    result = run("connect", "127.0.0.1", "1", "--key-file", path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"cryptochat: key file {path} is not a regular file"


def test_an_unknown_engine_is_a_usage_error(key_file: str) -> None:
    result = run("serve", "--key-file", key_file, "--engine", "quantum")
    assert result.returncode == 2
    assert "invalid choice: 'quantum'" in result.stderr


def test_unreachable_server_is_one_line_and_status_1(key_file: str) -> None:
    result = run("connect", "127.0.0.1", str(free_port()), "--key-file", key_file, "--name", "x")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("engine: software")
    assert result.stderr.splitlines()[1].startswith("cryptochat: cannot reach the server at 127.0.0.1:")
    assert "Traceback" not in result.stderr


@pytest.fixture
def checkout_without_extension(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the package's sources with no built cffi extension, as a source checkout is."""
    root = tmp_path_factory.mktemp("checkout")
    package = Path(__file__).resolve().parents[1] / "cryptochat"
    shutil.copytree(package, root / "cryptochat", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return str(root)


def run_in(checkout: str, *args: str) -> subprocess.CompletedProcess[str]:
    # -m runs from the working directory first, so the copy shadows the installed package.
    return subprocess.run([*CHAT, *args], capture_output=True, text=True, timeout=20, check=False,
                          cwd=checkout)


def test_auto_engine_without_the_extension_falls_back_to_software_and_says_why(
    key_file: str, checkout_without_extension: str
) -> None:
    result = run_in(checkout_without_extension, "connect", "127.0.0.1", str(free_port()),
                    "--key-file", key_file, "--name", "x", "--engine", "auto")
    assert result.returncode == 1
    engine_line = result.stderr.splitlines()[0]
    assert engine_line.startswith("engine: software (cryptography")
    assert engine_line.endswith("; the cryptodev engine is not built: install the package (pip install .)")
    assert "Traceback" not in result.stderr


def test_cryptodev_engine_without_the_extension_is_a_usage_error(
    key_file: str, checkout_without_extension: str
) -> None:
    result = run_in(checkout_without_extension, "connect", "127.0.0.1", str(free_port()),
                    "--key-file", key_file, "--name", "x", "--engine", "cryptodev")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "cryptochat: the cryptodev engine is not built: install the package (pip install .)"
    )


# ---------------------------------------------------------------- conversations


def test_three_clients_and_the_server_receive_every_line_of_the_others_in_order(key_file: str) -> None:
    long_line = "ü" * 2048  # 4096 bytes: the longest line, longer than the seed's 256-byte buffer
    script = [
        Line("alice", "hello everyone"),
        Line("bob", "hi alice"),
        Line("carol", "carol here, lower case"),
        Line("server", "the operator speaks"),
        Line("alice", long_line),
        Line("bob", "same"),
        Line("bob", "same"),
        Line("carol", "bye now"),
    ]
    result = asyncio.run(run_conversation(script, key_file, clients=("alice", "bob", "carol")))
    assert result.problems == []
    assert result.received["bob"] == [
        "alice: hello everyone",
        "carol: carol here, lower case",
        "server: the operator speaks",
        f"alice: {long_line}",
        "carol: bye now",
    ]
    assert result.exit_codes == {"server": 0, "alice": 0, "bob": 0, "carol": 0}
    assert all(n[0].startswith("engine: software (cryptography") for n in result.notices.values())


def test_lines_piped_before_connecting_are_all_sent_at_end_of_input(key_file: str) -> None:
    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file])
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("dave", connect(port, key_file, "dave"))
        for i in range(30):
            await client.type(f"queued line {i}")
        await client.end_input()
        assert await client.finish() == 0
        assert await server.wait_for("queued line 29")
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0
        assert server.stdout == [f"dave: queued line {i}" for i in range(30)]

    asyncio.run(scenario())


def test_wrong_key_fails_with_a_clear_line_on_both_ends(key_file: str, tmp_path: os.PathLike[str]) -> None:
    other = write_file(os.path.join(tmp_path, "other.key"), os.urandom(32))

    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file])
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("eve", connect(port, other, "eve"))
        assert await client.finish() == 1
        assert client.stderr[1:] == ["cryptochat: the server does not hold the same key"]
        assert await server.wait_for("the client does not hold the same key", stream="stderr")
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0
        assert not any("Traceback" in line for line in server.stderr + client.stderr)

    asyncio.run(scenario())


def test_server_restart_and_client_reconnect_with_lines_typed_meanwhile(key_file: str) -> None:
    port = str(free_port())
    serve = [*SERVE, "--port", port, "--key-file", key_file]

    async def scenario() -> None:
        first = await spawn("server", serve)
        assert await first.wait_for("listening on", stream="stderr")
        alice = await spawn("alice", connect(port, key_file, "alice"))
        assert await alice.wait_for("connected to", stream="stderr")
        await alice.type("before the restart")
        assert await first.wait_for("alice: before the restart")
        first.process.send_signal(signal.SIGTERM)
        assert await first.finish() == 0
        assert await alice.wait_for("the server said goodbye: the server is shutting down", stream="stderr")
        await alice.type("typed while the server was down")
        second = await spawn("server", serve)
        assert await second.wait_for("listening on", stream="stderr")
        assert await alice.wait_for("reconnected to", stream="stderr", timeout=15)
        assert await second.wait_for("alice: typed while the server was down")
        await second.type("welcome back")
        assert await alice.wait_for("server: welcome back")
        await alice.end_input()
        assert await alice.finish() == 0
        second.process.send_signal(signal.SIGTERM)
        assert await second.finish() == 0
        assert second.stdout == ["alice: typed while the server was down"]

    asyncio.run(scenario())


def test_end_of_the_servers_stdin_ends_only_its_console(key_file: str) -> None:
    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file])
        await server.end_input()
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("late", connect(port, key_file, "late"))
        await client.type("still serving?")
        assert await server.wait_for("late: still serving?")
        await client.end_input()
        assert await client.finish() == 0
        server.process.send_signal(signal.SIGINT)
        assert await server.finish() == 0

    asyncio.run(scenario())


def test_the_local_demo_succeeds() -> None:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).parents[1] / "demo" / "conductor.py")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("demo ok: 7 messages")


# ---------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["serve", "--max-clients", "0"], "argument --max-clients: 0 is out of range: must be at least 1"),
        (["serve", "--handshake-timeout", "0"], "argument --handshake-timeout: 0 is out of range"),
        (["serve", "--handshake-timeout", "nan"], "argument --handshake-timeout: nan is out of range"),
        (["serve", "--send-buffer", "-5"], "argument --send-buffer: -5 is out of range"),
        (["serve", "--rate", "0"], "argument --rate: 0 is out of range"),
        (["serve", "--port", "70000"], "argument --port: 70000 is out of range: must be from 0 to 65535"),
        (["serve", "--max-clients", "many"], "argument --max-clients: 'many' is not a whole number"),
        (["connect", "127.0.0.1", "0"], "argument PORT: 0 is out of range: must be from 1 to 65535"),
        (["connect", "127.0.0.1", "1", "--reconnect-attempts", "-1"], "argument --reconnect-attempts: -1"),
    ],
)
def test_numeric_options_out_of_range_are_one_line_usage_errors(
    key_file: str, args: list[str], complaint: str
) -> None:
    result = run(*args, "--key-file", key_file)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"cryptochat: {complaint}")
    assert result.stderr.rstrip().endswith(f"(see: cryptochat {args[0]} --help)")


@pytest.mark.parametrize("command", ["serve", "connect"])
def test_help_gives_every_option_a_meaning_and_its_default(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    if command == "serve":
        defaults = [
            ("--port PORT", "5555"), ("--max-clients N", "1000"), ("--host HOST", "0.0.0.0"),
            ("--handshake-timeout SECONDS", "10.0"), ("--slow-timeout SECONDS", "5.0"),
            ("--max-handshakes N", "256"), ("--burst N", "2000"),
        ]
        for option, default in defaults:
            assert re.search(rf"{option} [^-]+(\(|; )default: {re.escape(default)}\)", text), option
    else:
        assert "HOST the server's address or host name" in text
        assert "PORT the server's port" in text
        assert re.search(r"--reconnect-attempts N [^-]+\(0 to 1000; default: 10\)", text)
    assert "--key-file FILE the pre-shared key (from cryptochat keygen) (required)" in text
    assert "(default: None)" not in text


def test_keygen_on_a_directory_or_a_dangling_symlink_says_what_is_there(tmp_path: os.PathLike[str]) -> None:
    directory = os.path.join(tmp_path, "d")
    os.mkdir(directory)
    link = os.path.join(tmp_path, "l")
    os.symlink(os.path.join(tmp_path, "nowhere"), link)
    result = run("keygen", directory)
    assert result.stderr.strip() == f"cryptochat: key file {directory} is a directory; not overwriting it"
    result = run("keygen", link)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"cryptochat: key file {link} is a symbolic link to nothing; not overwriting it"
    )
    assert not os.path.exists(os.path.join(tmp_path, "nowhere"))


# ---------------------------------------------------------------- pipes and logs


def test_the_pipe_console_does_not_relay_empty_lines(key_file: str) -> None:
    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file])
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("dave", connect(port, key_file, "dave"))
        for line in ["first", "", "   ", "last"]:
            await client.type(line)
        await client.end_input()
        assert await client.finish() == 0
        assert await server.wait_for("dave: last")
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0
        assert server.stdout == ["dave: first", "dave: last"]

    asyncio.run(scenario())


def test_a_connection_refused_because_the_room_is_full_is_logged(key_file: str) -> None:
    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file, "--max-clients", "1"])
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        first = await spawn("first", connect(port, key_file, "first"))
        assert await first.wait_for("connected to", stream="stderr")
        second = await spawn("second", connect(port, key_file, "second"))
        assert await second.finish() == 1
        assert second.stderr[-1] == "cryptochat: the server refused us: the room is full (1 client)"
        assert await server.wait_for("refused second: the room is full (1 client)", stream="stderr")
        await first.end_input()
        assert await first.finish() == 0
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0

    asyncio.run(scenario())


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_addresses_are_shown_in_brackets(key_file: str) -> None:
    async def scenario() -> None:
        serve = [*CHAT, "serve", "--host", "::1", "--port", "0", "--key-file", key_file]
        server = await spawn("server", serve)
        assert await server.wait_for("listening on", stream="stderr")
        assert re.fullmatch(r"listening on \[::1\]:\d+ as server", server.stderr[-1])
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("six", [*CHAT, "connect", "::1", port, "--key-file", key_file, "--name", "six"])
        assert await client.wait_for(f"connected to [::1]:{port} as six", stream="stderr")
        await client.end_input()
        assert await client.finish() == 0
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0

    asyncio.run(scenario())


def test_log_appends_a_timestamped_transcript_on_both_ends(key_file: str, tmp_path: os.PathLike[str]) -> None:
    server_log = os.path.join(tmp_path, "server.log")
    client_log = os.path.join(tmp_path, "client.log")
    with open(client_log, "w", encoding="utf-8") as f:
        f.write("an earlier session\n")
    os.chmod(client_log, 0o600)

    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file, "--log", server_log])
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("dave", [*connect(port, key_file, "dave"), "--log", client_log])
        assert await client.wait_for("connected to", stream="stderr")
        await server.type("hello dave")
        assert await client.wait_for("server: hello dave")
        await client.type("hi server")
        assert await server.wait_for("dave: hi server")
        await client.end_input()
        assert await client.finish() == 0
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0

    asyncio.run(scenario())
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    with open(server_log, encoding="utf-8") as f:
        server_lines = f.read().splitlines()
    with open(client_log, encoding="utf-8") as f:
        client_lines = f.read().splitlines()
    assert stat.S_IMODE(os.stat(server_log).st_mode) == 0o600
    assert re.fullmatch(stamp + "-- log started: cryptochat serve as server", server_lines[0])
    assert re.fullmatch(stamp + r"-- listening on 127\.0\.0\.1:\d+ as server", server_lines[1])
    assert any(re.fullmatch(stamp + "dave: hi server", line) for line in server_lines)
    assert server_lines[-2].endswith(" -- shutting down")
    assert server_lines[-1].endswith(" -- log ended")
    assert client_lines[0] == "an earlier session"
    assert any(re.fullmatch(stamp + "server: hello dave", line) for line in client_lines)
    assert any(re.fullmatch(stamp + "dave: hi server", line) for line in client_lines)  # own lines too


def test_a_log_file_that_cannot_be_opened_is_a_usage_error(key_file: str, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "no", "such", "dir.log")
    result = run("connect", "127.0.0.1", "1", "--key-file", key_file, "--log", path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"cryptochat: cannot open the log file {path}: No such file or directory"


def test_a_name_is_normalised_before_it_is_asked_for(key_file: str) -> None:
    async def scenario() -> None:
        server = await spawn("server", [*SERVE, "--port", "0", "--key-file", key_file])
        assert await server.wait_for("listening on", stream="stderr")
        port = server.stderr[-1].rsplit(":", 1)[1].split()[0]
        client = await spawn("wide", connect(port, key_file, "\uff57\uff49\uff44\uff45"))  # fullwidth
        assert await client.wait_for(f"connected to 127.0.0.1:{port} as wide;", stream="stderr")
        assert not any("taken" in line for line in client.stderr)
        await client.end_input()
        assert await client.finish() == 0
        server.process.send_signal(signal.SIGTERM)
        assert await server.finish() == 0

    asyncio.run(scenario())


def test_an_invisible_character_in_a_name_is_a_usage_error(key_file: str) -> None:
    result = run("connect", "127.0.0.1", "1", "--key-file", key_file, "--name", "bob\u200b")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "cryptochat: argument --name: a name must not contain U+200B (ZERO WIDTH SPACE)"
    )


def test_a_cluster_without_redis_installed_names_the_extra(key_file: str) -> None:
    # As if `pip install cryptochat` had been run without the [cluster] extra.
    program = (
        "import sys; sys.modules['redis'] = None; from cryptochat.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    argv = ["serve", "--key-file", key_file, "--port", "0", "--cluster", "redis://127.0.0.1:1/0"]
    argv += ["--room", "r"]
    result = subprocess.run(
        [sys.executable, "-c", program, *argv], capture_output=True, text=True, timeout=30, check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "cryptochat: --cluster needs the redis package: pip install 'cryptochat[cluster]'"
    )

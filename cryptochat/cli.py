"""The ``cryptochat`` command: keygen, serve, connect.

Expected failures (a bad key file, an unreachable server, another key) print one line to stderr and exit
non-zero: 2 for usage and key-file problems, 1 for everything else. Nothing here ever prints key bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import math
import os
import re
import resource
import signal
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from . import __version__
from .client.client import ChatClient, ClientConfig, to_message
from .client.commands import Quit, Reconnect
from .client.console import ERROR_PREFIX, Console, PipeConsole, Status, room_event, show_room_message
from .client.terminal import TerminalConsole
from .client.transcript import TranscriptConsole, open_transcript
from .engines import ENGINE_NAMES, Engine, open_engine
from .errors import ConfigError, CryptochatError
from .server.cluster_config import DEFAULT_LEASE, ClusterConfig, check_cluster_url
from .server.hosting import RoomHost
from .server.server import ChatServer, ServerConfig
from .wire.channel import PSK_SIZE
from .wire.messages import MAX_REASON_BYTES, Emote, Error, Message, Say, Whispered
from .wire.names import check_name, normalise_name

__all__ = ["load_key", "main", "write_key"]

_SERVER_DEFAULTS = ServerConfig()
_ROOM_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CLIENT_DEFAULTS = ClientConfig(host="", port=0, name="guest")

EXIT_ERROR = 1
EXIT_USAGE = 2


def write_key(path: str) -> None:
    """Create ``path`` holding a fresh random key, mode 0600; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise ConfigError(f"key file {path} {_what_is_there(path)}; not overwriting it") from None
    except OSError as exc:
        raise ConfigError(f"cannot create key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(PSK_SIZE))


def _what_is_there(path: str) -> str:
    """How to describe what already occupies ``path``."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "already exists"
    if stat.S_ISLNK(mode):
        return "is a symbolic link" + ("" if os.path.exists(path) else " to nothing")
    if stat.S_ISDIR(mode):
        return "is a directory"
    return "already exists"


def load_key(path: str) -> bytes:
    """Read the pre-shared key from ``path``, refusing files others could read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ConfigError(f"key file {path} does not exist (create one: cryptochat keygen FILE)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        # fstat on the open file, so the file checked is the file read.
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"key file {path} is not a regular file")
        if mode & 0o077:
            raise ConfigError(f"key file {path} is accessible by group or others; run: chmod 600 {path}")
        key = os.read(fd, PSK_SIZE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(key) != PSK_SIZE:
        raise ConfigError(
            f"key file {path} must hold exactly {PSK_SIZE} bytes"
            f" ({'too short' if len(key) < PSK_SIZE else 'too long'})"
        )
    return key


class _Number:
    """An argparse type: a number of ``kind`` in ``[low, high]``, with a one-line error otherwise."""

    def __init__(self, kind: type[int] | type[float], low: float, high: float | None = None) -> None:
        self._kind, self._low, self._high = kind, low, high
        self.__name__ = kind.__name__  # argparse names the type in some messages

    @property
    def bounds(self) -> str:
        """The allowed range, as --help shows it."""
        return f"{self._low:g} to {self._high:g}" if self._high is not None else f"at least {self._low:g}"

    def __call__(self, text: str) -> float:
        try:
            value = self._kind(text)
        except ValueError:
            noun = "a whole number" if self._kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if math.isnan(value) or value < self._low or (self._high is not None and value > self._high):
            bounds = f"from {self.bounds}" if self._high is not None else self.bounds
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {bounds}")
        return value


_port = _Number(int, 0, 65535)
_remote_port = _Number(int, 1, 65535)


def _cluster_url(text: str) -> str:
    problem = check_cluster_url(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _room_name(text: str) -> str:
    # It is part of the Redis keys, which the keeper sees: plain characters only.
    if not _ROOM_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a room name: 1 to 64 of A-Z a-z 0-9 . _ -")
    return text


def _name(text: str) -> str:
    # Normalised as the server would, so that the name asked for is the name given.
    name = normalise_name(text)
    problem = check_name(name)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return name


def _default_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return "guest"
    return user if check_name(user) is None else "guest"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line with the same prefix as every other error, and where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{ERROR_PREFIX}{message} (see: {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, or says it is required."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        notes = [action.type.bounds] if isinstance(action.type, _Number) else []
        has_default = action.default not in (None, argparse.SUPPRESS) and "default" not in text
        if action.required and action.option_strings:
            notes.append("required")
        elif action.option_strings and has_default:
            notes.append("default: %(default)s")
        return f"{text} ({'; '.join(notes)})" if notes else text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cryptochat", description="Encrypted chat with a pre-shared key.")
    parser.add_argument("--version", action="version", version=f"cryptochat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        command_parser = sub.add_parser(name, help=text, description=text, formatter_class=_HelpFormatter)
        # So that a usage error points to this command's --help, which describes what went wrong.
        command_parser.set_defaults(usage=command_parser)
        return command_parser

    keygen = command("keygen", "write a new random key file (mode 0600); never overwrites")
    keygen.add_argument("file", metavar="FILE", help="where to write the key")

    def common_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--key-file", required=True, metavar="FILE", help="the pre-shared key (from cryptochat keygen)"
        )
        p.add_argument("--engine", choices=ENGINE_NAMES, default="auto", help="crypto engine")
        p.add_argument(
            "--log", default=None, metavar="FILE",
            help="also append a timestamped transcript of the console to FILE (created mode 0600; "
            "it holds the conversation in clear)",
        )
        p.add_argument(
            "--device", default=None, metavar="PATH",
            help="device node for a device engine (default: the engine's own search)",
        )

    serve = command("serve", "run a chat room")
    common_options(serve)
    serve.add_argument("--host", default=_SERVER_DEFAULTS.host, help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=_SERVER_DEFAULTS.port, help="port to listen on, 0 for any free port"
    )
    serve.add_argument("--name", type=_name, default=_SERVER_DEFAULTS.name, help="the operator's name")
    serve.add_argument(
        "--max-clients", type=_Number(int, 1), default=_SERVER_DEFAULTS.max_clients, metavar="N",
        help="clients allowed in the room at once",
    )
    serve.add_argument(
        "--handshake-timeout", type=_Number(float, 0.1, 3600), default=_SERVER_DEFAULTS.handshake_timeout,
        metavar="SECONDS", help="time a new connection has to complete its handshake and say hello",
    )
    serve.add_argument(
        "--max-handshakes", type=_Number(int, 1), default=_SERVER_DEFAULTS.max_handshakes, metavar="N",
        help="connections in their handshake at once (random early drop from a quarter of this up)",
    )
    serve.add_argument(
        "--handshakes-per-source", type=_Number(int, 1), default=_SERVER_DEFAULTS.handshakes_per_source,
        metavar="N", help="connections from one address in their handshake at once",
    )
    serve.add_argument(
        "--slow-timeout", type=_Number(float, 0.1, 3600), default=_SERVER_DEFAULTS.slow_timeout,
        metavar="SECONDS", help="time something sent to a member may wait unread before it is cut",
    )
    serve.add_argument(
        "--send-buffer", type=_Number(int, 1), default=_SERVER_DEFAULTS.send_buffer, metavar="BYTES",
        help="bytes that may wait for one member before it is cut as too slow",
    )
    serve.add_argument(
        "--rate", type=_Number(float, 0.1), default=_SERVER_DEFAULTS.rate, metavar="PER_SECOND",
        help="messages per second one member may send, sustained",
    )
    serve.add_argument(
        "--burst", type=_Number(int, 1), default=_SERVER_DEFAULTS.burst, metavar="N",
        help="messages one member may send at once above the rate",
    )
    serve.add_argument(
        "--history", type=_Number(int, 0, 10_000), default=_SERVER_DEFAULTS.history, metavar="N",
        help="recent lines kept in memory and replayed to whoever joins (0: keep none)",
    )
    serve.add_argument(
        "--cluster", type=_cluster_url, default=None, metavar="redis://HOST:PORT/DB",
        help="carry the room with every server on this Redis (with --room): one order, one set of names",
    )
    serve.add_argument(
        "--room", type=_room_name, default=None, metavar="NAME",
        help="the room's name in the cluster (with --cluster); servers with the same one share the room",
    )
    serve.add_argument(
        "--lease", type=_Number(float, 0.1, 3600), default=DEFAULT_LEASE, metavar="SECONDS",
        help="in a cluster: how long a server's lease lasts; one missing this long means its members left",
    )

    connect = command("connect", "join a chat room")
    connect.add_argument("host", metavar="HOST", help="the server's address or host name")
    connect.add_argument("port", type=_remote_port, metavar="PORT", help="the server's port")
    common_options(connect)
    connect.add_argument(
        "--name", type=_name, default=_default_name(),
        help="your name in the room (default: your user name, here %(default)s)",
    )
    connect.add_argument(
        "--reconnect-attempts", type=_Number(int, 0, 1000), default=_CLIENT_DEFAULTS.reconnect_attempts,
        metavar="N", help="consecutive failed reconnections before giving up (0: never reconnect)",
    )
    return parser


def _open_engine(args: argparse.Namespace) -> Engine:
    engine = open_engine(args.engine, args.device)
    print(f"engine: {engine.describe()}", file=sys.stderr, flush=True)  # noqa: T201
    return engine


def _raise_fd_limit() -> None:
    """One descriptor per connection: take all the process may have (the server sizes its limits to it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _on_signals(handler: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    # SIGHUP too: a closed terminal or a dropped ssh session is a leave, not a crash, for everyone else.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, handler)


def _interactive() -> bool:
    """Whether a person is at a screen: stdin and stdout are terminals (stderr may be a log)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _open_console(
    engine: Engine, status: Status, transcript: TextIO | None, operator: bool = False
) -> Console:
    """The terminal console when stdin and stdout are terminals, the pipe console otherwise."""
    if _interactive():
        console: Console = TerminalConsole(engine.name, status, operator=operator)
    else:
        if sys.stdin.isatty():  # someone is typing, and would otherwise expect /commands to work
            print(  # noqa: T201 - stderr is where the pipe console's notices go
                "stdout is not a terminal, so this is the pipe console: each line is sent as it is, "
                "/commands included; Ctrl-D leaves",
                file=sys.stderr,
                flush=True,
            )
        console = PipeConsole()
    return console if transcript is None else TranscriptConsole(console, transcript)


async def _operate(server: ChatServer, console: Console, stop: asyncio.Event, why: list[str]) -> None:
    """The operator's console: the operator takes part like a client, through the room itself."""
    async for command in console.commands():
        if isinstance(command, Quit):
            # An operator typing /quit means it; a script's stdin ending only ends the console.
            if _interactive():
                why.append(command.reason)
                stop.set()
            return
        if isinstance(command, Reconnect):
            console.error("the room's own console is always connected: nothing to reconnect")
            continue
        message = to_message(command)
        if isinstance(message, str):
            console.error(message)
            continue
        # Shown before it is posted, so that an answer from the room comes after; a private line is shown
        # when the room has delivered it (Whispered), to whom it went.
        match message:
            case Say(text=text):
                console.message(server.name, text, own=True)
            case Emote(text=text):
                console.action(server.name, text, own=True)
        server.post(message)
        console.status(_operator_status(server))


def _operator_status(server: ChatServer) -> Status:
    return Status(server.name, len(server.members), f"listening on port {server.port}", tuple(server.members))


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _on_redis(
    args: argparse.Namespace, psk: bytes, engine: Engine, config: ServerConfig, log: Callable[[str], None]
) -> Callable[[int], RoomHost]:
    """How the server makes its room when it is one of a cluster (``--cluster``, ``--room``, ``--lease``)."""
    cluster = ClusterConfig(url=args.cluster, room=args.room, lease=args.lease)
    try:
        # redis is the optional [cluster] extra: only a clustered server needs it.
        from .server.redis_room import RedisRoom  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "redis":
            raise
        raise ConfigError("--cluster needs the redis package: pip install 'cryptochat[cluster]'") from None

    # No two live servers can listen on one host's address and port: a server that finds its own
    # identity in a lease is this one, restarted (with --port 0, every start is a new server).
    identity = None if config.port == 0 else "\0".join(
        (socket.gethostname(), config.host, str(config.port), config.name)
    )

    def room(max_clients: int) -> RoomHost:
        return RedisRoom(
            cluster, psk, engine, console_name=config.name, max_clients=max_clients,
            history=config.history, log=log, identity=identity,
        )

    return room


async def _serve(args: argparse.Namespace, psk: bytes, engine: Engine, transcript: TextIO | None) -> int:
    config = ServerConfig(
        host=args.host,
        port=args.port,
        name=args.name,
        max_clients=args.max_clients,
        max_handshakes=args.max_handshakes,
        handshakes_per_source=args.handshakes_per_source,
        handshake_timeout=args.handshake_timeout,
        slow_timeout=args.slow_timeout,
        send_buffer=args.send_buffer,
        rate=args.rate,
        burst=args.burst,
        history=args.history,
    )
    _raise_fd_limit()
    console = _open_console(engine, Status(config.name, 1, "starting"), transcript, operator=True)
    room = None if args.cluster is None else _on_redis(args, psk, engine, config, console.log)

    def show(message: Message) -> None:
        event = room_event(message)
        match message:
            case Error(reason=reason):
                console.refused(reason)
            case Whispered(to=to, text=text):
                console.private(server.name, text, to=to)
            case _ if event is not None:
                console.log(event)  # the operator's log records who came, went and was renamed
            case _:
                show_room_message(console, message)
        console.status(_operator_status(server))

    server = ChatServer(config, psk, engine, show, console.log, room)
    try:
        await server.start()
    except OSError as exc:
        raise CryptochatError(
            f"cannot listen on {_address(config.host, config.port)}: {exc.strerror or exc}"
        ) from None
    stop = asyncio.Event()
    _on_signals(stop.set)
    console.log(f"listening on {_address(config.host, server.port)} as {config.name}")
    console.status(_operator_status(server))
    why: list[str] = []  # the operator's /quit REASON, if that is what stopped the room
    operator = asyncio.create_task(_operate(server, console, stop, why))
    failed = asyncio.create_task(server.failed())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait((failed, stopped), return_when=asyncio.FIRST_COMPLETED)
    for task in (operator, failed, stopped):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if failed.cancelled():
        console.log("shutting down")
        reason = "the server is shutting down" + (f": {why[0]}" if why and why[0] else "")
    else:
        console.log(f"shutting down: {failed.result()}")
        reason = "the server is shutting down: " + failed.result()
    await server.close(reason.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore"))
    return 0 if failed.cancelled() else EXIT_ERROR


async def _connect(
    args: argparse.Namespace, psk: bytes, engine: Engine, transcript: TextIO | None
) -> int:
    config = ClientConfig(
        host=args.host,
        port=args.port,
        name=args.name,
        reconnect_attempts=args.reconnect_attempts,
    )
    console = _open_console(engine, Status(config.name, 0, "connecting"), transcript)
    client = ChatClient(config, psk, engine, console)
    _on_signals(client.stop)
    return await client.run()


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if extra:
        args.usage.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "serve" and (args.cluster is None) != (args.room is None):
        args.usage.error("--cluster and --room go together")
    try:
        if args.command == "keygen":
            write_key(args.file)
            print(f"wrote a new key to {args.file}", file=sys.stderr)  # noqa: T201
            return 0
        psk = load_key(args.key_file)
        with contextlib.ExitStack() as cleanup:
            if args.command == "serve":
                session = f"cryptochat serve as {args.name}"
            else:
                session = f"cryptochat connect {_address(args.host, args.port)} as {args.name}"
            transcript = cleanup.enter_context(open_transcript(args.log, session)) if args.log else None
            engine = _open_engine(args)
            cleanup.callback(engine.close)
            run = _serve if args.command == "serve" else _connect
            return asyncio.run(run(args, psk, engine, transcript))
    except ConfigError as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except CryptochatError as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR

"""The ``cryptochat`` command: keygen, serve, connect.

Expected failures (a bad key file, an unreachable server, another key) print one line to stderr and exit
non-zero: 2 for usage and key-file problems, 1 for everything else. Nothing here ever prints key bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import resource
import signal
import stat
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .channel import PSK_SIZE
from .client import ChatClient, ClientConfig
from .console import (
    AskWho,
    ChangeNick,
    Console,
    Quit,
    SendText,
    TerminalConsole,
    open_console,
    show_room_message,
)
from .engines import ENGINE_NAMES, Engine, open_engine
from .errors import ConfigError, CryptochatError, LocalProtocolError
from .messages import Message, check_name
from .server import ChatServer, ServerConfig

__all__ = ["load_key", "main", "write_key"]

_SERVER_DEFAULTS = ServerConfig()
_CLIENT_DEFAULTS = ClientConfig(host="", port=0, name="guest")

EXIT_ERROR = 1
EXIT_USAGE = 2


def write_key(path: str) -> None:
    """Create ``path`` holding a fresh random key, mode 0600; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise ConfigError(f"key file {path} already exists; not overwriting it") from None
    except OSError as exc:
        raise ConfigError(f"cannot create key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(PSK_SIZE))


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


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _name(text: str) -> str:
    problem = check_name(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _default_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return "guest"
    return user if check_name(user) is None else "guest"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryptochat", description="Encrypted chat with a pre-shared key.")
    parser.add_argument("--version", action="version", version=f"cryptochat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    keygen = sub.add_parser("keygen", help="write a new random key file (mode 0600)")
    keygen.add_argument("file")

    def engine_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--key-file", required=True, help="the pre-shared key (from cryptochat keygen)")
        p.add_argument("--engine", choices=ENGINE_NAMES, default="auto", help="crypto engine (default auto)")
        p.add_argument("--device", default=None, help="device node for a device engine")

    serve = sub.add_parser("serve", help="run a chat room")
    engine_options(serve)
    serve.add_argument("--host", default=_SERVER_DEFAULTS.host)
    serve.add_argument("--port", type=_port, default=_SERVER_DEFAULTS.port)
    serve.add_argument("--name", type=_name, default=_SERVER_DEFAULTS.name, help="the operator's name")
    serve.add_argument("--max-clients", type=int, default=_SERVER_DEFAULTS.max_clients)
    serve.add_argument("--handshake-timeout", type=float, default=_SERVER_DEFAULTS.handshake_timeout)
    serve.add_argument("--max-handshakes", type=int, default=_SERVER_DEFAULTS.max_handshakes)
    serve.add_argument("--handshakes-per-source", type=int, default=_SERVER_DEFAULTS.handshakes_per_source)
    serve.add_argument("--slow-timeout", type=float, default=_SERVER_DEFAULTS.slow_timeout)
    serve.add_argument("--send-buffer", type=int, default=_SERVER_DEFAULTS.send_buffer)
    serve.add_argument("--rate", type=float, default=_SERVER_DEFAULTS.rate)
    serve.add_argument("--burst", type=int, default=_SERVER_DEFAULTS.burst)

    connect = sub.add_parser("connect", help="join a chat room")
    connect.add_argument("host")
    connect.add_argument("port", type=_port)
    engine_options(connect)
    connect.add_argument("--name", type=_name, default=None, help="your name (default: your user name)")
    connect.add_argument(
        "--reconnect-attempts", type=int, default=_CLIENT_DEFAULTS.reconnect_attempts,
        help="consecutive failed reconnections before giving up",
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
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, handler)


def _show_for_operator(console: Console) -> Callable[[Message], None]:
    def show(message: Message) -> None:
        show_room_message(console, message)

    return show


async def _operate(server: ChatServer, console: Console, stop: asyncio.Event) -> None:
    """The operator's console: lines are the operator's messages."""
    async for command in console.commands():
        if isinstance(command, SendText):
            try:
                server.post(command.text)
            except LocalProtocolError as exc:
                console.error(f"not sent: {exc}")
        elif isinstance(command, AskWho):
            console.notice(f"present: {', '.join(server.members)}")
        elif isinstance(command, ChangeNick):
            console.notice("the server's name is set with --name")
        elif isinstance(command, Quit) and isinstance(console, TerminalConsole):
            # An operator typing /quit means it; a script's stdin ending only ends the console.
            stop.set()


async def _serve(args: argparse.Namespace, psk: bytes, engine: Engine) -> int:
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
    )
    _raise_fd_limit()
    console = open_console()
    server = ChatServer(config, psk, engine, _show_for_operator(console), console.notice)
    try:
        await server.start()
    except OSError as exc:
        raise CryptochatError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    stop = asyncio.Event()
    _on_signals(stop.set)
    console.notice(f"listening on {config.host}:{server.port} as {config.name}")
    operator = asyncio.create_task(_operate(server, console, stop))
    await stop.wait()
    operator.cancel()
    console.notice("shutting down")
    await server.close()
    return 0


async def _connect(args: argparse.Namespace, psk: bytes, engine: Engine) -> int:
    config = ClientConfig(
        host=args.host,
        port=args.port,
        name=args.name or _default_name(),
        reconnect_attempts=args.reconnect_attempts,
    )
    client = ChatClient(config, psk, engine, open_console())
    _on_signals(client.stop)
    return await client.run()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            write_key(args.file)
            print(f"wrote a new key to {args.file}", file=sys.stderr)  # noqa: T201
            return 0
        psk = load_key(args.key_file)
        engine = _open_engine(args)
        try:
            run = _serve if args.command == "serve" else _connect
            return asyncio.run(run(args, psk, engine))
        finally:
            engine.close()
    except ConfigError as exc:
        print(f"cryptochat: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except CryptochatError as exc:
        print(f"cryptochat: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR

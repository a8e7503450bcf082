"""Helpers for the socket tests: a scripted console, in-process servers and clients, a raw client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from conftest import KEY

from cryptochat.client.client import ChatClient, ClientConfig
from cryptochat.client.commands import Command, Quit, SendText
from cryptochat.client.console import Console
from cryptochat.engines import Engine
from cryptochat.server.server import ChatServer, ServerConfig
from cryptochat.wire.channel import Channel, DataReceived, HandshakeComplete, Role
from cryptochat.wire.messages import Hello, Message, Text, Welcome, decode, encode

TIMEOUT = 10.0


async def eventually(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until it holds (for state no event announces, like the server's log)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


class ScriptedConsole(Console):
    """Records what a participant would show and feeds it commands from a queue."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.actions: list[tuple[str, str]] = []
        self.privates: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []  # own lines, once handed to the connection
        self.notices: list[str] = []
        self.errors: list[str] = []
        self.inbox: asyncio.Queue[Command] = asyncio.Queue()
        self.changed = asyncio.Event()

    def message(self, sender: str, text: str, own: bool = False) -> None:
        if own:
            self.sent.append(("say", text))
        else:
            self.messages.append((sender, text))
        self.changed.set()

    def action(self, sender: str, text: str, own: bool = False) -> None:
        if own:
            self.sent.append(("me", text))
        else:
            self.actions.append((sender, text))
        self.changed.set()

    def private(self, sender: str, text: str, to: str | None = None) -> None:
        if to is not None:
            self.sent.append((f"msg {to}", text))
        else:
            self.privates.append((sender, text))
        self.changed.set()

    def notice(self, text: str) -> None:
        self.notices.append(text)
        self.changed.set()

    def error(self, text: str) -> None:
        self.errors.append(text)
        self.changed.set()

    async def commands(self) -> AsyncIterator[Command]:
        while True:
            command = await self.inbox.get()
            yield command
            if isinstance(command, Quit):
                return

    def say(self, *lines: str) -> None:
        for line in lines:
            self.inbox.put_nowait(SendText(line))

    def quit(self) -> None:
        self.inbox.put_nowait(Quit())

    async def until(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    def saw_notice(self, fragment: str) -> bool:
        return any(fragment in n for n in self.notices)


@dataclass
class ServerUnderTest:
    server: ChatServer
    shown: list[Message] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def texts(self) -> list[tuple[str, str]]:
        return [(m.sender, m.text) for m in self.shown if isinstance(m, Text)]


async def start_server(engine: Engine, port: int = 0, **limits: float) -> ServerUnderTest:
    sut = ServerUnderTest(server=None)  # type: ignore[arg-type]
    config = ServerConfig(host="127.0.0.1", port=port, **limits)  # type: ignore[arg-type]
    sut.server = ChatServer(config, KEY, engine, sut.shown.append, sut.log.append)
    await sut.server.start()
    return sut


@dataclass
class ClientUnderTest:
    client: ChatClient
    console: ScriptedConsole
    task: asyncio.Task[int]

    async def connected(self) -> None:
        await self.console.until(lambda: self.console.saw_notice("connected to"))

    async def finish(self) -> int:
        self.console.quit()
        return await asyncio.wait_for(self.task, TIMEOUT)


def start_client(engine: Engine, port: int, name: str, key: bytes = KEY, **options: float) -> ClientUnderTest:
    console = ScriptedConsole()
    config = ClientConfig(host="127.0.0.1", port=port, name=name, **options)  # type: ignore[arg-type]
    client = ChatClient(config, key, engine, console)
    return ClientUnderTest(client, console, asyncio.create_task(client.run()))


@dataclass
class RawClient:
    """A client driven by hand, for misbehaving on purpose."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    channel: Channel


async def raw_join(engine: Engine, port: int, name: str, rcvbuf: int | None = None) -> RawClient:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    channel = Channel(Role.CLIENT, KEY, engine)
    writer.write(channel.data_to_send())
    while HandshakeComplete() not in channel.receive_data(await reader.read(65536)):
        pass
    channel.send(encode(Hello(name)))
    writer.write(channel.data_to_send())
    welcomed = False
    while not welcomed:
        for event in channel.receive_data(await reader.read(65536)):
            welcomed |= isinstance(event, DataReceived) and isinstance(decode(event.data), Welcome)
    return RawClient(reader, writer, channel)

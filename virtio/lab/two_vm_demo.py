"""The two-VM chat: what the seed set out to do.

Two guests on our QEMU, each with its own virtio-cryptodev device, share a
private network: ``cryptochat serve`` runs in the first, ``cryptochat
connect`` in the second, both with the cryptodev engine, so every record's
AES-CBC and HMAC is done by the host. A third participant on the host joins
over a forwarded port with the software engine, to show the wire is the same.

The host conducts: each guest process is driven through guest_bridge.py over
the guest's user-mode network, the script is played line by line (each line
awaited everywhere before the next), and the transcript is checked. The
proof that the guests used their devices is the driver's per-device request
counter in sysfs, read before and after the chat.

    python3 virtio/lab/two_vm_demo.py        (make demo)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(LAB_DIR), str(LAB_DIR.parents[1])]  # the lab harness, and the repo for demo/

from vmlab import REPO, Guest, Lab, cryptodev_device, start  # noqa: E402

from demo.conductor import Line, Participant, check_transcript, play, spawn, wait_until  # noqa: E402

SERVER, GUEST_CLIENT, HOST_CLIENT = "alice-vm", "bob-vm", "carol-host"
CHAT_PORT = 5555
LAN = {SERVER: "192.168.77.1", GUEST_CLIENT: "192.168.77.2"}
MAC = {SERVER: "0a", GUEST_CLIENT: "0b"}
LINE_TIMEOUT = 90.0
BOOT_TIMEOUT = 400.0

SCRIPT: tuple[Line, ...] = (
    Line(SERVER, "hello from the first VM: my records are sealed by the host"),
    Line(GUEST_CLIENT, "hello from the second VM, same here"),
    Line(HOST_CLIENT, "and I am on the host, in plain software"),
    Line(SERVER, "the same line twice"),
    Line(SERVER, "the same line twice"),
    Line(GUEST_CLIENT, "ünïcödé survives the trip"),
    Line(HOST_CLIENT, "that is all, thank you both"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RemoteParticipant:
    """A cryptochat process inside a guest, driven through its bridge."""

    name: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    exit_code: int | None = None
    pump: asyncio.Task[None] | None = None

    def run(self) -> None:
        self.writer.write(b"RUN\n")
        self.pump = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        while raw := await self.reader.readline():
            verb, _, text = raw.decode("utf-8", "replace").rstrip("\n").partition(" ")
            if verb == "OUT":
                self.stdout.append(text)
            elif verb == "ERR":
                self.stderr.append(text)
            elif verb == "EXIT":
                self.exit_code = int(text)
            self.changed.set()
        self.changed.set()

    async def _send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()

    async def type(self, text: str) -> None:
        await self._send(f"LINE {text}")

    async def end_input(self) -> None:
        await self._send("EOF")

    async def terminate(self) -> None:
        await self._send("TERM")

    async def wait_for(self, predicate: str, *, stream: str = "stdout", timeout: float = 10.0) -> bool:
        lines = self.stdout if stream == "stdout" else self.stderr
        return await wait_until(
            lambda: any(predicate in line for line in lines),
            self.changed,
            timeout,
            gone=lambda: self.pump is not None and self.pump.done(),
        )

    async def finish(self, timeout: float = 10.0) -> int:
        if self.pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.pump), timeout)
        self.writer.close()
        return self.exit_code if self.exit_code is not None else 255


Speaker = Participant | RemoteParticipant


def net_setup(name: str, *, control: bool = True) -> str:
    """Guest commands that bring up its NICs, found by MAC address: the LAN, and the user-mode
    network to the host unless `control` is false."""
    lines = [
        'nic() { for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$1" ] && basename $d; done; }',
        "ip link set lo up",
        f"LAN=$(nic 52:54:00:00:01:{MAC[name]})",
        f"ip link set $LAN up && ip addr add {LAN[name]}/24 dev $LAN",
    ]
    if control:
        lines += [f"CTL=$(nic 52:54:00:00:00:{MAC[name]})",
                  "ip link set $CTL up && ip addr add 10.0.2.15/24 dev $CTL"]
    return "\n".join(lines) + "\n"


def guest_script(name: str, control_port: int, key_file: Path, argv: str) -> str:
    counters = "/sys/class/virtio_cryptodev/cryptodev0"
    return f"""
insmod $MODULE || exit 1
{net_setup(name)}
echo "device-requests-before=$(cat {counters}/requests)"
cd $REPO
$PYTHON virtio/lab/guest_bridge.py 10.0.2.2 {control_port} {name} -- \\
    $PYTHON -m cryptochat {argv} --key-file {key_file} --engine cryptodev --device /dev/cryptodev0
status=$?
echo "device-requests-after=$(cat {counters}/requests) device-bytes=$(cat {counters}/bytes)"
exit $status
"""


def guest_options(name: str, lan_port: int, forward_port: int) -> list[str]:
    user = "user,id=ctl"
    if name == SERVER:
        user += f",hostfwd=tcp:127.0.0.1:{forward_port}-10.0.2.15:{CHAT_PORT}"
    lan = f"listen=127.0.0.1:{lan_port}" if name == SERVER else f"connect=127.0.0.1:{lan_port}"
    return [
        *cryptodev_device(0),
        "-netdev", user, "-device", f"virtio-net-pci,netdev=ctl,mac=52:54:00:00:00:{MAC[name]}",
        "-netdev", f"socket,id=lan,{lan}",
        "-device", f"virtio-net-pci,netdev=lan,mac=52:54:00:00:01:{MAC[name]}",
    ]


def device_requests(output: str) -> tuple[int, int]:
    """The guest's device request counter before and after the chat, -1 where it never said."""
    before = re.search(r"device-requests-before=(\d+)", output)
    after = re.search(r"device-requests-after=(\d+)", output)
    return (int(before.group(1)) if before else -1, int(after.group(1)) if after else -1)


@dataclass
class DemoResult:
    received: dict[str, list[str]]
    notices: dict[str, list[str]]
    exit_codes: dict[str, int]
    device_requests: dict[str, int]
    problems: list[str]
    seconds: float


class Bridges:
    """The conductor's end of the guests' bridges: each connects, says HELLO NAME, and is then that
    participant."""

    def __init__(self, names: Sequence[str]) -> None:
        loop = asyncio.get_running_loop()
        self.expected = {name: loop.create_future() for name in names}

    async def on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello = (await reader.readline()).decode().split()
        if len(hello) == 2 and hello[0] == "HELLO" and hello[1] in self.expected:
            self.expected[hello[1]].set_result(RemoteParticipant(hello[1], reader, writer))
        else:
            writer.close()

    async def wait(self, name: str, consoles: Callable[[], str]) -> RemoteParticipant:
        try:
            return await asyncio.wait_for(asyncio.shield(self.expected[name]), BOOT_TIMEOUT)
        except TimeoutError:
            tail = consoles()[-3000:]
            raise RuntimeError(f"{name} never reached the conductor; console tail:\n{tail}") from None


async def stop_all(people: Mapping[str, Speaker], server: str) -> dict[str, int]:
    """Clients leave at end of input; then the server is asked to stop (SIGTERM)."""
    codes: dict[str, int] = {}
    clients = [name for name in people if name != server]
    for name in clients:
        await people[name].end_input()
    for name in clients:
        codes[name] = await people[name].finish(LINE_TIMEOUT)
    remote = people.get(server)
    if isinstance(remote, RemoteParticipant):
        await remote.terminate()
        codes[server] = await remote.finish(LINE_TIMEOUT)
    return codes


class Conductor:
    def __init__(self, lab: Lab, key_file: Path) -> None:
        self.lab = lab
        self.key_file = key_file
        self.guests: dict[str, Guest] = {}

    async def run(self) -> DemoResult:
        started = time.monotonic()
        bridges = Bridges((SERVER, GUEST_CLIENT))
        control = await asyncio.start_server(bridges.on_connection, "127.0.0.1", 0)
        control_port = control.sockets[0].getsockname()[1]
        lan_port, forward_port = free_port(), free_port()
        people: dict[str, Speaker] = {}
        problems: list[str] = []
        try:
            self.guests[SERVER] = start(
                self.lab,
                guest_script(SERVER, control_port, self.key_file,
                             f"serve --host 0.0.0.0 --port {CHAT_PORT} --name {SERVER}"),
                guest_options(SERVER, lan_port, forward_port), cpus=1)
            # The second QEMU connects to the first one's socket: start it once that listens.
            await asyncio.to_thread(self.guests[SERVER].wait_for, "virtio-cryptodev", 60)
            self.guests[GUEST_CLIENT] = start(
                self.lab,
                guest_script(GUEST_CLIENT, control_port, self.key_file,
                             f"connect {LAN[SERVER]} {CHAT_PORT} --name {GUEST_CLIENT}"),
                guest_options(GUEST_CLIENT, lan_port, forward_port), cpus=1)

            server = people[SERVER] = await bridges.wait(SERVER, self.guests[SERVER].console)
            server.run()
            if not await server.wait_for("listening on", stream="stderr", timeout=LINE_TIMEOUT):
                raise RuntimeError(f"{SERVER} did not start serving: {server.stderr}")
            guest_client = people[GUEST_CLIENT] = await bridges.wait(
                GUEST_CLIENT, self.guests[GUEST_CLIENT].console)
            guest_client.run()
            host_client = people[HOST_CLIENT] = await spawn(HOST_CLIENT, [
                sys.executable, "-m", "cryptochat", "connect", "127.0.0.1", str(forward_port),
                "--name", HOST_CLIENT, "--key-file", str(self.key_file), "--engine", "software",
            ])
            for who in (guest_client, host_client):
                if not await who.wait_for("connected to", stream="stderr", timeout=LINE_TIMEOUT):
                    raise RuntimeError(f"a client did not connect: {who.stderr}")
            problems += await play(SCRIPT, people, LINE_TIMEOUT)
        except RuntimeError as exc:
            problems.append(str(exc))
        finally:
            exit_codes = await stop_all(people, SERVER)
            runs = {name: await asyncio.to_thread(guest.finish, BOOT_TIMEOUT)
                    for name, guest in self.guests.items()}
            control.close()
        requests = {}
        for name, run in runs.items():
            before, after = device_requests(run.output)
            requests[name] = after - before
            if before < 0 or after < 0:
                problems.append(f"{name}: no device counters; console tail:\n{run.tail(30)}")
            elif after - before < 2 * len(SCRIPT):
                problems.append(f"{name}: only {after - before} requests reached its device")
        received = {name: p.stdout for name, p in people.items()}
        if not problems:
            problems += check_transcript(SCRIPT, received)
        problems += [f"{name} exited with status {code}" for name, code in exit_codes.items() if code]
        return DemoResult(
            received=received,
            notices={name: p.stderr for name, p in people.items()},
            exit_codes=exit_codes,
            device_requests=requests,
            problems=problems,
            seconds=time.monotonic() - started,
        )


def engine_of(notices: list[str]) -> str:
    return next((n.removeprefix("engine: ") for n in notices if n.startswith("engine: ")), "?")


def report(result: DemoResult) -> None:
    for name, lines in result.received.items():
        print(f"--- as {name} saw it ({engine_of(result.notices[name])})")
        for line in lines:
            print(f"  {line}")
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    text_bytes = sum(len(line.text.encode()) for line in SCRIPT)
    engines = "; ".join(
        f"{name}: {engine_of(notices)}"
        + (f", {result.device_requests[name]} device requests" if name in result.device_requests else "")
        for name, notices in result.notices.items()
    )
    status = "ok" if not result.problems else "FAILED"
    print(f"two-VM demo {status}: {len(SCRIPT)} messages, {text_bytes} bytes of text, "
          f"{sum(len(v) for v in result.received.values())} deliveries; {engines}; "
          f"{result.seconds:.0f} s")


def main() -> int:
    lab = Lab.load()
    demo_dir = REPO / "build" / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    # The guests read the key through the shared root filesystem; /tmp is theirs.
    with tempfile.TemporaryDirectory(dir=demo_dir) as tmp:
        key_file = Path(tmp) / "demo.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        result = asyncio.run(Conductor(lab, key_file).run())
    report(result)
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())

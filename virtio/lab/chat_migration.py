"""The two-VM chat across a live migration: the server's VM moves mid-conversation.

alice-vm serves the chat with the cryptodev engine on its virtio-cryptodev
device. It boots from an initramfs of its own (initramfs_guest.py), since a
guest with the lab's 9p root cannot migrate, and its one network is the
private LAN to bob-vm. bob-vm is an ordinary lab guest: it runs a client, and
relays (tcp_relay.py) that are the host's only way to alice: the conductor's
control connection to alice's bridge, and carol's chat connection.

    carol (host) --hostfwd--> bob-vm relay --LAN--> alice-vm server
    conductor   <--user net-- bob-vm relay <--LAN-- alice-vm bridge
                              bob-vm client --LAN--> alice-vm server

So every connection alice holds ends in a guest's TCP, and nothing of it
lives in alice's QEMU but the LAN's frames. The LAN is QEMU's socket netdev:
bob's QEMU listens and alice's connects. A migration's destination connects
when it starts, waits in the listener's backlog while the source still holds
the link, and is accepted when the source exits; a frame lost meanwhile is
resent by the guests' TCP.

The conductor plays the script in three parts: before the migration, while
it runs, and after the source has exited; then checks that everyone received
every line once, in order, that no client lost its connection, and that the
server's device carried the records on both hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from initramfs_guest import VIRTIO_MODULES, Initramfs, InitramfsGuest, Migration
from two_vm_demo import (
    BOOT_TIMEOUT,
    CHAT_PORT,
    LAN,
    LINE_TIMEOUT,
    MAC,
    Bridges,
    RemoteParticipant,
    device_requests,
    free_port,
    net_setup,
    stop_all,
)
from vmlab import REPO, Guest, Lab, cryptodev_device, start

from demo.conductor import Line, Participant, check_transcript, play, spawn

SERVER, CLIENT, HOST_CLIENT = "alice-vm", "bob-vm", "carol-host"
CONTROL_RELAY_PORT = 7000
COUNTERS = "/sys/class/virtio_cryptodev/cryptodev0"
MIGRATION_TIMEOUT = 120.0

BEFORE: tuple[Line, ...] = (
    Line(SERVER, "the server's VM speaks before it moves"),
    Line(CLIENT, "the second VM answers"),
    Line(HOST_CLIENT, "and the host, through the second VM's relay"),
)
DURING: tuple[Line, ...] = (
    Line(CLIENT, "this is sent while the server's VM is migrating"),
    Line(HOST_CLIENT, "so is this"),
    Line(SERVER, "and this is typed on the moving VM"),
    Line(CLIENT, "the same line twice"),
    Line(CLIENT, "the same line twice"),
)
AFTER: tuple[Line, ...] = (
    Line(SERVER, "the server's VM speaks from its new host"),
    Line(CLIENT, "ünïcödé after the move"),
    Line(HOST_CLIENT, "nothing lost, nothing doubled"),
)
SCRIPT = BEFORE + DURING + AFTER


def server_init(key_file: Path) -> str:
    """alice-vm's /init, once its modules are in: the LAN, the device counters, and the server behind
    its bridge."""
    python, bridge = sys.executable, REPO / "virtio" / "lab" / "guest_bridge.py"
    return f"""
i=0
while [ ! -e {COUNTERS} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
{net_setup(SERVER, control=False)}
echo "device-requests-before=$(cat {COUNTERS}/requests)"
cd {REPO}
{python} {bridge} {LAN[CLIENT]} {CONTROL_RELAY_PORT} {SERVER} -- \\
    {python} -m cryptochat serve --host 0.0.0.0 --port {CHAT_PORT} --name {SERVER} \\
    --key-file {key_file} --engine cryptodev --device /dev/cryptodev0
echo "bridge status $?"
echo "device-requests-after=$(cat {COUNTERS}/requests)"
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && echo "kernel trouble"
poweroff -f
"""


def client_script(control_port: int, key_file: Path) -> str:
    """bob-vm's script: the LAN, the relays for alice and carol, and the client behind its bridge."""
    relays = (f"{LAN[CLIENT]}:{CONTROL_RELAY_PORT}=10.0.2.2:{control_port} "
              f"10.0.2.15:{CHAT_PORT}={LAN[SERVER]}:{CHAT_PORT}")
    return f"""
insmod $MODULE || exit 1
{net_setup(CLIENT)}
$PYTHON $REPO/virtio/lab/tcp_relay.py {relays} &
RELAY=$!
cd $REPO
$PYTHON virtio/lab/guest_bridge.py 10.0.2.2 {control_port} {CLIENT} -- \\
    $PYTHON -m cryptochat connect {LAN[SERVER]} {CHAT_PORT} --name {CLIENT} --key-file {key_file} \\
    --engine cryptodev --device /dev/cryptodev0
status=$?
wait $RELAY  # until the server's bridge has said its last
exit $status
"""


def lan(name: str, lan_port: int) -> list[str]:
    side = f"listen=127.0.0.1:{lan_port}" if name == CLIENT else f"connect=127.0.0.1:{lan_port}"
    return ["-netdev", f"socket,id=lan,{side}",
            "-device", f"virtio-net-pci,netdev=lan,mac=52:54:00:00:01:{MAC[name]}"]


@dataclass
class MigrationResult:
    received: dict[str, list[str]]
    notices: dict[str, list[str]]
    device_requests: tuple[int, int]  # the server VM's counter before the chat and after it
    migration: Migration
    lines_while_moving: int  # of DURING's, those the host's client had received when the move ended
    problems: list[str]


class MigrationConductor:
    def __init__(self, lab: Lab, key_file: Path, directory: Path, device_props: str = "",
                 qemu_options: Sequence[str] = ()) -> None:
        """`device_props` and `qemu_options` give the server VM's device its mode."""
        self.lab, self.key_file, self.directory = lab, key_file, directory
        self.device = [*qemu_options, "-device", f"virtio-cryptodev-pci,id=cryptodev0,{device_props}"]
        self.hosts: list[InitramfsGuest] = []
        self.client_guest: Guest | None = None

    def _consoles(self) -> str:
        consoles = "".join(host.output() for host in self.hosts)
        return consoles + (self.client_guest.console() if self.client_guest is not None else "")

    def _server_host(self, name: str, initrd: Path, lan_port: int, *, incoming: bool) -> InitramfsGuest:
        options = [*self.device, *lan(SERVER, lan_port)]
        host = InitramfsGuest(self.lab, self.directory, name, initrd, options, memory="768M",
                              incoming=incoming)
        self.hosts.append(host)
        return host

    async def run(self) -> MigrationResult:
        bridges = Bridges((SERVER, CLIENT))
        control = await asyncio.start_server(bridges.on_connection, "127.0.0.1", 0)
        control_port = control.sockets[0].getsockname()[1]
        lan_port, forward_port = free_port(), free_port()
        image = Initramfs(self.directory)
        image.add_modules(self.lab.kernel.name.removeprefix("vmlinuz-"), (*VIRTIO_MODULES, "virtio_net"))
        image.add_module("virtio_cryptodev", self.lab.module.read_bytes())
        image.add_python()
        image.add(self.key_file)
        initrd = image.write(server_init(self.key_file))
        people: dict[str, RemoteParticipant | Participant] = {}
        problems: list[str] = []
        migration, while_moving = Migration(0, 0), 0
        try:
            self.client_guest = start(self.lab, client_script(control_port, self.key_file), [
                *cryptodev_device(0),
                "-netdev", f"user,id=ctl,hostfwd=tcp:127.0.0.1:{forward_port}-10.0.2.15:{CHAT_PORT}",
                "-device", f"virtio-net-pci,netdev=ctl,mac=52:54:00:00:00:{MAC[CLIENT]}",
                *lan(CLIENT, lan_port),
            ], cpus=1)
            # alice's QEMU connects to bob's LAN socket: start it once bob's QEMU listens.
            await asyncio.to_thread(self.client_guest.wait_for, "virtio-cryptodev", 60)
            source = self._server_host("source", initrd, lan_port, incoming=False)
            server = people[SERVER] = await bridges.wait(SERVER, self._consoles)
            server.run()
            if not await server.wait_for("listening on", stream="stderr", timeout=LINE_TIMEOUT):
                raise RuntimeError(f"{SERVER} did not start serving: {server.stderr}")
            client = people[CLIENT] = await bridges.wait(CLIENT, self._consoles)
            client.run()
            people[HOST_CLIENT] = await spawn(HOST_CLIENT, [
                sys.executable, "-m", "cryptochat", "connect", "127.0.0.1", str(forward_port),
                "--name", HOST_CLIENT, "--key-file", str(self.key_file), "--engine", "software",
            ])
            for name in (CLIENT, HOST_CLIENT):
                if not await people[name].wait_for("connected to", stream="stderr", timeout=LINE_TIMEOUT):
                    raise RuntimeError(f"{name} did not connect: {people[name].stderr}")
            problems += await play(BEFORE, people, LINE_TIMEOUT)
            destination = self._server_host("destination", initrd, lan_port, incoming=True)
            moving = asyncio.to_thread(source.migrate_to, destination)
            playing = asyncio.create_task(play(DURING, people, LINE_TIMEOUT + MIGRATION_TIMEOUT))
            try:
                migration = await moving
            except AssertionError:
                playing.cancel()
                raise
            seen = people[HOST_CLIENT].stdout
            while_moving = sum(any(line.text in shown for shown in seen) for line in DURING)
            problems += await playing
            source.stop()  # bob's QEMU now accepts the destination's LAN connection
            problems += await play(AFTER, people, LINE_TIMEOUT)
        except (RuntimeError, AssertionError) as exc:
            problems.append(str(exc))
        finally:
            codes = await stop_all(people, SERVER)
            control.close()
            consoles = await asyncio.to_thread(self._finish)
            image.remove()
        problems += [f"{name} exited with status {code}" for name, code in codes.items() if code]
        received = {name: p.stdout for name, p in people.items()}
        notices = {name: p.stderr for name, p in people.items()}
        if not problems:
            problems += check_transcript(SCRIPT, received)
        for name in (CLIENT, HOST_CLIENT):
            problems += [f"{name}: {n}" for n in notices.get(name, []) if "lost" in n or "reconnect" in n]
        requests = device_requests(consoles)
        if requests[0] < 0 or requests[1] < 2 * len(SCRIPT):
            problems.append(f"{SERVER}: device requests {requests}; consoles:\n{consoles[-3000:]}")
        if "kernel trouble" in consoles or "insmod" in consoles:
            problems.append(f"{SERVER}: {consoles[-3000:]}")
        return MigrationResult(received, notices, requests, migration, while_moving, problems)

    def _finish(self) -> str:
        """Waits for alice's last host to power off, stops the rest; alice's consoles, in order."""
        if self.hosts:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.hosts[-1].process.wait(60)
        for host in self.hosts:
            host.stop()
        if self.client_guest is not None:
            self.client_guest.finish(BOOT_TIMEOUT)
        return "".join(host.output() for host in self.hosts)

"""Live migration of the device between qtest QEMUs (no guest OS, a unix
socket between them): the hosts, one session of each kind with its known
answers, and requests left in flight across the move. Used by
tests/vm/test_device_migration.py on the host and by the devcrypto check
inside a guest, whose QEMUs run the device on /dev/crypto."""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from pathlib import Path

import cryptodev_qtest as cq
from cryptodev_qtest import CryptodevQtest, Status
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lifecycle_fuzz import POISON
from qtest import Qtest, qemu_command
from vmlab import migrate, qmp

__all__ = ["IN_FLIGHT", "IV", "KEY", "MAC_KEY", "MODES", "Host", "Sessions", "cbc", "hmac_sha256",
           "in_flight", "mismatches"]

KEY = bytes(range(32))
MAC_KEY = bytes(range(100, 164))
IV = bytes(range(16, 32))
IN_FLIGHT = 48
REQUEST_LEN = 64 * 1024

# mode: (device properties beside the backend's, QEMU options)
MODES = {
    "main-loop": ("num-queues=2", []),
    "iothread": ("num-queues=2,iothread=io0", ["-object", "iothread,id=io0"]),
    "parallel": ("num-queues=2,parallel=on", []),
    "parallel, a pool of 1 thread": ("num-queues=2,parallel=on",
                                     ["-object", "main-loop,id=ml0,thread-pool-max=1"]),
}


class Host:
    """One QEMU of a migration: its qtest line and its QMP socket."""

    def __init__(self, qemu: Path, directory: Path, name: str, device: str | None,
                 extra: Sequence[str], incoming: bool) -> None:
        self.qmp_path = directory / f"{name}.qmp"
        self.migration = directory / f"{name}.migration"
        # Freed memory poisoned, as under the lifecycle fuzzer: a batch used after a drain crashes.
        command = [*POISON, *qemu_command(qemu, [
            *extra, "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            *(["-incoming", f"unix:{self.migration}"] if incoming else []),
            # None: a QEMU without our device.
            *(["-device", f"virtio-cryptodev-pci,{device}"] if device is not None else []),
        ])]
        self.qt = Qtest(command)
        self.qt.command("endianness")
        self.qmp("migrate-set-capabilities",
                 capabilities=[{"capability": "return-path", "state": True}])

    def qmp(self, command: str, /, **arguments: object) -> dict[str, object]:
        return qmp(self.qmp_path, command, **arguments)

    def status(self) -> str:
        reply = self.qmp("query-status")["return"]
        assert isinstance(reply, dict)
        return str(reply["status"])

    def migrate_to(self, other: Host) -> tuple[str, str]:
        """Migrates this QEMU's guest to `other`; the final status and any error."""
        reply = migrate(self.qmp_path, f"unix:{other.migration}", timeout=60)
        deadline = time.monotonic() + 60
        # The source runs again after a failure once the destination has said so.
        while reply.get("status") == "failed" and self.status() != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        return str(reply.get("status")), str(reply.get("error-desc", ""))


def cbc(data: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(KEY), modes.CBC(IV))
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def hmac_sha256(data: bytes) -> bytes:
    mac = hmac.HMAC(MAC_KEY, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def sha256(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def crypt_header(session: int, length: int, *, iv_len: int = 16) -> bytes:
    return cq.REQ.pack(cq.Opcode.CRYPT, session, 0, 0, 0, 0, cq.ENCRYPT, iv_len, length, 0)


class Sessions:
    """One session of each kind, and a known answer from each, through `dev`."""

    def __init__(self, dev: CryptodevQtest) -> None:
        self.cbc = dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
        self.hmac = dev.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=MAC_KEY)
        self.hash = dev.create_session(mac=cq.CRYPTO_SHA2_256)
        self.gcm = dev.create_session(cipher=cq.CRYPTO_AES_GCM, key=KEY)

    def check(self, dev: CryptodevQtest, data: bytes) -> list[str]:
        """The kinds whose answer is wrong now."""
        wrong = []
        if dev.crypt(self.cbc, data, iv=IV) != cbc(data):
            wrong.append("AES-CBC")
        if dev.crypt(self.hmac, data, out_len=32) != hmac_sha256(data):
            wrong.append("HMAC-SHA256")
        if dev.crypt(self.hash, data, out_len=32) != sha256(data):
            wrong.append("SHA-256")
        reply = dev.auth_crypt(self.gcm, cq.AuthMode.AEAD, data, iv=IV[:12], auth=b"header")
        if reply.status != Status.OK or reply.output != AESGCM(KEY).encrypt(IV[:12], data, b"header"):
            wrong.append("AES-GCM")
        return wrong


def in_flight(dev: CryptodevQtest, session: int, seed: int) -> list[tuple[cq.Posted, bytes]]:
    """IN_FLIGHT requests on the ring, each with its known answer."""
    posted = []
    for i in range(IN_FLIGHT):
        data = struct.pack("<II", seed, i) * (REQUEST_LEN // 8)
        posted.append((dev.post(crypt_header(session, len(data)), IV + data, len(data)), cbc(data)))
    return posted


def mismatches(dev: CryptodevQtest, posted: list[tuple[cq.Posted, bytes]]) -> int:
    """Requests `in_flight` put on the ring whose answer is not the known one."""
    replies = dev.collect([p for p, _ in posted])
    return sum(reply.status != Status.OK or reply.output != answer
               for reply, (_, answer) in zip(replies, posted, strict=True))

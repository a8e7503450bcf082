"""A guest that boots from an initramfs of its own, so it can be live-migrated.

QEMU refuses to migrate a guest with a mounted 9p export, which is how
virtme-ng shares the host's root with the lab's other guests. A guest that
migrates therefore carries everything it runs in its initramfs: busybox, the
kernel modules it loads, its programs and, for the chat, the venv's Python
with the standard library and the distributions cryptochat needs, each at its
host path so that the same command lines work inside.
"""

from __future__ import annotations

import importlib.metadata
import lzma
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vmlab import FIRMWARE_DIRS, REPO, Lab, migrate, qmp

__all__ = ["VIRTIO_MODULES", "Initramfs", "InitramfsGuest", "Migration"]

# The virtio PCI transport: built in on some kernels (6.12), modules on others (6.1).
VIRTIO_MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci")
APPLETS = ("sh", "mount", "mkdir", "insmod", "sleep", "echo", "cat", "basename", "poweroff", "dmesg",
           "grep", "ip")
# Parts of the standard library the chat never imports: tests, tools, GUIs and build files.
STDLIB_SKIPPED = {"test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "distutils",
                  "pydoc_data", "site-packages"}


class Initramfs:
    """A root directory laid out as the guest will see it, then written as a newc cpio."""

    def __init__(self, directory: Path) -> None:
        self.root = directory / "root"
        self.image = directory / "initrd.cpio"
        self.modules: list[str] = []  # loaded by /init, in this order
        for sub in ("bin", "lib/modules", "proc", "sys", "dev", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy("/bin/busybox", self.root / "bin" / "busybox")  # Debian's is static
        for applet in APPLETS:
            (self.root / "bin" / applet).symlink_to("busybox")

    def add(self, source: Path, target: Path | None = None) -> None:
        """Copies `source` to `target` inside (by default its own path); a symlink stays one."""
        inside = self.root / (target or source).relative_to("/")
        if inside.exists() or inside.is_symlink():
            return
        inside.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            inside.symlink_to(os.readlink(source))
            self.add(source.parent / os.readlink(source))
        else:
            shutil.copy(source, inside)

    def add_modules(self, release: str, names: Iterable[str]) -> None:
        """Copies the modules `names` need from the kernel `release`, dependencies first."""

        def visit(name: str) -> None:
            if name in self.modules:
                return
            info = subprocess.run(["modinfo", "-k", release, name], capture_output=True, text=True,
                                  check=True).stdout
            fields = dict(re.findall(r"^(filename|depends):[ \t]*(.*)$", info, re.MULTILINE))
            found, depends = fields.get("filename", ""), fields.get("depends", "")
            for dependency in filter(None, depends.strip().split(",")):
                visit(dependency)
            if found.endswith((".ko", ".ko.xz")):  # else built in
                data = Path(found).read_bytes()
                self.add_module(name, lzma.decompress(data) if found.endswith(".xz") else data)

        for name in names:
            visit(name)

    def add_module(self, name: str, image: bytes) -> None:
        """A module to load after those added before it (ours, which modinfo does not know)."""
        (self.root / "lib" / "modules" / f"{name}.ko").write_bytes(image)
        self.modules.append(name)

    def add_python(self) -> None:
        """The venv's interpreter, the standard library, cryptochat's runtime distributions, the
        cryptochat package from the repo, and every shared library those load."""
        executable = Path(sys.executable)
        self.add(executable)
        self.add(Path(sys.prefix) / "pyvenv.cfg")
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        for path in stdlib.rglob("*"):
            relative = path.relative_to(stdlib).parts
            if (relative[0] in STDLIB_SKIPPED or relative[0].startswith("config-") or ".opt-" in path.name
                    or path.name.startswith("_tkinter")):  # which would bring X11's libraries
                continue
            if path.is_file():
                self.add(path)
        for distribution in runtime_distributions("cryptochat"):
            for file in distribution.files or ():
                located = Path(str(distribution.locate_file(file))).resolve()
                if located.is_file() and ".." not in file.parts:
                    self.add(located)
        for path in (REPO / "cryptochat").rglob("*"):
            if path.is_file() and path.suffix in (".py", ".so") and "__pycache__" not in path.parts:
                self.add(path)
        self.add(REPO / "virtio" / "lab" / "guest_bridge.py")
        objects = [executable.resolve(), *(p for p in self.root.rglob("*.so*") if p.is_file())]
        for library in shared_libraries(objects):
            self.add(library)

    def write(self, script: str) -> Path:
        """Writes /init, which mounts the kernel's filesystems, loads the modules, then runs `script`,
        and the archive (uncompressed: under TCG, unpacking beats inflating)."""
        init = self.root / "init"
        init.write_text(f"""#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in {" ".join(self.modules)}; do
  insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
{script}""")
        init.chmod(0o755)
        files = subprocess.run(["find", "."], cwd=self.root, capture_output=True, check=True).stdout
        with self.image.open("wb") as out:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=self.root, input=files,
                           stdout=out, check=True)
        return self.image


    def remove(self) -> None:
        """Deletes the tree and the archive: they may hold a key."""
        shutil.rmtree(self.root)
        self.image.unlink(missing_ok=True)


def runtime_distributions(name: str) -> list[importlib.metadata.Distribution]:
    """`name`'s distribution and those it requires, without extras; those whose marker leaves them
    out of this Python (so not installed) are skipped."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [name]
    while pending:
        wanted = pending.pop()
        key = re.sub(r"[-_.]+", "-", wanted).lower()
        if key in found:
            continue
        try:
            distribution = importlib.metadata.distribution(wanted)
        except importlib.metadata.PackageNotFoundError:
            continue
        found[key] = distribution
        for requirement in distribution.requires or ():
            if "extra ==" not in requirement:
                match = re.match(r"[A-Za-z0-9._-]+", requirement)
                if match:
                    pending.append(match.group())
    return list(found.values())


def shared_libraries(objects: Iterable[Path]) -> set[Path]:
    """What the dynamic loader maps for each of `objects` (ldd), the loader itself included."""
    libraries: set[Path] = set()
    for path in objects:
        # ldd exits 1 on an object with no dependencies: nothing to add, not an error.
        listing = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False).stdout
        for match in re.finditer(r"(?:=> )?(/\S+) \(0x", listing):
            libraries.add(Path(match.group(1)))
    return libraries


@dataclass(frozen=True)
class Migration:
    downtime_ms: float  # how long the guest was stopped
    total_ms: float  # from the migrate command to the guest running on the destination


class InitramfsGuest:
    """One QEMU booting the lab's kernel with an initramfs: its console file and QMP socket, and,
    with `incoming`, a unix socket it waits on for a migration."""

    def __init__(self, lab: Lab, directory: Path, name: str, initrd: Path, options: Sequence[str],
                 *, memory: str = "256M", incoming: bool = False) -> None:
        self.console = directory / f"{name}.console"
        self.qmp_path = directory / f"{name}.qmp"
        self.migration = directory / f"{name}.migration"
        firmware = [arg for path in FIRMWARE_DIRS if Path(path).is_dir() for arg in ("-L", path)]
        command = [
            str(lab.qemu), "-machine", "q35", "-accel", "tcg", "-m", memory, "-smp", "2", *firmware,
            "-nodefaults", "-display", "none", "-no-reboot", "-kernel", str(lab.kernel),
            "-initrd", str(initrd), "-append", "console=ttyS0 rdinit=/init quiet panic=-1",
            "-serial", f"file:{self.console}", "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            *options, *(["-incoming", f"unix:{self.migration}"] if incoming else []),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 30
        while not self.qmp_path.exists() or (incoming and not self.migration.exists()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"QEMU did not start: {self.stderr()}")
            time.sleep(0.05)

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")

    def output(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r}; console:\n{self.output()[-2000:]}{self.stderr()}")
            time.sleep(0.2)

    def migrate_to(self, other: InitramfsGuest) -> Migration:
        """Migrates to `other` and says how long it took."""
        # QEMU's default cap (32 MiB/s) is for networks; over a unix socket, none.
        assert "return" in qmp(self.qmp_path, "migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        reply = migrate(self.qmp_path, f"unix:{other.migration}", timeout=120)
        assert reply.get("status") == "completed", f"{reply}\n{self.stderr()}"
        return Migration(float(str(reply.get("downtime", 0))), float(str(reply.get("total-time", 0))))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
        self.process.wait()

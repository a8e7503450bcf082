"""`make shell`: a guest with two virtio-cryptodev devices and our module
loaded, for hands-on work. The host's root filesystem is shared read-only;
the repository is the working directory. Leave with `exit` (or Ctrl-A X)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vmlab import REPO, VNG_ENV, Lab, cryptodev_device, vng_command


def main() -> int:
    lab = Lab.load()
    script = REPO / "build" / "vm" / "shell.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        f"insmod {lab.module} && ls -l /dev/cryptodev*\n"
        f"echo 'test programs: {lab.guest_bin}; python: {sys.executable}'\n"
        f"cd {REPO} && exec bash -i\n"
    )
    command = vng_command(lab, script, cryptodev_device(0) + cryptodev_device(1), cpus=2,
                          memory="1G", network="user")
    return subprocess.call(command, cwd=REPO, env=VNG_ENV)


if __name__ == "__main__":
    sys.exit(main())

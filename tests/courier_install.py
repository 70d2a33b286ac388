"""Provides the unpacked Courier-IMAP that tests/courier_server.py runs: Debian's courier-imap
conflicts with dovecot-imapd as a package, so it is never installed. `install_courier()` fetches
its .deb files with `apt-get download` (no root needed once apt has package lists) and unpacks
them with `dpkg-deb -x` into ~/.cache/rapport-tests; the server runs from there with
LD_LIBRARY_PATH. `python tests/courier_install.py --install` does it ahead of the tests (`make
test` does, as root running `apt-get update` first when the package lists are missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# courier-imap's imapd, the libraries it loads and gamin's gam_server (Courier watches its
# Maildirs through FAM; without it every login starts with an [ALERT]). Those already on a
# system are harmless to unpack again.
PACKAGES = ("courier-imap", "courier-authlib", "libcourier-unicode4", "libgamin0", "gamin",
            "libidn12", "libgdbm6", "libltdl7")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rapport-tests" / "courier-imap"


@dataclass(frozen=True)
class CourierInstall:
    """Where the unpacked packages are, and what `imapd` needs to run from there."""

    root: Path

    @property
    def imapd(self) -> Path:
        return self.root / "usr" / "bin" / "imapd"

    @property
    def gam_server(self) -> Path:
        return self.root / "usr" / "libexec" / "gam_server"

    @property
    def library_path(self) -> str:
        dirs = [self.root / "usr" / "lib", *sorted((self.root / "usr" / "lib").glob("*-linux-gnu")),
                *sorted((self.root / "lib").glob("*-linux-gnu"))]
        return ":".join(str(d) for d in dirs if d.is_dir())

    def missing_libraries(self) -> list[str]:
        """Libraries `imapd` would not find (ldd), empty when it can run."""
        ldd = shutil.which("ldd")
        if ldd is None:
            return []
        out = subprocess.run([ldd, str(self.imapd)], capture_output=True, text=True,
                             env={"LD_LIBRARY_PATH": self.library_path}, check=False).stdout
        return [line.split()[0] for line in out.splitlines() if "not found" in line]

    def usable(self) -> bool:
        return self.imapd.is_file() and not self.missing_libraries()


def _download(into: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["apt-get", "download", *PACKAGES], cwd=into, capture_output=True,
                          text=True, check=False)


def install_courier(update_lists: bool = False) -> CourierInstall:
    """The unpacked Courier-IMAP (fetched and unpacked on first use); RuntimeError saying why
    when it cannot be had. `update_lists` runs `apt-get update` first if the download fails
    (root only: a fresh machine has no package lists)."""
    install = CourierInstall(cache_dir() / "root")
    if install.usable():
        return install
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError("courier-imap is not unpacked and apt-get/dpkg-deb are missing")
    parent = cache_dir()
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        debs = Path(tmp) / "debs"
        debs.mkdir()
        os.chmod(debs, 0o777)  # apt's download sandbox user must be able to write here
        got = _download(debs)
        if got.returncode != 0 and update_lists and os.getuid() == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
            got = _download(debs)
        if got.returncode != 0:
            raise RuntimeError("apt-get download " + " ".join(PACKAGES) + " failed: "
                               + (got.stderr.strip().splitlines() or ["?"])[-1])
        unpacked = Path(tmp) / "root"
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True,
                           capture_output=True)
        if install.root.exists():
            shutil.rmtree(install.root)
        unpacked.rename(install.root)  # whole or not at all: a half-unpacked tree is never used
    missing = install.missing_libraries()
    if missing:
        raise RuntimeError(f"courier imapd cannot load {', '.join(missing)}")
    return install


if __name__ == "__main__":
    # `python tests/courier_install.py --install`: fetch and unpack ahead of the tests.
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: courier_install.py --install")
    try:
        print(f"courier-imap ready in {install_courier(update_lists=True).root}")
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        sys.exit(f"courier-imap not installed: {exc} (its tests will be skipped)")

"""The install and test figures README.md states, measured as a newcomer meets them: a fresh clone
of HEAD in a temporary folder, `make demo` then `make test`, timed; the venvs' and the wheel's
sizes; the test count. Run it before changing those figures (tests/docs/test_readme.py checks the
sizes and the count loosely against the venvs and the suite of the run that tests it).

    python benchmarks/install_figures.py            # a fresh clone: several minutes
    python benchmarks/install_figures.py --here     # sizes and the test count of this checkout only
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def megabytes(path: Path) -> float:
    """What a folder holds on disk, in MB of 2**20 bytes, as `du -sm` counts it."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def cpu() -> str:
    """The CPU's model and the widest vector instructions it has, for every figure's context."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = re.search(r"model name\s*:\s*(.*)", text)
    flags = set((re.search(r"flags\s*:\s*(.*)", text) or [None, ""])[1].split())
    isa = next((n for f, n in (("avx512_vnni", "AVX-512 VNNI"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))
                if f in flags), platform.machine())
    return f"{name.group(1) if name else platform.machine()}, {isa}"


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{tail}")
    return seconds, done.stdout + done.stderr


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def sizes(root: Path) -> dict[str, float]:
    found = {name: megabytes(root / name) for name in (".venv", ".venv-runtime") if (root / name).is_dir()}
    found.update({path.name: path.stat().st_size / 2**20 for path in (root / "dist").glob("*.whl")})
    return found


def collected(root: Path) -> int:
    out = subprocess.run([str(root / ".venv/bin/python"), "-m", "pytest", "--collect-only", "-q"], cwd=root,
                         capture_output=True, text=True).stdout
    match = re.search(r"(\d+) tests? collected", out)
    return int(match.group(1)) if match else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--here", action="store_true", help="measure this checkout, clone nothing")
    args = parser.parse_args()
    print(f"CPU: {cpu()}; Python {platform.python_version()}")
    if args.here:
        root = ROOT
    else:
        root = Path(tempfile.mkdtemp(prefix="bertclf-clone-")) / "bertclf"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(root)], check=True)
        demo, _ = timed(["make", "demo"], root)
        test, printed = timed(["make", "test"], root)
        summary = [line for line in printed.splitlines() if re.search(r"\d+ passed", line)]
        print(f"fresh clone {root}: make demo {minutes(demo)}, then make test {minutes(test)}")
        print(f"pytest: {summary[-1].strip('= ') if summary else '(no summary)'}")
    for name, mb in sizes(root).items():
        print(f"{name}: {mb:,.0f} MB" if mb >= 1 else f"{name}: {mb * 1000:,.0f} kB")
    print(f"tests collected: {collected(root)}")


if __name__ == "__main__":
    main()

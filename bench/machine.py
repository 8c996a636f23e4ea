"""What a benchmark ran on: cores, CPU model, memory, OS, Python and the versions of the
packages and servers that decide its numbers.

Benchmarks print this next to their results, because a figure without its machine cannot be
compared with anything. Use it from another benchmark with

    from bench.machine import format_machine, machine_description
    print(format_machine(machine_description()))

(run from the repository root, or put the root on sys.path as bench/throughput.py does).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

# Packages whose versions move the numbers of the storydedup benchmarks.
DEFAULT_PACKAGES = ("grpcio", "protobuf", "redis", "datasketch", "numpy", "xxhash")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, with family/model and clock (a virtual machine's
    generic "Xeon Processor" name alone does not say which generation it is), else what
    platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return platform.processor() or platform.machine() or "unknown"
    fields: dict[str, str] = {}
    # The first processor's block is enough: the benchmarks assume a homogeneous machine.
    for line in cpuinfo.read_text(errors="replace").split("\n\n", 1)[0].splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    name = fields.get("model name") or fields.get("Hardware") or platform.machine() or "unknown"
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    if "cpu MHz" in fields:
        details.append(f"{float(fields['cpu MHz']):.0f} MHz")
    if "hypervisor" in fields.get("flags", "").split():
        details.append("virtual machine")
    return f"{name} ({', '.join(details)})" if details else name


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def memory_total() -> str:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    return "unknown"


def redis_server_version(binary: str | None = None) -> str:
    """The version of the redis-server binary on PATH (or `binary`), without starting it."""
    path = binary or shutil.which("redis-server")
    if path is None:
        return "not installed"
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    # "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=..."
    fields = dict(part.split("=", 1) for part in out.split() if "=" in part)
    version = fields.get("v", out.strip() or "unknown")
    malloc = fields.get("malloc")
    return f"{version} ({malloc})" if malloc else version


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_description(
    packages: tuple[str, ...] = DEFAULT_PACKAGES, redis_version: str | None = None
) -> dict[str, str]:
    """Name -> value, in display order. `redis_version` overrides the binary's own answer
    (e.g. INFO server of the instance actually measured)."""
    description = {
        "cores": f"{usable_cores()} usable ({os.cpu_count()} online)",
        "CPU": cpu_model(),
        "memory": memory_total(),
        "OS": f"{platform.system()} {platform.release()} {platform.machine()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Redis": redis_version or redis_server_version(),
        "load average": ", ".join(f"{value:.2f}" for value in os.getloadavg()),
    }
    for name in packages:
        description[name] = package_version(name)
    return description


def format_machine(description: dict[str, str]) -> str:
    """One `name: value` line per entry, names aligned."""
    width = max(len(name) for name in description)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in description.items())


if __name__ == "__main__":
    print(format_machine(machine_description()))

"""Facts about the machine: cores, CPU model and features, installed package versions.

The one place that reads ``/proc/cpuinfo`` and package metadata; defaults (threads), the
export's int8 format choice and the benchmark's machine report all ask here.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# CPU features that decide which kernels and int8 formats run fast.
SIMD_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU model name and its feature flags (empty off Linux)."""

    model: str
    flags: frozenset[str]

    @property
    def is_x86(self) -> bool:
        return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")

    @property
    def simd(self) -> list[str]:
        """The flags of SIMD_FEATURES this CPU has, sorted."""
        return sorted(self.flags & set(SIMD_FEATURES))


def cpu_info() -> CpuInfo:
    """Model name and flags of the first CPU in ``/proc/cpuinfo`` (the platform's name elsewhere)."""
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = frozenset(value.split())
                break
    except OSError:
        pass
    return CpuInfo(model, flags)


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """Installed version of each distribution in NAMES (None where it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def available_cpu_count() -> int:
    """Logical CPUs this process may run on (its affinity mask; all CPUs off Linux)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def physical_core_count() -> int:
    """Physical cores available to this process (hyper-threads share a core's multipliers)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(cpus)
        cores.add((package, core))
    return max(1, len(cores))

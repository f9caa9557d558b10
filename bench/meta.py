"""What a benchmark's JSON says about its own run: when, on what machine, with what versions."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("tensorflow", "keras", "ai_edge_litert", "onnxruntime"):
        module = sys.modules.get(name)
        if module is None:
            try:
                from importlib.metadata import version
                out[name] = version(name.replace("_", "-"))
            except Exception:  # not installed: left out
                continue
        else:
            out[name] = getattr(module, "__version__", "")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    if commit:
        out["kspec_commit"] = commit
    return out


def run_info(command: list) -> dict:
    """The header of a benchmark JSON."""
    return {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(["python", "-m"] + command),
            "machine": {"cpu": cpu_model(), "cpus": cpus(), "memory_gib": memory_gib(),
                        "system": f"{platform.system()} {platform.machine()}",
                        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"},
            "versions": versions()}

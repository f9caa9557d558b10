"""A Slurm job step as a worker cluster: the same cluster description TF_CONFIG gives.

TensorFlow's SlurmClusterResolver counts GPUs with nvidia-smi and hands them out by
stepping through them, which fails on CPU-only nodes (no nvidia-smi; a step of zero
GPUs). Here the cluster comes from Slurm's variables alone; which GPUs a task sees is
left to Slurm (`--gpus-per-task`, or one task per node that uses all of that node's).
"""
from __future__ import annotations

import os
import re

DEFAULT_PORT_BASE = 8888  # task k on a node listens on KSPEC_PORT_BASE + k


class SlurmError(ValueError):
    """Slurm variables that do not describe a job step."""


def slurm_tasks() -> int:
    """How many tasks this srun step has (0 outside one).

    Only the step's variables count: a batch script also sees SLURM_NTASKS, but it is
    one process, and treating it as a cluster would wait for peers that never come.
    """
    value = os.environ.get("SLURM_STEP_NUM_TASKS", "")
    return int(value) if value.isdigit() else 0


def slurm_cluster(env=None) -> tuple[list[str], int]:
    """(worker addresses in rank order, this process's rank) from Slurm's variables."""
    env = os.environ if env is None else env

    def need(name):
        if not env.get(name):
            raise SlurmError(f"Slurm variable {name} is not set: start the workers with srun")
        return env[name]
    hosts = expand_hostlist(need("SLURM_STEP_NODELIST"))
    per_node = expand_tasks_per_node(need("SLURM_STEP_TASKS_PER_NODE"))
    if len(per_node) != len(hosts):
        raise SlurmError(f"{len(hosts)} nodes but tasks per node for {len(per_node)}")
    base = _number("KSPEC_PORT_BASE", env.get("KSPEC_PORT_BASE", str(DEFAULT_PORT_BASE)))
    # Slurm's default (block) distribution gives the first node ranks 0..n0-1, and so on.
    workers = [f"{host}:{base + k}" for host, n in zip(hosts, per_node) for k in range(n)]
    rank = _number("SLURM_PROCID", need("SLURM_PROCID"))
    if not 0 <= rank < len(workers):
        raise SlurmError(f"SLURM_PROCID {rank} is outside the step's {len(workers)} tasks")
    return workers, rank


def expand_hostlist(text: str) -> list[str]:
    """`node[01-03,7],gpu5` -> node01 node02 node03 node7 gpu5 (nested groups too)."""
    hosts = []
    for part in _split_outside_brackets(text):
        match = re.match(r"^([^\[]*)\[([^\]]+)\](.*)$", part)
        if not match:
            hosts.append(part)
            continue
        prefix, ranges, rest = match.groups()
        for item in ranges.split(","):
            lo, _, hi = item.partition("-")
            width = len(lo)
            for n in range(_number(text, lo), _number(text, hi or lo) + 1):
                hosts.extend(prefix + str(n).zfill(width) + tail
                             for tail in expand_hostlist(rest) or [""])
    return hosts


def expand_tasks_per_node(text: str) -> list[int]:
    """`2(x3),1` -> [2, 2, 2, 1]."""
    counts = []
    for part in text.split(","):
        match = re.fullmatch(r"(\d+)(?:\(x(\d+)\))?", part.strip())
        if not match:
            raise SlurmError(f"cannot read tasks per node {text!r}")
        counts += [int(match.group(1))] * int(match.group(2) or 1)
    return counts


def _number(what: str, text: str) -> int:
    if not text.strip().isdigit():
        raise SlurmError(f"cannot read {what!r}: {text!r} is not a number")
    return int(text)


def _split_outside_brackets(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p]

"""A Slurm job step as a worker cluster: the same cluster description TF_CONFIG gives.

TensorFlow's SlurmClusterResolver counts GPUs with nvidia-smi and hands them out by
stepping through them, which fails on CPU-only nodes (no nvidia-smi; a step of zero
GPUs). Here the cluster comes from Slurm's variables alone; which GPUs a task sees is
left to Slurm (`--gpus-per-task`, or one task per node that uses all of that node's).
"""
from __future__ import annotations

import itertools
import os
import re

from .environment import EnvironmentProblem, port_base



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
    try:  # task k on a node listens on KSPEC_PORT_BASE + k
        base = port_base(env)
    except EnvironmentProblem as exc:
        raise SlurmError(str(exc)) from None
    if base + max(per_node, default=1) - 1 > 65535:
        raise SlurmError(f"KSPEC_PORT_BASE={base} leaves no port for task "
                         f"{max(per_node) - 1} of a node (ports end at 65535); set a lower one")
    # Slurm's default (block) distribution gives the first node ranks 0..n0-1, and so on.
    workers = [f"{host}:{base + k}" for host, n in zip(hosts, per_node) for k in range(n)]
    rank = _number("SLURM_PROCID", need("SLURM_PROCID"))
    if not 0 <= rank < len(workers):
        raise SlurmError(f"SLURM_PROCID {rank} is outside the step's {len(workers)} tasks")
    return workers, rank


MAX_HOSTS = 10_000  # nodes in one step; also bounds the tasks a step may list
MAX_TASKS_PER_NODE = 1_024
MAX_DIGITS = 9  # a node number or a count; Slurm's own are far shorter


def expand_hostlist(text: str) -> list[str]:
    """`node[01-03,7],gpu5` -> node01 node02 node03 node7 gpu5 (several groups too).

    How many names the list makes is counted before any is made: `node[0-99999999]` is an
    error, not 100 million strings. A malformed list (`node[01-`) is an error at once: a
    host named `node[01-` would only be found missing after the collective timeout."""
    parts = [_segments(text, part) for part in _split_outside_brackets(text)]
    total = sum(_count(segments) for segments in parts)
    if total > MAX_HOSTS:
        raise SlurmError(f"the Slurm hostlist {_shown(text)} names more than {MAX_HOSTS:,} "
                         "nodes")
    hosts = []
    for segments in parts:
        choices = [_names(seg) if isinstance(seg, tuple) else [seg] for seg in segments]
        hosts.extend("".join(combo) for combo in itertools.product(*choices))
    return hosts


def _segments(text: str, part: str) -> list:
    """`rack[1-2]-n[9-10]` -> ["rack", ((1, 2, 1),), "-n", ((9, 10, 1),)]: literal text
    and groups of (low, high, zero-padded width) ranges."""
    segments, pos = [], 0
    for match in re.finditer(r"\[([^\[\]]*)\]", part):
        segments.append(part[pos:match.start()])
        ranges = []
        for item in match.group(1).split(","):
            lo, dash, hi = item.partition("-")
            low, high = _number(text, lo), _number(text, hi if dash else lo)
            if high < low:
                raise SlurmError(f"cannot read {_shown(text)}: the range {item[:20]!r} runs "
                                 "backwards")
            ranges.append((low, high, len(lo)))
        segments.append(tuple(ranges))
        pos = match.end()
    segments.append(part[pos:])
    if any("[" in seg or "]" in seg for seg in segments if isinstance(seg, str)):
        raise SlurmError(f"cannot read the Slurm hostlist {_shown(text)}: brackets do not pair")
    return [seg for seg in segments if seg != ""]


def _count(segments: list) -> int:
    total = 1
    for group in segments:
        if isinstance(group, tuple):
            total *= sum(high - low + 1 for low, high, _ in group)
            if total > MAX_HOSTS:
                return total  # already too many; the product need not be finished
    return total


def _names(group: tuple) -> list[str]:
    return [str(n).zfill(width) for low, high, width in group for n in range(low, high + 1)]


def expand_tasks_per_node(text: str) -> list[int]:
    """`2(x3),1` -> [2, 2, 2, 1]."""
    counts, tasks = [], 0
    for part in text.split(","):
        match = re.fullmatch(r"(\d+)(?:\(x(\d+)\))?", part.strip())
        if not match:
            raise SlurmError(f"cannot read tasks per node {_shown(text)}")
        count, times = _number("tasks per node", match.group(1)), \
            _number("tasks per node", match.group(2) or "1")
        tasks += count * times
        if count > MAX_TASKS_PER_NODE or len(counts) + times > MAX_HOSTS or tasks > MAX_HOSTS:
            raise SlurmError(f"tasks per node {_shown(text)} are more than kspec runs (at most "
                             f"{MAX_TASKS_PER_NODE:,} on a node, {MAX_HOSTS:,} in all)")
        counts += [count] * times
    return counts


def _number(what: str, text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_DIGITS:
        raise SlurmError(f"cannot read {_shown(what)}: {text[:20]!r} is not a number"
                         + (f" of at most {MAX_DIGITS} digits" if digits.isdigit() else ""))
    return int(digits)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:60]!r}... ({len(text):,} characters)"


def _split_outside_brackets(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth not in (0, 1):
            raise SlurmError(f"cannot read the Slurm hostlist {_shown(text)}: brackets do not "
                             "pair")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise SlurmError(f"cannot read the Slurm hostlist {_shown(text)}: a '[' is not closed")
    parts.append(text[start:])
    return [p for p in parts if p]

"""Choosing the tf.distribute strategy: one device, all local GPUs, or a cluster."""
from __future__ import annotations

import json
import os
import sys

import tensorflow as tf

from .environment import EnvironmentProblem, collective_timeout
from .slurm import SlurmError, slurm_cluster, slurm_tasks


class OptionError(ValueError):
    """A command-line option that cannot be honoured here (exit 2)."""


def configure_devices(logical_cpus: int) -> None:
    """Must run before TensorFlow initialises its devices."""
    if logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)


def available_memory() -> int:
    """Bytes of memory available to a new allocation here (0 if unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _cluster_workers() -> int:
    cfg = os.environ.get("TF_CONFIG")
    if cfg:
        return len(_tf_config(cfg)["cluster"]["worker"])
    return slurm_tasks()


def _tf_config(text: str) -> dict:
    """TF_CONFIG checked for the shape TensorFlow expects, so a typo is a message."""
    example = ('{"cluster": {"worker": ["host1:port", "host2:port"]}, '
               '"task": {"type": "worker", "index": 0}}')
    try:
        cfg = json.loads(text)
    except ValueError:
        raise OptionError(f"TF_CONFIG is not valid JSON; expected for example {example}") \
            from None
    cluster = cfg.get("cluster") if isinstance(cfg, dict) else None
    workers = cluster.get("worker", []) if isinstance(cluster, dict) else None
    task = cfg.get("task") if isinstance(cfg, dict) else None
    if (not isinstance(workers, list) or not all(isinstance(w, str) and ":" in w for w in workers)
            or not isinstance(task, dict) or not isinstance(task.get("index"), int)
            or isinstance(task.get("index"), bool) or task.get("type") not in cluster):
        raise OptionError(f"TF_CONFIG must name the cluster's workers as \"host:port\" strings "
                          f"and this task by type and index, for example {example}")
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise OptionError(f"TF_CONFIG's task index {task['index']} is not in its "
                          f"{task['type']} list of {len(cluster[task['type']])}")
    return cfg


def make_strategy(name: str):
    """Returns (strategy, description).

    A cluster strategy is created before anything lists devices: listing them
    initialises TensorFlow, after which collective ops can no longer be set up.
    """
    if name == "multiworker" or (name == "auto" and _cluster_workers() > 1):
        return _multiworker()
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "one"
    if name == "one":
        device = gpus[0].name if gpus else cpus[0].name
        return tf.distribute.OneDeviceStrategy(device), f"OneDeviceStrategy({device})"
    devices = [d.name for d in gpus] or [d.name for d in cpus]
    ops = None if gpus else tf.distribute.ReductionToOneDevice()
    return (tf.distribute.MirroredStrategy(devices, cross_device_ops=ops),
            f"MirroredStrategy({len(devices)} devices)")


def _multiworker():
    if _cluster_workers() < 1:
        raise OptionError("--strategy multiworker needs TF_CONFIG describing the cluster, or "
                          "the tasks of an srun step")
    resolver = None  # TF_CONFIG: TensorFlow reads it itself
    if "TF_CONFIG" not in os.environ:
        try:
            workers, rank = slurm_cluster()
        except SlurmError as exc:
            raise OptionError(str(exc)) from None
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec({"worker": workers}), task_type="worker", task_id=rank,
            rpc_layer="grpc")
    else:
        cfg = _tf_config(os.environ["TF_CONFIG"])
        workers = [a for kind in ("chief", "worker") for a in cfg["cluster"].get(kind, [])]
        me = cfg["cluster"][cfg["task"]["type"]][cfg["task"]["index"]]
        rank = workers.index(me)
    try:
        timeout = collective_timeout()
    except EnvironmentProblem as exc:
        raise OptionError(str(exc)) from None
    # Until the first step has run, nothing else bounds the wait for peers that never come.
    _start_watchdog(workers, rank, timeout)
    # A collective whose peer died would wait forever: time out, so the survivors stop.
    comm = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver,
                                                         communication_options=comm)
    return strategy, f"MultiWorkerMirroredStrategy({strategy.num_replicas_in_sync} replicas)"


def is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0)


_watchdog: list = []

# Run as a separate process: while the cluster starts, TensorFlow's C++ runtime holds the
# main thread (and Python's lock), so no thread of ours could run to say what is wrong.
_WATCHDOG = """
import socket, sys, time
timeout, me, workers = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
deadline = time.time() + timeout
while time.time() < deadline:
    if sys.stdin.readable() and not select.select([sys.stdin], [], [], 0.5)[0]:
        continue
    sys.exit(0)  # the trainer wrote or closed the pipe: it started (or ended)
def accepts(address):
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=2).close()
        return True
    except (OSError, ValueError):
        return False
silent = [w for i, w in enumerate(workers) if i != me and not accepts(w)]
who = ", ".join(silent) or "none (the peers accept connections but never joined)"
sys.stderr.write(f"kspec train: the cluster did not start within KSPEC_COLLECTIVE_TIMEOUT="
                 f"{timeout:g} s; unreachable: {who}. Start every worker with the same command "
                 "(or check addresses and firewalls).\\n")
"""


def _start_watchdog(workers: list, rank: int, timeout: float) -> None:
    """After `timeout` seconds without a first step, a helper process names the peers that
    do not accept a connection, and this process exits 1 (faulthandler's timer is C code,
    which runs while TensorFlow holds the main thread); the start would otherwise hang
    without a word."""
    import faulthandler
    import subprocess
    helper = subprocess.Popen([sys.executable, "-c", "import select\n" + _WATCHDOG,
                               str(timeout), str(rank), *workers], stdin=subprocess.PIPE,
                              stderr=sys.stderr.fileno())
    log = open(os.devnull, "w")
    faulthandler.dump_traceback_later(timeout + 5, exit=True, file=log)
    _watchdog.append((helper, log))


def cluster_started() -> None:
    """The first step ran: every peer answered, so the start-up watchdog stands down."""
    import faulthandler
    while _watchdog:
        helper, log = _watchdog.pop()
        faulthandler.cancel_dump_traceback_later()
        helper.stdin.close()
        helper.wait()
        log.close()


def accelerator() -> str | None:
    """"TPU" or "GPU" when this process trains on one, None on CPUs only."""
    for kind in ("TPU", "GPU"):
        if tf.config.list_logical_devices(kind):
            return kind
    return None


def precision_notes(precision: str) -> list[str]:
    """What a person should know about the precision on these devices."""
    if precision == "mixed_float16" and not tf.config.list_logical_devices("GPU"):
        return ["mixed_float16 on a CPU is far slower than float32 (CPUs have no fast float16 "
                "math); use it on GPUs"]
    return []

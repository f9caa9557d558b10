"""Distribution on one CPU machine: the same weights as one replica with the same global batch.

Two logical CPU devices under MirroredStrategy (XLA on), and two real worker
processes on loopback under MultiWorkerMirroredStrategy (described by TF_CONFIG, and by
the variables of a Slurm step).
"""
import json
import os
import socket
import subprocess

import numpy as np
import pytest

from tests.conftest import ROOT, SMALL_SHAPES, final_weights, run, train_cmd

pytestmark = pytest.mark.slow
# SGD, not Adam (its first steps amplify round-off near zero gradients), and a smooth
# model: with max pooling, XLA's per-replica code can flip the winner of a near-tie in a
# window under round-off, which moves a gradient to another pixel (seen with LeNet: 4e-5
# after two steps). Here replicas agree to about 1e-8 per step, as XLA on and off do; a
# wrong batch split or a missing all-reduce differs by orders of magnitude more.
MODEL = ROOT / "tests" / "specs" / "tiny_cnn.yaml"
COMMON = ["--seed", "5", "--epochs", "1", "--steps-per-epoch", "8", "--batch-size", "32",
          "--set", "train.optimizer={sgd: {learning_rate: 0.05, momentum: 0.9}}"]


@pytest.fixture(scope="module")
def one_replica(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("one")
    res = run(train_cmd(MODEL, out, data_dir, *COMMON, "--strategy", "one"))
    assert res.returncode == 0, res.stderr
    return final_weights(out)


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_mirrored_two_logical_cpus_with_xla(tmp_path, data_dir, one_replica):
    res = run(train_cmd(MODEL, tmp_path, data_dir, *COMMON, "--xla", "on",
                        "--strategy", "mirrored", "--logical-cpus", "2"))
    assert res.returncode == 0, res.stderr
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["replicas"] == 2 and info["xla"] is True, info
    assert_same_weights(final_weights(tmp_path), one_replica)


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def train_as_two_workers(run_dir, data_dir, envs, *extra, model=MODEL, common=COMMON,
                         data=SMALL_SHAPES):
    """One training process per environment, run together; both finish as one cluster."""
    procs = [subprocess.Popen(train_cmd(model, run_dir, data_dir, *common, *extra, data=data),
                              cwd=ROOT,
                              env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for env in envs]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["replicas"] == 2 and info["strategy"].startswith("MultiWorker"), info


def test_multiworker_two_processes_on_loopback(tmp_path, data_dir, one_replica):
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    envs = [{**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                    "task": {"type": "worker", "index": i}})}
            for i in range(2)]
    # XLA on: the compiled per-replica step is the path a GPU cluster takes.
    train_as_two_workers(tmp_path, data_dir, envs, "--strategy", "multiworker", "--xla", "on")
    assert_same_weights(final_weights(tmp_path), one_replica)
    # Each worker validated half of the split; the sums were added: the row is the whole
    # split's, as one process evaluates it.
    assert_validation_row_is_the_whole_splits(tmp_path, data_dir, SMALL_SHAPES)


def assert_validation_row_is_the_whole_splits(run_dir, data_dir, data):
    row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    res = run(["kspec", "evaluate", str(run_dir), "--split", "validation", "--json",
               "--data", data, "--data-dir", data_dir])
    assert res.returncode == 0, res.stderr
    whole = json.loads(res.stdout.splitlines()[-1])
    assert {f"val_{k}" for k in whole if isinstance(whole[k], float)} <= set(row), (row, whole)
    for key, value in whole.items():
        if isinstance(value, float):
            assert row[f"val_{key}"] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_two_workers_score_detection_on_the_whole_split(tmp_path, data_dir):
    """Detections and truths gathered from both workers (25 validation images: 13 and 12)."""
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    envs = [{**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                    "task": {"type": "worker", "index": i}})}
            for i in range(2)]
    data = "shapes/multi:train=64,validation=25,test=8"
    train_as_two_workers(tmp_path, data_dir, envs, "--strategy", "multiworker",
                         model=ROOT / "specs" / "detector.yaml", data=data,
                         common=["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8"])
    assert_validation_row_is_the_whole_splits(tmp_path, data_dir, data)


def test_slurm_step_of_two_tasks_on_loopback(tmp_path, data_dir, one_replica):
    # The variables srun sets for a two-task step on one node; no TF_CONFIG, --strategy auto.
    base = free_port_pair()
    plain = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    envs = [{**plain, "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": "localhost",
             "SLURM_STEP_TASKS_PER_NODE": "2", "SLURM_PROCID": str(i),
             "KSPEC_PORT_BASE": str(base)} for i in range(2)]
    train_as_two_workers(tmp_path, data_dir, envs)
    assert_same_weights(final_weights(tmp_path), one_replica)


def free_port_pair():
    """A port p with p + 1 also free (Slurm tasks on one node take consecutive ports)."""
    for _ in range(50):
        base = free_ports(1)[0]
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", base))
                b.bind(("127.0.0.1", base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def test_lost_worker_stops_the_survivor_and_a_restart_resumes(tmp_path, data_dir):
    """Kill one of two workers: the other stops cleanly (no hang), and both restarted resume."""
    import signal
    import time
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    extra = ["--seed", "5", "--epochs", "2", "--batch-size", "32", "--strategy", "multiworker",
             "--set", "train.checkpoint_every=5"]

    def start(i):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KSPEC_COLLECTIVE_TIMEOUT": "20",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                        "task": {"type": "worker", "index": i}})}
        return subprocess.Popen(train_cmd(MODEL, tmp_path, data_dir, *extra), cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    from tasks.data import load_source
    load_source(SMALL_SHAPES, data_dir)  # prepared once, as a cluster shares prepared data
    procs = [start(0), start(1)]
    pointer = tmp_path / "checkpoints" / "last" / "checkpoint"
    deadline = time.time() + 300
    while not pointer.exists():
        assert time.time() < deadline
        for p in procs:
            assert p.poll() is None, p.communicate()[1][-3000:]
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait()
    _, err = procs[0].communicate(timeout=200)  # no hang past the collective timeout
    assert procs[0].returncode == 1, err[-3000:]
    assert "a worker was lost" in err, err[-3000:]
    workers[:] = [f"127.0.0.1:{p}" for p in free_ports(2)]
    procs = [start(0), start(1)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (_, e) in zip(procs, outs):
        assert p.returncode == 0, e[-3000:]
    assert (tmp_path / "model.keras").exists()


def test_a_peer_that_never_comes_is_named_after_the_timeout(tmp_path, data_dir):
    """Worker 1 is never started: worker 0 does not hang; it exits 1 naming the address."""
    import time
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KSPEC_COLLECTIVE_TIMEOUT": "15",
           "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                    "task": {"type": "worker", "index": 0}})}
    start = time.time()
    res = subprocess.run(train_cmd(MODEL, tmp_path, data_dir, "--epochs", "1",
                                   "--strategy", "multiworker"), cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 1, res.stderr[-3000:]
    assert (f"kspec train: the cluster did not start within KSPEC_COLLECTIVE_TIMEOUT=15 s; "
            f"unreachable: {workers[1]}.") in res.stderr
    assert time.time() - start < 120

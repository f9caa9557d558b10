"""Slurm's variables read as a worker cluster (the run itself: test_distributed.py)."""
import pytest

from trainer.slurm import SlurmError, expand_hostlist, expand_tasks_per_node, slurm_cluster


def test_hostlists_expand_as_slurm_writes_them():
    assert expand_hostlist("node[01-03,7],gpu5") == ["node01", "node02", "node03", "node7",
                                                     "gpu5"]
    assert expand_hostlist("rack[1-2]-n[9-10]") == ["rack1-n9", "rack1-n10", "rack2-n9",
                                                    "rack2-n10"]
    assert expand_hostlist("localhost") == ["localhost"]
    with pytest.raises(SlurmError, match="cannot read 'n\\[a-b\\]': 'a' is not a number"):
        expand_hostlist("n[a-b]")


def test_tasks_per_node_expand_and_bad_text_is_named():
    assert expand_tasks_per_node("2(x3),1") == [2, 2, 2, 1]
    with pytest.raises(SlurmError, match="cannot read tasks per node '2x3'"):
        expand_tasks_per_node("2x3")


def test_ranks_fill_nodes_in_order_with_a_port_per_task():
    env = {"SLURM_STEP_NODELIST": "n[1-2]", "SLURM_STEP_TASKS_PER_NODE": "2(x2)",
           "SLURM_PROCID": "2", "KSPEC_PORT_BASE": "9000"}
    assert slurm_cluster(env) == (["n1:9000", "n1:9001", "n2:9000", "n2:9001"], 2)


def test_outside_an_srun_step_the_message_says_so():
    with pytest.raises(SlurmError, match="SLURM_STEP_NODELIST is not set: start the workers "
                                         "with srun"):
        slurm_cluster({"SLURM_PROCID": "0"})
    env = {"SLURM_STEP_NODELIST": "n1", "SLURM_STEP_TASKS_PER_NODE": "2", "SLURM_PROCID": "5"}
    with pytest.raises(SlurmError, match="SLURM_PROCID 5 is outside the step's 2 tasks"):
        slurm_cluster(env)

"""Slurm's variables read as a worker cluster (the run itself: test_distributed.py)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.slurm import (MAX_HOSTS, SlurmError, expand_hostlist, expand_tasks_per_node,
                           slurm_cluster)


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


@pytest.mark.parametrize("text, message", [
    ("node[0-99999999]", "the Slurm hostlist 'node[0-99999999]' names more than 10,000 nodes"),
    ("a[1-9][1-9][1-9][1-9][1-9]", "names more than 10,000 nodes"),
    ("node[01-", "cannot read the Slurm hostlist 'node[01-': a '[' is not closed"),
    ("node]1[", "cannot read the Slurm hostlist 'node]1[': brackets do not pair"),
    ("n[[1]]", "cannot read the Slurm hostlist 'n[[1]]': brackets do not pair"),
    ("n[5-3]", "cannot read 'n[5-3]': the range '5-3' runs backwards"),
    ("n[]", "cannot read 'n[]': '' is not a number"),
    ("n[" + "9" * 5000 + "]", "is not a number of at most 9 digits"),
])
def test_a_hostlist_is_bounded_and_checked_before_it_expands(text, message):
    with pytest.raises(SlurmError) as info:
        expand_hostlist(text)
    assert message in str(info.value)


@pytest.mark.parametrize("text", ["2(x99999999)", "99999", "1(x5000),1(x5001)"])
def test_tasks_per_node_are_bounded(text):
    with pytest.raises(SlurmError, match="are more than kspec runs"):
        expand_tasks_per_node(text)


def test_the_port_base_is_checked_with_the_tasks_it_must_leave_room_for():
    env = {"SLURM_STEP_NODELIST": "n1", "SLURM_STEP_TASKS_PER_NODE": "4", "SLURM_PROCID": "0"}
    with pytest.raises(SlurmError, match="KSPEC_PORT_BASE='abc': expected a port from 1 to "
                                         "65535"):
        slurm_cluster({**env, "KSPEC_PORT_BASE": "abc"})
    with pytest.raises(SlurmError, match="KSPEC_PORT_BASE=65534 leaves no port for task 3 of "
                                         "a node"):
        slurm_cluster({**env, "KSPEC_PORT_BASE": "65534"})


@settings(max_examples=60, deadline=None)
@given(st.text(st.sampled_from("nodeg0123456789[],-x"), max_size=40))
def test_generated_hostlists_expand_boundedly_or_are_refused(text):
    try:
        hosts = expand_hostlist(text)
    except SlurmError as exc:
        assert str(exc)
        return
    assert len(hosts) <= MAX_HOSTS
    assert all("[" not in h and "]" not in h and "," not in h for h in hosts)

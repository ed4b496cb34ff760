"""Whole-stack instances: two copies of the default stack from one project, side by side."""

import json
import pathlib
import shutil
import subprocess
import tempfile

import psycopg

from conftest import DEVSTACK, REPO, remove_project


def _devstack(directory, *arguments, instance=None, check=True):
    extra = ["--instance", instance] if instance else []
    run = subprocess.run([DEVSTACK, *arguments, "--profile", "local", *extra], cwd=directory, capture_output=True, text=True, timeout=300)
    assert not check or run.returncode == 0, f"devstack {' '.join(arguments)} exited {run.returncode}:\n{run.stdout}\n{run.stderr}"
    return run


def test_two_instances_run_side_by_side_with_their_own_ports_data_and_state():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="devstack-instances-"))
    for folder in ("stacks", "profiles"):
        shutil.copytree(REPO / folder, directory / folder)
    try:
        _devstack(directory, "up", "--detach", "db", "auth")
        _devstack(directory, "up", "--detach", "db", "auth", instance="second")
        main_env = json.loads(_devstack(directory, "env", "--format", "json").stdout)
        second_env = json.loads(_devstack(directory, "env", "--format", "json", instance="second").stdout)
        assert main_env["DATABASE_URL"] != second_env["DATABASE_URL"]
        assert ":54322/" in main_env["DATABASE_URL"], "the profile's own stack keeps its ports"
        assert ":54322/" not in second_env["DATABASE_URL"] and ":54321" not in second_env["SUPABASE_URL"], "an instance takes free ones"

        listed = json.loads(subprocess.run([DEVSTACK, "ls", "--json"], capture_output=True, text=True, check=True).stdout)
        ours = [entry for entry in listed if entry["project"] == str(directory)]
        assert sorted((entry.get("instance") or "") for entry in ours) == ["", "second"]
        assert all(entry["profile"] == "local" for entry in ours)

        with psycopg.connect(main_env["DATABASE_URL"], autocommit=True) as main:
            main.execute("create table only_here (id int)")
        with psycopg.connect(second_env["DATABASE_URL"]) as second:
            exists = second.execute("select to_regclass('public.only_here') is not null").fetchone()[0]
            assert not exists, "each instance has its own data"
        assert (directory / ".devstack" / "local@second" / "state.json").exists()

        _devstack(directory, "down", instance="second")
        assert _devstack(directory, "status").returncode == 0, "the other stack is untouched"
        assert _devstack(directory, "status", instance="second", check=False).returncode == 1
        listed = json.loads(subprocess.run([DEVSTACK, "ls", "--json"], capture_output=True, text=True, check=True).stdout)
        assert [entry.get("instance") for entry in listed if entry["project"] == str(directory)] == [None]
    finally:
        _devstack(directory, "down", instance="second", check=False)
        _devstack(directory, "down", check=False)
        remove_project(directory)


def test_an_unusable_instance_name_is_refused_before_anything_starts():
    directory = pathlib.Path(tempfile.mkdtemp(prefix="devstack-instances-"))
    for folder in ("stacks", "profiles"):
        shutil.copytree(REPO / folder, directory / folder)
    try:
        refused = _devstack(directory, "up", "--detach", instance="../escape", check=False)
        assert refused.returncode == 2
        assert "instance name '../escape' is not usable" in refused.stderr
        assert not (directory / ".devstack").exists()
    finally:
        remove_project(directory)

"""What ``cluster/`` ships, checked offline: the launcher YAML against Ray's own schema and config checks,
the KubeRay manifests' structure and that their commands parse as nasframe commands, the SLURM script's syntax.

(The SLURM script runs for real, with a fake ``srun``, in tests/test_cluster_slurm.py.)
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from nasframe.cli import main

CLUSTER = Path(__file__).resolve().parents[1] / "cluster"


def _yaml(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def _parses(args: list[str]) -> None:
    """``nasframe ARGS`` parses (every option exists and takes its value) without running the command."""
    command = main
    context = main.make_context("nasframe", [], resilient_parsing=True)
    while args and args[0] in getattr(command, "commands", {}):
        command = command.commands[args[0]]
        args = args[1:]
        if not hasattr(command, "commands"):
            break
    command.make_context(command.name, list(args), parent=context)


def test_launcher_yaml_passes_rays_schema_and_config_checks():
    import jsonschema
    import ray
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = _yaml("ray-cluster.yaml")
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    validate_config(prepare_config(config))  # what `ray up` checks after filling in the provider's defaults
    types = config["available_node_types"]
    workers = {name: spec for name, spec in types.items() if name != config["head_node_type"]}
    assert any(spec["resources"].get("GPU", 0) >= 1 for spec in workers.values()), "no GPU worker type"
    assert any(not spec["resources"].get("GPU") and spec["resources"]["CPU"] >= 1 for spec in workers.values())
    assert types[config["head_node_type"]]["resources"].get("CPU") == 0  # the head only drives
    assert any("nasframe[cluster]" in command for command in config["setup_commands"])


def _containers(pod_template: dict) -> list[dict]:
    spec = pod_template["spec"]
    mounts = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"] for v in spec.get("volumes", [])}
    assert mounts <= volumes, f"mounted volumes not declared: {mounts - volumes}"
    return spec["containers"]


def _check_cluster_spec(spec: dict) -> None:
    head = _containers(spec["headGroupSpec"]["template"])
    assert head[0]["image"] and "dashboard-host" in spec["headGroupSpec"]["rayStartParams"]
    assert any(p["containerPort"] == 8265 for p in head[0]["ports"]), "the head must expose the Jobs API"
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"] and group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert _containers(group["template"])[0]["image"]


def test_kuberay_manifests_are_ray_io_v1_with_head_workers_and_shared_storage():
    cluster, job = _yaml("kuberay/raycluster.yaml"), _yaml("kuberay/rayjob.yaml")
    claim = _yaml("kuberay/storage.yaml")
    assert (cluster["apiVersion"], cluster["kind"]) == ("ray.io/v1", "RayCluster")
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    assert claim["kind"] == "PersistentVolumeClaim" and "ReadWriteMany" in claim["spec"]["accessModes"]
    _check_cluster_spec(cluster["spec"])
    _check_cluster_spec(job["spec"]["rayClusterSpec"])
    gpu = [g for g in cluster["spec"]["workerGroupSpecs"]
           if "nvidia.com/gpu" in _containers(g["template"])[0]["resources"]["limits"]]
    assert gpu, "the RayCluster has no GPU worker group"
    for spec in (cluster["spec"], job["spec"]["rayClusterSpec"]):  # every pod: the shared claim, a real /dev/shm
        for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
            volumes = group["template"]["spec"]["volumes"]
            claims = {v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v}
            assert claims == {claim["metadata"]["name"]}
            mounts = {m["mountPath"] for c in _containers(group["template"]) for m in c["volumeMounts"]}
            assert {"/results", "/dev/shm"} <= mounts


def test_the_rayjob_entrypoint_is_a_nasframe_command_writing_to_the_shared_volume():
    job = _yaml("kuberay/rayjob.yaml")["spec"]
    words = shlex.split(job["entrypoint"])
    assert words[:3] == ["python", "-m", "nasframe.cli"]
    _parses(words[3:])
    out = words[words.index("--out") + 1]
    mount = job["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
    assert out.startswith(mount["mountPath"] + "/")
    yaml.safe_load(job["runtimeEnvYAML"])


def test_parsing_refuses_an_option_that_does_not_exist():
    """The check above is not vacuous."""
    with pytest.raises(Exception, match="No such option"):
        _parses(["compare", "--no-such-option", "1"])


def test_ray_versions_agree_across_image_and_manifests():
    docker = re.search(r"ARG RAY_VERSION=(\S+)", (CLUSTER / "Dockerfile").read_text()).group(1)
    assert _yaml("kuberay/raycluster.yaml")["spec"]["rayVersion"] == docker
    assert _yaml("kuberay/rayjob.yaml")["spec"]["rayClusterSpec"]["rayVersion"] == docker


def test_slurm_script_is_valid_bash_and_refuses_to_run_without_a_command():
    script = CLUSTER / "slurm" / "nasframe.sbatch"
    subprocess.run(["bash", "-n", str(script)], check=True)
    run = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "usage: sbatch" in run.stderr
    subprocess.run(["bash", "-n", str(CLUSTER / "try-local.sh")], check=True)  # docs/CLUSTER.md's walk-through

"""playbooks/kubernetes.yml in render-only mode (openclaw_kubernetes_render_dir): no
cluster runs here, so these tests read the objects the role would apply and check
that they agree with the runtime and with each other; make lint validates the same
objects against the Kubernetes and KServe schemas (scripts/k8s-validate.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from roletasks import ROOT, changed_count, run_playbook

DIGEST = "ab" * 32
MODELS = [{"url": "https://models.example.org/store/digits/1", "sha256": DIGEST}]


def render(tmp: Path, *args: str, **variables) -> subprocess.CompletedProcess[str]:
    out = tmp / "out"
    extra = {"openclaw_kubernetes_render_dir": str(out), **variables}
    return run_playbook(
        ["playbooks/kubernetes.yml", "-e", json.dumps(extra), *args],
        home=tmp / "ansible",
        ANSIBLE_NOCOLOR="1",
    )


def objects(tmp: Path) -> dict[str, dict]:
    """The rendered objects by kind."""
    found = {}
    for path in sorted((tmp / "out").glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        found[obj["kind"]] = obj
    return found


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("k8s-manifests")
    run = render(tmp, openclaw_kubernetes_models_urls=MODELS)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return {"dir": tmp / "out", "objects": objects(tmp), "run": run}


@pytest.fixture(scope="module")
def kserve(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("k8s-kserve")
    run = render(
        tmp,
        openclaw_kubernetes_flavour="kserve",
        openclaw_kubernetes_kserve_storage_uri="pvc://openclaw-models/repository",
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return {"dir": tmp / "out", "objects": objects(tmp)}


def runtime_config(objs: dict) -> dict:
    return yaml.safe_load(objs["ConfigMap"]["data"]["runtime.yaml"])


def runtime_container(objs: dict) -> dict:
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "runtime")


def test_every_object_is_rendered(manifests):
    assert set(manifests["objects"]) == {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
    }
    namespaces = {
        o["metadata"].get("namespace") for k, o in manifests["objects"].items() if k != "Namespace"
    }
    assert namespaces == {manifests["objects"]["Namespace"]["metadata"]["name"]}
    labels = manifests["objects"]["Namespace"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_probes_and_ports_match_the_runtime_port(manifests):
    objs = manifests["objects"]
    port = runtime_config(objs)["server"]["port"]
    container = runtime_container(objs)
    (declared,) = container["ports"]
    assert declared["containerPort"] == port == 8000
    assert {"name": "OPENCLAW_SERVER_PORT", "value": str(port)} in container["env"]
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/v2/health/ready",
        "port": declared["name"],
    }
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/v2/health/live",
        "port": declared["name"],
    }
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    (service_port,) = objs["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == declared["name"]
    (rule,) = objs["NetworkPolicy"]["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]


def test_runtime_yaml_uses_the_mounted_key_store_and_models(manifests):
    objs = manifests["objects"]
    config = runtime_config(objs)
    container = runtime_container(objs)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in objs["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    keys_dir = mounts["keys"]["mountPath"]
    assert config["auth"]["enabled"] is True
    assert config["auth"]["key_store"] == f"{keys_dir}/keys.store"
    assert config["auth"]["key_store_key_file"] == f"{keys_dir}/store.key"
    assert volumes["keys"]["secret"]["secretName"] == "openclaw-runtime-keys"
    # The whole Secret is mounted (no subPath), so a rotated store reaches the pods.
    assert "subPath" not in mounts["keys"]
    assert mounts["models"]["mountPath"] == config["models"]["repository"]
    assert container["args"] == ["serve", "--config", mounts["config"]["mountPath"]]
    (init,) = objs["Deployment"]["spec"]["template"]["spec"]["initContainers"]
    assert init["args"][:2] == ["fetch", MODELS[0]["url"]]
    assert init["args"][init["args"].index("--manifest-sha256") + 1] == DIGEST


def test_security_context_is_restricted(manifests):
    pod = manifests["objects"]["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod["initContainers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] == 10001
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"] == "1Gi"
        assert container["resources"]["requests"]["cpu"] == "500m"
    assert {"name": "tmp", "mountPath": "/tmp"} in runtime_container(manifests["objects"])[
        "volumeMounts"
    ]


def test_hpa_bounds_and_pdb_leave_room(manifests):
    objs = manifests["objects"]
    hpa = objs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    # The HPA owns the count: a re-apply must not reset it.
    assert "replicas" not in objs["Deployment"]["spec"]
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    assert objs["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_labels_and_selectors_agree(manifests):
    objs = manifests["objects"]
    selector = objs["Deployment"]["spec"]["selector"]["matchLabels"]
    pod_labels = objs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert objs["Service"]["spec"]["selector"] == selector
    assert objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert objs["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == selector
    target = objs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        objs["Deployment"]["metadata"]["name"],
    )
    # The selector must not carry the version: a Deployment's selector cannot change.
    assert "app.kubernetes.io/version" not in selector


def test_no_secret_value_is_rendered(manifests, kserve):
    for rendered in (manifests, kserve):
        assert "Secret" not in rendered["objects"]
        text = "".join(p.read_text() for p in rendered["dir"].glob("*.yaml"))
        assert "gAAAA" not in text  # a Fernet token
        assert "oc_" not in text  # an API key


def test_kserve_runtime_and_service_agree(kserve):
    objs = kserve["objects"]
    assert set(objs) == {
        "Namespace",
        "ConfigMap",
        "ServingRuntime",
        "InferenceService",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    runtime, isvc = objs["ServingRuntime"], objs["InferenceService"]
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert "v2" in runtime["spec"]["protocolVersions"]
    model = isvc["spec"]["predictor"]["model"]
    assert model["protocolVersion"] == "v2"
    assert model["runtime"] == runtime["metadata"]["name"]
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["modelFormat"]["name"] in formats
    (container,) = runtime["spec"]["containers"]
    assert container["name"] == "kserve-container"
    port = runtime_config(objs)["server"]["port"]
    assert container["ports"][0]["containerPort"] == port
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": port}
    assert {"name": "OPENCLAW_MODELS_REPOSITORY", "value": "/mnt/models"} in container["env"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    predictor = isvc["spec"]["predictor"]
    assert predictor["securityContext"]["runAsNonRoot"] is True
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["scaleMetric"]) == (
        2,
        6,
        "cpu",
    )
    # The PDB and NetworkPolicy select the predictor pods through the labels KServe puts on them.
    assert objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == predictor["labels"]
    assert objs["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == predictor["labels"]
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] < predictor["minReplicas"]


def test_without_the_hpa_the_deployment_keeps_its_replicas(tmp_path):
    run = render(
        tmp_path,
        openclaw_kubernetes_models_urls=MODELS,
        openclaw_kubernetes_hpa_enabled=False,
        openclaw_kubernetes_replicas=3,
        openclaw_kubernetes_pdb_min_available=2,
    )
    assert run.returncode == 0, run.stdout[-4000:]
    objs = objects(tmp_path)
    assert "HorizontalPodAutoscaler" not in objs
    assert objs["Deployment"]["spec"]["replicas"] == 3
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] == 2


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"openclaw_kubernetes_hpa_min_replicas": 5, "openclaw_kubernetes_hpa_max_replicas": 3},
            "must be at least 1 and at most openclaw_kubernetes_hpa_max_replicas=3",
        ),
        (
            {"openclaw_kubernetes_pdb_min_available": 2},
            "node drains would hang",
        ),
        (
            {"openclaw_kubernetes_container_port": 80},
            "cannot bind a lower port",
        ),
        (
            {"openclaw_kubernetes_memory_limit": "1 GB"},
            "must be Kubernetes quantities",
        ),
        (
            {"openclaw_kubernetes_flavour": "helm"},
            "openclaw_kubernetes_flavour",
        ),
        (
            {"openclaw_kubernetes_runtime_batch_size": 0},
            "batching.max_batch_size",
        ),
    ],
    ids=[
        "hpa-min-above-max",
        "pdb-blocks-drains",
        "privileged-port",
        "bad-quantity",
        "flavour",
        "runtime-check",
    ],
)
def test_bad_variables_fail_with_a_message(tmp_path, variables, message):
    run = render(tmp_path, openclaw_kubernetes_models_urls=MODELS, **variables)
    assert run.returncode != 0
    assert message in run.stdout + run.stderr, run.stdout[-3000:]
    assert not list((tmp_path / "out").glob("*.yaml"))


def test_missing_models_fail_with_advice(tmp_path):
    run = render(tmp_path)
    assert run.returncode != 0
    assert "openclaw_kubernetes_models_urls" in run.stdout
    assert "manifest_sha256" in run.stdout


def test_schema_check_rejects_a_misspelt_field(manifests, kserve, tmp_path):
    """scripts/k8s-validate.py (make lint) passes the rendered objects and fails a typo."""
    files = sorted(manifests["dir"].glob("*.yaml")) + sorted(kserve["dir"].glob("*.yaml"))
    ok = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "k8s-validate.py"), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout
    runtime = (kserve["dir"] / "servingruntime.yaml").read_text()
    deployment = (manifests["dir"] / "deployment.yaml").read_text()
    (tmp_path / "sr.yaml").write_text(runtime.replace("protocolVersions:", "protocolVersion:"))
    (tmp_path / "deploy.yaml").write_text(deployment.replace("readinessProbe:", "readinesProbe:"))
    bad = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "k8s-validate.py"),
            str(tmp_path / "sr.yaml"),
            str(tmp_path / "deploy.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "'protocolVersion' was unexpected" in bad.stdout
    assert "readinesProbe" in bad.stdout
    assert "2 invalid objects" in bad.stdout


def test_second_render_changes_nothing_and_check_mode_writes_nothing(manifests, tmp_path):
    assert changed_count(manifests["run"]) > 0
    again = render(manifests["dir"].parent, openclaw_kubernetes_models_urls=MODELS)
    assert again.returncode == 0, again.stdout[-3000:]
    assert changed_count(again) == 0
    check = render(tmp_path, "--check", openclaw_kubernetes_models_urls=MODELS)
    assert check.returncode == 0, check.stdout[-3000:]
    assert changed_count(check) > 0
    assert not (tmp_path / "out").exists()

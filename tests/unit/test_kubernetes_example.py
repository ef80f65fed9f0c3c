"""The Kubernetes recipe (examples/kubernetes): a master Job whose `loadgate run` command line
loadgate accepts, a ClusterIP Service on its `--master-bind` port, as many workers as it expects,
pointed at that Service, and credentials that come from a Secret only.

Each check is also shown to catch the mistake it is for, on an edited copy of the manifest.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import build_parser
from harness.errors import UsageError
from harness.options import run_settings
from harness.verdict.budgets import load_budgets
from scenarios.catalog import SCENARIOS, scenario
from scenarios.credentials import HEADERS_ENV, SCAN_SECRET_ENV, TOKEN_ENV

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kubernetes"
MANIFEST = EXAMPLES / "loadgate-distributed.yaml"
READER = EXAMPLES / "loadgate-results-reader.yaml"
KINDS = {
    ("ConfigMap", "loadgate-budgets"),
    ("PersistentVolumeClaim", "loadgate-results"),
    ("Service", "loadgate-master"),
    ("Job", "loadgate-master"),
    ("Deployment", "loadgate-worker"),
}

Manifest = dict[str, dict[str, Any]]
"""The manifest's documents by kind (each kind appears once)."""


def load(path: Path = MANIFEST) -> Manifest:
    documents = [document for document in yaml.safe_load_all(path.read_text()) if document]
    by_kind = {document["kind"]: document for document in documents}
    assert len(by_kind) == len(documents), "a kind appears twice"
    return by_kind


def container(document: dict[str, Any]) -> dict[str, Any]:
    """The one container of a Job's or a Deployment's pod."""
    (only,) = document["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def flag(words: list[str], name: str) -> str:
    """The value given to `name` in `words` (given exactly once)."""
    positions = [i for i, word in enumerate(words) if word == name]
    assert len(positions) == 1, f"{name} is given {len(positions)} times in {words}"
    return words[positions[0] + 1]


def master_options(manifest: Manifest) -> argparse.Namespace:
    """The master's command line as `loadgate run` parses it (an unknown flag exits 2)."""
    master = container(manifest["Job"])
    assert master["command"] == ["loadgate"]
    assert master["args"][0] == "run"
    words = [str(word) for word in master["args"][1:]]
    try:
        return build_parser().parse_args(["run", *words])
    except SystemExit as exc:
        raise AssertionError(f"loadgate run refuses {words}: exit {exc.code}") from exc


def master_port(manifest: Manifest) -> int:
    """The port of `--master-bind HOST:PORT`, checked to listen on every interface."""
    host, _, port = flag(container(manifest["Job"])["args"], "--master-bind").rpartition(":")
    assert host == "0.0.0.0", "the master must listen on the pod's interface"
    return int(port)


def check_master(manifest: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Job runs once, within a deadline, a `loadgate run` loadgate turns into settings."""
    job = manifest["Job"]["spec"]
    assert job["backoffLimit"] == 0, "backoffLimit: a failed run is not retried"
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    options = master_options(manifest)
    assert options.scenario in SCENARIOS
    assert options.token_env == TOKEN_ENV
    monkeypatch.setenv(TOKEN_ENV, "placeholder-for-the-check")
    settings = run_settings(options)
    assert settings.target is not None
    assert settings.distributed is not None
    replicas = manifest["Deployment"]["spec"]["replicas"]
    assert settings.distributed.workers == replicas, "replicas != --expect-workers"
    assert settings.distributed.bind == ("0.0.0.0", master_port(manifest))
    waited = settings.distributed.join_timeout_s
    assert job["activeDeadlineSeconds"] > waited + scenario(options.scenario).duration_s + 60
    mounts = {m["mountPath"]: m["name"] for m in container(manifest["Job"])["volumeMounts"]}
    volumes = {v["name"]: v for v in job["template"]["spec"]["volumes"]}
    results = volumes[mounts[str(options.output_dir)]]
    assert "persistentVolumeClaim" in results, "the run directory must outlive the pod"
    claim = manifest["PersistentVolumeClaim"]["metadata"]["name"]
    assert results["persistentVolumeClaim"]["claimName"] == claim
    budgets = volumes[mounts[str(options.budgets.parent)]]["configMap"]["name"]
    assert budgets == manifest["ConfigMap"]["metadata"]["name"]
    assert options.budgets.name in manifest["ConfigMap"]["data"]


def check_service(manifest: Manifest) -> None:
    """A ClusterIP Service on the --master-bind port, selecting the master's pod only."""
    service = manifest["Service"]["spec"]
    assert service.get("type", "ClusterIP") == "ClusterIP", "the master port is unauthenticated"
    (port,) = service["ports"]
    assert port["port"] == port["targetPort"] == master_port(manifest), "--master-bind port"
    assert [p["containerPort"] for p in container(manifest["Job"])["ports"]] == [port["port"]]
    selector = service["selector"].items()
    master_labels = manifest["Job"]["spec"]["template"]["metadata"]["labels"].items()
    worker_labels = manifest["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    assert selector <= master_labels
    assert not selector <= worker_labels, "the Service would send workers to workers"


def check_workers(manifest: Manifest) -> None:
    """As many workers as the master expects, at the Service, driving the master's target."""
    worker = container(manifest["Deployment"])
    master_args = container(manifest["Job"])["args"]
    assert "command" not in worker, "the image's ENTRYPOINT is `loadgate worker`"
    service = manifest["Service"]
    expected = f"{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    assert flag(worker["args"], "--master") == expected, "--master is not the Service"
    parsed = build_parser().parse_args(["worker", *worker["args"]])
    assert parsed.master == (service["metadata"]["name"], service["spec"]["ports"][0]["port"])
    assert parsed.target == flag(master_args, "--target"), "not the master's target"
    assert flag(worker["args"], "--target") == flag(master_args, "--target"), (
        "not the master's target"
    )
    replicas = manifest["Deployment"]["spec"]["replicas"]
    assert replicas == int(flag(master_args, "--expect-workers")), "replicas != --expect-workers"
    assert worker["image"] == container(manifest["Job"])["image"]
    assert worker["resources"]["requests"]["cpu"] == worker["resources"]["limits"]["cpu"] == "1"


def check_credentials(manifest: Manifest) -> None:
    """Every variable comes from the Secret; the token is required, the rest optional."""
    for kind, required, optional in [
        ("Job", {TOKEN_ENV}, set()),
        ("Deployment", {TOKEN_ENV}, {HEADERS_ENV, SCAN_SECRET_ENV}),
    ]:
        env = {item["name"]: item for item in container(manifest[kind])["env"]}
        assert set(env) == required | optional, kind
        for name, item in env.items():
            assert "value" not in item, f"{kind} {name} has a literal value"
            reference = item["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "loadgate-target"
            assert reference.get("optional", False) == (name in optional), f"{kind} {name}"
    assert "Secret" not in manifest, "the Secret is created by hand, never kept in the file"


def check_manifest(manifest: Manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {(kind, document["metadata"]["name"]) for kind, document in manifest.items()} == KINDS
    check_master(manifest, monkeypatch)
    check_service(manifest)
    check_workers(manifest)
    check_credentials(manifest)


def test_the_manifest_holds_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kinds and names; master, Service, workers and credentials agree with one another."""
    check_manifest(load(), monkeypatch)


def test_the_master_command_line_is_loadgates_own() -> None:
    """`loadgate run` against the in-cluster target, with the token's variable and the volumes."""
    options = master_options(load())
    assert options.target.startswith("http://") and ".svc.cluster.local" in options.target
    assert options.output_dir == Path("/results")
    assert options.budgets == Path("/budgets/steady.yml")
    assert options.scenario == "steady"


def test_the_budgets_in_the_config_map_are_a_budgets_file(tmp_path: Path) -> None:
    """Each budgets file the ConfigMap holds loads with loadgate's own loader."""
    data = load()["ConfigMap"]["data"]
    assert data
    for name, text in data.items():
        (tmp_path / name).write_text(text)
        budgets = load_budgets(tmp_path / name)
        assert budgets.latency_p95_ms is not None and budgets.memory_p95_mb is None


def test_no_secret_value_is_written_anywhere() -> None:
    """No token-looking text in the files: the Secret is made with kubectl, from the shell."""
    for path in (MANIFEST, READER):
        text = path.read_text()
        for marker in ("sk-", "Bearer", "stringData", "kind: Secret"):
            assert marker not in text, f"{path.name}: {marker}"


def test_the_reader_pod_mounts_the_results_volume() -> None:
    """The reader pod mounts the claim the master writes to, read-only, with tar for kubectl cp."""
    reader = yaml.safe_load(READER.read_text())
    claim = load()["PersistentVolumeClaim"]["metadata"]["name"]
    (volume,) = reader["spec"]["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    (only,) = reader["spec"]["containers"]
    assert only["volumeMounts"] == [
        {"name": volume["name"], "mountPath": "/results", "readOnly": True}
    ]
    assert only["image"].startswith("busybox:")


def edit(change: Callable[[Manifest], None]) -> Manifest:
    manifest = copy.deepcopy(load())
    change(manifest)
    return manifest


def _set_arg(kind: str, name: str, value: str) -> Callable[[Manifest], None]:
    def change(manifest: Manifest) -> None:
        args = container(manifest[kind])["args"]
        args[args.index(name) + 1] = value

    return change


def _literal_token(manifest: Manifest) -> None:
    container(manifest["Deployment"])["env"][0] = {"name": TOKEN_ENV, "value": "placeholder"}


def _node_port(manifest: Manifest) -> None:
    manifest["Service"]["spec"]["type"] = "NodePort"


def _replicas(manifest: Manifest) -> None:
    manifest["Deployment"]["spec"]["replicas"] = 3


def _retried(manifest: Manifest) -> None:
    manifest["Job"]["spec"]["backoffLimit"] = 2


def _unknown_flag(manifest: Manifest) -> None:
    container(manifest["Job"])["args"].append("--frobnicate")


def _results_in_the_pod(manifest: Manifest) -> None:
    volumes = manifest["Job"]["spec"]["template"]["spec"]["volumes"]
    volumes[:] = [
        v if v["name"] != "results" else {"name": "results", "emptyDir": {}} for v in volumes
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            _set_arg("Deployment", "--master", "loadgate:5557"),
            "not the Service",
            id="wrong-master",
        ),
        pytest.param(
            _set_arg("Job", "--master-bind", "0.0.0.0:5558"),
            "--master-bind port",
            id="port-mismatch",
        ),
        pytest.param(_set_arg("Job", "--master-bind", "127.0.0.1:5557"), "interface", id="lo"),
        pytest.param(
            _set_arg("Deployment", "--target", "http://x:1"), "master's target", id="other-target"
        ),
        pytest.param(_set_arg("Job", "--scenario", "nope"), "refuses", id="unknown-scenario"),
        pytest.param(_set_arg("Job", "--target", "ftp://gw"), "not an http", id="not-http"),
        pytest.param(_unknown_flag, "refuses", id="unknown-flag"),
        pytest.param(_replicas, "--expect-workers", id="replicas-not-expected"),
        pytest.param(_literal_token, "literal value", id="literal-token"),
        pytest.param(_node_port, "unauthenticated", id="node-port"),
        pytest.param(_retried, "backoffLimit", id="job-retried"),
        pytest.param(_results_in_the_pod, "outlive", id="results-in-emptydir"),
    ],
)
def test_each_check_catches_its_mistake(
    change: Callable[[Manifest], None], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited manifest with one mistake fails the checks (the checks are not vacuous)."""
    with pytest.raises((AssertionError, UsageError), match=message):
        check_manifest(edit(change), monkeypatch)

"""Drive the amlctl emulator with the published Python SDK (azure-mgmt-machinelearningservices).

Usage: sdk_conformance.py BASE_URL [--token TOKEN | --identity-header SECRET]

Runs create (LRO), get, list, update (PATCH, LRO) and delete (LRO) of an AmlCompute cluster in
workspace my-ws of resource group my-rg, subscription 00000000-0000-0000-0000-000000000000
(the emulator must know that workspace, e.g. from a fixture). The credential either returns the
static --token (start the emulator with --accepted-token TOKEN) or fetches one from the
emulator's App Service style managed-identity endpoint /msi/token with --identity-header.
Exits non-zero on the first failure.
"""
import argparse
import json
import sys
import time
import urllib.request

from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices import models as m

SUB = "00000000-0000-0000-0000-000000000000"
RG = "my-rg"
WS = "my-ws"
NO_TLS = {"enforce_https": False}  # bearer policy needs this per operation for http://


class StaticCredential:
    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


class EmulatorMsiCredential:
    """Fetches tokens from the emulator's /msi/token (App Service managed identity protocol)."""

    def __init__(self, base, secret):
        self.base = base.rstrip("/")
        self.secret = secret

    def get_token(self, *scopes, **kwargs):
        resource = scopes[0][: -len("/.default")] if scopes and scopes[0].endswith("/.default") else (scopes[0] if scopes else "https://management.azure.com")
        url = f"{self.base}/msi/token?api-version=2019-08-01&resource={urllib.request.quote(resource, safe='')}"
        req = urllib.request.Request(url, headers={"X-IDENTITY-HEADER": self.secret})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = json.loads(r.read())
        return AccessToken(body["access_token"], int(body["expires_on"]))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok   {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("--token", default="sdk-conformance-token")
    ap.add_argument("--identity-header")
    args = ap.parse_args()
    cred = EmulatorMsiCredential(args.base_url, args.identity_header) if args.identity_header else StaticCredential(args.token)
    client = MachineLearningServicesMgmtClient(
        credential=cred, subscription_id=SUB, base_url=args.base_url, retry_total=0, polling_interval=0.2
    )
    ops = client.machine_learning_compute
    body = m.ComputeResource(
        location="eastus",
        tags={"env": "dev"},
        identity=m.Identity(type="SystemAssigned"),
        properties=m.AmlCompute(
            description="cpu cluster",
            properties=m.AmlComputeProperties(
                vm_size="STANDARD_DS3_V2",
                vm_priority="LowPriority",
                scale_settings=m.ScaleSettings(max_node_count=4, min_node_count=0, node_idle_time_before_scale_down="PT2M"),
                remote_login_port_public_access="Disabled",
            ),
        ),
    )

    created = ops.begin_create_or_update(RG, WS, "cpu-cluster", body, **NO_TLS).result()
    check(created.properties.provisioning_state == "Succeeded", "create (LRO) ends Succeeded")
    ops.begin_create_or_update(RG, WS, "cpu-cluster-2", body, **NO_TLS).result()

    got = ops.get(RG, WS, "cpu-cluster", **NO_TLS)
    check(got.name == "cpu-cluster", "get returns the compute")
    check(got.properties.compute_type == "AmlCompute", "get: computeType AmlCompute")
    check(got.properties.properties.vm_size.lower() == "standard_ds3_v2", "get: vmSize kept")
    check(got.properties.properties.scale_settings.max_node_count == 4, "get: maxNodeCount 4")
    check(got.tags == {"env": "dev"}, "get: tags kept")
    check(got.identity.principal_id is not None, "get: system-assigned identity filled in")

    names = sorted(c.name for c in ops.list_by_workspace(RG, WS, **NO_TLS))
    check(names == ["cpu-cluster", "cpu-cluster-2"], f"list returns both computes ({names})")

    updated = ops.begin_update(
        RG, WS, "cpu-cluster",
        m.ClusterUpdateParameters(scale_settings=m.ScaleSettings(max_node_count=8, min_node_count=1)),
        **NO_TLS,
    ).result()
    check(updated.properties.provisioning_state == "Succeeded", "update (PATCH LRO) ends Succeeded")
    got = ops.get(RG, WS, "cpu-cluster", **NO_TLS)
    check(got.properties.properties.scale_settings.max_node_count == 8, "update: maxNodeCount now 8")
    check(got.properties.properties.scale_settings.min_node_count == 1, "update: minNodeCount now 1")

    for name in ["cpu-cluster", "cpu-cluster-2"]:
        ops.begin_delete(RG, WS, name, underlying_resource_action="Delete", **NO_TLS).result()
        try:
            ops.get(RG, WS, name, **NO_TLS)
            check(False, f"delete (LRO): {name} gone")
        except ResourceNotFoundError:
            check(True, f"delete (LRO): {name} gone")
    names = [c.name for c in ops.list_by_workspace(RG, WS, **NO_TLS)]
    check(names == [], "list is empty after deletes")
    print("sdk conformance: all operations passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # any failure → non-zero exit
        print(f"FAIL {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)

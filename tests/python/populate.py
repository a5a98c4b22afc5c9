"""Populate a workspace in the amlctl emulator with the published Python SDK, i.e. outside amlctl.

Usage: populate.py BASE_URL --token TOKEN

Creates, in workspace my-rg/my-ws: a low-priority cluster with tags and a system identity, a
compute instance, an attached VM (password credentials) and an attached Data Lake Analytics
account. The underlying resources must exist in the emulator's fixture. Used by export_e2e.sh:
`amlctl export` must then write manifests that plan clean.
"""
import argparse
import sys
import time

from azure.core.credentials import AccessToken
from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
from azure.mgmt.machinelearningservices import models as m

SUB = "00000000-0000-0000-0000-000000000000"
RG = "my-rg"
WS = "my-ws"
NO_TLS = {"enforce_https": False}
VM_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/legacy-vm"
ADLA_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DataLakeAnalytics/accounts/legacyadla"


class StaticCredential:
    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base_url")
    ap.add_argument("--token", required=True)
    args = ap.parse_args()
    client = MachineLearningServicesMgmtClient(
        credential=StaticCredential(args.token), subscription_id=SUB, base_url=args.base_url,
        retry_total=0, polling_interval=0.1,
    )
    ops = client.machine_learning_compute
    bodies = {
        "legacy-cluster": m.ComputeResource(
            location="eastus",
            tags={"team": "data-science", "cost-center": "42"},
            identity=m.Identity(type="SystemAssigned"),
            properties=m.AmlCompute(
                description="made by hand, years ago",
                properties=m.AmlComputeProperties(
                    vm_size="Standard_D2_v3",
                    vm_priority="LowPriority",
                    scale_settings=m.ScaleSettings(max_node_count=3, min_node_count=0,
                                                   node_idle_time_before_scale_down="PT300S"),
                    remote_login_port_public_access="Disabled",
                ),
            ),
        ),
        "legacy-ci": m.ComputeResource(
            location="eastus",
            properties=m.ComputeInstance(
                properties=m.ComputeInstanceProperties(vm_size="STANDARD_DS3_V2"),
            ),
        ),
        "legacy-vm": m.ComputeResource(
            location="eastus",
            properties=m.VirtualMachine(
                resource_id=VM_ID,
                properties=m.VirtualMachineProperties(
                    ssh_port=22,
                    administrator_account=m.VirtualMachineSshCredentials(username="azureuser", password="Legacy-Passw0rd-xyz"),
                ),
            ),
        ),
        "legacy-adla": m.ComputeResource(
            location="eastus",
            properties=m.DataLakeAnalytics(resource_id=ADLA_ID),
        ),
    }
    for name, body in bodies.items():
        got = ops.begin_create_or_update(RG, WS, name, body, **NO_TLS).result()
        print(f"created {name}: {got.properties.provisioning_state}")
        if got.properties.provisioning_state != "Succeeded":
            sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(f"FAIL {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)

//! The built-in VM size table: each well-known size with its quota family, vCPUs, GPUs and the
//! compute types it supports, in the shape of the service's `vmSizes` answer
//! (`VirtualMachineSize` in `machineLearningServices.json`, 2025-12-01).

/// vCPU limit of a quota the fixture does not set (large enough never to bind in tests).
pub const DEFAULT_LIMIT: u64 = 1_000_000;

/// One VM size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmSize {
    /// Size name as the service spells it.
    pub name: &'static str,
    /// Quota family (the `name.value` of its usage).
    pub family: &'static str,
    /// vCPUs per node.
    pub vcpus: u64,
    /// GPUs per node.
    pub gpus: u64,
    /// Whether the size may be used by compute instances (every size serves `AmlCompute`).
    pub compute_instance: bool,
}

const fn s(name: &'static str, family: &'static str, vcpus: u64, gpus: u64) -> VmSize {
    VmSize {
        name,
        family,
        vcpus,
        gpus,
        compute_instance: true,
    }
}

/// The table (vCPU and GPU counts as Azure documents them for each size).
pub const TABLE: &[VmSize] = &[
    s("Standard_D1_v2", "standardDv2Family", 1, 0),
    s("Standard_D2_v2", "standardDv2Family", 2, 0),
    s("Standard_D3_v2", "standardDv2Family", 4, 0),
    s("Standard_D4_v2", "standardDv2Family", 8, 0),
    s("Standard_D11_v2", "standardDv2Family", 2, 0),
    s("Standard_DS1_v2", "standardDSv2Family", 1, 0),
    s("Standard_DS2_v2", "standardDSv2Family", 2, 0),
    s("Standard_DS3_v2", "standardDSv2Family", 4, 0),
    s("Standard_DS4_v2", "standardDSv2Family", 8, 0),
    s("Standard_DS5_v2", "standardDSv2Family", 16, 0),
    s("Standard_DS11_v2", "standardDSv2Family", 2, 0),
    s("Standard_DS12_v2", "standardDSv2Family", 4, 0),
    s("Standard_D2_v3", "standardDv3Family", 2, 0),
    s("Standard_D4_v3", "standardDv3Family", 4, 0),
    s("Standard_D8_v3", "standardDv3Family", 8, 0),
    s("Standard_D2s_v3", "standardDSv3Family", 2, 0),
    s("Standard_D4s_v3", "standardDSv3Family", 4, 0),
    s("Standard_D8s_v3", "standardDSv3Family", 8, 0),
    s("Standard_E4s_v3", "standardESv3Family", 4, 0),
    s("Standard_E8s_v3", "standardESv3Family", 8, 0),
    s("Standard_E16s_v3", "standardESv3Family", 16, 0),
    s("Standard_F4s_v2", "standardFSv2Family", 4, 0),
    s("Standard_F8s_v2", "standardFSv2Family", 8, 0),
    s("Standard_NC6", "standardNCFamily", 6, 1),
    s("Standard_NC12", "standardNCFamily", 12, 2),
    s("Standard_NC24", "standardNCFamily", 24, 4),
    s("Standard_NC6s_v3", "standardNCSv3Family", 6, 1),
    s("Standard_NC12s_v3", "standardNCSv3Family", 12, 2),
    s("Standard_NC24s_v3", "standardNCSv3Family", 24, 4),
    s("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", 4, 1),
    s(
        "Standard_NC24ads_A100_v4",
        "standardNCADSA100v4Family",
        24,
        1,
    ),
    VmSize {
        name: "Standard_ND40rs_v2",
        family: "standardNDSv2Family",
        vcpus: 40,
        gpus: 8,
        compute_instance: false,
    },
];

/// The size of that name (case-insensitive).
pub fn find(name: &str) -> Option<&'static VmSize> {
    TABLE.iter().find(|v| v.name.eq_ignore_ascii_case(name))
}

impl VmSize {
    /// The `VirtualMachineSize` body of the `vmSizes` answer.
    pub fn to_json(&self) -> serde_json::Value {
        let mut types = vec!["AmlCompute"];
        if self.compute_instance {
            types.push("ComputeInstance");
        }
        serde_json::json!({
            "name": self.name,
            "family": self.family,
            "vCPUs": self.vcpus,
            "gpus": self.gpus,
            "osVhdSizeMB": 1_047_552,
            "maxResourceVolumeMB": self.vcpus * 7 * 1024,
            "memoryGB": (self.vcpus * 7) as f64 / 2.0,
            "lowPriorityCapable": true,
            "premiumIO": true,
            "supportedComputeTypes": types,
        })
    }
}

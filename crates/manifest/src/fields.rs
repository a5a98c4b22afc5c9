//! The manifest key table: one entry per key of each compute type.
//!
//! This table is the single source of truth for validation (unknown keys, types, enum values),
//! for how values compare ([`ValueKind`], read by the planner's normalisation), for the
//! service's documented defaults and what GET returns ([`ServiceDefault`], [`OnGet`]),
//! for each key's update policy with why and its source ([`Update`], read by the planner's
//! `policy_for`; nothing guesses a policy from a key's name),
//! for the JSON Schema ([`crate::compute_schema`]) and for `docs/manifest-reference.md`.

use crate::model::ComputeType;
use amlctl_vocab::KeyPath;

/// How a value is checked and canonicalised.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string.
    Str,
    /// An integer in `[min, max]`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value (the service's limit; where the API states none, an assumed one
        /// noted beside the key and in docs/manifest-reference.md).
        max: i64,
    },
    /// A boolean.
    Bool,
    /// One of a fixed set (canonical spelling listed). `camel`: CamelCase input is converted to
    /// snake_case first (azure-ai-ml does this for `identity.type` only); otherwise the input is
    /// only lower-cased.
    Enum {
        /// Canonical values.
        values: &'static [&'static str],
        /// Accept `SystemAssigned` for `system_assigned`.
        camel: bool,
    },
    /// A secret: `{env: NAME}`, `{file: path}`, `{key_vault: URL}` or a literal string.
    Secret,
    /// A path to a file whose contents are the secret (`ssh_private_key_file`); also accepts the
    /// reference forms of [`Kind::Secret`].
    SecretFile,
    /// A map of string to string (`tags`).
    StrMap,
    /// A free-form map (kubernetes `properties`): values are strings, numbers or booleans; keys
    /// ending in `ConnectionString`, `Key`, `Secret`, `Token` or `Password` are secrets.
    FreeMap,
    /// A nested object.
    Obj(&'static [Field]),
    /// A list of objects.
    ObjList(&'static [Field]),
    /// A list of integers in `[min, max]`.
    IntList {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A list of enum values.
    EnumList(&'static [&'static str]),
    /// A map of string to scalar (environment variables).
    EnvMap,
}

/// What a key's values are, for comparison: how two spellings of one value are recognised as
/// the same (the planner's normalisation reads this; nothing guesses it from the key's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Compared exactly (ARM ids and GUIDs inside are still recognised by their shape).
    Text,
    /// An enum value, VM size or region: case-insensitive, ignoring `_`, `-` and spaces; a
    /// comma-separated value is a set (`system_assigned,user_assigned`).
    Word,
    /// An ARM resource id (or a subnet name): case-insensitive, trailing `/` ignored.
    ArmId,
    /// A list of user-assigned identities: a set of ARM ids, order ignored.
    ArmIdSet,
    /// A list of objects whose order the service does not keep: compared as a set (each
    /// desired item matched by a different live item).
    Set,
    /// A duration: whole seconds or ISO-8601 (`minutes`: a bare number counts minutes).
    Duration {
        /// A bare number is minutes rather than seconds.
        minutes: bool,
    },
    /// A secret: never read back, never compared.
    Secret,
    /// A free-form map whose values are kept as written (tags, kubernetes `properties`).
    Free,
}

/// The service's documented default of a key: what an absent or `null` live value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceDefault {
    /// The default in manifest form, as JSON text (`"dedicated"`, `120`, `true`).
    pub value: &'static str,
    /// A manifest value that means "not sent, use the service default" (JSON text), if any
    /// (`idle_time_before_scale_down: 0`).
    pub unset: Option<&'static str>,
    /// Where the default is documented or recorded.
    pub source: &'static str,
}

/// Whether the service returns a key on GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnGet {
    /// No source says; an absent live value cannot be checked.
    Unknown,
    /// Returned on every GET (`null` or the service default when unset).
    Always(&'static str),
    /// Returned whenever it is set; absent means unset.
    WhenSet(&'static str),
    /// Never returned (secrets), or not at every api-version: an absent live value cannot be
    /// checked.
    Never(&'static str),
}

impl OnGet {
    /// The source of the fact (empty for [`OnGet::Unknown`]).
    pub fn source(self) -> &'static str {
        match self {
            OnGet::Unknown => "",
            OnGet::Always(s) | OnGet::WhenSet(s) | OnGet::Never(s) => s,
        }
    }
}

/// How a change to one manifest key can be carried out (the planner reads it from
/// [`Field::update`]; see `amlctl_plan::policy_for`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// In place with a PATCH (`ClusterUpdateParameters`: AmlCompute scale settings only).
    InPlacePatch,
    /// In place with a PUT of the whole body (the service overwrites an existing compute).
    InPlacePut,
    /// Only by deleting (or detaching) and creating (or attaching) again.
    Replace,
    /// Sent at creation only and not read back: never compared; a change needs `--replace`.
    CreateOnly,
    /// A secret: write-only, never read back, never shown; a change needs `--replace`.
    WriteOnlySecret,
    /// Accepted in the manifest but never sent nor compared.
    Ignored,
}

impl Policy {
    /// Short words for this policy (`in place (PATCH)`, `forces replacement`, ...).
    pub fn describe(self) -> &'static str {
        match self {
            Policy::InPlacePatch => "in place (PATCH)",
            Policy::InPlacePut => "in place (PUT)",
            Policy::Replace => "forces replacement",
            Policy::CreateOnly => "create-only (not compared)",
            Policy::WriteOnlySecret => "write-only secret (not compared)",
            Policy::Ignored => "ignored",
        }
    }

    /// True when a difference under this policy is never computed.
    pub fn is_compared(self) -> bool {
        matches!(
            self,
            Policy::InPlacePatch | Policy::InPlacePut | Policy::Replace
        )
    }
}

/// A key's update policy: how a change is carried out, why (for replacements), and the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// The policy.
    pub policy: Policy,
    /// Why, in a few words (used in plan reasons for replacements; empty: no reason given).
    pub why: &'static str,
    /// Where this comes from.
    pub source: &'static str,
}

/// The policy of a key no source documents as changeable in place: replace, the conservative
/// default (a replace is gated). The planner treats it like a key in no row: no reason words.
pub const SAFE_DEFAULT: Update = Update {
    policy: Policy::Replace,
    why: "",
    source: "no source documents an in-place change: replace, the safe default (a replace needs `allow_replace` or `--replace`)",
};

/// One manifest key.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The YAML key.
    pub name: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// Must be written.
    pub required: bool,
    /// One-line description.
    pub doc: &'static str,
    /// Default when omitted (documentation only).
    pub default: &'static str,
    /// ARM field it maps to (documentation only).
    pub arm: &'static str,
    /// How a change to this key is carried out, why, and the source (`None`: as the key above
    /// it; every top-level key has one). Read by the planner (`amlctl_plan::policy_for`).
    pub update: Option<Update>,
    /// Policies of keys below this one that have no row of their own (a free-form map's secret
    /// keys), relative to this key.
    pub below: &'static [(&'static str, Update)],
    /// How values compare (derived from [`Field::kind`] unless the row says otherwise).
    pub value: ValueKind,
    /// The service's documented default, with its source.
    pub service_default: Option<ServiceDefault>,
    /// Whether the service returns the key on GET, with the source.
    pub on_get: OnGet,
    /// The api-versions that define the key, when not every version amlctl sends does
    /// (`None`: all of them); see [`api_version_for`].
    pub api_versions: Option<ApiVersions>,
    /// A secret that re-creating the compute needs and GET never returns: `amlctl export`
    /// writes an `{ env: … }` placeholder for it.
    pub export_placeholder: bool,
}

/// The api-versions that define a key, with the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersions {
    /// The versions (stable and preview), newest first.
    pub versions: &'static [&'static str],
    /// Where this comes from.
    pub source: &'static str,
}

/// The comparison kind a syntactic kind implies (a row may say more, e.g. [`ValueKind::ArmId`]).
const fn value_of(kind: Kind) -> ValueKind {
    match kind {
        Kind::Enum { .. } | Kind::EnumList(_) => ValueKind::Word,
        Kind::Secret | Kind::SecretFile => ValueKind::Secret,
        Kind::StrMap | Kind::FreeMap | Kind::EnvMap => ValueKind::Free,
        _ => ValueKind::Text,
    }
}

impl Field {
    /// The same row with comparison kind `v`.
    const fn vk(mut self, v: ValueKind) -> Field {
        self.value = v;
        self
    }

    /// The same row with a documented service default (`value`: JSON text in manifest form).
    const fn sdef(mut self, value: &'static str, source: &'static str) -> Field {
        self.service_default = Some(ServiceDefault {
            value,
            unset: None,
            source,
        });
        self
    }

    /// The same row with a default and the manifest value that means "not sent".
    const fn sdef_unset(
        mut self,
        value: &'static str,
        unset: &'static str,
        source: &'static str,
    ) -> Field {
        self.service_default = Some(ServiceDefault {
            value,
            unset: Some(unset),
            source,
        });
        self
    }

    /// The same row with what GET returns.
    const fn get(mut self, on_get: OnGet) -> Field {
        self.on_get = on_get;
        self
    }

    /// The same row, exported as an `{ env: … }` placeholder.
    const fn placeholder(mut self) -> Field {
        self.export_placeholder = true;
        self
    }

    /// The same row with its own update policy (a nested key that differs from its parent).
    const fn upd(mut self, update: Update) -> Field {
        self.update = Some(update);
        self
    }

    /// The same row with policies for keys below it that have no row of their own.
    const fn below(mut self, below: &'static [(&'static str, Update)]) -> Field {
        self.below = below;
        self
    }

    /// The same row, defined only at `versions`.
    const fn only_at(mut self, versions: &'static [&'static str], source: &'static str) -> Field {
        self.api_versions = Some(ApiVersions { versions, source });
        self
    }
}

const fn f(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        name,
        kind,
        required: false,
        doc,
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: value_of(kind),
        service_default: None,
        on_get: OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    }
}

const fn fa(
    name: &'static str,
    kind: Kind,
    doc: &'static str,
    default: &'static str,
    arm: &'static str,
    update: Update,
) -> Field {
    Field {
        name,
        kind,
        required: false,
        doc,
        default,
        arm,
        update: Some(update),
        below: &[],
        value: value_of(kind),
        service_default: None,
        on_get: OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    }
}

const fn req(mut fl: Field) -> Field {
    fl.required = true;
    fl
}

// Update policies, each citing its source (moved verbatim from the planner's former table).
const SRC_P_PATCH: &str = "spec 2025-12-01 `Compute_Update`: the PATCH body `ClusterUpdateParameters` holds AmlCompute `scaleSettings` only";
const SRC_P_PUT: &str = "spec 2025-12-01 `Compute_CreateOrUpdate`: a PUT on an existing name overwrites the compute (examples \"Update a AML Compute\", \"Update an AKS Compute\"); top-level `tags`, `identity` and `properties.description` carry no x-ms-mutability restriction";
const SRC_P_CREATE: &str = "spec 2025-12-01: `Compute.computeLocation` is x-ms-mutability [read, create]; terraform azurerm `location` is ForceNew";
const SRC_P_TF_CLUSTER: &str = "terraform azurerm `machine_learning_compute_cluster`: ForceNew (its Update covers identity, scale settings and tags only, since provider PRs #26404 and #29878); the service refuses the change on an existing cluster";
const SRC_P_REMOTE_LOGIN: &str = "spec 2025-12-01 `remoteLoginPortPublicAccess`: \"can be default only during cluster creation time\"; terraform azurerm `ssh_public_access_enabled` ForceNew";
const SRC_P_CI: &str = "service: compute instance settings are fixed at creation; terraform azurerm `machine_learning_compute_instance`: every argument ForceNew";
const SRC_P_CI_PUT: &str = "issue #14 rule 4: the service refuses a PUT that changes an existing compute instance (400 UserError); no recording shows a compute instance updated by PUT (arm-recordings: every CI PUT is a create), and the only CI actions at the chosen api-version are start/stop/restart (spec 2025-12-01; `updateSchedules`/`updateIdleShutdownSetting` are not in stable and never recorded); terraform azurerm `machine_learning_compute_instance`: every argument ForceNew, tags included";
const SRC_P_CI_SCHED: &str = "as above; the earlier in-place policy cited only the emulator (spec 2025-12-01 has no schedule update action; `updateSchedules` is not recorded anywhere)";
const SRC_P_ATTACH_ENVELOPE: &str = "issue #14 rule 5: a change to an attachment is a detach and re-attach (no recording shows an attachment updated; terraform azurerm's attach resources are ForceNew); detaching breaks jobs and online deployments that name the compute until it is attached again";
const SRC_P_AKS_PUT_REJECTED: &str = "issue #14 rule 5 (properties of an attachment change by detach and re-attach); spec 2025-12-01 example \"Update an AKS Compute\" shows a PUT with a new `agentCount`, but no recording confirms the service accepts it";
const SRC_P_SECRET: &str = "spec 2025-12-01: x-ms-secret, never returned by GET (\"Any secrets … are not returned\"); a new value needs `--replace`";
const SRC_P_SECRET_PRACTICE: &str = "spec 2025-12-01: secret in practice (not returned by GET, listed by `listKeys`); a new value needs `--replace`";
const SRC_P_IGNORED: &str =
    "azure-ai-ml 1.35.2 `AmlCompute._to_rest_object`: `resource_id` is accepted but never sent";
const SRC_P_RESOURCE: &str = "service: an attachment cannot point at another resource (`properties.resourceId` is fixed; the emulator refuses it); detach and attach again";
const SRC_P_ATTACH_FIXED: &str = "conservative: `az ml compute update` changes only identity and tags of an attachment, terraform azurerm's attach resources are ForceNew; detach and attach again (harmless to the attached resource, still gated)";
const SRC_P_OS_IMAGE: &str = "spec 2025-12-01 AmlCompute `osType` (Linux default, Windows) and `virtualMachineImage` (\"Virtual Machine image for Windows AML Compute\"); conservative: no source documents changing either on an existing cluster, and the PATCH body holds scale settings only";
const SRC_P_TF_DLA: &str = "conservative: no source documents an in-place change; replace (detach and attach again) is the safe default";
const SRC_P_TF_AKS: &str = "terraform azurerm `machine_learning_inference_cluster`: ForceNew";

const U_PUT: Update = Update {
    policy: Policy::InPlacePut,
    why: "",
    source: SRC_P_PUT,
};
const U_PATCH: Update = Update {
    policy: Policy::InPlacePatch,
    why: "",
    source: SRC_P_PATCH,
};
const U_LOCATION: Update = Update {
    policy: Policy::Replace,
    why: "the location of a compute is fixed at creation",
    source: SRC_P_CREATE,
};
const U_CI_ENVELOPE: Update = Update {
    policy: Policy::Replace,
    why: "compute instances are not updated by PUT",
    source: SRC_P_CI_PUT,
};
const U_ATTACH_ENVELOPE: Update = Update {
    policy: Policy::Replace,
    why: "an attachment changes only by detach and re-attach",
    source: SRC_P_ATTACH_ENVELOPE,
};
const U_SECRET: Update = Update {
    policy: Policy::WriteOnlySecret,
    why: "",
    source: SRC_P_SECRET,
};
const U_SECRET_PRACTICE: Update = Update {
    policy: Policy::WriteOnlySecret,
    why: "",
    source: SRC_P_SECRET_PRACTICE,
};
const U_AML_SIZE: Update = Update {
    policy: Policy::Replace,
    why: "the VM size of a cluster cannot change",
    source: SRC_P_TF_CLUSTER,
};
const U_AML_TIER: Update = Update {
    policy: Policy::Replace,
    why: "the VM priority of a cluster cannot change",
    source: SRC_P_TF_CLUSTER,
};
const U_AML_NETWORK: Update = Update {
    policy: Policy::Replace,
    why: "a cluster cannot move to another subnet",
    source: SRC_P_TF_CLUSTER,
};
const U_AML_NODE_IP: Update = Update {
    policy: Policy::Replace,
    why: "node public IPs are fixed at creation",
    source: SRC_P_TF_CLUSTER,
};
const U_AML_REMOTE_LOGIN: Update = Update {
    policy: Policy::Replace,
    why: "SSH public access is fixed at creation",
    source: SRC_P_REMOTE_LOGIN,
};
const U_AML_SSH: Update = Update {
    policy: Policy::Replace,
    why: "the administrator account of a cluster is fixed at creation",
    source: SRC_P_TF_CLUSTER,
};
const U_AML_OS: Update = Update {
    policy: Policy::Replace,
    why: "the operating system of a cluster is fixed at creation",
    source: SRC_P_OS_IMAGE,
};
const U_AML_IMAGE: Update = Update {
    policy: Policy::Replace,
    why: "the node image of a cluster is fixed at creation",
    source: SRC_P_OS_IMAGE,
};
const U_IGNORED: Update = Update {
    policy: Policy::Ignored,
    why: "",
    source: SRC_P_IGNORED,
};
const U_CI_SCHED: Update = Update {
    policy: Policy::Replace,
    why: "compute instances are not updated by PUT",
    source: SRC_P_CI_SCHED,
};
const U_CI_SIZE: Update = Update {
    policy: Policy::Replace,
    why: "compute instances cannot be resized",
    source: SRC_P_CI,
};
const U_CI_NETWORK: Update = Update {
    policy: Policy::Replace,
    why: "a compute instance cannot move to another subnet",
    source: SRC_P_CI,
};
const U_CI_ON_BEHALF: Update = Update {
    policy: Policy::Replace,
    why: "the assigned user of a compute instance is fixed at creation",
    source: SRC_P_CI,
};
const U_CI_SETUP: Update = Update {
    policy: Policy::Replace,
    why: "setup scripts run only when an instance is created",
    source: SRC_P_CI,
};
const U_CI_FIXED: Update = Update {
    policy: Policy::Replace,
    why: "compute instance settings are fixed at creation",
    source: SRC_P_CI,
};
const U_ATTACH_RESOURCE: Update = Update {
    policy: Policy::Replace,
    why: "an attachment cannot point at another resource",
    source: SRC_P_RESOURCE,
};
const U_ATTACH_SSH: Update = Update {
    policy: Policy::Replace,
    why: "the connection settings of an attachment are fixed",
    source: SRC_P_ATTACH_FIXED,
};
const U_K8S_NAMESPACE: Update = Update {
    policy: Policy::Replace,
    why: "the namespace of an attachment is fixed",
    source: SRC_P_ATTACH_FIXED,
};
const U_ATTACH_SETTINGS: Update = Update {
    policy: Policy::Replace,
    why: "the settings of an attachment are fixed",
    source: SRC_P_ATTACH_FIXED,
};
const U_AKS_AGENT_COUNT: Update = Update {
    policy: Policy::Replace,
    why: "an attachment changes only by detach and re-attach",
    source: SRC_P_AKS_PUT_REJECTED,
};
const U_AKS_VM_SIZE: Update = Update {
    policy: Policy::Replace,
    why: "the node size of an AKS cluster is fixed",
    source: SRC_P_TF_AKS,
};
const U_DLA_STORE: Update = Update {
    policy: Policy::Replace,
    why: "the default Data Lake Store of an attachment is fixed",
    source: SRC_P_TF_DLA,
};

// Sources of the facts below (only facts with a source; a key without one stays unknown).
const SRC_GET_DESCRIPTION: &str =
    "arm-recordings: every GET carries `properties.description` (`null` when unset)";
const SRC_GET_LOCATION: &str =
    "arm-recordings: every GET carries `location`, the compute's own region";
const SRC_GET_IDENTITY: &str =
    "arm-recordings: `identity` comes back whenever one is set (cli-ml-compute_aml [7])";
const SRC_IDENTITY_NONE: &str = "spec 2025-12-01 `ManagedServiceIdentity.type` `None`; arm-recordings: no `identity` on GET when none was set (cli-ml-compute_aml [2])";
const SRC_AML_GET_DEFAULTS: &str = "arm-recordings cli-ml-compute_aml-2023-01 [0] vs [2], ps-New-AzMLWorkspaceCompute-2025-11 [0] vs [2]: not sent, the GET shows the service default";
const SRC_AML_GET: &str =
    "arm-recordings: every AmlCompute GET carries it (cli-ml-compute_aml [2], ps-New [2])";
const SRC_SPEC_OS: &str = "spec 2025-12-01 `AmlComputeProperties.osType` default `Linux`";
const SRC_SPEC_NODE_IP: &str =
    "spec 2025-12-01 `AmlComputeProperties.enableNodePublicIp` default `true`";
const SRC_NODE_IP_GET: &str = "arm-recordings: GET carries it (ps-New [2]); clusters older than the field lack it (cli-ml-compute_list_type [0])";
const SRC_REMOTE_LOGIN_DEFAULT: &str = "spec 2025-12-01 `remoteLoginPortPublicAccess` default `NotSpecified`; arm-recordings cli-ml-compute_aml [0] vs [2], ps-New [0] vs [2]: `NotSpecified` reads back `Enabled`";
const SRC_CI_SSH_DEFAULT: &str =
    "spec 2025-12-01 `ComputeInstanceSshSettings.sshPublicAccess` default `Disabled`";
const SRC_CI_SSH_GET: &str = "arm-recordings: a Running instance's GET carries `sshSettings.sshPublicAccess` (py-aiml-ci_stop_start_restart [11])";
const SRC_K8S_NAMESPACE: &str =
    "spec 2025-12-01 `KubernetesProperties.namespace` default `default`";

const SRC_CI_FLAGS: &str = "arm-recordings README \"Flags\" (2022-10-01-preview: none; 2023-08-01-preview: all; 2024-04-01: all but `enableRootAccess`); spec 2025-12-01 and 2026-09-01 `ComputeInstanceProperties` (2025-12-01: none; 2026-09-01: `enableSSO`, `idleTimeBeforeShutdown`)";
const V_IDLE_SHUTDOWN: &[&str] = &[
    "2026-09-01",
    "2024-04-01",
    "2023-08-01-preview",
    "2022-10-01-preview",
];
const V_SSO: &[&str] = &["2026-09-01", "2024-04-01", "2023-08-01-preview"];
const V_PATCHING_QUOTA: &[&str] = &["2024-04-01", "2023-08-01-preview"];
const V_ROOT: &[&str] = &["2023-08-01-preview"];

/// `identity.type` values.
pub const IDENTITY_TYPES: &[&str] = &[
    "system_assigned",
    "user_assigned",
    "none",
    "system_assigned,user_assigned",
];

const UAI: &[Field] = &[req(f(
    "resource_id",
    Kind::Str,
    "ARM id of a user-assigned identity",
))
.vk(ValueKind::ArmId)];

const IDENTITY: &[Field] = &[
    req(f(
        "type",
        Kind::Enum {
            values: IDENTITY_TYPES,
            camel: true,
        },
        "identity type",
    ))
    .sdef("\"none\"", SRC_IDENTITY_NONE),
    f(
        "user_assigned_identities",
        Kind::ObjList(UAI),
        "user-assigned identities",
    )
    .vk(ValueKind::ArmIdSet),
];

const DESCRIPTION: Field = fa(
    "description",
    Kind::Str,
    "free text",
    "",
    "properties.description",
    U_PUT,
)
.get(OnGet::Always(SRC_GET_DESCRIPTION));
const LOCATION: Field = fa(
    "location",
    Kind::Str,
    "Azure region (default: the workspace's)",
    "workspace location",
    "location",
    U_LOCATION,
)
.vk(ValueKind::Word)
.get(OnGet::Always(SRC_GET_LOCATION));
/// `location` of every type but `amlcompute`: the workspace's region, nothing else (issue #14
/// rule 6; `amlctl validate` refuses another region).
const LOCATION_WS: Field = Field {
    doc: "Azure region: the workspace's (another region is an error; only clusters may live elsewhere)",
    ..LOCATION
};
const TAGS: Field = fa("tags", Kind::StrMap, "resource tags", "", "tags", U_PUT);
const IDENTITY_F: Field = fa(
    "identity",
    Kind::Obj(IDENTITY),
    "managed identity",
    "",
    "identity.type, identity.userAssignedIdentities",
    U_PUT,
)
.get(OnGet::WhenSet(SRC_GET_IDENTITY));

/// `description`, `tags`, `identity` of a compute instance: a change replaces (a compute
/// instance is not updated by PUT).
const DESCRIPTION_CI: Field = DESCRIPTION.upd(U_CI_ENVELOPE);
const TAGS_CI: Field = TAGS.upd(U_CI_ENVELOPE);
const IDENTITY_CI: Field = IDENTITY_F.upd(U_CI_ENVELOPE);
/// `description`, `tags`, `identity` of an attachment: a change is a detach and re-attach.
const DESCRIPTION_R: Field = DESCRIPTION.upd(U_ATTACH_ENVELOPE);
const TAGS_R: Field = TAGS.upd(U_ATTACH_ENVELOPE);
const IDENTITY_R: Field = IDENTITY_F.upd(U_ATTACH_ENVELOPE);

const NETWORK: &[Field] = &[
    f(
        "vnet_name",
        Kind::Str,
        "virtual network name (in the workspace's resource group)",
    ),
    f(
        "subnet",
        Kind::Str,
        "subnet name (with vnet_name) or full subnet ARM id",
    )
    .vk(ValueKind::ArmId),
];

const AML_SSH: &[Field] = &[
    f("admin_username", Kind::Str, "admin user name"),
    f("admin_password", Kind::Secret, "admin password (secret)").upd(U_SECRET),
    f("ssh_key_value", Kind::Str, "SSH public key").upd(U_SECRET),
];

/// `type: amlcompute`.
pub const AMLCOMPUTE: &[Field] = &[
    fa(
        "size",
        Kind::Str,
        "VM size",
        "STANDARD_DS3_V2",
        "properties.properties.vmSize",
        U_AML_SIZE,
    )
    .vk(ValueKind::Word),
    fa(
        "tier",
        Kind::Enum {
            values: &["dedicated", "low_priority"],
            camel: false,
        },
        "VM priority",
        "(service default: dedicated)",
        "properties.properties.vmPriority",
        U_AML_TIER,
    )
    .sdef("\"dedicated\"", SRC_AML_GET_DEFAULTS)
    .get(OnGet::Always(SRC_AML_GET)),
    fa(
        "min_instances",
        // Assumed limit: the API states none; 10000 nodes is far above any cluster quota.
        Kind::Int {
            min: 0,
            max: 10_000,
        },
        "minimum node count",
        "0",
        "…scaleSettings.minNodeCount",
        U_PATCH,
    ),
    fa(
        "max_instances",
        // Assumed limit: the API states none; 10000 nodes is far above any cluster quota.
        Kind::Int {
            min: 1,
            max: 10_000,
        },
        "maximum node count",
        "4",
        "…scaleSettings.maxNodeCount",
        U_PATCH,
    ),
    fa(
        "idle_time_before_scale_down",
        // Assumed limit: the API states none; at most 7 days (604800 s).
        Kind::Int {
            min: 0,
            max: 604_800,
        },
        "seconds idle before scale down (0: not sent)",
        "120",
        "…scaleSettings.nodeIdleTimeBeforeScaleDown (ISO-8601)",
        U_PATCH,
    )
    .vk(ValueKind::Duration { minutes: false })
    .sdef_unset("120", "0", SRC_AML_GET_DEFAULTS)
    .get(OnGet::Always(SRC_AML_GET)),
    fa(
        "ssh_public_access_enabled",
        Kind::Bool,
        "open the SSH port publicly",
        "(NotSpecified)",
        "…remoteLoginPortPublicAccess",
        U_AML_REMOTE_LOGIN,
    )
    .sdef("true", SRC_REMOTE_LOGIN_DEFAULT)
    .get(OnGet::Always(SRC_AML_GET)),
    fa(
        "ssh_settings",
        Kind::Obj(AML_SSH),
        "admin_username, admin_password (secret), ssh_key_value",
        "",
        "…userAccountCredentials.{adminUserName,adminUserPassword,adminUserSshPublicKey}",
        U_AML_SSH,
    ),
    fa(
        "network_settings",
        Kind::Obj(NETWORK),
        "vnet_name + subnet, or subnet as a full ARM id",
        "",
        "…subnet.id",
        U_AML_NETWORK,
    ),
    fa(
        "enable_node_public_ip",
        Kind::Bool,
        "nodes get public IPs",
        "true",
        "…enableNodePublicIp",
        U_AML_NODE_IP,
    )
    .sdef("true", SRC_SPEC_NODE_IP)
    .get(OnGet::WhenSet(SRC_NODE_IP_GET)),
    fa(
        "os_type",
        Kind::Enum {
            values: &["linux", "windows"],
            camel: false,
        },
        "operating system of the nodes",
        "linux",
        "…osType",
        U_AML_OS,
    )
    .sdef("\"linux\"", SRC_SPEC_OS)
    .get(OnGet::Always(SRC_AML_GET)),
    fa(
        "virtual_machine_image",
        Kind::Str,
        "ARM id of a custom node image",
        "",
        "…virtualMachineImage.id",
        U_AML_IMAGE,
    )
    .vk(ValueKind::ArmId),
    IDENTITY_F,
    DESCRIPTION,
    LOCATION,
    TAGS,
    fa(
        "resource_id",
        Kind::Str,
        "accepted by azure-ai-ml, ignored",
        "",
        "(not sent)",
        U_IGNORED,
    )
    .vk(ValueKind::ArmId),
];

const CI_SSH: &[Field] = &[f("ssh_key_value", Kind::Str, "SSH public key")];

const ON_BEHALF: &[Field] = &[
    req(f(
        "user_tenant_id",
        Kind::Str,
        "tenant id of the assigned user",
    )),
    req(f(
        "user_object_id",
        Kind::Str,
        "object id of the assigned user",
    )),
];

const CRON_OR_RECURRENCE: &[Field] = &[
    req(f(
        "type",
        Kind::Enum {
            values: &["cron", "recurrence"],
            camel: false,
        },
        "trigger type",
    )),
    f("expression", Kind::Str, "NCronTab expression (cron)"),
    f("start_time", Kind::Str, "yyyy-MM-ddTHH:mm:ss"),
    f("time_zone", Kind::Str, "Windows time zone name").vk(ValueKind::Word),
    f(
        "frequency",
        Kind::Enum {
            values: &["minute", "hour", "day", "week", "month"],
            camel: false,
        },
        "recurrence frequency",
    ),
    // Assumed limit: the API states none.
    f(
        "interval",
        Kind::Int { min: 1, max: 1000 },
        "recurrence interval",
    ),
    f(
        "schedule",
        Kind::Obj(RECURRENCE_PATTERN),
        "hours, minutes, week_days",
    ),
];

/// Week days.
pub const WEEK_DAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const RECURRENCE_PATTERN: &[Field] = &[
    f("hours", Kind::IntList { min: 0, max: 23 }, "hours"),
    f("minutes", Kind::IntList { min: 0, max: 59 }, "minutes"),
    f("week_days", Kind::EnumList(WEEK_DAYS), "week days"),
];

const START_STOP: &[Field] = &[
    req(f(
        "action",
        Kind::Enum {
            values: &["start", "stop"],
            camel: false,
        },
        "power action",
    )),
    f(
        "state",
        Kind::Enum {
            values: &["enabled", "disabled"],
            camel: false,
        },
        "schedule state (default enabled)",
    ),
    req(f("trigger", Kind::Obj(CRON_OR_RECURRENCE), "when")),
];

/// The service returns schedules in its own order (arm-recordings
/// cli-ml-compute_instance_with_schedules [1] sent stop, start; [7] returns start, stop).
const SCHEDULES: &[Field] = &[f(
    "compute_start_stop",
    Kind::ObjList(START_STOP),
    "start/stop schedules",
)
.vk(ValueKind::Set)];

const SCRIPT: &[Field] = &[
    req(f("path", Kind::Str, "script path in workspace storage")),
    f("command", Kind::Str, "arguments"),
    f(
        "timeout_minutes",
        // Assumed limit: the API states none; at most a day.
        Kind::Int { min: 1, max: 1440 },
        "timeout in minutes",
    ),
];

const SETUP: &[Field] = &[
    f(
        "creation_script",
        Kind::Obj(SCRIPT),
        "runs once at creation",
    ),
    f("startup_script", Kind::Obj(SCRIPT), "runs at every start"),
];

const IMAGE: &[Field] = &[
    f(
        "type",
        Kind::Enum {
            values: &["docker"],
            camel: false,
        },
        "image type",
    ),
    req(f("reference", Kind::Str, "image reference")),
];

const ENDPOINT: &[Field] = &[
    req(f(
        "target",
        Kind::Int {
            min: 1,
            max: 65_535,
        },
        "container port",
    )),
    req(f(
        "published",
        Kind::Int {
            min: 1026,
            max: 65_535,
        },
        "published port (1025 < p < 65535)",
    )),
];

const BIND: &[Field] = &[
    req(f("source", Kind::Str, "host path")),
    req(f("target", Kind::Str, "container path")),
];

const CUSTOM_APP: &[Field] = &[
    req(f("name", Kind::Str, "application name")),
    f(
        "type",
        Kind::Enum {
            values: &["docker"],
            camel: false,
        },
        "application type",
    ),
    req(f("image", Kind::Obj(IMAGE), "container image")),
    f("endpoints", Kind::ObjList(ENDPOINT), "ports"),
    f("environment_variables", Kind::EnvMap, "environment"),
    f("bind_mounts", Kind::ObjList(BIND), "bind mounts"),
];

/// `type: computeinstance`.
pub const COMPUTEINSTANCE: &[Field] = &[
    fa(
        "size",
        Kind::Str,
        "VM size",
        "STANDARD_DS3_V2",
        "properties.properties.vmSize",
        U_CI_SIZE,
    )
    .vk(ValueKind::Word),
    fa(
        "network_settings",
        Kind::Obj(NETWORK),
        "vnet_name + subnet, or a subnet id",
        "",
        "…subnet.id",
        U_CI_NETWORK,
    ),
    fa(
        "create_on_behalf_of",
        Kind::Obj(ON_BEHALF),
        "assigned user (user_tenant_id, user_object_id)",
        "",
        "…personalComputeInstanceSettings.assignedUser",
        U_CI_ON_BEHALF,
    ),
    fa(
        "ssh_public_access_enabled",
        Kind::Bool,
        "open SSH publicly",
        "false",
        "…sshSettings.sshPublicAccess",
        U_CI_FIXED,
    )
    .sdef("false", SRC_CI_SSH_DEFAULT)
    .get(OnGet::Always(SRC_CI_SSH_GET)),
    fa(
        "ssh_settings",
        Kind::Obj(CI_SSH),
        "ssh_key_value",
        "",
        "…sshSettings.adminPublicKey",
        U_CI_FIXED,
    ),
    fa(
        "idle_time_before_shutdown_minutes",
        // The API: "Minimum is 15 min, maximum is 3 days" (idleTimeBeforeShutdown).
        Kind::Int { min: 15, max: 4320 },
        "idle shutdown, minutes",
        "",
        "…idleTimeBeforeShutdown (PT{n}M)",
        U_CI_FIXED,
    )
    .vk(ValueKind::Duration { minutes: true })
    .only_at(V_IDLE_SHUTDOWN, SRC_CI_FLAGS),
    fa(
        "idle_time_before_shutdown",
        Kind::Str,
        "deprecated ISO-8601 form of the above (canonicalised to minutes)",
        "",
        "…idleTimeBeforeShutdown",
        U_CI_FIXED,
    )
    .vk(ValueKind::Duration { minutes: false })
    .only_at(V_IDLE_SHUTDOWN, SRC_CI_FLAGS),
    fa(
        "schedules",
        Kind::Obj(SCHEDULES),
        "compute_start_stop list",
        "",
        "…schedules.computeStartStop",
        U_CI_SCHED,
    ),
    fa(
        "setup_scripts",
        Kind::Obj(SETUP),
        "creation_script / startup_script {path, command, timeout_minutes}",
        "",
        "…setupScripts.scripts",
        U_CI_SETUP,
    ),
    fa(
        "custom_applications",
        Kind::ObjList(CUSTOM_APP),
        "docker applications",
        "",
        "…customServices",
        U_CI_FIXED,
    ),
    fa(
        "enable_node_public_ip",
        Kind::Bool,
        "public IP",
        "true",
        "…enableNodePublicIp",
        U_CI_FIXED,
    ),
    fa(
        "enable_sso",
        Kind::Bool,
        "single sign-on",
        "true",
        "…enableSSO",
        U_CI_FIXED,
    )
    .only_at(V_SSO, SRC_CI_FLAGS),
    fa(
        "enable_root_access",
        Kind::Bool,
        "root access",
        "true",
        "…enableRootAccess",
        U_CI_FIXED,
    )
    .only_at(V_ROOT, SRC_CI_FLAGS),
    fa(
        "release_quota_on_stop",
        Kind::Bool,
        "release quota when stopped",
        "false",
        "…releaseQuotaOnStop",
        U_CI_FIXED,
    )
    .only_at(V_PATCHING_QUOTA, SRC_CI_FLAGS),
    fa(
        "enable_os_patching",
        Kind::Bool,
        "OS patching",
        "false",
        "…enableOSPatching",
        U_CI_FIXED,
    )
    .only_at(V_PATCHING_QUOTA, SRC_CI_FLAGS),
    IDENTITY_CI,
    DESCRIPTION_CI,
    LOCATION_WS,
    TAGS_CI,
];

const VM_SSH: &[Field] = &[
    req(f("admin_username", Kind::Str, "user name")),
    f("admin_password", Kind::Secret, "password (secret)")
        .placeholder()
        .upd(U_SECRET_PRACTICE),
    f(
        "ssh_port",
        Kind::Int {
            min: 1,
            max: 65_535,
        },
        "SSH port (default 22)",
    ),
    f(
        "ssh_private_key_file",
        Kind::SecretFile,
        "path of the private key file, inside the repository (its contents are the secret)",
    )
    .upd(U_SECRET),
];

const RESOURCE_ID: Field = req(fa(
    "resource_id",
    Kind::Str,
    "ARM id of the resource to attach",
    "",
    "properties.resourceId",
    U_ATTACH_RESOURCE,
))
.vk(ValueKind::ArmId);

/// An attached VM or HDInsight cluster has no `ssh_key_value` key, but the policy names it.
const SSH_ATTACHED_BELOW: &[(&str, Update)] = &[("ssh_key_value", U_SECRET)];

/// `type: virtualmachine`.
pub const VIRTUALMACHINE: &[Field] = &[
    RESOURCE_ID,
    req(fa(
        "ssh_settings",
        Kind::Obj(VM_SSH),
        "admin_username, admin_password | ssh_private_key_file, ssh_port",
        "ssh_port 22",
        "properties.properties.{administratorAccount,sshPort}",
        U_ATTACH_SSH,
    ))
    .below(SSH_ATTACHED_BELOW),
    IDENTITY_R,
    DESCRIPTION_R,
    LOCATION_WS,
    TAGS_R,
];

/// `type: hdinsight`.
pub const HDINSIGHT: &[Field] = &[
    RESOURCE_ID,
    req(fa(
        "ssh_settings",
        Kind::Obj(VM_SSH),
        "admin_username, admin_password | ssh_private_key_file, ssh_port",
        "ssh_port 22",
        "properties.properties.{administratorAccount,sshPort}",
        U_ATTACH_SSH,
    ))
    .below(SSH_ATTACHED_BELOW),
    IDENTITY_R,
    DESCRIPTION_R,
    LOCATION_WS,
    TAGS_R,
];

/// `type: kubernetes`.
pub const KUBERNETES: &[Field] = &[
    RESOURCE_ID,
    fa(
        "namespace",
        Kind::Str,
        "Kubernetes namespace",
        "default",
        "properties.properties.namespace",
        U_K8S_NAMESPACE,
    )
    .sdef("\"default\"", SRC_K8S_NAMESPACE),
    fa(
        "properties",
        Kind::FreeMap,
        "extra properties merged into properties.properties (secret-looking keys take secret refs)",
        "",
        "properties.properties.*",
        U_ATTACH_SETTINGS,
    )
    .below(&[
        ("relayConnectionString", U_SECRET),
        ("serviceBusConnectionString", U_SECRET),
    ]),
    IDENTITY_R,
    DESCRIPTION_R,
    LOCATION_WS,
    TAGS_R,
];

/// `type: synapsespark`.
pub const SYNAPSESPARK: &[Field] = &[RESOURCE_ID, IDENTITY_R, DESCRIPTION_R, LOCATION_WS, TAGS_R];

/// `type: databricks`.
pub const DATABRICKS: &[Field] = &[
    RESOURCE_ID,
    req(fa(
        "access_token",
        Kind::Secret,
        "Databricks access token (secret reference)",
        "",
        "properties.properties.databricksAccessToken",
        U_SECRET_PRACTICE,
    ))
    .placeholder(),
    fa(
        "workspace_url",
        Kind::Str,
        "Databricks workspace URL",
        "",
        "properties.properties.workspaceUrl",
        U_ATTACH_SETTINGS,
    ),
    IDENTITY_R,
    DESCRIPTION_R,
    LOCATION_WS,
    TAGS_R,
];

/// `type: datalakeanalytics`.
pub const DATALAKEANALYTICS: &[Field] = &[
    RESOURCE_ID,
    fa(
        "data_lake_store_account_name",
        Kind::Str,
        "default Data Lake Store account",
        "",
        "properties.properties.dataLakeStoreAccountName",
        U_DLA_STORE,
    ),
    IDENTITY_R,
    DESCRIPTION_R,
    LOCATION_WS,
    TAGS_R,
];

const SSL: &[Field] = &[
    f(
        "status",
        Kind::Enum {
            values: &["disabled", "enabled", "auto"],
            camel: false,
        },
        "SSL status",
    ),
    f("cert", Kind::Secret, "certificate data (secret reference)").upd(U_SECRET),
    f("key", Kind::Secret, "key data (secret reference)").upd(U_SECRET),
    f("cname", Kind::Str, "CNAME of the certificate"),
    f("leaf_domain_label", Kind::Str, "leaf domain label"),
    f(
        "overwrite_existing_domain",
        Kind::Bool,
        "overwrite existing domain label",
    ),
];

/// `type: aks` (legacy inference attach).
pub const AKS: &[Field] = &[
    RESOURCE_ID,
    fa(
        "cluster_fqdn",
        Kind::Str,
        "cluster FQDN",
        "",
        "properties.properties.clusterFqdn",
        SAFE_DEFAULT,
    ),
    fa(
        "agent_count",
        // Assumed limit: AKS allows at most 1000 nodes per cluster.
        Kind::Int { min: 0, max: 1000 },
        "number of agents",
        "",
        "properties.properties.agentCount",
        U_AKS_AGENT_COUNT,
    ),
    fa(
        "agent_vm_size",
        Kind::Str,
        "agent VM size",
        "",
        "properties.properties.agentVmSize",
        U_AKS_VM_SIZE,
    )
    .vk(ValueKind::Word),
    fa(
        "cluster_purpose",
        Kind::Enum {
            values: &["fast_prod", "dense_prod", "dev_test"],
            camel: true,
        },
        "intended usage",
        "(service default: fast_prod)",
        "properties.properties.clusterPurpose",
        SAFE_DEFAULT,
    ),
    fa(
        "ssl",
        Kind::Obj(SSL),
        "scoring SSL configuration",
        "",
        "properties.properties.sslConfiguration",
        SAFE_DEFAULT,
    ),
    fa(
        "load_balancer_type",
        Kind::Enum {
            values: &["public_ip", "internal_load_balancer"],
            camel: true,
        },
        "load balancer type",
        "",
        "properties.properties.loadBalancerType",
        SAFE_DEFAULT,
    ),
    fa(
        "load_balancer_subnet",
        Kind::Str,
        "load balancer subnet",
        "",
        "properties.properties.loadBalancerSubnet",
        SAFE_DEFAULT,
    )
    .vk(ValueKind::ArmId),
    IDENTITY_R,
    DESCRIPTION_R,
    LOCATION_WS,
    TAGS_R,
];

/// `type: datafactory`.
pub const DATAFACTORY: &[Field] = &[RESOURCE_ID, IDENTITY_R, DESCRIPTION_R, LOCATION_WS, TAGS_R];

/// `type: batch` (legacy SDK v1 shape).
pub const BATCH: &[Field] = &[RESOURCE_ID, DESCRIPTION_R, LOCATION_WS, TAGS_R];

/// The key table of a compute type.
pub fn fields_of(t: ComputeType) -> &'static [Field] {
    match t {
        ComputeType::AmlCompute => AMLCOMPUTE,
        ComputeType::ComputeInstance => COMPUTEINSTANCE,
        ComputeType::VirtualMachine => VIRTUALMACHINE,
        ComputeType::Kubernetes => KUBERNETES,
        ComputeType::SynapseSpark => SYNAPSESPARK,
        ComputeType::HdInsight => HDINSIGHT,
        ComputeType::Databricks => DATABRICKS,
        ComputeType::DataLakeAnalytics => DATALAKEANALYTICS,
        ComputeType::Aks => AKS,
        ComputeType::DataFactory => DATAFACTORY,
        ComputeType::Batch => BATCH,
    }
}

/// Keys every manifest may carry besides its type's keys (handled by the loader itself).
pub const ENVELOPE: &[&str] = &[
    "$schema",
    "name",
    "type",
    "workspace",
    "lifecycle",
    "state",
    "acknowledge_legacy",
];

/// `lifecycle:` keys.
pub const LIFECYCLE: &[&str] = &["prevent_destroy", "ignore_changes", "allow_replace"];

/// True for kubernetes `properties` keys that hold secrets.
pub fn is_secret_property(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["connectionstring", "key", "secret", "token", "password"]
        .iter()
        .any(|s| k.ends_with(s))
}

/// The row of a dotted manifest key path (segments) in one type's table: nested objects and
/// lists of objects are descended by key. `None` below a free-form map or for an unknown key.
pub fn field_at(fields: &'static [Field], path: &[&str]) -> Option<&'static Field> {
    let (first, rest) = path.split_first()?;
    let f = fields.iter().find(|f| f.name == *first)?;
    if rest.is_empty() {
        return Some(f);
    }
    match f.kind {
        Kind::Obj(sub) | Kind::ObjList(sub) => field_at(sub, rest),
        _ => None,
    }
}

/// The dotted keys of a type's table marked [`Field::export_placeholder`], in table order.
pub fn export_placeholders(compute_type: ComputeType) -> Vec<String> {
    fn walk(prefix: &KeyPath, fields: &'static [Field], out: &mut Vec<String>) {
        for f in fields {
            let key = prefix.child(f.name);
            if f.export_placeholder {
                out.push(key.to_string());
            }
            if let Kind::Obj(sub) | Kind::ObjList(sub) = f.kind {
                walk(&key, sub, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&KeyPath::default(), fields_of(compute_type), &mut out);
    out
}

/// The row of a key path in any compute type's table (a path's kind is the same in every
/// table that has it; a test checks this).
pub fn any_field_at(path: &[&str]) -> Option<&'static Field> {
    ComputeType::ALL
        .iter()
        .find_map(|t| field_at(fields_of(*t), path))
}

/// How values at a manifest key path compare: the table's [`ValueKind`]; below a free-form map
/// or a key in no table, [`ValueKind::Free`] / [`ValueKind::Text`].
pub fn value_kind_at(path: &[&str]) -> ValueKind {
    if let Some(f) = any_field_at(path) {
        return f.value;
    }
    // Below a map (tags, kubernetes properties, environment variables): values as written.
    for n in (1..path.len()).rev() {
        if let Some(f) = any_field_at(&path[..n]) {
            if f.value == ValueKind::Free {
                return ValueKind::Free;
            }
            break;
        }
    }
    ValueKind::Text
}

/// `Compute` properties that the spec marks `x-ms-mutability: [read, create]` and that
/// `Target::to_arm` derives for a creation (`properties.<name>`): an update keeps their live
/// value, since the service refuses to change them.
pub const CREATE_ONLY_ARM_PROPERTIES: &[(&str, &str)] = &[
    (
        "disableLocalAuth",
        "spec 2025-12-01 `Compute.disableLocalAuth`: x-ms-mutability [read, create]",
    ),
    (
        "computeLocation",
        "spec 2025-12-01 `Compute.computeLocation`: x-ms-mutability [read, create]",
    ),
];

#[cfg(test)]
mod table_tests {
    use super::*;

    fn walk(
        prefix: &mut Vec<&'static str>,
        fields: &'static [Field],
        out: &mut Vec<(String, Field)>,
    ) {
        for f in fields {
            prefix.push(f.name);
            out.push((prefix.join("."), *f));
            if let Kind::Obj(sub) | Kind::ObjList(sub) = f.kind {
                walk(prefix, sub, out);
            }
            prefix.pop();
        }
    }

    #[test]
    fn every_field_row_has_an_update_policy_with_a_source() {
        let mut missing = Vec::new();
        for t in ComputeType::ALL {
            for f in fields_of(t) {
                if f.update.is_none() {
                    missing.push(format!("{t} {}: no update policy", f.name));
                }
            }
            let mut rows = Vec::new();
            walk(&mut Vec::new(), fields_of(t), &mut rows);
            for (path, f) in rows {
                let below = f.below.iter().map(|(k, u)| (format!("{path}.{k}"), *u));
                for (key, u) in f.update.map(|u| (path.clone(), u)).into_iter().chain(below) {
                    if u.source.trim().is_empty() {
                        missing.push(format!("{t} {key}: policy without a source"));
                    }
                    if u.policy == Policy::Replace && u.why.is_empty() && u != SAFE_DEFAULT {
                        missing.push(format!("{t} {key}: replaces without saying why"));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn a_path_has_one_value_kind_in_every_table() {
        let mut seen: std::collections::BTreeMap<String, ValueKind> = Default::default();
        for t in ComputeType::ALL {
            let mut rows = Vec::new();
            walk(&mut Vec::new(), fields_of(t), &mut rows);
            for (path, f) in rows {
                let before = *seen.entry(path.clone()).or_insert(f.value);
                assert_eq!(before, f.value, "{path} has two value kinds");
            }
        }
    }

    #[test]
    fn every_default_parses_and_cites_a_source() {
        for t in ComputeType::ALL {
            let mut rows = Vec::new();
            walk(&mut Vec::new(), fields_of(t), &mut rows);
            for (path, f) in rows {
                if let Some(d) = f.service_default {
                    assert!(!d.source.is_empty(), "{t} {path}");
                    assert!(
                        serde_json::from_str::<serde_json::Value>(d.value).is_ok(),
                        "{t} {path}"
                    );
                    if let Some(u) = d.unset {
                        assert!(
                            serde_json::from_str::<serde_json::Value>(u).is_ok(),
                            "{t} {path}"
                        );
                    }
                }
                if f.on_get != OnGet::Unknown {
                    assert!(!f.on_get.source().is_empty(), "{t} {path}");
                }
            }
        }
    }

    #[test]
    fn the_api_version_follows_the_written_keys() {
        let spec = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let ci = ComputeType::ComputeInstance;
        assert_eq!(
            api_version_for(ci, &spec(serde_json::json!({"size": "x"}))).version,
            "2025-12-01"
        );
        let both =
            spec(serde_json::json!({"idle_time_before_shutdown_minutes": 60, "enable_sso": true}));
        assert_eq!(api_version_for(ci, &both).version, "2026-09-01");
        let patching = spec(serde_json::json!({"enable_sso": true, "enable_os_patching": true}));
        assert_eq!(api_version_for(ci, &patching).version, "2024-04-01");
        let root = api_version_for(ci, &spec(serde_json::json!({"enable_root_access": false})));
        assert_eq!(root.unavailable, vec![("enable_root_access", V_ROOT)]);
        assert_eq!(
            api_version_for(ComputeType::Batch, &spec(serde_json::json!({}))).version,
            "2020-02-02"
        );
    }

    #[test]
    fn export_placeholders_come_from_the_table() {
        assert_eq!(
            export_placeholders(ComputeType::VirtualMachine),
            ["ssh_settings.admin_password"]
        );
        assert_eq!(
            export_placeholders(ComputeType::HdInsight),
            ["ssh_settings.admin_password"]
        );
        assert_eq!(
            export_placeholders(ComputeType::Databricks),
            ["access_token"]
        );
        assert!(export_placeholders(ComputeType::AmlCompute).is_empty());
    }

    #[test]
    fn kinds_come_from_the_table() {
        assert_eq!(
            value_kind_at(&["idle_time_before_scale_down"]),
            ValueKind::Duration { minutes: false }
        );
        assert_eq!(
            value_kind_at(&["idle_time_before_shutdown_minutes"]),
            ValueKind::Duration { minutes: true }
        );
        assert_eq!(
            value_kind_at(&["network_settings", "subnet"]),
            ValueKind::ArmId
        );
        assert_eq!(value_kind_at(&["tier"]), ValueKind::Word);
        assert_eq!(value_kind_at(&["tags", "type"]), ValueKind::Free);
        assert_eq!(value_kind_at(&["properties", "size"]), ValueKind::Free);
        assert_eq!(value_kind_at(&["no_such_key_duration"]), ValueKind::Text);
        assert_eq!(
            value_kind_at(&["schedules", "compute_start_stop", "trigger", "type"]),
            ValueKind::Word
        );
    }
}

/// The api-version a manifest is sent at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiChoice {
    /// The version.
    pub version: &'static str,
    /// Written keys that only some versions define (they decided the version).
    pub limited_by: Vec<&'static str>,
    /// Set when no stable version defines every written key: the keys and the versions
    /// that define each (`amlctl validate` refuses the manifest).
    pub unavailable: Vec<(&'static str, &'static [&'static str])>,
}

/// Issue #14 rule 3: the api-version for a manifest of type `compute_type` whose canonical
/// spec is `spec`: the default [`amlctl_vocab::api_version::COMPUTES`] when it defines every
/// written key, else the newest stable version that does
/// ([`amlctl_vocab::api_version::STABLE_COMPUTES`]). Batch always uses its legacy version.
pub fn api_version_for(
    compute_type: ComputeType,
    spec: &serde_json::Map<String, serde_json::Value>,
) -> ApiChoice {
    use amlctl_vocab::api_version::{BATCH, COMPUTES, STABLE_COMPUTES};
    if compute_type == ComputeType::Batch {
        return ApiChoice {
            version: BATCH,
            limited_by: Vec::new(),
            unavailable: Vec::new(),
        };
    }
    let limits: Vec<(&'static str, &'static [&'static str])> = fields_of(compute_type)
        .iter()
        .filter(|f| spec.get(f.name).is_some_and(|v| !v.is_null()))
        .filter_map(|f| f.api_versions.map(|a| (f.name, a.versions)))
        .collect();
    let stable = STABLE_COMPUTES
        .iter()
        .find(|v| limits.iter().all(|(_, vs)| vs.contains(v)));
    match stable {
        Some(v) => ApiChoice {
            version: v,
            limited_by: limits.iter().map(|(k, _)| *k).collect(),
            unavailable: Vec::new(),
        },
        None => {
            let preview_only: Vec<_> = limits
                .iter()
                .filter(|(_, vs)| !vs.iter().any(|v| STABLE_COMPUTES.contains(v)))
                .copied()
                .collect();
            ApiChoice {
                version: COMPUTES,
                limited_by: limits.iter().map(|(k, _)| *k).collect(),
                unavailable: if preview_only.is_empty() {
                    limits
                } else {
                    preview_only
                },
            }
        }
    }
}

//! The end-to-end tests of `amlctl`: the real binary against `amlctl emulator serve` (and
//! stand-in servers) on 127.0.0.1, one module per area. Run one area with
//! `cargo test -p amlctl-cli --test e2e AREA::` (e.g. `reliability_crash::`).

#[path = "../common/mod.rs"]
mod common;

mod api_version;
mod claims;
mod distribution;
mod drift;
mod e2e_apply;
mod e2e_cli;
mod e2e_plan;
mod emulator_journal;
mod first_hour;
mod key_vault;
mod preflight;
mod preflight_concurrency;
mod real_service_plans;
mod recorded_state;
mod reliability_bad_input;
mod reliability_concurrency;
mod reliability_crash;
mod reliability_faults;
mod reliability_secrets;
mod reliability_transport;
mod sandbox_hygiene;
mod threat_endpoints;
mod threat_output;
mod threat_planfile;
mod threat_secrets;

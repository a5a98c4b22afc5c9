//! Renderers: text (like `terraform plan`), Markdown (pull-request comments, job summaries) and
//! JSON (machines). None of them ever prints a secret value: plans hold only placeholders.
//!
//! Submodules, each importing only from the ones listed before it: `format` (escaping, the
//! rendered line), `values` (the lines of one value change), `entry` (one entry as lines, shared
//! sections), `text`, `markdown` (with chunking), `json`.

mod entry;
mod format;
mod json;
mod markdown;
mod text;
mod values;

pub use format::escape;
pub use json::{JsonEntry, JsonPlan, JsonRequest, json};
pub use markdown::{MARKDOWN_LIMIT, markdown};
pub use text::text;

//! Python semantics over `serde_json::Value`, for the places where
//! upstream's messages, file contents or decisions depend on what Python
//! would print or decide for a YAML-loaded value, plus the md5/sha256
//! digests upstream uses for file names and key fingerprints.
//!
//! API contract (other crates rely on it):
//! - [`py_type`], [`truthy`], [`py_str`], [`py_repr`], [`py_quote`],
//!   [`py_list`], [`float_repr`]: `type(v).__name__`, `bool(v)`, `str(v)`,
//!   `repr(v)`, `repr(str)`, `repr(list_of_str)`, `repr(float)`.
//! - [`is_true`], [`is_true_with`], [`translate_bool`], [`is_false`],
//!   [`cfg_bool`], [`cfg_bool_opt`], [`cfg_str`]: upstream's `util`
//!   boolean helpers; [`loose_bool`] is this project's laxer flag reading.
//! - [`str_list`]: a comma-separated string or a list as strings.
//! - [`splitlines`]: `str.splitlines()`, Python's line boundaries.
//! - [`abspath`]: `os.path.abspath` from `/`.
//! - [`digest`]: `md5`, `sha256`, `hex`.
//! - [`gzip`]: `gzip.decompress`, bounded.
//! - [`pyjson`]: `json.dumps` text byte for byte (indent, key order,
//!   separators, `ensure_ascii`, float `repr`).
//! - [`binary`]: Python `bytes` (what YAML `!!binary` loads to) carried in
//!   a `Value` string; the views above show them as Python does
//!   (`b'...'`, type `bytes`, `b''` false), and [`binary::text`] is the
//!   `isinstance(v, str)` test that bytes do not pass.

pub mod binary;
mod boolean;
pub mod digest;
pub mod gzip;
mod lines;
mod list;
mod path;
pub mod pyjson;
mod value;

pub use boolean::{
    cfg_bool, cfg_bool_opt, cfg_str, is_false, is_true, is_true_with, loose_bool, translate_bool,
};
pub use lines::splitlines;
pub use list::str_list;
pub use path::abspath;
pub use value::{float_repr, py_list, py_quote, py_repr, py_str, py_type, truthy};

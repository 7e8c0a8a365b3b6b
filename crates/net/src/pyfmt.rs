//! Python's `str()` and `repr()` of JSON-like values, and its truthiness.
//!
//! Upstream's renderers format values with `"%s" % value` and
//! `str.format`, so ints, bools and dicts reach the output in Python's
//! spelling (`True`, `{'a': 1}`); matching the files byte for byte means
//! spelling them the same way. The rules live in ci-pyval.

pub use ci_pyval::{is_true, py_repr, py_str, truthy};

//! `cloud-init analyze`: events parsed from cloud-init.log, and the reports built on them.

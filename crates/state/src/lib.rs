//! The on-disk state shared between stages and boots: `/var/lib/cloud`,
//! `/run/cloud-init`, semaphores, status/result/instance-data JSON, logs.

mod paths;

pub use paths::Paths;

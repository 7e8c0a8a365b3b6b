//! User-data and vendor-data processing: raw blob → parts → results.
//! Not built yet; see the crate's helper task.

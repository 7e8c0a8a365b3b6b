//! Datasources and detection. Not built yet.

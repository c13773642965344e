//! The registry storage-driver contract and its drivers.

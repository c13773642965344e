//! Storage middleware.

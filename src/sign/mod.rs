//! Request signing: pure code, no I/O, no clock.

//! Vigil uplink (in progress).

//! From frames to packets, sessions and ordered streams.

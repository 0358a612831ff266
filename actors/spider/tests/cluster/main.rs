//! A backend cluster: a real etcd and `spider backend` processes on loopback addresses.
#![allow(clippy::unwrap_used)]

mod forward;
mod growth;
mod loss;
mod nodes;

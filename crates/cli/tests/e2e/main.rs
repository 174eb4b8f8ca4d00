//! End-to-end tests of the `containerops` binary on a real local container engine: the one
//! `$DOCKER_HOST` names, else Podman serving the Docker API at /run/podman/podman.sock.
//! scripts/test.sh runs them twice, on Podman and on Docker Engine (/var/run/docker.sock), so a
//! difference between the engines fails CI. Every test gets its own directory and
//! SQLite database, runs the real binary as a child process, and checks after every run that no
//! container or volume labelled with the run is left.
//!
//! Needs the example images (`scripts/build-images.sh`); a missing image fails the tests with a
//! message saying so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod artifacts;
mod cli;
mod components;
mod examples;
mod protocol;
mod seed;
mod support;
mod workflow;

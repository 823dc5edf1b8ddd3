//! Integration tests for pytorrentd: the real daemon binary, real peers (librqbit sessions in
//! this process, aria2c), a real tracker (opentracker), all on loopback.
//!
//! Run with `cargo test --test it -- --test-threads=2`.
//! Needs the Debian packages `aria2`, `opentracker`, `mktorrent` (a missing tool fails the
//! test with an install hint).

mod faults;
mod files;
mod history;
mod util;

mod audit;
mod backup;
mod bad_input;
mod cli;
mod complete;
mod crash;
mod engine_patches;
mod engine_settings;
mod labels;
mod moves;
mod notices;
mod ops;
mod queue;
mod resources;
mod restart;
mod rss;
mod security;
mod share;
mod space;
mod speed;
mod storage;
mod swarm;
mod trackers;
mod watch;

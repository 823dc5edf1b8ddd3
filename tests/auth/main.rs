//! Auth-stack tests (README "Authentication", docs/security.md): in-process tables over the real app, plus the real binary
//! behind a real nginx and the user CLI.

#[path = "../it/util.rs"]
mod util;

mod accounts;
mod cli;
mod common;
mod files;
mod me;
mod nginx;
mod origin;
mod permissions;
mod qbit;
mod resolver;
mod security;
mod sessions;

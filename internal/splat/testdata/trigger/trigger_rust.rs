// SPDX-License-Identifier: GPL-2.0

//! splat_trigger_rust: a test module for kcheck's splat detector. Its
//! init indexes past the end of a vector: the Rust panic handler prints
//! the panic and calls BUG(). Written for Linux 6.1's Rust support (the
//! `module!` macro with byte strings), the one tree here that Debian
//! 12's rustc (1.63) can build; never load it on a machine you care about.

use kernel::prelude::*;

module! {
    type: TriggerRust,
    name: b"trigger_rust",
    author: b"kdefer",
    description: b"make the kernel print a Rust panic",
    license: b"GPL",
}

struct TriggerRust;

impl kernel::Module for TriggerRust {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut numbers = Vec::new();
        numbers.try_push(72)?;
        numbers.try_push(108)?;
        pr_info!("splat_trigger_rust: reading past {} numbers\n", numbers.len());
        let past = numbers[numbers.len()];
        pr_info!("splat_trigger_rust: {}\n", past);
        Ok(TriggerRust)
    }
}

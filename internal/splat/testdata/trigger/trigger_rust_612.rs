// SPDX-License-Identifier: GPL-2.0

//! trigger_rust: a test module for kcheck's splat detector. Its init
//! indexes past the end of a vector: the Rust panic handler prints the
//! panic and calls BUG(). The `module!` form of Linux 6.12 (strings,
//! KVec); never load it on a machine you care about.

use kernel::prelude::*;

module! {
    type: TriggerRust,
    name: "trigger_rust",
    author: "kdefer",
    description: "make the kernel print a Rust panic",
    license: "GPL",
}

struct TriggerRust;

impl kernel::Module for TriggerRust {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut numbers = KVec::new();
        numbers.push(72, GFP_KERNEL)?;
        numbers.push(108, GFP_KERNEL)?;
        pr_info!("splat_trigger_rust: reading past {} numbers\n", numbers.len());
        let past = numbers[numbers.len()];
        pr_info!("splat_trigger_rust: {}\n", past);
        Ok(TriggerRust)
    }
}

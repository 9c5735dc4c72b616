//! Every limit a plugin runs under, in one place (as Spin's `limits.rs`).
//!
//! A plugin may be hostile or merely buggy; either way it must fail alone, quickly, with an
//! error that names it. Each limit below is exercised by a hostile fixture in
//! `fixtures/plugins/` (see `host/tests/plugins.rs`).

use std::time::Duration;

/// Limits of one step, per call of the plugin (one `enrich`/`filter` per finding, one
/// `targets`, one `deliver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call, host calls (HTTP) included.
    pub call_time: Duration,
    /// Linear memory of a WASM instance; heap of a Lua state.
    pub memory_bytes: usize,
    /// Lua VM instructions per call (the hook fires every [`LUA_HOOK_EVERY`] of them).
    pub lua_instructions: u64,
}

/// Lua's count hook runs every this many VM instructions: often enough to stop a runaway
/// loop within milliseconds, rarely enough to cost nothing measurable.
pub const LUA_HOOK_EVERY: u32 = 1000;

/// How often the WASM engine's epoch advances; a call's deadline is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Lua's pattern functions run in C, where the instruction hook cannot stop them: a
/// pattern that backtracks over a long subject runs for minutes. Before each call brulee
/// estimates the worst-case work (see `plugin::lua`) and refuses calls above this.
pub const LUA_PATTERN_WORK: f64 = 5e7;

impl Limits {
    /// Per-finding steps (enrichers, filters): a finding should take microseconds.
    pub const PER_FINDING: Limits = Limits {
        call_time: Duration::from_secs(2),
        memory_bytes: 64 << 20,
        lua_instructions: 50_000_000,
    };

    /// Whole-run steps (sources, sinks): they may do network I/O.
    pub const PER_RUN: Limits = Limits {
        call_time: Duration::from_secs(120),
        memory_bytes: 256 << 20,
        lua_instructions: 2_000_000_000,
    };

    /// The epoch ticks a call may run for.
    pub fn epoch_ticks(&self) -> u64 {
        (self.call_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// wasmtime's limiter for one WASM instance: its memory, and few enough instances and
    /// tables that a component cannot multiply them.
    #[cfg(feature = "plugins")]
    pub fn store_limits(&self) -> wasmtime::StoreLimits {
        wasmtime::StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .instances(64)
            .tables(64)
            .memories(16)
            .table_elements(1 << 20)
            // A failed memory.grow traps with the reason instead of returning -1, which
            // Rust's allocator turns into an opaque `unreachable` abort.
            .trap_on_grow_failure(true)
            .build()
    }
}

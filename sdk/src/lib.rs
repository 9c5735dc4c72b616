//! The plugin SDK for brulee.
//!
//! The plugin runtime (sandboxed WASM components and Lua scripts) is being built in its own
//! issue; this crate will hold the traits and export macro that hide the component ABI, and
//! `wit/` the versioned contract. Until then plugins cannot be written, and this crate exists so
//! the workspace shows where the pieces go.

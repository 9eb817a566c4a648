//! `--state-file`: the state is loaded at start, saved (atomically, write + rename) shortly after
//! each change and at shutdown.

use std::path::Path;

use anyhow::Context;

use crate::state::Store;

pub fn load(path: &Path) -> anyhow::Result<Store> {
    if !path.exists() {
        return Ok(Store::default());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Store::default());
    }
    let mut store: Store = serde_json::from_slice(&bytes)
        .with_context(|| format!("parsing state file {}", path.display()))?;
    store.rebuild();
    Ok(store)
}

pub fn serialize(store: &Store) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(store)?)
}

pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

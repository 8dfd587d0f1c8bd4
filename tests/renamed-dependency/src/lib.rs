//! Hygiene tripwire: `#[pipelined(crate = ...)]` under a renamed dependency. This crate has
//! no dependency called `redpipe`, so any generated path that ignores `crate = ...` fails
//! to compile.

use renamed::{pipelined, Deferred, Pipeline};

/// Increments `key` and doubles the reply.
#[pipelined(crate = renamed)]
pub fn incr_twice(pipe: &Pipeline, key: &str) -> i64 {
    let count: Deferred<i64> = pipe.incr(key, 1);
    *count * 2
}

/// Reads `key`, refusing an empty name before anything is queued.
#[pipelined(crate = "renamed")]
pub fn get(pipe: &Pipeline, key: &str) -> Result<Option<String>, renamed::Error> {
    if key.is_empty() {
        Err(renamed::Error::invalid_operation("empty key"))?;
    }
    let value: Deferred<Option<String>> = pipe.get(key);
    Ok(value.try_get()?.clone())
}

/// Returns the reply as is.
#[pipelined(crate = renamed, connection = "other")]
pub fn exists(pipe: &Pipeline, key: &str) -> Deferred<bool> {
    pipe.exists(key)
}

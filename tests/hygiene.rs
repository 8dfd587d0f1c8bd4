//! Tripwires for the macros' expansions: every generated path is absolute (local modules
//! named `core`, `redpipe` and `__private` are in scope), invented names cannot collide with
//! user names, and expansions compile cleanly under `deny(warnings)` and clippy pedantic
//! (`scripts/test.sh` runs clippy with `-D warnings` over tests too).

#![deny(warnings, clippy::pedantic)]

mod tripwire {
    #![allow(dead_code)] // the shadowing modules exist only to be in the way
    mod core {}
    mod redpipe {}
    mod __private {}
    mod std {}

    use ::redpipe::{pipelined, Deferred, Error, Pipeline};

    /// Plain form, with user names that look like the macro's own.
    #[pipelined]
    pub(crate) fn plain(__redpipe_parent: &str, pipe: &Pipeline, key: &str) -> i64 {
        let __redpipe_nested: Deferred<i64> = pipe.incr(key, 1);
        let __redpipe_result = __redpipe_parent.len();
        *__redpipe_nested + i64::try_from(__redpipe_result).unwrap_or(0)
    }

    /// Unit form.
    #[pipelined]
    pub(crate) fn unit(p: &Pipeline, key: &str) {
        let _: Deferred<()> = p.set(key, 1);
    }

    /// Unit form with a combine step.
    #[pipelined]
    pub(crate) fn unit_with_tail(p: &Pipeline, key: &str) {
        let count: Deferred<i64> = p.incr(key, 1);
        drop(count)
    }

    /// Deferred form.
    #[pipelined(connection = "default")]
    pub(crate) fn forwarded(key: &str, pipe: &::redpipe::Pipeline) -> Deferred<Option<i64>> {
        pipe.get(key)
    }

    /// Result form.
    ///
    /// # Errors
    /// When `key` is empty.
    #[pipelined]
    pub(crate) fn fallible(pipe: &Pipeline, key: &str) -> Result<i64, Error> {
        let __redpipe_queued = key.is_empty();
        if __redpipe_queued {
            Err(Error::invalid_value("key", "empty"))?;
        }
        let count: Deferred<i64> = pipe.incr(key, 1);
        Ok(*count.try_get()?)
    }

    /// A method of a generic type with an explicit lifetime on the pipeline.
    pub(crate) struct Prefixed<T>(pub(crate) T);

    impl<T: ::core::fmt::Display> Prefixed<T> {
        /// Increments `prefix:key`.
        #[pipelined]
        pub(crate) fn bump<'a>(&self, pipe: &'a Pipeline, key: &'a str) -> i64 {
            let count: Deferred<i64> = pipe.incr(format!("{}:{key}", self.0), 1);
            *count
        }
    }
}

#[tokio::test]
async fn expansions_behave_with_colliding_names() {
    let server = redpipe_dev::RedisServer::start();
    let registry = ::redpipe::Registry::new();
    registry.connect(server.connection().await).unwrap();
    let pipe = registry.pipeline();
    let plain = tripwire::plain("abc", &pipe, "k");
    let unit = tripwire::unit(&pipe, "u");
    let unit_with_tail = tripwire::unit_with_tail(&pipe, "v");
    let forwarded = tripwire::forwarded("k", &pipe);
    let fallible = tripwire::fallible(&pipe, "k");
    let refused = tripwire::fallible(&pipe, "");
    let bumped = tripwire::Prefixed("p").bump(&pipe, "k");
    pipe.execute().await.unwrap();
    assert_eq!(plain, 4);
    assert!(unit.is_ready() && unit_with_tail.is_ready());
    assert_eq!(forwarded, Some(1));
    assert_eq!(fallible, 2);
    assert!(refused.try_get().is_err());
    assert_eq!(bumped, 1);
}

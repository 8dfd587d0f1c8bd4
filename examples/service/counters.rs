//! Counters: page views of each profile, one integer per user in `Views{<id>}`.

use redpipe::field::IntegerField;
use redpipe::keyspace::{Keyspace, Strings};
use redpipe::{pipelined, Pipeline};

/// Page views: `Views{<id>}` holds an integer.
const VIEWS: Strings<IntegerField> = Strings::new(Keyspace::new("Views"));

/// Counts one view of `id`'s profile; the count including this one.
#[pipelined]
pub(crate) fn record_view(pipe: &Pipeline, id: &str) -> i64 {
    let views = VIEWS.incr(pipe, id, 1);
    *views
}

/// The views of `id`'s profile so far (0 when never viewed).
#[pipelined]
pub(crate) fn views(pipe: &Pipeline, id: &str) -> i64 {
    let views = VIEWS.get(pipe, id);
    (*views).unwrap_or(0)
}

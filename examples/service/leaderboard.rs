//! The leaderboard: one sorted set, `Leaderboard{global}`, whose members are user ids and
//! whose scores are points.
//!
//! Members are bare ids, not names: a profile page asks for a user's rank before it knows
//! the name (`ZREVRANK` needs the exact member), and a rename does not touch the board.

use redpipe::field::TextField;
use redpipe::keyspace::{Keyspace, SortedSet, ZAdd};
use redpipe::{pipelined, Deferred, Error, Pipeline, Script};
use serde::Serialize;

/// The board's sorted set keyspace; the one board is the id [`BOARD`].
const LEADERBOARD: SortedSet<TextField> = SortedSet::new(Keyspace::new("Leaderboard"));
/// The id of the one board: the key is `Leaderboard{global}`.
const BOARD: &str = "global";

/// Where a user stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Standing {
    /// 1 for the best score.
    pub(crate) rank: i64,
    /// The user's points.
    pub(crate) score: f64,
}

impl Standing {
    /// From a 0-based `ZREVRANK` and a score; `None` when either is missing (not on the
    /// board).
    fn from_replies(rank: Option<i64>, score: Option<f64>) -> Option<Self> {
        Some(Standing {
            rank: rank? + 1,
            score: score?,
        })
    }
}

/// One line of the top list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Entry {
    /// 1 for the best score.
    pub(crate) rank: i64,
    /// The user's id.
    pub(crate) id: String,
    /// The user's points.
    pub(crate) score: f64,
}

/// Puts `id` on the board with 0 points, keeping the score of a user already on it
/// (`ZADD NX`); whether it was added.
#[pipelined]
pub(crate) fn enter(pipe: &Pipeline, id: &str) -> bool {
    let nx = ZAdd {
        nx: true,
        ..ZAdd::default()
    };
    let added = LEADERBOARD.zadd(pipe, BOARD, &[(id, 0.0)], nx);
    *added == 1
}

/// Adds `points` to a user on the board (`ZADD XX INCR`: nobody else is added) and reads
/// their rank after it; `None` when `id` is not on the board.
#[pipelined]
pub(crate) fn add_points(pipe: &Pipeline, id: &str, points: f64) -> Option<Standing> {
    let xx = ZAdd {
        xx: true,
        ..ZAdd::default()
    };
    let score = LEADERBOARD.zadd_incr(pipe, BOARD, id, points, xx);
    let rank = LEADERBOARD.zrevrank(pipe, BOARD, id);
    Standing::from_replies(*rank, *score)
}

/// Where `id` stands (`ZREVRANK` and `ZSCORE`); `None` when not on the board.
#[pipelined]
pub(crate) fn standing(pipe: &Pipeline, id: &str) -> Option<Standing> {
    let rank = LEADERBOARD.zrevrank(pipe, BOARD, id);
    let score = LEADERBOARD.zscore(pipe, BOARD, id);
    Standing::from_replies(*rank, *score)
}

/// One line of the top list with the user's display name (`None` when the profile is
/// gone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Named {
    /// The rank, id and points.
    #[serde(flatten)]
    pub(crate) entry: Entry,
    /// The user's display name.
    pub(crate) name: Option<String>,
}

/// Reads the best `ARGV[1]` members of the board in `KEYS[1]` with their scores, and each
/// one's `name` from the hash `ARGV[2] .. id .. ARGV[3]` (the profile's key): the names
/// depend on the ranking, so reading both in one round trip takes a script. It reads keys
/// it was not given in `KEYS`, which a standalone server allows and a cluster does not.
const TOP_NAMED: &str = r"
local best = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #best, 2 do
  local name = redis.call('HGET', ARGV[2] .. best[i] .. ARGV[3], 'name')
  table.insert(out, {best[i], best[i + 1], name})
end
return out
";

/// The best `n` users, best first, with their points and display names, in one round
/// trip (a Lua script: see [`TOP_NAMED`]); `n` of 0 is an error before anything is queued.
#[pipelined]
pub(crate) fn top_named(
    pipe: &Pipeline,
    n: usize,
    profile_key: (&str, &str),
) -> Result<Vec<Named>, Error> {
    if n == 0 {
        Err(Error::invalid_value("n", "must be at least 1"))?;
    }
    let script = Script::new(TOP_NAMED);
    let board = LEADERBOARD.key(BOARD)?;
    let (before, after) = profile_key;
    let rows: Deferred<Vec<(String, f64, Option<String>)>> = pipe.invoke_script(
        &script,
        &[board],
        &[n.to_string(), before.to_owned(), after.to_owned()],
    );
    Ok((1..)
        .zip(rows.try_get()?.iter())
        .map(|(rank, (id, score, name))| Named {
            entry: Entry {
                rank,
                id: id.clone(),
                score: *score,
            },
            name: name.clone(),
        })
        .collect())
}

/// How many users are on the board (`ZCARD`).
#[pipelined]
pub(crate) fn players(pipe: &Pipeline) -> i64 {
    let count = LEADERBOARD.zcard(pipe, BOARD);
    *count
}

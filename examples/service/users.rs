//! User profiles: one `#[derive(Struct)]` record per user, in the hash `User{<id>}`.

use redpipe::{pipelined, Deferred, Error, Pipeline, Struct};
use serde::{Deserialize, Serialize};

/// The longest id accepted, in bytes (ids are ASCII).
const MAX_ID: usize = 32;
/// The longest display name accepted, in characters.
const MAX_NAME: usize = 64;
/// The longest bio accepted, in characters.
const MAX_BIO: usize = 500;

/// A user's profile, stored in the hash `User{<id>}` as the Python library's `Struct` lays
/// it out (the id lives in the key, not in the hash).
#[derive(Debug, Clone, PartialEq, Serialize, Struct)]
#[redpipe(keyspace = "User")]
pub(crate) struct User {
    /// The user's id, as in the URL.
    #[redpipe(key)]
    pub(crate) id: String,
    /// The display name (required: a profile without one fails to load).
    pub(crate) name: String,
    /// A short text about the user, if they wrote one.
    pub(crate) bio: Option<String>,
}

/// The body of `POST /users/{id}`: the name, and the bio when it changes.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProfileInput {
    /// The display name, 1 to 64 characters.
    pub(crate) name: String,
    /// The bio, at most 500 characters; absent keeps the stored one.
    pub(crate) bio: Option<String>,
}

/// A profile after a write, and whether the write created it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Saved {
    /// `true` when there was no profile before.
    pub(crate) created: bool,
    /// The profile as stored.
    pub(crate) user: User,
}

/// Checks an id from a URL: 1 to 32 characters of `A-Z a-z 0-9 _ -`.
pub(crate) fn check_id(id: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if id.is_empty() || id.len() > MAX_ID || !id.chars().all(allowed) {
        return Err(Error::invalid_value(
            "id",
            "must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
        ));
    }
    Ok(())
}

impl ProfileInput {
    /// Refuses an empty or too long name, or a too long bio.
    fn check(&self) -> Result<(), Error> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(Error::invalid_value("name", "must be 1 to 64 characters"));
        }
        if self
            .bio
            .as_ref()
            .is_some_and(|bio| bio.chars().count() > MAX_BIO)
        {
            return Err(Error::invalid_value(
                "bio",
                "must be at most 500 characters",
            ));
        }
        Ok(())
    }
}

/// Creates or updates the profile of `id`: writes the name, and the bio when given, and
/// keeps what the input leaves out. An `EXISTS` queued before the write says whether it
/// created the profile, in the same round trip. Bad input is an error before anything is
/// queued.
#[pipelined]
pub(crate) fn upsert(pipe: &Pipeline, id: &str, input: &ProfileInput) -> Result<Saved, Error> {
    check_id(id)?;
    input.check()?;
    let existed: Deferred<bool> = pipe.exists(User::keyspace().key(id)?);
    let patch = UserPatch {
        name: Some(input.name.trim().to_owned()),
        bio: input.bio.clone(),
    };
    let user = User::update(pipe, id, &patch);
    // The tail is the combine step, run after execute (`update` read the record back):
    // a block, so its `let` runs then too, not while queueing.
    {
        let user = user
            .try_get()?
            .clone()
            .ok_or_else(|| Error::invalid_operation("the profile vanished during its write"))?;
        Ok(Saved {
            created: !*existed,
            user,
        })
    }
}

/// The key of a profile hash, split around the id: `("User{", "}")`.
pub(crate) fn profile_key() -> Result<(String, String), Error> {
    let key = User::keyspace().key("*")?;
    let (before, after) = key
        .split_once('*')
        .ok_or_else(|| Error::invalid_operation("the profile key template lost its id"))?;
    Ok((before.to_owned(), after.to_owned()))
}

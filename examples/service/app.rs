//! The HTTP API: routes, handlers and error responses. Each handler builds one root
//! pipeline from the app's registry, composes the pipelined functions of [`users`],
//! [`counters`] and [`leaderboard`] on it, and executes it once: one round trip per
//! request, whatever it reads and writes (`GET /leaderboard` with a Lua script, see
//! [`get_leaderboard`]).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use redpipe::{Error, Registry, Struct};
use serde::{Deserialize, Serialize};

use crate::counters;
use crate::leaderboard::{self, Named, Standing};
use crate::users::{self, ProfileInput, Saved, User};

/// The largest `n` of `GET /leaderboard`.
const MAX_TOP: usize = 100;

/// The API, over the connections of `registry` (its default connection).
pub(crate) fn app(registry: Registry) -> Router {
    Router::new()
        .route("/users/{id}", get(get_user).post(post_user))
        .route("/users/{id}/score", post(post_score))
        .route("/leaderboard", get(get_leaderboard))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "method not allowed on this route".to_owned(),
            }
        })
        .with_state(registry)
}

/// An error response: a status and `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// The response's status.
    status: StatusCode,
    /// What went wrong, for the client.
    message: String,
}

impl ApiError {
    /// `404 Not Found` with `message`.
    fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    /// Input refused before sending is the client's fault (400); Redis out of reach is 503;
    /// anything else (a failed command, a record that does not decode) is 500. The message
    /// is the error's `Display`, which never holds credentials (a public service might
    /// log it and answer less).
    fn from(error: Error) -> Self {
        let unreachable = error
            .failures()
            .iter()
            .any(|failure| matches!(failure, Error::Connection { .. }));
        let status = match &error {
            Error::InvalidValue { .. } => StatusCode::BAD_REQUEST,
            _ if unreachable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            message: error.to_string(),
        }
    }
}

/// axum's rejections of a request it cannot extract (a body that is not the expected JSON,
/// a bad query string or path): their status (400, 415 without a JSON content type, 422)
/// and explanation, as a JSON error like the others.
macro_rules! from_rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for ApiError {
            fn from(rejection: $rejection) -> Self {
                ApiError {
                    status: rejection.status(),
                    message: rejection.body_text(),
                }
            }
        }
    )*};
}

from_rejection!(JsonRejection, PathRejection, QueryRejection);

impl IntoResponse for ApiError {
    /// The status, with `{"error": message}`.
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (
            self.status,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response()
    }
}

/// The body of `GET /users/{id}`.
#[derive(Debug, Serialize)]
struct ProfilePage {
    /// The profile.
    user: User,
    /// Views of this profile, this one included.
    views: i64,
    /// Where the user stands on the leaderboard (`null` when not on it).
    standing: Option<Standing>,
}

/// `GET /users/{id}`: the profile, its view counter incremented, and the user's rank and
/// score. Three modules, one round trip: `HGETALL`, `INCRBY`, `ZREVRANK` and `ZSCORE` go
/// together. An unknown id is 404; its view is still counted, since the increment is
/// queued before the profile is known to exist (not counting it would take a second
/// round trip).
async fn get_user(
    State(registry): State<Registry>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ProfilePage>, ApiError> {
    let Path(id) = id?;
    users::check_id(&id)?;
    let pipe = registry.pipeline();
    let user = User::load(&pipe, &id);
    let views = counters::record_view(&pipe, &id);
    let standing = leaderboard::standing(&pipe, &id);
    pipe.execute().await?;
    let user = user
        .get_cloned()?
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}`")))?;
    Ok(Json(ProfilePage {
        user,
        views: views.get_cloned()?,
        standing: standing.get_cloned()?,
    }))
}

/// The body of `POST /users/{id}`.
#[derive(Debug, Serialize)]
struct SavedProfile {
    /// The profile after the write, and whether it was created.
    #[serde(flatten)]
    saved: Saved,
    /// Views of this profile so far (not counting this request).
    views: i64,
    /// Where the user stands: a new user enters the leaderboard with 0 points.
    standing: Option<Standing>,
}

/// `POST /users/{id}` with `{"name": ..., "bio": ...}`: creates the profile (201) or
/// updates it (200), enters a new user on the leaderboard, and answers with the stored
/// profile, its views and standing. One round trip: `EXISTS`, `HSET`, `HGETALL`, `ZADD NX`,
/// `GET`, `ZREVRANK`, `ZSCORE`. Bad input is 400 and sends nothing.
async fn post_user(
    State(registry): State<Registry>,
    id: Result<Path<String>, PathRejection>,
    input: Result<Json<ProfileInput>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedProfile>), ApiError> {
    let (Path(id), Json(input)) = (id?, input?);
    let pipe = registry.pipeline();
    // Refused input (a bad id or name) fails `upsert` before it queues anything; `check`
    // stops here then, before the rest is queued, and nothing is sent.
    let saved = users::upsert(&pipe, &id, &input).check()?;
    let _ = leaderboard::enter(&pipe, &id);
    let views = counters::views(&pipe, &id);
    let standing = leaderboard::standing(&pipe, &id);
    pipe.execute().await?;
    let saved = saved.get_cloned()?;
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SavedProfile {
            saved,
            views: views.get_cloned()?,
            standing: standing.get_cloned()?,
        }),
    ))
}

/// The body of `POST /users/{id}/score`.
#[derive(Debug, Deserialize)]
struct ScoreInput {
    /// Points to add (negative to take away); a finite number.
    points: f64,
}

/// `POST /users/{id}/score` with `{"points": 10}`: adds the points and answers with the
/// new score and rank. One round trip: `ZADD XX INCR` and `ZREVRANK`. Only users on the
/// leaderboard (every user with a profile) score; anyone else is 404, and nothing is
/// written (`XX`).
async fn post_score(
    State(registry): State<Registry>,
    id: Result<Path<String>, PathRejection>,
    input: Result<Json<ScoreInput>, JsonRejection>,
) -> Result<Json<Standing>, ApiError> {
    let (Path(id), Json(input)) = (id?, input?);
    users::check_id(&id)?;
    if !input.points.is_finite() {
        return Err(Error::invalid_value("points", "must be a finite number").into());
    }
    let pipe = registry.pipeline();
    let standing = leaderboard::add_points(&pipe, &id, input.points);
    pipe.execute().await?;
    standing
        .get_cloned()?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}` on the leaderboard")))
}

/// The query of `GET /leaderboard`.
#[derive(Debug, Deserialize)]
struct TopQuery {
    /// How many users, 1 to 100 (default 10).
    n: Option<usize>,
}

/// The body of `GET /leaderboard`.
#[derive(Debug, Serialize)]
struct Leaderboard {
    /// How many users are on the board.
    players: i64,
    /// The best users, best first.
    top: Vec<Named>,
}

/// `GET /leaderboard?n=10`: the best `n` users with their points and display names. One
/// round trip: the names depend on the ranking, so they are read by a Lua script on the
/// server ([`leaderboard::top_named`]) in the same batch as `ZCARD`.
async fn get_leaderboard(
    State(registry): State<Registry>,
    query: Result<Query<TopQuery>, QueryRejection>,
) -> Result<Json<Leaderboard>, ApiError> {
    let Query(query) = query?;
    let n = query.n.unwrap_or(10);
    if !(1..=MAX_TOP).contains(&n) {
        return Err(Error::invalid_value("n", "must be 1 to 100").into());
    }
    let profile = users::profile_key()?;
    let pipe = registry.pipeline();
    let top = leaderboard::top_named(&pipe, n, (&profile.0, &profile.1));
    let players = leaderboard::players(&pipe);
    pipe.execute().await?;
    Ok(Json(Leaderboard {
        players: players.get_cloned()?,
        top: top.get_cloned()?,
    }))
}

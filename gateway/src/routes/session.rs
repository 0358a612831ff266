//! Users' sessions: `POST /api/v1/login` (name and password → a short-lived access token and a
//! refresh token), `POST /api/v1/refresh`, `POST /api/v1/logout`, and `GET /api/v1/whoami`.
//! The backend's identity store checks the password and keeps the tokens (as hashes): the
//! gateway keeps no copy of either.

use serde::Deserialize;
use serde_json::json;
use spider_backend::client::UserTokens;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{authenticated, bearer, json_reply, reject, Caller, State};
use crate::error::ApiError;

/// The largest login body.
const MAX_BODY_BYTES: u64 = 16 * 1024;

#[derive(Deserialize)]
struct Login {
    name: String,
    password: String,
}

#[derive(Deserialize)]
struct Refresh {
    refresh_token: String,
}

#[derive(Deserialize, Default)]
struct Logout {
    refresh_token: Option<String>,
}

fn tokens_reply(tokens: &UserTokens) -> Response {
    let ms = |ns: i64| ns / 1_000_000;
    json_reply(&json!({
        "user": tokens.user,
        "token_type": "Bearer",
        "access_token": tokens.access_token,
        "expires_at": ms(tokens.access_expires_at),
        "refresh_token": tokens.refresh_token,
        "refresh_expires_at": ms(tokens.refresh_expires_at),
    }))
}

/// The routes that need no bearer token.
pub fn routes(state: &State) -> BoxedFilter<(Response,)> {
    let login_state = state.clone();
    let login = warp::path!("login")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::json::<Login>())
        .and_then(move |login: Login| {
            let state = login_state.clone();
            async move {
                let Login { name, password } = login;
                let tokens = state
                    .bridge
                    .call(move |client| async move {
                        spider_backend::client::sign_in(&client.auth(), &name, &password).await
                    })
                    .await;
                // Answered here, not rejected: a rejection would be merged with the other
                // routes' (the bearer check's 401 would win over a 429).
                Ok::<_, Rejection>(match tokens {
                    Ok(tokens) => {
                        tracing::info!(user = tokens.user, "user logged in");
                        tokens_reply(&tokens)
                    }
                    Err(error) => error.into_response(),
                })
            }
        });
    let refresh_state = state.clone();
    let refresh = warp::path!("refresh")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(warp::body::json::<Refresh>())
        .and_then(move |body: Refresh| {
            let state = refresh_state.clone();
            async move {
                let tokens = state
                    .bridge
                    .call(move |client| async move {
                        spider_backend::client::refresh(&client.auth(), &body.refresh_token).await
                    })
                    .await;
                Ok::<_, Rejection>(match tokens {
                    Ok(tokens) => tokens_reply(&tokens),
                    Err(error) => error.into_response(),
                })
            }
        });
    let logout_state = state.clone();
    let logout = warp::path!("logout")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::content_length_limit(MAX_BODY_BYTES))
        .and(
            warp::body::json::<Logout>()
                .or(warp::any().map(Logout::default))
                .unify(),
        )
        .and_then(move |header: Option<String>, body: Logout| {
            let state = logout_state.clone();
            async move {
                let access = bearer(header.as_deref()).map(str::to_owned);
                if access.is_none() && body.refresh_token.is_none() {
                    return Err(reject(ApiError::unauthorized()));
                }
                let ended = state
                    .bridge
                    .call(move |client| async move {
                        let auth = client.auth();
                        let mut ended = false;
                        for token in access.iter().chain(body.refresh_token.iter()) {
                            ended |= spider_backend::client::sign_out(&auth, token).await.is_ok();
                        }
                        Ok(ended)
                    })
                    .await
                    .map_err(reject)?;
                if !ended {
                    return Err(reject(ApiError::unauthorized()));
                }
                Ok::<_, Rejection>(
                    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response(),
                )
            }
        });
    login.or(refresh).unify().or(logout).unify().boxed()
}

/// `GET /api/v1/whoami`: who the bearer token stands for (the UI shows it and hides what the
/// role cannot do).
pub fn whoami(state: &State) -> BoxedFilter<(Response,)> {
    warp::path!("whoami")
        .and(warp::get())
        .and(authenticated(state, None))
        .map(|caller: Caller| {
            json_reply(&json!({
                "name": caller.name,
                "role": caller.role,
                "kind": caller.kind,
                "scopes": caller.scopes,
                "teams": caller.teams,
                "expires_at": caller.expires_at / 1_000_000,
            }))
        })
        .boxed()
}

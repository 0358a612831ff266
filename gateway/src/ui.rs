//! The built frontend: files from the UI folder, and `index.html` for any other path that is not
//! the API (the single-page app routes in the browser).

use std::path::PathBuf;

use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply};

pub fn routes(ui_dir: Option<PathBuf>) -> BoxedFilter<(Response,)> {
    match ui_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            let files = warp::get()
                .and(warp::fs::dir(dir))
                .map(|file: warp::fs::File| file.into_response());
            let fallback =
                warp::get()
                    .and(warp::path::full())
                    .and_then(move |path: warp::path::FullPath| {
                        let index = index.clone();
                        async move {
                            if path.as_str().starts_with("/api/") {
                                return Err(warp::reject::not_found());
                            }
                            match tokio::fs::read(&index).await {
                                Ok(bytes) => Ok(warp::reply::with_header(
                                    bytes,
                                    "content-type",
                                    "text/html; charset=utf-8",
                                )
                                .into_response()),
                                Err(_) => Err(warp::reject::not_found()),
                            }
                        }
                    });
            files.or(fallback).unify().boxed()
        }
        None => warp::get()
            .and(warp::path::end())
            .map(|| {
                warp::reply::html(
                    "<!doctype html><title>Spider</title><p>The UI is not built: run \
                     <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code> and \
                     start the gateway with <code>--ui frontend/dist</code>. The API is at \
                     <code>/api/v1</code>.</p>",
                )
                .into_response()
            })
            .boxed(),
    }
}

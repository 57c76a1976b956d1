//! Body decoding (docs/contract/3-json-api.md) through the whole `POST /users` route, on one
//! server over a temporary SQLite database made once per fuzzing process.
//! The first byte picks the content type, the rest is the body. Whatever the
//! bytes, the answer is a 200 or a 4xx with the error shape, never a panic
//! and never a 5xx.
#![no_main]

use std::sync::OnceLock;

use auth_core::{Auth, Config, SecretKey};
use auth_http::HttpConfig;
use auth_http::RateLimit;
use libfuzzer_sys::fuzz_target;
use warp::filters::BoxedFilter;
use warp::reply::Response;

struct Server {
    runtime: tokio::runtime::Runtime,
    routes: BoxedFilter<(Response,)>,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = tempfile::TempDir::new().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let config = Config {
            bcrypt_cost: 4,
            password_min_length: 8,
            ..Config::default()
        };
        let auth = runtime
            .block_on(Auth::open(&url, SecretKey::from_bytes([7; 32]), config))
            .expect("open the fuzzing database");
        let http = HttpConfig {
            ip_rate_limit: RateLimit::Off,
            ..HttpConfig::default()
        };
        Server {
            routes: auth_http::routes(auth, http),
            runtime,
            _dir: dir,
        }
    })
}

const CONTENT_TYPES: [&str; 4] = [
    "application/x-www-form-urlencoded",
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let server = server();
    let response = server.runtime.block_on(
        warp::test::request()
            .method("POST")
            .path("/users")
            .remote_addr(([127, 0, 0, 1], 40000).into())
            .header("content-type", content_type)
            .body(body)
            .reply(&server.routes),
    );
    let status = response.status();
    assert!(
        status.is_success() || status.is_client_error(),
        "{status} for {content_type} {body:?}: {:?}",
        response.body()
    );
    let json: serde_json::Value = serde_json::from_slice(response.body()).expect("a JSON answer");
    if status.is_success() {
        assert_eq!(json["message"], "user created", "{json}");
    } else {
        assert!(
            json["error"].is_string() && json["message"].is_string(),
            "{json}"
        );
    }
    if content_type == "text/plain" {
        assert_eq!(status.as_u16(), 415);
    }
});

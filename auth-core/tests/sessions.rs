//! Session expiry, new tokens at login, the session list, on both backends.

use crate::common;

use auth_core::{AuthError, ClientInfo, Config, Identifier};
use common::*;

on_both_backends! {
    sessions_die_idle_or_old => sessions_die_idle_or_old_sqlite, sessions_die_idle_or_old_postgres;
    each_login_has_a_new_token => each_login_has_a_new_token_sqlite, each_login_has_a_new_token_postgres;
    list_and_end_sessions => list_and_end_sessions_sqlite, list_and_end_sessions_postgres;
    purge_removes_dead_sessions => purge_removes_dead_sessions_sqlite, purge_removes_dead_sessions_postgres;
    checks_and_logins_share_one_connection => checks_and_logins_share_one_connection_sqlite, checks_and_logins_share_one_connection_postgres;
}

fn short_sessions() -> Config {
    Config {
        session_idle_timeout: secs(60),
        session_max_age: secs(300),
        ..config()
    }
}

async fn sessions_die_idle_or_old(db: TestDb) {
    let (auth, clock) = open_with(&db, short_sessions()).await;
    let user = register(&auth, "frank", GOOD).await;
    let busy = login(&auth, "frank", GOOD).await.unwrap();
    let idle = login(&auth, "frank", GOOD).await.unwrap();
    let start = busy.session.created_at;
    assert_eq!(
        busy.session.expires_at,
        start + 60,
        "the idle end comes first"
    );

    // Used every 50 seconds, a session lives until its maximum age.
    for step in 1..=5 {
        clock.advance(50);
        let signed_in = auth.get_user_from_session_id(busy.token.expose()).await;
        let signed_in = signed_in.unwrap_or_else(|e| panic!("at +{}s: {e:?}", step * 50));
        assert_eq!(signed_in.user.id, user.id);
        assert_eq!(signed_in.session.last_seen_at, start + step * 50);
        if step == 1 {
            // Unused for 50 seconds: still alive; unused for longer than 60: dead.
            assert_eq!(
                signed_in_as(&auth, idle.token.expose()).await,
                Some(user.id.clone())
            );
        }
        if step == 3 {
            assert_eq!(
                signed_in_as(&auth, idle.token.expose()).await,
                None,
                "idle for 100s"
            );
        }
    }
    clock.advance(49); // +299
    let last = auth
        .get_user_from_session_id(busy.token.expose())
        .await
        .unwrap();
    assert_eq!(
        last.session.expires_at,
        start + 300,
        "the absolute end comes first now"
    );
    clock.advance(1); // +300: the maximum age, however busy
    assert_eq!(signed_in_as(&auth, busy.token.expose()).await, None);

    // A session left alone for just over the idle timeout is dead.
    let fresh = login(&auth, "frank", GOOD).await.unwrap();
    clock.advance(61);
    assert_eq!(signed_in_as(&auth, fresh.token.expose()).await, None);
    let gone = auth.list_sessions(fresh.token.expose()).await;
    assert!(matches!(gone, Err(AuthError::NotAuthenticated)), "{gone:?}");
}

async fn each_login_has_a_new_token(db: TestDb) {
    let (auth, _clock) = open(&db).await;
    let user = register(&auth, "grace", GOOD).await;
    let first = login(&auth, "grace", GOOD).await.unwrap();
    let second = login(&auth, "grace", GOOD).await.unwrap();
    assert_ne!(first.token.expose(), second.token.expose());
    assert_ne!(first.session.id, second.session.id);
    assert_eq!(first.token.expose().len(), 43);
    // Without a presented token both stay alive.
    assert_eq!(
        signed_in_as(&auth, first.token.expose()).await,
        Some(user.id.clone())
    );
    assert_eq!(
        signed_in_as(&auth, second.token.expose()).await,
        Some(user.id.clone())
    );

    // A token presented with a login is ended, not reused.
    let name = Identifier::Username("grace".into());
    let third = auth
        .login(&name, &pw(GOOD), Some(first.token.expose()), &client())
        .await
        .unwrap();
    assert_ne!(third.token.expose(), first.token.expose());
    assert_eq!(signed_in_as(&auth, first.token.expose()).await, None);
    assert_eq!(
        signed_in_as(&auth, second.token.expose()).await,
        Some(user.id.clone())
    );
    assert_eq!(
        signed_in_as(&auth, third.token.expose()).await,
        Some(user.id.clone())
    );

    // A failed login ends nothing; garbage presented is ignored.
    let failed = auth
        .login(&name, &pw(OTHER), Some(second.token.expose()), &client())
        .await;
    assert!(
        matches!(failed, Err(AuthError::InvalidCredentials)),
        "{failed:?}"
    );
    assert_eq!(
        signed_in_as(&auth, second.token.expose()).await,
        Some(user.id.clone())
    );
    auth.login(&name, &pw(GOOD), Some("garbage"), &client())
        .await
        .unwrap();
}

async fn list_and_end_sessions(db: TestDb) {
    let (auth, clock) = open(&db).await;
    let henry = register(&auth, "henry", GOOD).await;
    register(&auth, "ivy", GOOD).await;
    let browser = ClientInfo {
        user_agent: Some("Firefox".into()),
        ..ClientInfo::default()
    };
    let name = Identifier::Username("henry".into());
    let older = auth.login(&name, &pw(GOOD), None, &browser).await.unwrap();
    clock.advance(5);
    let newer = login(&auth, "henry", GOOD).await.unwrap();
    let other = login(&auth, "ivy", GOOD).await.unwrap();

    let (signed_in, sessions) = auth.list_sessions(newer.token.expose()).await.unwrap();
    assert_eq!(signed_in.user.id, henry.id);
    assert_eq!(signed_in.session.id, newer.session.id);
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [newer.session.id.as_str(), older.session.id.as_str()],
        "newest first, only henry's"
    );
    assert_eq!(sessions[1].user_agent.as_deref(), Some("Firefox"));
    assert_eq!(sessions[0].user_agent, None);

    // Another user's session, a made-up one and garbage are all "not found".
    for id in [
        other.session.id.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "",
    ] {
        let ended = auth.end_session(newer.token.expose(), id, &client()).await;
        assert!(
            matches!(ended, Err(AuthError::NotFound)),
            "{id:?}: {ended:?}"
        );
    }
    assert!(signed_in_as(&auth, other.token.expose()).await.is_some());

    auth.end_session(newer.token.expose(), &older.session.id, &client())
        .await
        .unwrap();
    assert_eq!(signed_in_as(&auth, older.token.expose()).await, None);
    let again = auth
        .end_session(newer.token.expose(), &older.session.id, &client())
        .await;
    assert!(matches!(again, Err(AuthError::NotFound)), "{again:?}");
    let (_, sessions) = auth.list_sessions(newer.token.expose()).await.unwrap();
    assert_eq!(sessions.len(), 1);

    // Its own session by id works too, and then the token is dead.
    auth.end_session(newer.token.expose(), &newer.session.id, &client())
        .await
        .unwrap();
    let dead = auth
        .end_session(newer.token.expose(), &newer.session.id, &client())
        .await;
    assert!(matches!(dead, Err(AuthError::NotAuthenticated)), "{dead:?}");
}

async fn purge_removes_dead_sessions(db: TestDb) {
    let (auth, clock) = open_with(&db, short_sessions()).await;
    register(&auth, "jack", GOOD).await;
    login(&auth, "jack", GOOD).await.unwrap();
    login(&auth, "jack", GOOD).await.unwrap();
    assert_eq!(auth.purge_expired().await.unwrap(), 0);
    clock.advance(61);
    let alive = login(&auth, "jack", GOOD).await.unwrap();
    assert_eq!(auth.purge_expired().await.unwrap(), 2);
    assert!(signed_in_as(&auth, alive.token.expose()).await.is_some());
}

/// With one pooled connection, concurrent session checks (which on SQLite
/// take an idle connection on their own thread, or else queue for the pool)
/// and logins (which write) all get their answer: none is refused as
/// unavailable and none sees another's user.
async fn checks_and_logins_share_one_connection(db: TestDb) {
    let (auth, clock) = open_with(
        &db,
        Config {
            pool_size: 1,
            ..config()
        },
    )
    .await;
    let mut users = Vec::new();
    for name in ["ann", "bea", "cy", "dee"] {
        let user = register(&auth, name, GOOD).await;
        let token = login(&auth, name, GOOD).await.unwrap().token;
        users.push((name, user.id, token.expose().to_owned()));
    }
    // Stale sessions: the first check of each also writes last_seen_at.
    clock.advance(120);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..32 {
        let auth = auth.clone();
        let (_, user_id, token) = users[task % users.len()].clone();
        tasks.spawn(async move {
            for _ in 0..20 {
                let signed_in = auth.get_user_from_session_id(&token).await;
                assert_eq!(signed_in.map(|s| s.user.id).ok(), Some(user_id.clone()));
            }
        });
    }
    for (name, _, _) in users.clone() {
        let auth = auth.clone();
        tasks.spawn(async move {
            for _ in 0..3 {
                login(&auth, name, GOOD).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

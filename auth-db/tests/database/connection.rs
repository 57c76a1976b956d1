//! Migrations, the pool, and URL handling: backends, redaction, a refused
//! connection.

use super::*;

on_both_backends! { sync:
    migrations_apply_once => migrations_apply_once_sqlite, migrations_apply_once_postgres;
    the_pool_connects_and_pings => the_pool_connects_and_pings_sqlite, the_pool_connects_and_pings_postgres;
}

fn migrations_apply_once(db: TestDb) {
    let mut conn = db.connect();
    let applied = auth_db::run_migrations(&mut conn).unwrap();
    assert!(applied > 0, "a fresh database gets every migration");
    assert_eq!(auth_db::run_migrations(&mut conn).unwrap(), 0);
    let mut other = db.connect();
    assert_eq!(auth_db::run_migrations(&mut other).unwrap(), 0);
    add_user(&mut other, "u1", Some("alice"), None).unwrap();
    assert_eq!(UserRow::list(&mut conn).unwrap().len(), 1);
}

fn the_pool_connects_and_pings(db: TestDb) {
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let pool = auth_db::open_pool(&url, 2, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    auth_db::ping(&mut conn).unwrap();
    auth_db::run_migrations(&mut conn).unwrap();
    // A failed transaction leaves nothing behind.
    let failed: DbResult<()> = auth_db::transaction(&mut conn, |conn| {
        add_user(conn, "u1", Some("alice"), None)?;
        add_user(conn, "u2", Some("ALICE"), None)?;
        Ok(())
    });
    assert!(failed.unwrap_err().is_unique_violation());
    assert!(UserRow::list(&mut conn).unwrap().is_empty());
}

#[test]
fn urls_name_their_backend() {
    assert_eq!(
        DatabaseUrl::parse("sqlite:///var/lib/authd/auth.db").unwrap(),
        DatabaseUrl::Sqlite("/var/lib/authd/auth.db".into())
    );
    assert_eq!(
        DatabaseUrl::parse("sqlite://auth.db")
            .unwrap()
            .sqlite_path(),
        Some("auth.db")
    );
    for url in ["postgres://u@h/db", "postgresql://u@h/db?sslmode=disable"] {
        assert_eq!(
            DatabaseUrl::parse(url).unwrap(),
            DatabaseUrl::Postgres(url.into())
        );
        assert_eq!(DatabaseUrl::parse(url).unwrap().sqlite_path(), None);
    }
    for url in [
        "mysql://x",
        "sqlite://",
        "sqlite://:memory:",
        "",
        "auth.db",
        "sqlite:auth.db",
    ] {
        let err = DatabaseUrl::parse(url).unwrap_err();
        assert!(
            matches!(err, DbError::UnsupportedUrl(_)),
            "{url:?}: {err:?}"
        );
    }
    let err = DatabaseUrl::parse("mysql://root:hunter2@db.example.com/authd").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn redact_url_hides_the_password() {
    assert_eq!(
        auth_db::redact_url("postgres://authd:s3cr%40t@db.example.com:5432/authd"),
        "postgres://authd:[redacted]@db.example.com:5432/authd"
    );
    assert_eq!(
        auth_db::redact_url("postgres://authd@db.example.com/authd"),
        "postgres://authd@db.example.com/authd"
    );
    assert_eq!(
        auth_db::redact_url("sqlite:///tmp/a.db"),
        "sqlite:///tmp/a.db"
    );
    assert_eq!(
        auth_db::redact_url("postgres://h:5432"),
        "postgres://h:5432"
    );
    assert_eq!(
        auth_db::redact_url("postgres://u:pw@h"),
        "postgres://u:[redacted]@h"
    );
    assert_eq!(
        auth_db::redact_url(
            "postgres://u@h/db?sslmode=require&PASSWORD=pw&options=-csearch_path%3Dx"
        ),
        "postgres://u@h/db?sslmode=require&PASSWORD=[redacted]&options=-csearch_path%3Dx"
    );
    for url in [
        "postgres://authd:p@ss@db.example.com/authd",
        "postgres://authd@db.example.com/authd?password=s3cret&sslmode=require",
        "postgres://db.example.com/authd?sslmode=require&password=s3cret",
        "postgres://authd:s3cret@db.example.com/authd?application_name=a@b",
    ] {
        let redacted = auth_db::redact_url(url);
        assert!(
            !redacted.contains("s3cret") && !redacted.contains("ss@"),
            "{url} -> {redacted}"
        );
        assert!(redacted.contains("db.example.com"), "{url} -> {redacted}");
    }
}

#[test]
fn a_refused_connection_is_reported_as_unavailable() {
    let url = DatabaseUrl::parse("postgres://authd:s3cret@127.0.0.1:1/authd").unwrap();
    let err = auth_db::open_pool(&url, 1, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, DbError::Connect(_)), "{err:?}");
    assert!(err.is_unavailable());
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#!/usr/bin/env python3
"""The Holberton "user authentication service" end-to-end script (main.py),
against authd on http://localhost:5000.

Start the server for it with:
    cargo run --release -- serve --password-min-length 5 --reset-delivery response

The flow and the status codes are the exercise's. The one difference is the
error bodies: authd answers every error as {"error": code, "message": text},
so where the exercise compares a whole error body this script compares its
"message", which is the exercise's text exactly.
"""
import os
import sys

import requests

BASE = os.environ.get("AUTHD_URL", "http://localhost:5000")
EMAIL = "guillaume@holberton.io"
PASSWD = "b4l0u"
NEW_PASSWD = "t4rt1fl3tt3"


def register_user(email: str, password: str) -> None:
    resp = requests.post(f"{BASE}/users", data={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"email": email, "message": "user created"}
    resp = requests.post(f"{BASE}/users", data={"email": email, "password": password})
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"] == "email already registered"


def log_in_wrong_password(email: str, password: str) -> None:
    resp = requests.post(f"{BASE}/sessions", data={"email": email, "password": password})
    assert resp.status_code == 401, resp.text


def log_in(email: str, password: str) -> str:
    resp = requests.post(f"{BASE}/sessions", data={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"email": email, "message": "logged in"}
    return resp.cookies.get("session_id")


def profile_unlogged() -> None:
    resp = requests.get(f"{BASE}/profile")
    assert resp.status_code == 403, resp.text


def profile_logged(session_id: str) -> None:
    resp = requests.get(f"{BASE}/profile", cookies={"session_id": session_id})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"email": EMAIL}


def log_out(session_id: str) -> None:
    resp = requests.delete(f"{BASE}/sessions", cookies={"session_id": session_id})
    assert resp.status_code == 200, resp.text
    assert resp.history and resp.history[0].status_code == 302
    assert resp.json() == {"message": "Bienvenue"}


def reset_password_token(email: str) -> str:
    resp = requests.post(f"{BASE}/reset_password", data={"email": email})
    assert resp.status_code == 200, resp.text
    assert resp.json()["email"] == email
    return resp.json()["reset_token"]


def update_password(email: str, reset_token: str, new_password: str) -> None:
    data = {"email": email, "reset_token": reset_token, "new_password": new_password}
    resp = requests.put(f"{BASE}/reset_password", data=data)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"email": email, "message": "Password updated"}


if __name__ == "__main__":
    register_user(EMAIL, PASSWD)
    log_in_wrong_password(EMAIL, NEW_PASSWD)
    profile_unlogged()
    session_id = log_in(EMAIL, PASSWD)
    profile_logged(session_id)
    log_out(session_id)
    reset_token = reset_password_token(EMAIL)
    update_password(EMAIL, reset_token, NEW_PASSWD)
    log_in(EMAIL, NEW_PASSWD)
    print("OK: the Holberton main.py flow passed", file=sys.stderr)

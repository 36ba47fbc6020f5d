//! Login (password, plus a TOTP code for accounts that have one), lockout, logout.

use axum::extract::{Extension, Form, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;

use crate::store::audit::Outcome;

use super::app::{App, Client, WebError, Who, cookie_value};
use super::html::{esc, page};
use super::session::{COOKIE, LOGIN_COOKIE, Session, random_token};
use super::totp;
use crate::crypto::password;

fn login_page(app: &App, token: &str, username: &str, error: Option<&str>, status: StatusCode) -> Response {
    let error = error.map(|e| format!("<div class=\"err\" role=\"alert\">{}</div>", esc(e))).unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{error}<form class=\"card\" method=\"post\" action=\"/login\">\
<input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
<label for=\"u\">Username</label><input id=\"u\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" required value=\"{}\">\
<label for=\"p\">Password</label><input id=\"p\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<label for=\"c\">Authenticator code <span class=\"muted\">(if your account has one)</span></label>\
<input id=\"c\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" maxlength=\"6\">\
<p><button type=\"submit\">Sign in</button></p></form>",
        esc(username)
    );
    let mut response = (status, Html(page("Sign in", None, &body))).into_response();
    response.headers_mut().append(header::SET_COOKIE, app.cookie(LOGIN_COOKIE, token, "/login", 3600));
    response
}

pub async fn form(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    let token = cookie_value(&headers, LOGIN_COOKIE).filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())).unwrap_or_else(random_token);
    login_page(&app, &token, "", None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    code: String,
    csrf: String,
}

pub async fn submit(State(app): State<App>, Extension(client): Extension<Client>, Form(form): Form<LoginForm>) -> Result<Response, WebError> {
    let now = Utc::now();
    let username = form.username.trim().to_string();
    let who = Who { username: username.clone(), role: String::new(), source: client.0.clone() };
    let failures = app.store.login_failures_since(&username, now - app.lockout.lookback())?;
    if let Some(until) = app.lockout.locked_until(&failures, now) {
        app.audit(&who, "login", Outcome::Denied, None, "session", "locked out")?;
        tracing::warn!(source = %client.0, "login refused: account locked after repeated failures");
        let local = until.with_timezone(&app.tz()).format("%H:%M");
        let message = format!("Too many failed sign-ins. This account is locked until {local}.");
        return Ok(login_page(&app, &form.csrf, &username, Some(&message), StatusCode::TOO_MANY_REQUESTS));
    }
    let user = app.store.user(&username)?;
    let stored = user.as_ref().map_or_else(|| password::dummy_hash().to_string(), |u| u.password_hash.clone());
    let given = form.password.clone();
    let password_ok = tokio::task::spawn_blocking(move || password::verify(&given, &stored)).await.unwrap_or(false);
    let code_ok = match user.as_ref().and_then(|u| u.totp_secret.as_deref()) {
        Some(secret) => totp::verify(secret, &form.code, now.timestamp()),
        None => true,
    };
    let Some(user) = user.filter(|_| password_ok && code_ok) else {
        app.store.record_login_failure(&username, now)?;
        app.audit(&who, "login", Outcome::Failure, None, "session", if password_ok { "bad code" } else { "bad password" })?;
        return Ok(login_page(&app, &form.csrf, &username, Some("Wrong username, password or code."), StatusCode::UNAUTHORIZED));
    };
    app.store.clear_login_failures(&username)?;
    let token = app.sessions.lock().create(&user, now);
    app.audit(&Who { username: user.username.clone(), role: user.role.as_str().into(), source: client.0 }, "login", Outcome::Success, None, "session", "")?;
    let max_age = app.config.web.session_max_hours as i64 * 3600;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(header::SET_COOKIE, app.cookie(COOKIE, &token, "/", max_age));
    response.headers_mut().append(header::SET_COOKIE, app.cookie(LOGIN_COOKIE, "", "/login", 0));
    Ok(response)
}

pub async fn logout(State(app): State<App>, Extension(session): Extension<Session>, Extension(client): Extension<Client>, headers: axum::http::HeaderMap) -> Result<Response, WebError> {
    if let Some(token) = cookie_value(&headers, COOKIE) {
        app.sessions.lock().remove(&token);
    }
    // Its dashboard pages stop receiving live alerts now.
    app.live.close_session(&session.id);
    app.audit(&Who::of(&session, &client.0), "logout", Outcome::Success, None, "session", "")?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, app.cookie(COOKIE, "", "/", 0));
    Ok(response)
}

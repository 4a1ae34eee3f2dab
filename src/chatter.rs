//! A viewer's browser as the chat sees it, without a browser: its device cookie (set by the
//! backend's first answer, sent back on every later request) and its address (sent as
//! `X-Forwarded-For`, which a backend trusting 127.0.0.1 as a proxy believes).

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

use crate::backend::Stack;

/// One answer: status, `Retry-After` (seconds) and the JSON body (`null` if none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Value,
}

impl Answer {
    /// The error's `kind`, if the body is an error.
    pub fn kind(&self) -> Option<&str> {
        self.body["error"]["kind"].as_str()
    }
}

pub struct Chatter {
    http: reqwest::Client,
    /// Behind a lock so a chatter can be polled from `retry_for`'s closures.
    cookie: std::sync::Mutex<Option<String>>,
    /// The pay-per-view ticket this browser holds (sent with its token requests and posts).
    ticket: std::sync::Mutex<Option<String>>,
    address: String,
    username: String,
}

impl Chatter {
    /// A fresh browser (no cookie yet) at `address`, on `username`'s page.
    pub fn at(address: &str, username: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            cookie: std::sync::Mutex::new(None),
            ticket: std::sync::Mutex::new(None),
            address: address.to_owned(),
            username: username.to_owned(),
        }
    }

    /// From now on, requests carry `ticket`.
    pub fn hold_ticket(&self, ticket: &str) {
        *self.ticket.lock().unwrap_or_else(|p| p.into_inner()) = Some(ticket.to_owned());
    }

    fn held_ticket(&self) -> Option<String> {
        self.ticket
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn cookie(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.cookie.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer> {
        let mut request = request.header("x-forwarded-for", &self.address);
        let cookie = self.cookie().clone();
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await?;
        if let Some(set) = response.headers().get("set-cookie") {
            *self.cookie() = set.to_str()?.split(';').next().map(str::to_owned);
        }
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let body = response.json().await.unwrap_or(Value::Null);
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    pub async fn viewer_token(&self, stack: &Stack) -> Result<Answer> {
        let url = stack
            .backend
            .url(&format!("/api/streams/{}/viewer-token", self.username));
        let mut request = self.http.post(url);
        if let Some(ticket) = self.held_ticket() {
            request = request.json(&json!({ "ticket": ticket }));
        }
        self.send(request).await
    }

    /// Buys a ticket (the answer's body is the ticket) and holds it.
    pub async fn buy_ticket(&self, stack: &Stack) -> Result<Answer> {
        let url = stack
            .backend
            .url(&format!("/api/streams/{}/tickets", self.username));
        let answer = self.send(self.http.post(url)).await?;
        if let Some(id) = answer.body["id"].as_str() {
            self.hold_ticket(id);
        }
        Ok(answer)
    }

    /// Posts `text` as `name`; answers whatever the backend said.
    pub async fn post(&self, stack: &Stack, name: &str, text: &str) -> Result<Answer> {
        let url = stack
            .backend
            .url(&format!("/api/streams/{}/chat", self.username));
        let mut body = json!({"name": name, "text": text});
        if let Some(ticket) = self.held_ticket() {
            body["ticket"] = json!(ticket);
        }
        let request = self.http.post(url).json(&body);
        self.send(request).await
    }

    /// Posts `text` as `name` and answers the message's id; any refusal is an error.
    pub async fn say(&self, stack: &Stack, name: &str, text: &str) -> Result<i64> {
        let answer = self.post(stack, name, text).await?;
        ensure!(
            answer.status == 201,
            "posting: {} {}",
            answer.status,
            answer.body
        );
        answer.body["id"].as_i64().context("message id")
    }

    /// The chat's history as a page loading now would get it: the ids of its messages.
    pub async fn history(&self, stack: &Stack) -> Result<Vec<i64>> {
        let url = stack
            .backend
            .url(&format!("/api/streams/{}/chat", self.username));
        let request = self.http.get(url);
        let answer = self.send(request).await?;
        ensure!(
            answer.status == 200,
            "history: {} {}",
            answer.status,
            answer.body
        );
        let messages = answer.body.as_array().context("a list of messages")?;
        Ok(messages.iter().filter_map(|m| m["id"].as_i64()).collect())
    }
}

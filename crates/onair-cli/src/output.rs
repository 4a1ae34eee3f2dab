//! Human progress lines or JSON lines, one event at a time.

use std::io::Write;
use std::time::Instant;

use serde_json::{json, Map, Value};

pub struct Reporter {
    json: bool,
    started: Instant,
}

impl Reporter {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            started: Instant::now(),
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Emits `event` with `fields`; `human` is printed instead when not in JSON mode.
    pub fn event(&self, event: &str, fields: Value, human: impl FnOnce() -> String) {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let mut object = Map::new();
            object.insert("event".into(), json!(event));
            object.insert(
                "t_ms".into(),
                json!(self.started.elapsed().as_secs_f64() * 1000.0),
            );
            if let Value::Object(fields) = fields {
                object.extend(fields);
            }
            let _ = writeln!(stdout, "{}", Value::Object(object));
        } else {
            let _ = writeln!(stdout, "{}", human());
        }
        let _ = stdout.flush();
    }

    pub fn error(&self, kind: &str, message: &str, hint: Option<&str>) {
        if self.json {
            self.event(
                "error",
                json!({"kind": kind, "message": message, "hint": hint}),
                String::new,
            );
        }
        eprintln!("error: {message}");
        if let Some(hint) = hint {
            eprintln!("  next: {hint}");
        }
    }
}

pub fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

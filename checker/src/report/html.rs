//! The HTML helpers of every page the lab writes, written once: escaping,
//! clipping, numbers, durations, and the verdict badges and pills.

use consistency::Verdict;
use std::time::Duration;

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML and inline SVG text and
/// attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `text`, cut to `max` characters with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// `text` clipped to `max` characters, then escaped.
pub fn e(text: &str, max: usize) -> String {
    escape(&clip(text, max))
}

/// `1,234,567`.
pub fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    out.push_str(&digits[..first]);
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

/// A duration for people: `850 µs`, `12.3 ms`, `4.56 s`, `3m 07s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{} µs", d.as_micros())
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 120.0 {
        format!("{s:.2} s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// `1 operation`, `2 operations` (with thousands separators).
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", num(n as u64), if n == 1 { one } else { many })
}

/// The CSS class of a verdict: `valid`, `invalid` or `unknown`.
pub fn verdict_class(v: &Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown(_) => "unknown",
    }
}

/// A verdict as a large badge (`unknown: timeout` says why).
pub fn badge(v: &Verdict) -> String {
    match v {
        Verdict::Unknown(u) => format!("<span class=\"badge unknown\">unknown: {u}</span>"),
        v => format!("<span class=\"badge {0}\">{0}</span>", verdict_class(v)),
    }
}

/// A verdict as a small pill, for tables.
pub fn pill(v: &Verdict) -> String {
    match v {
        Verdict::Unknown(u) => format!("<span class=\"pill unknown\">unknown: {u}</span>"),
        v => format!("<span class=\"pill {0}\">{0}</span>", verdict_class(v)),
    }
}

/// Milliseconds for a table: `—` when unknown.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

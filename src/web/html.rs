//! Page shell and escaping. Pages are plain `format!` templates: no template engine to compile
//! on the build box, every page is a few KB, and every interpolated value goes through [`esc`]
//! at the point of use, which keeps escaping visible in review.

use std::fmt::Write;

use super::session::Session;

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
    out
}

/// Percent-encodes a path segment or query value.
pub fn url(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Mobile-first: one column, 16 px text, 44 px touch targets, no horizontal overflow.
const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.4 system-ui,sans-serif;color:#1b1b1b;background:#f4f5f7}\
header{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;padding:.5rem .75rem;background:#123c69;color:#fff}\
header a{color:#fff;text-decoration:none;padding:.4rem .2rem}header .who{margin-left:auto;font-size:.85rem}\
main{max-width:46rem;margin:0 auto;padding:.75rem}h1{font-size:1.3rem;margin:.3rem 0 .6rem}h2{font-size:1.05rem;margin:1rem 0 .4rem}\
.card{background:#fff;border-radius:8px;padding:.75rem;margin:.5rem 0;box-shadow:0 1px 2px #0002;overflow-wrap:anywhere}\
.task{display:block;color:inherit;text-decoration:none}.task.urgent{border-left:6px solid #c62828}\
.badge{display:inline-block;padding:.05rem .45rem;border-radius:1rem;font-size:.8rem;background:#e3e7ee;margin:0 .2rem .2rem 0}\
.badge.red{background:#c62828;color:#fff}.muted{color:#5f6670;font-size:.85rem}\
.stats{display:flex;gap:.5rem;flex-wrap:wrap}.stat{flex:1 1 6rem;background:#fff;border-radius:8px;padding:.5rem;text-align:center}\
.stat b{display:block;font-size:1.4rem}.filters{display:flex;gap:.4rem;flex-wrap:wrap;margin:.5rem 0}\
.filters a,.filters select{padding:.45rem .7rem;border-radius:1rem;background:#fff;border:1px solid #c9ced6;color:inherit;text-decoration:none;font-size:.9rem}\
.filters a.on{background:#123c69;color:#fff}button,.btn{min-height:44px;padding:.5rem 1rem;border:0;border-radius:6px;font-size:1rem;background:#123c69;color:#fff}\
button.ok{background:#2e7d32}button.no{background:#b23c17}button.plain{background:#e3e7ee;color:#1b1b1b}\
input,select,textarea{font:inherit;padding:.5rem;border:1px solid #c9ced6;border-radius:6px;max-width:100%}textarea{width:100%;min-height:5rem}\
form.inline{display:inline}.row{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center}audio{width:100%}\
ul.plain{list-style:none;padding:0;margin:0}ul.plain li{padding:.25rem 0;border-bottom:1px solid #eef0f3}\
.err{background:#fdecea;color:#8a1c1c;padding:.5rem;border-radius:6px}.okmsg{background:#e8f5e9;padding:.5rem;border-radius:6px}\
svg{width:100%;height:auto}label{display:block;margin:.5rem 0 .2rem}\
.alert-banner{background:#c62828;color:#fff;padding:.6rem .75rem;border-radius:6px;margin:.5rem 0}.alert-banner a{color:#fff;margin-right:.5rem}\
.alert-banner button{background:#fff;color:#c62828;margin-left:.5rem}";

/// The page shell with the top bar; `session` is `None` on the login page.
pub fn page(title: &str, session: Option<&Session>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 3000);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{} · Chartline</title><style>{CSS}</style></head><body><header><strong>Chartline</strong>",
        esc(title)
    );
    if let Some(s) = session {
        let _ = write!(
            out,
            "<a href=\"/\">Queue</a><a href=\"/practice\">Practice</a>{}<span class=\"who\">{} ({})</span>\
<form class=\"inline\" method=\"post\" action=\"/logout\">{}<button class=\"plain\" style=\"min-height:32px;padding:.2rem .6rem\">Log out</button></form>",
            if s.role == crate::store::users::Role::Admin { "<a href=\"/audit\">Audit</a>" } else { "" },
            esc(&s.display_name),
            s.role.as_str().replace('_', " "),
            csrf_field(s)
        );
    }
    out.push_str("</header><main>");
    if let Some(s) = session {
        // Live alerts (web::live): banners for unacknowledged emergencies, pushed while the page is open.
        let _ = write!(out, "<div id=\"live-alerts\" aria-live=\"assertive\" data-csrf=\"{}\"></div><script src=\"/live/alerts.js\" defer></script>", esc(&s.csrf));
    }
    let _ = write!(out, "{body}</main></body></html>");
    out
}

pub fn csrf_field(session: &Session) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(&session.csrf))
}

/// A request type as people say it: `prior_auth` -> `Prior auth`.
pub fn label(kind: &str) -> String {
    let text = kind.replace('_', " ");
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
        assert_eq!(url("nurse pool/ä"), "nurse%20pool%2F%C3%A4");
        assert_eq!(label("prior_auth"), "Prior auth");
    }
}

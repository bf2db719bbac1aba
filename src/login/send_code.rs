//! The send-the-code way: the page shows a code, an `xmpp:` link that opens the person's
//! XMPP app with a message carrying it (XEP-0147), and the same link as a QR code for the
//! phone beside a desktop browser. Nothing is pushed to anyone: the person's own message
//! says who they are (the sender the XMPP server stamped).

use fast_qr::{QRBuilder, ECL};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, LazyLock, Mutex};

use crate::i18n::Lang;

/// RFC 5122 §2.4: the query's values are percent-encoded UTF-8; only RFC 3986's unreserved
/// characters stay as they are. (`url`'s form encoding would turn spaces into `+`, which
/// XMPP apps show as a plus sign.)
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A site name longer than this is cut in the message: it only has to be recognizable.
const MAX_SITE_CHARS: usize = 40;

/// What the page shows for the send-the-code way.
pub struct SendCode {
    pub code: String,
    /// The code read out symbol by symbol, for screen readers.
    pub code_spelled: String,
    /// `xmpp:COMPONENT?message;body=…`.
    pub uri: String,
    /// The URI as a QR code, an SVG `data:` URI (the CSP allows `data:` images) that
    /// holds none of `"`, `&`, `<`, `>`, so a double-quoted attribute carries it as it is
    /// (its `'` need no escaping there).
    pub qr: Arc<str>,
    pub component: String,
}

impl SendCode {
    pub fn new(component: &str, site: &str, code: &str, l: Lang) -> Self {
        let uri = message_uri(component, &message_text(site, code, l));
        Self {
            code: code.to_owned(),
            code_spelled: spelled(code),
            qr: qr_data_uri(&uri),
            uri,
            component: component.to_owned(),
        }
    }
}

/// "Log in to Gitea: K7XM-4QPA": what the person sends; it names the site, so that the
/// message in their history says what it was for.
pub fn message_text(site: &str, code: &str, l: Lang) -> String {
    let cut: String = site.chars().take(MAX_SITE_CHARS).collect();
    let site = if cut.len() < site.len() {
        format!("{}…", cut.trim_end())
    } else {
        site.to_owned()
    };
    l.t2("send-code-message", "site", &site, "code", code)
}

/// XEP-0147's message action: opens a message to `jid` with `body` filled in.
pub fn message_uri(jid: &str, body: &str) -> String {
    format!(
        "xmpp:{jid}?message;body={}",
        utf8_percent_encode(body, QUERY_VALUE)
    )
}

/// XEP-0147's roster action: proposes adding `jid` as a contact named `name`.
pub fn roster_uri(jid: &str, name: &str) -> String {
    format!(
        "xmpp:{jid}?roster;name={}",
        utf8_percent_encode(name, QUERY_VALUE)
    )
}

/// `K7XM-4QPA` → "K 7 X M 4 Q P A".
pub fn spelled(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-')
        .map(String::from)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR codes drawn lately, by URI: the login page and then the wait page show the
/// same one (docs/performance.md: drawing one cost a third of a login's CPU with the
/// qrcode crate). Bounded: emptied when full.
static RECENT_QR: LazyLock<Mutex<HashMap<String, Arc<str>>>> = LazyLock::new(Default::default);
const RECENT_QR_MAX: usize = 256;

fn qr_data_uri(uri: &str) -> Arc<str> {
    let recent = || RECENT_QR.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(qr) = recent().get(uri) {
        return qr.clone();
    }
    let qr: Arc<str> = draw_qr(uri).into();
    let mut recent = recent();
    if recent.len() >= RECENT_QR_MAX {
        recent.clear();
    }
    recent.insert(uri.to_owned(), qr.clone());
    qr
}

/// The quiet zone around a QR code, in modules (ISO/IEC 18004 asks for 4).
const QR_MARGIN: usize = 4;

/// What a `data:` URI's SVG must percent-encode: what a URI cannot hold (`#` would end
/// it), and what could end or change a double-quoted HTML attribute.
const SVG_IN_URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'<')
    .add(b'>');

/// fast_qr rather than the qrcode crate: the same code (error correction M, the mask of
/// least penalty), encoded about 6× faster, which a login page's CPU showed. Drawn here,
/// not with fast_qr's SvgBuilder: that writes a square per dark module, each formatted
/// into a string of its own, and the page carried it base64-encoded; one path segment
/// per run of dark modules in a row, percent-encoded, is less than half the bytes, and a
/// login's CPU showed that too (docs/performance.md).
fn draw_qr(uri: &str) -> String {
    // A short URI always fits a QR code; the error is for data beyond version 40.
    let Ok(code) = QRBuilder::new(uri.as_bytes()).ecl(ECL::M).build() else {
        return String::new();
    };
    let side = code.size + 2 * QR_MARGIN;
    let mut svg = String::with_capacity(64 * code.size);
    // Writing to a String cannot fail.
    let _ = write!(
        svg,
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {side} {side}' \
         shape-rendering='crispEdges'><rect width='{side}' height='{side}' fill='white'/>\
         <path d='"
    );
    for y in 0..code.size {
        let top = y + QR_MARGIN;
        let mut left = QR_MARGIN;
        for run in code[y].chunk_by(|a, b| a.value() == b.value()) {
            if run[0].value() {
                let _ = write!(svg, "M{left},{top}h{}v1H{left}z", run.len());
            }
            left += run.len();
        }
    }
    svg.push_str("'/></svg>");
    format!(
        "data:image/svg+xml,{}",
        utf8_percent_encode(&svg, SVG_IN_URI)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_opens_a_message_with_the_text_percent_encoded() {
        let send = SendCode::new(
            "auth.example.org",
            "Gitea & Co",
            "K7XM-4QPA",
            Lang::default(),
        );
        assert_eq!(
            send.uri,
            "xmpp:auth.example.org?message;body=Log%20in%20to%20Gitea%20%26%20Co%3A%20K7XM-4QPA"
        );
        assert_eq!(send.code_spelled, "K 7 X M 4 Q P A");
        let svg = send.qr.strip_prefix("data:image/svg+xml,").unwrap();
        assert!(!svg.contains(['"', '&', '<', '>', '#', ' ']), "{svg}");
        let svg = percent_encoding::percent_decode_str(svg)
            .decode_utf8()
            .unwrap();
        assert!(svg.starts_with("<svg xmlns='http://www.w3.org/2000/svg'"));
        // Drawn once for the login page and the wait page.
        let again = SendCode::new(
            "auth.example.org",
            "Gitea & Co",
            "K7XM-4QPA",
            Lang::default(),
        );
        assert!(Arc::ptr_eq(&send.qr, &again.qr));
        assert_eq!(
            roster_uri("auth.example.org", "Login service"),
            "xmpp:auth.example.org?roster;name=Login%20service"
        );
    }

    /// The drawing has exactly the dark modules of the code fast_qr encodes, inside the
    /// quiet zone.
    #[test]
    fn the_qr_code_is_drawn_module_for_module() {
        let uri = message_uri("auth.example.org", "Log in to Gitea: K7XM-4QPA");
        let code = QRBuilder::new(uri.as_bytes()).ecl(ECL::M).build().unwrap();
        let drawn = draw_qr(&uri);
        let svg = drawn.strip_prefix("data:image/svg+xml,").unwrap();
        let svg = percent_encoding::percent_decode_str(svg)
            .decode_utf8()
            .unwrap();
        let side = code.size + 2 * QR_MARGIN;
        assert!(
            svg.contains(&format!("viewBox='0 0 {side} {side}'")),
            "{svg}"
        );
        // A white ground under the dark modules, the quiet zone included.
        let ground = format!("<rect width='{side}' height='{side}' fill='white'/>");
        assert!(svg.find(&ground) < svg.find("<path"), "{svg}");
        assert!(svg.contains(&ground), "{svg}");
        let path = svg.split("d='").nth(1).unwrap().split('\'').next().unwrap();
        let mut dark = vec![vec![false; side]; side];
        for run in path.split('z').filter(|run| !run.is_empty()) {
            let (start, rest) = run.strip_prefix('M').unwrap().split_once('h').unwrap();
            let (width, end) = rest.split_once("v1H").unwrap();
            let (left, top) = start.split_once(',').unwrap();
            let (left, top): (usize, usize) = (left.parse().unwrap(), top.parse().unwrap());
            assert_eq!(end.parse::<usize>().unwrap(), left, "{run}");
            let width: usize = width.parse().unwrap();
            for module in &mut dark[top][left..left + width] {
                assert!(!*module, "drawn twice: {run}");
                *module = true;
            }
        }
        for (y, row) in dark.iter().enumerate() {
            for (x, &drawn) in row.iter().enumerate() {
                let module = (QR_MARGIN..QR_MARGIN + code.size).contains(&y)
                    && (QR_MARGIN..QR_MARGIN + code.size).contains(&x)
                    && code[y - QR_MARGIN][x - QR_MARGIN].value();
                assert_eq!(drawn, module, "module ({x}, {y})");
            }
        }
    }

    /// In every language the code is found again in the message the person sends.
    #[test]
    fn long_site_names_are_cut_and_the_code_found_again() {
        for l in Lang::shipped() {
            let text = message_text(&"Ñame ".repeat(20), "K7XM-4QPA", l);
            assert!(text.chars().count() < 80, "{text}");
            assert_eq!(crate::random::code_candidates(&text), ["K7XM4QPA"], "{l}");
            let short = message_text("Gitea", "K7XM-4QPA", l);
            assert_eq!(crate::random::code_candidates(&short), ["K7XM4QPA"], "{l}");
        }
    }
}

//! The person's language: translations from `locales/<tag>/jidconnect.ftl` (Fluent, compiled
//! in), and which language a page or an XMPP message speaks.
//!
//! Choice, in order (docs/languages.md): a language picked on the page (`?lang=`, then
//! remembered in a cookie); for a login, the language the login was started in (OIDC
//! `ui_locales`, else the cookie, else `Accept-Language`, decided at `/authorize`); the
//! cookie; `Accept-Language`; English.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

use crate::state::AppState;
use crate::web::{lasting_cookie, LANG_COOKIE};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around values: codes and addresses are copied from
        // pages and messages, and marks would travel with them. Markup sets values apart.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Languages written right to left (by their language subtag), for `dir` on `<html>`.
const RIGHT_TO_LEFT: &[&str] = &["ar", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"];

/// The shipped languages: English first, then by tag.
static SHIPPED: LazyLock<Vec<LanguageIdentifier>> = LazyLock::new(|| {
    let mut tags: Vec<LanguageIdentifier> = LOCALES.locales().cloned().collect();
    tags.sort_by_key(|tag| (tag.language.as_str() != "en", tag.to_string()));
    tags
});

/// A shipped language. Cheap to copy; English by default.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Lang(&'static LanguageIdentifier);

impl Default for Lang {
    fn default() -> Self {
        Lang(&SHIPPED[0])
    }
}

impl fmt::Debug for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A value put into a message: text, or a number (which picks the plural form).
pub enum Arg<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(text: &'a str) -> Self {
        Arg::Text(text)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(text: &'a String) -> Self {
        Arg::Text(text)
    }
}

impl From<u64> for Arg<'_> {
    fn from(n: u64) -> Self {
        Arg::Number(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl Lang {
    /// Every shipped language, English first.
    pub fn shipped() -> impl Iterator<Item = Lang> {
        SHIPPED.iter().map(Lang)
    }

    /// The shipped language for a BCP 47 tag (`fr-CA` is French), if any.
    pub fn parse(tag: &str) -> Option<Lang> {
        let wanted: LanguageIdentifier = tag.trim().parse().ok()?;
        let exact = SHIPPED.iter().find(|s| **s == wanted);
        exact
            .or_else(|| SHIPPED.iter().find(|s| s.language == wanted.language))
            .map(Lang)
    }

    /// The first shipped language of a space-separated list (OIDC `ui_locales`).
    pub fn first_of(list: &str) -> Option<Lang> {
        list.split_whitespace().find_map(Lang::parse)
    }

    /// The best shipped language of an `Accept-Language` header, by its weights.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        // By hand: fluent-langneg's parser ignores the q weights.
        let mut ranges: Vec<(u16, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let range = parts.next()?.trim();
                let weight =
                    parts
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .map_or(Some(1000), |q| {
                            q.trim()
                                .parse::<f32>()
                                .ok()
                                .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                        })?;
                (weight > 0 && !range.is_empty()).then_some((weight, position, range))
            })
            .collect();
        ranges.sort_by_key(|&(weight, position, _)| (std::cmp::Reverse(weight), position));
        ranges
            .into_iter()
            .find_map(|(_, _, range)| Lang::parse(range))
    }

    pub fn tag(self) -> &'static str {
        // Shipped tags are plain language subtags, borrowed from the static list.
        self.0.language.as_str()
    }

    /// `ltr` or `rtl`, for `dir` on `<html>`.
    pub fn dir(self) -> &'static str {
        dir_of(self.tag())
    }

    /// The language's own name ("Français"), for the picker.
    pub fn name(self) -> String {
        self.t("language-name")
    }

    /// The message `key`.
    pub fn t(self, key: &str) -> String {
        self.lookup(key, None)
    }

    /// The message `key` with values.
    pub fn args(self, key: &str, args: &[(&'static str, Arg)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Arg::Text(text) => FluentValue::from(*text),
                    Arg::Number(n) => FluentValue::from(*n),
                };
                (Cow::Borrowed(*name), value)
            })
            .collect();
        self.lookup(key, Some(&args))
    }

    /// This language's message, else English's. Straight from the bundle: the loader's
    /// `lookup` negotiates languages on every call, and a page makes dozens.
    fn lookup(self, key: &str, args: Option<&HashMap<Cow<'static, str>, FluentValue>>) -> String {
        LOCALES
            .lookup_single_language(self.0, key, args)
            .or_else(|_| LOCALES.lookup_single_language(Lang::default().0, key, args))
            .unwrap_or_else(|_| format!("Unknown localization key: {key:?}"))
    }

    /// For templates: the message `key` with one value.
    pub fn t1(self, key: &str, name: &'static str, value: &str) -> String {
        self.args(key, &[(name, Arg::Text(value))])
    }

    /// For templates: the message `key` with two values.
    pub fn t2(self, key: &str, n1: &'static str, v1: &str, n2: &'static str, v2: &str) -> String {
        self.args(key, &[(n1, Arg::Text(v1)), (n2, Arg::Text(v2))])
    }

    /// For templates: the message `key` with a number, which picks its plural form.
    pub fn n(self, key: &str, name: &'static str, value: u64) -> String {
        self.args(key, &[(name, value.into())])
    }

    /// For templates, as HTML: the message `key` with its values set off in markup, each as
    /// `<strong class="NAME">value</strong>`. The message's text and the values are
    /// escaped; only the markup around the values is not.
    pub fn marked(self, key: &str, values: &[(&'static str, &str)]) -> String {
        // Each value is first a placeholder from the Private Use Area, which no message
        // contains, so that escaping the text cannot touch the markup.
        let placeholders: Vec<String> = (0..values.len())
            .map(|i| format!("\u{F8F0}{i}\u{F8F1}"))
            .collect();
        let args: Vec<(&'static str, Arg)> = values
            .iter()
            .zip(&placeholders)
            .map(|((name, _), placeholder)| (*name, Arg::Text(placeholder)))
            .collect();
        let mut html = escape(&self.args(key, &args));
        for ((name, value), placeholder) in values.iter().zip(&placeholders) {
            html = html.replace(
                placeholder,
                &format!("<strong class=\"{name}\">{}</strong>", escape(value)),
            );
        }
        html
    }

    /// For templates: `marked` with one value.
    pub fn m1(self, key: &str, name: &'static str, value: &str) -> String {
        self.marked(key, &[(name, value)])
    }

    /// For templates: `marked` with two values.
    pub fn m2(self, key: &str, n1: &'static str, v1: &str, n2: &'static str, v2: &str) -> String {
        self.marked(key, &[(n1, v1), (n2, v2)])
    }

    /// For templates: `marked` with three values.
    #[allow(clippy::too_many_arguments)]
    pub fn m3(
        self,
        key: &str,
        n1: &'static str,
        v1: &str,
        n2: &'static str,
        v2: &str,
        n3: &'static str,
        v3: &str,
    ) -> String {
        self.marked(key, &[(n1, v1), (n2, v2), (n3, v3)])
    }

    /// The picker's languages: this page in each shipped language.
    pub fn choices(self) -> Vec<Choice> {
        PAGE.try_with(|page| {
            Lang::shipped()
                .map(|lang| {
                    let mut query =
                        url::form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
                    query.extend_pairs(&page.query);
                    query.append_pair("lang", lang.tag());
                    Choice {
                        tag: lang.tag(),
                        name: lang.name(),
                        current: lang == self,
                        href: query.finish(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// The word that refuses a request, as the person is told to type it.
    pub fn refusal_word(self) -> String {
        self.refusal_words().into_iter().next().unwrap_or_default()
    }

    /// What to reply to a login notice to end that login, as the person is told it.
    pub fn not_me_phrase(self) -> String {
        words(&self.t("not-me-phrases"))
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// The words that refuse a request in this language ("no", "non", "nein").
    pub fn refusal_words(self) -> Vec<String> {
        words(&self.t("refusal-words"))
    }
}

fn dir_of(tag: &str) -> &'static str {
    let language = tag.split(['-', '_']).next().unwrap_or_default();
    if RIGHT_TO_LEFT.contains(&language) {
        "rtl"
    } else {
        "ltr"
    }
}

/// A comma-separated list of words from a message, as compared (lowercase, trimmed).
fn words(list: &str) -> Vec<String> {
    list.split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Every word that refuses a request, in every shipped language: a person may answer in
/// any of them, whatever the page's language.
pub static REFUSAL_WORDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut all: Vec<String> = Lang::shipped().flat_map(Lang::refusal_words).collect();
    all.sort();
    all.dedup();
    all
});

/// Every phrase that undoes the last login ("not me"), in every shipped language.
pub static NOT_ME_PHRASES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut all: Vec<String> = Lang::shipped()
        .flat_map(|lang| words(&lang.t("not-me-phrases")))
        .collect();
    all.sort();
    all.dedup();
    all
});

fn escape(text: &str) -> String {
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

/// What a request says about the person's language.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prefs {
    /// Picked on this page (`?lang=`).
    picked: Option<Lang>,
    cookie: Option<Lang>,
    accept: Option<Lang>,
}

impl Prefs {
    pub fn from_parts(parts: &Parts, secure_cookies: bool) -> Self {
        let header = |name| {
            parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
        };
        let picked = parts.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        });
        let cookie = header(COOKIE)
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == LANG_COOKIE.on(secure_cookies))
            .and_then(|(_, value)| Lang::parse(value));
        let accept = header(ACCEPT_LANGUAGE).find_map(Lang::from_accept_language);
        Prefs {
            picked,
            cookie,
            accept,
        }
    }

    /// The language of a page that belongs to no login.
    pub fn page(self) -> Lang {
        self.choose(None)
    }

    /// The language of a login started with OIDC `ui_locales`.
    pub fn choose(self, ui_locales: Option<&str>) -> Lang {
        self.picked
            .or_else(|| ui_locales.and_then(Lang::first_of))
            .or(self.cookie)
            .or(self.accept)
            .unwrap_or_default()
    }

    /// The language of a login's page: picked here, else the login's own.
    pub fn for_flow(self, flow_lang: &str) -> Lang {
        self.picked
            .or_else(|| Lang::parse(flow_lang))
            .unwrap_or_default()
    }
}

impl FromRequestParts<AppState> for Prefs {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Prefs::from_parts(parts, app.secure_cookies()))
    }
}

/// The request being answered, as far as its language goes.
struct Page {
    lang: Lang,
    /// The query string without `lang`, kept by the picker's links.
    query: Vec<(String, String)>,
}

tokio::task_local! {
    static PAGE: Page;
}

/// The language of the page being answered, for pages built far from the request
/// (error pages); English outside a request.
pub fn current() -> Lang {
    PAGE.try_with(|page| page.lang).unwrap_or_default()
}

/// Runs `work` (a page's handler) in language `lang`, e.g. the one a login asked for.
pub async fn scoped<F: std::future::Future>(lang: Lang, work: F) -> F::Output {
    let query = PAGE.try_with(|page| page.query.clone()).unwrap_or_default();
    PAGE.scope(Page { lang, query }, work).await
}

/// A language the picker offers.
pub struct Choice {
    pub tag: &'static str,
    pub name: String,
    pub current: bool,
    /// The same page (with its query) in that language.
    pub href: String,
}

/// Middleware: every response is built knowing the page's language, and a language
/// picked with `?lang=` is remembered for a year.
pub async fn negotiate(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let prefs = Prefs::from_parts(&parts, app.secure_cookies());
    let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .filter(|(name, _)| name != "lang")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let request = Request::from_parts(parts, body);
    let page = Page {
        lang: prefs.page(),
        query,
    };
    let response = PAGE.scope(page, next.run(request)).await;
    match prefs.picked {
        Some(picked) => {
            let remembered = lasting_cookie(
                LANG_COOKIE,
                picked.tag().to_owned(),
                app.secure_cookies(),
                365 * 24 * 3600,
            );
            (CookieJar::new().add(remembered), response).into_response()
        }
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_templates::fluent_bundle::FluentResource;
    use std::collections::BTreeSet;

    fn keys(tag: &str) -> BTreeSet<String> {
        let path = format!(
            "{}/locales/{tag}/jidconnect.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        let source = std::fs::read_to_string(&path).unwrap();
        let resource = FluentResource::try_new(source)
            .unwrap_or_else(|(_, errors)| panic!("{path}: {errors:?}"));
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_shipped_language_has_every_key_of_english_and_no_other() {
        let english = keys("en");
        assert!(english.len() > 100, "{}", english.len());
        assert!(Lang::shipped().count() >= 5);
        for lang in Lang::shipped() {
            let theirs = keys(lang.tag());
            let missing: Vec<_> = english.difference(&theirs).collect();
            let unknown: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert!(
                unknown.is_empty(),
                "{lang} has keys English lacks: {unknown:?}"
            );
        }
    }

    /// Every key the code and the templates look up exists in English (and so, by the
    /// test above, everywhere).
    #[test]
    fn every_key_used_exists() {
        let english = keys("en");
        let root = env!("CARGO_MANIFEST_DIR");
        let mut used = BTreeSet::new();
        for dir in ["src", "templates"] {
            collect_used_keys(&std::path::Path::new(root).join(dir), &mut used);
        }
        assert!(used.len() > 100, "{}", used.len());
        let missing: Vec<_> = used.difference(&english).collect();
        assert!(missing.is_empty(), "looked up but not in en: {missing:?}");
    }

    fn collect_used_keys(path: &std::path::Path, used: &mut BTreeSet<String>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                collect_used_keys(&entry.unwrap().path(), used);
            }
            return;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for call in [
            ".t(\"",
            ".t1(\"",
            ".t2(\"",
            ".n(\"",
            ".args(\"",
            ".m1(\"",
            ".m2(\"",
            ".m3(\"",
            ".marked(\"",
        ] {
            for (at, _) in text.match_indices(call) {
                let rest = &text[at + call.len()..];
                if let Some(end) = rest.find('"') {
                    let key = &rest[..end];
                    if !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
                    {
                        used.insert(key.to_owned());
                    }
                }
            }
        }
    }

    #[test]
    fn a_translated_refusal_never_reads_as_a_code() {
        assert!(REFUSAL_WORDS.len() > 10);
        for word in REFUSAL_WORDS.iter().chain(NOT_ME_PHRASES.iter()) {
            assert!(
                crate::random::code_candidates(word).is_empty(),
                "{word:?} reads as a code"
            );
            assert!(
                crate::random::code_candidates(&word.to_uppercase()).is_empty(),
                "{word:?} reads as a code"
            );
        }
        for lang in Lang::shipped() {
            assert!(!lang.refusal_words().is_empty(), "{lang}");
        }
    }

    #[test]
    fn negotiation_follows_weights_and_falls_back_to_english() {
        let tag = |l: Option<Lang>| l.map(|l| l.tag());
        assert_eq!(
            tag(Lang::from_accept_language("de-AT,de;q=0.9,en;q=0.5")),
            Some("de")
        );
        assert_eq!(
            tag(Lang::from_accept_language("en;q=0.2, fr-CA;q=0.8")),
            Some("fr")
        );
        assert_eq!(tag(Lang::from_accept_language("ja, es;q=0.1")), Some("es"));
        assert_eq!(tag(Lang::from_accept_language("fr;q=0, *;q=0.1")), None);
        assert_eq!(tag(Lang::from_accept_language("ja")), None);
        assert_eq!(tag(Lang::first_of("ja ca-ES fr")), Some("ca"));
        assert_eq!(Lang::default().tag(), "en");
        let prefs = Prefs {
            picked: None,
            cookie: Lang::parse("es"),
            accept: Lang::parse("de"),
        };
        assert_eq!(prefs.choose(Some("fr")).tag(), "fr");
        assert_eq!(prefs.choose(Some("ja")).tag(), "es");
        assert_eq!(prefs.page().tag(), "es");
        let picked = Prefs {
            picked: Lang::parse("ca"),
            ..prefs
        };
        assert_eq!(picked.choose(Some("fr")).tag(), "ca");
        assert_eq!(picked.for_flow("fr").tag(), "ca");
        assert_eq!(Prefs::default().for_flow("xx").tag(), "en");
    }

    #[test]
    fn right_to_left_languages_get_dir_rtl() {
        assert_eq!(dir_of("ar"), "rtl");
        assert_eq!(dir_of("he-IL"), "rtl");
        assert_eq!(dir_of("fa"), "rtl");
        for lang in Lang::shipped() {
            assert_eq!(lang.dir(), "ltr", "{lang}");
        }
    }

    #[test]
    fn marked_values_are_escaped_and_set_off() {
        let fr = Lang::parse("fr").unwrap();
        let html = fr.m1("wait-asked", "jid", "<b>@x");
        assert!(
            html.contains("<strong class=\"jid\">&lt;b&gt;@x</strong>"),
            "{html}"
        );
        assert!(!html.contains("<b>"), "{html}");
    }

    #[test]
    fn plurals_follow_each_language() {
        let en = Lang::default();
        assert_eq!(en.n("seconds", "count", 1), "1 second");
        assert_eq!(en.n("seconds", "count", 90), "90 seconds");
        let fr = Lang::parse("fr").unwrap();
        assert_eq!(fr.n("seconds", "count", 1), "1 seconde");
        assert_eq!(fr.n("seconds", "count", 90), "90 secondes");
    }
}

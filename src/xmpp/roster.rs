//! The login service as a contact (RFC 6121): presence subscriptions, the online resources
//! of the people who added it, and which of their apps show XEP-0070 requests.
//!
//! Being a contact is what gets requests past stranger filters (Prosody's
//! mod_block_strangers lets a message through when the recipient's roster item for the
//! sender is `from` or `both`: so the component subscribes back, and the person's app
//! approves), and the presence that comes with it tells which apps are online and whether
//! they support XEP-0070 (XEP-0115 caps, or disco#info).
//!
//! Pure state: it answers stanzas with stanzas and reports what must be stored; the
//! caller does the I/O.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid, Jid};
use minidom::Element;
use xmpp_parsers::caps::{compute_disco, hash_caps};
use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::ns;

use super::address::UserJid;
use super::stanzas::{self, CapsRef, IncomingPresence, PresenceKind};
use crate::random;

/// A contact's subscription state, from the component's side (RFC 6121 §2.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// They receive our presence (they asked, we approved).
    From,
    /// We receive theirs (they approved our request): our stanzas pass their filters.
    To,
    Both,
}

impl Subscription {
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::From => "from",
            Subscription::To => "to",
            Subscription::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "from" => Some(Subscription::From),
            "to" => Some(Subscription::To),
            "both" => Some(Subscription::Both),
            _ => None,
        }
    }

    fn gets_our_presence(self) -> bool {
        self != Subscription::To
    }

    fn sends_us_presence(self) -> bool {
        self != Subscription::From
    }

    fn from_flags(gets_ours: bool, sends_us: bool) -> Option<Self> {
        match (gets_ours, sends_us) {
            (true, true) => Some(Subscription::Both),
            (true, false) => Some(Subscription::From),
            (false, true) => Some(Subscription::To),
            (false, false) => None,
        }
    }
}

/// Whether one online app shows XEP-0070 requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Support {
    /// Not known yet (its disco#info is on the way): it gets the message form.
    Unknown,
    HttpAuth,
    Plain,
}

#[derive(Debug, Clone)]
struct Resource {
    caps: Option<String>,
    support: Support,
}

#[derive(Debug, Clone)]
struct Contact {
    subscription: Subscription,
    resources: HashMap<String, Resource>,
    /// What was last reported as the contact's online state.
    reported_online: Option<bool>,
}

/// Where a request to a bare JID goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not a contact whose presence we receive: the message form to the bare JID.
    Unknown,
    /// A contact with no online app: the message form to the bare JID (stored offline,
    /// often pushed to a phone), and the page says the app seems offline.
    Offline,
    /// Each online app: `true` if it shows XEP-0070 requests (an IQ), else a message.
    Resources(Vec<(FullJid, bool)>),
}

/// What the caller must store or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A contact's subscription changed; `None`: it is no contact any more.
    Subscription {
        jid: BareJid,
        subscription: Option<Subscription>,
    },
    /// A contact came online (`true`) or went offline.
    Online { jid: BareJid, online: bool },
}

/// Stanzas to send, and changes to store.
#[derive(Debug, Default)]
pub struct Outcome {
    pub send: Vec<Element>,
    pub changes: Vec<Change>,
}

/// A disco#info query we sent.
struct Asked {
    to: FullJid,
    caps: Option<CapsRef>,
    at: Instant,
}

pub struct Roster {
    me: BareJid,
    contacts: HashMap<BareJid, Contact>,
    /// `node#ver` → shows XEP-0070 requests; only from answers whose hash checked out.
    verified_caps: HashMap<String, bool>,
    asked: HashMap<String, Asked>,
}

/// Unanswered disco#info queries kept at most (clients that never answer)…
const MAX_ASKED: usize = 1_000;
/// …and for how long.
const ASK_TIMEOUT: Duration = Duration::from_secs(60);
/// Apps per contact that are tracked and asked: more is a flood, not a person.
const MAX_APPS: usize = 10;
/// Caps versions remembered (they are shared by every user of one app version).
const MAX_VERIFIED_CAPS: usize = 10_000;

impl Roster {
    pub fn new(me: BareJid) -> Self {
        Self {
            me,
            contacts: HashMap::new(),
            verified_caps: HashMap::new(),
            asked: HashMap::new(),
        }
    }

    /// The stored contacts, read when the link comes up: our presence to those who get it,
    /// a probe to those whose presence we get (their answers tell who is online). A contact
    /// changed by a stanza meanwhile keeps its newer state.
    pub fn load(&mut self, stored: Vec<(BareJid, Subscription)>) -> Vec<Element> {
        for (jid, subscription) in stored {
            self.contacts.entry(jid).or_insert(Contact {
                subscription,
                resources: HashMap::new(),
                reported_online: None,
            });
        }
        let mut send = Vec::new();
        for (jid, contact) in &self.contacts {
            let to = Jid::from(jid.clone());
            if contact.subscription.gets_our_presence() {
                send.push(stanzas::available(&self.me, &to));
            }
            if contact.subscription.sends_us_presence() {
                send.push(stanzas::presence(&self.me, &to, PresenceKind::Probe));
            }
        }
        send
    }

    /// The link went down: the contacts are loaded again (another instance may have
    /// served them meanwhile), and who is online is unknown until probes are answered.
    pub fn disconnected(&mut self) {
        self.asked.clear();
        self.contacts.clear();
    }

    pub fn route(&self, jid: &BareJid) -> Route {
        let Some(contact) = self
            .contacts
            .get(jid)
            .filter(|c| c.subscription.sends_us_presence())
        else {
            return Route::Unknown;
        };
        match contact.reported_online {
            None => Route::Unknown,
            Some(false) => Route::Offline,
            Some(true) => Route::Resources(
                contact
                    .resources
                    .iter()
                    .filter_map(|(resource, r)| {
                        let full = jid.with_resource_str(resource).ok()?;
                        Some((full, r.support == Support::HttpAuth))
                    })
                    .collect(),
            ),
        }
    }

    pub fn on_presence(&mut self, presence: &IncomingPresence) -> Outcome {
        // Another address at the component's domain is not the service people add.
        if presence
            .to
            .as_ref()
            .is_some_and(|to| to.to_bare() != self.me)
        {
            return Outcome::default();
        }
        // Keyed like the requests: an ASCII domain, whatever form the server stamped.
        let Some(sender) = UserJid::of_sender(&presence.from) else {
            return Outcome::default();
        };
        let from = sender.bare().clone();
        let bare_to = Jid::from(from.clone());
        let mut out = Outcome::default();
        let current = self.contacts.get(&from).map(|c| c.subscription);
        let gets_ours = current.is_some_and(Subscription::gets_our_presence);
        let sends_us = current.is_some_and(Subscription::sends_us_presence);
        match presence.kind {
            PresenceKind::Subscribe => {
                out.send.push(stanzas::presence(
                    &self.me,
                    &bare_to,
                    PresenceKind::Subscribed,
                ));
                if !sends_us {
                    // Back: without it, stranger filters still drop our messages.
                    out.send.push(stanzas::presence(
                        &self.me,
                        &bare_to,
                        PresenceKind::Subscribe,
                    ));
                }
                out.send.push(stanzas::available(&self.me, &bare_to));
                self.set_subscription(&from, true, sends_us, &mut out);
            }
            PresenceKind::Subscribed if current.is_some() => {
                self.set_subscription(&from, gets_ours, true, &mut out);
            }
            PresenceKind::Unsubscribe if gets_ours => {
                out.send.push(stanzas::presence(
                    &self.me,
                    &bare_to,
                    PresenceKind::Unavailable,
                ));
                self.set_subscription(&from, false, sends_us, &mut out);
            }
            PresenceKind::Unsubscribed if sends_us => {
                self.set_subscription(&from, gets_ours, false, &mut out);
            }
            // Unknown probers get nothing: answering `unsubscribed` would cancel a
            // subscription that only our lost state forgot.
            PresenceKind::Probe if gets_ours => {
                out.send.push(stanzas::available(&self.me, &presence.from));
            }
            PresenceKind::Available if sends_us => {
                if let Some(full) = sender.full() {
                    self.resource_available(full.clone(), presence.caps.as_ref(), &mut out);
                }
            }
            PresenceKind::Unavailable if sends_us => {
                let resource = sender.full().map(|f| f.resource().as_str().to_owned());
                let contact = self.contacts.get_mut(&from).expect("a contact");
                match resource {
                    Some(resource) => {
                        contact.resources.remove(&resource);
                    }
                    // The server's answer to a probe of someone with no online app.
                    None => contact.resources.clear(),
                }
                self.report_online(&from, &mut out);
            }
            _ => {}
        }
        out
    }

    fn set_subscription(
        &mut self,
        jid: &BareJid,
        gets_ours: bool,
        sends_us: bool,
        out: &mut Outcome,
    ) {
        let subscription = Subscription::from_flags(gets_ours, sends_us);
        match subscription {
            Some(subscription) => {
                let contact = self.contacts.entry(jid.clone()).or_insert(Contact {
                    subscription,
                    resources: HashMap::new(),
                    reported_online: None,
                });
                contact.subscription = subscription;
                if !sends_us {
                    contact.resources.clear();
                    contact.reported_online = None;
                }
            }
            None => {
                self.contacts.remove(jid);
            }
        }
        out.changes.push(Change::Subscription {
            jid: jid.clone(),
            subscription,
        });
    }

    fn resource_available(&mut self, full: FullJid, caps: Option<&CapsRef>, out: &mut Outcome) {
        let bare = full.to_bare();
        let caps_key = caps.map(CapsRef::key);
        let support = caps_key
            .as_ref()
            .and_then(|key| self.verified_caps.get(key))
            .map(|&http_auth| {
                if http_auth {
                    Support::HttpAuth
                } else {
                    Support::Plain
                }
            });
        let resource = full.resource().as_str().to_owned();
        let contact = self.contacts.get_mut(&bare).expect("a contact");
        if contact.resources.len() >= MAX_APPS && !contact.resources.contains_key(&resource) {
            return;
        }
        let known = contact
            .resources
            .get(&resource)
            .filter(|r| r.caps == caps_key && r.support != Support::Unknown)
            .map(|r| r.support);
        let support = support.or(known);
        contact.resources.insert(
            resource,
            Resource {
                caps: caps_key,
                support: support.unwrap_or(Support::Unknown),
            },
        );
        // One question per app, and per caps version while its answer is on the way.
        let now = Instant::now();
        if self.asked.len() >= MAX_ASKED {
            self.asked
                .retain(|_, a| now.saturating_duration_since(a.at) < ASK_TIMEOUT);
        }
        let in_flight = self
            .asked
            .values()
            .any(|a| a.to == full || (caps.is_some() && a.caps.as_ref() == caps));
        if support.is_none() && !in_flight && self.asked.len() < MAX_ASKED {
            let id = random::token(16);
            let node = caps.map(CapsRef::key);
            out.send
                .push(stanzas::disco_query(&self.me, &full, &id, node.as_deref()));
            self.asked.insert(
                id,
                Asked {
                    to: full,
                    caps: caps.cloned(),
                    at: now,
                },
            );
        }
        self.report_online(&bare, out);
    }

    fn report_online(&mut self, jid: &BareJid, out: &mut Outcome) {
        let Some(contact) = self.contacts.get_mut(jid) else {
            return;
        };
        let online = !contact.resources.is_empty();
        if contact.reported_online != Some(online) {
            contact.reported_online = Some(online);
            out.changes.push(Change::Online {
                jid: jid.clone(),
                online,
            });
        }
    }

    /// An IQ answer to one of our disco#info queries (`None`: an error); false if the id
    /// is not one of ours.
    pub fn on_disco_answer(
        &mut self,
        from: &Jid,
        id: &str,
        info: Option<&DiscoInfoResult>,
    ) -> bool {
        let Some(asked) = self.asked.get(id) else {
            return false;
        };
        let sender = UserJid::of_sender(from);
        if sender.as_ref().and_then(UserJid::full) != Some(&asked.to) {
            return false;
        }
        let asked = self.asked.remove(id).expect("just found");
        let http_auth = info.is_some_and(|info| info.features.contains(ns::HTTP_AUTH));
        let support = if http_auth {
            Support::HttpAuth
        } else {
            Support::Plain
        };
        match (&asked.caps, info) {
            // A verified hash vouches for every app announcing it.
            (Some(caps), Some(info)) if caps.matches(info) => {
                let key = caps.key();
                if self.verified_caps.len() < MAX_VERIFIED_CAPS {
                    self.verified_caps.insert(key.clone(), http_auth);
                }
                for contact in self.contacts.values_mut() {
                    for resource in contact.resources.values_mut() {
                        if resource.caps.as_deref() == Some(key.as_str()) {
                            resource.support = support;
                        }
                    }
                }
            }
            _ => {
                if let Some(resource) = self
                    .contacts
                    .get_mut(&asked.to.to_bare())
                    .and_then(|c| c.resources.get_mut(asked.to.resource().as_str()))
                {
                    resource.support = support;
                }
            }
        }
        true
    }
}

impl CapsRef {
    /// The caps node and version, as XEP-0115 queries them: `node#ver`.
    pub fn key(&self) -> String {
        format!("{}#{}", self.node, self.ver)
    }

    /// Whether `info` hashes to the announced version (XEP-0115 §5.4): only then may the
    /// answer stand for other apps announcing the same caps.
    fn matches(&self, info: &DiscoInfoResult) -> bool {
        let Ok(algo) = self.hash.parse::<Algo>() else {
            return false;
        };
        hash_caps(&compute_disco(info), algo).is_ok_and(|hash| hash.to_base64() == self.ver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::stanzas::{classify, Incoming};

    const NS: &str = "jabber:component:accept";

    fn roster() -> Roster {
        Roster::new(BareJid::new("auth.example").unwrap())
    }

    impl Roster {
        /// Whether `jid` gets our presence: it added the login service as a contact.
        fn is_subscriber(&self, jid: &BareJid) -> bool {
            self.contacts
                .get(jid)
                .is_some_and(|c| c.subscription.gets_our_presence())
        }
    }

    fn presence(r: &mut Roster, xml: &str) -> Outcome {
        let elem: Element = xml.replace("NS", NS).parse().unwrap();
        let Incoming::Presence(p) = classify(&elem) else {
            panic!("not a presence: {xml}")
        };
        r.on_presence(&p)
    }

    fn kinds(out: &Outcome) -> Vec<String> {
        out.send
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e.attr("type").unwrap_or("available"),
                    e.attr("to").unwrap_or_default()
                )
            })
            .collect()
    }

    fn bare(s: &str) -> BareJid {
        BareJid::new(s).unwrap()
    }

    /// The disco#info of an app that shows XEP-0070 requests, whose caps hash the tests announce.
    const DISCO: &str = "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc' name='t'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/http-auth'/></query>";

    fn disco_info() -> DiscoInfoResult {
        DiscoInfoResult::try_from(DISCO.parse::<Element>().unwrap()).unwrap()
    }

    fn ver() -> String {
        hash_caps(&compute_disco(&disco_info()), Algo::Sha_1)
            .unwrap()
            .to_base64()
    }

    fn subscribed_alice() -> Roster {
        let mut r = roster();
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='subscribe' from='alice@example.org'/>",
        );
        assert_eq!(
            kinds(&out),
            [
                "subscribed alice@example.org",
                "subscribe alice@example.org",
                "available alice@example.org"
            ]
        );
        assert_eq!(
            out.changes,
            [Change::Subscription {
                jid: bare("alice@example.org"),
                subscription: Some(Subscription::From)
            }]
        );
        assert_eq!(r.route(&bare("alice@example.org")), Route::Unknown);
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='subscribed' from='alice@example.org'/>",
        );
        assert_eq!(
            out.changes,
            [Change::Subscription {
                jid: bare("alice@example.org"),
                subscription: Some(Subscription::Both)
            }]
        );
        r
    }

    #[test]
    fn a_subscription_is_answered_and_returned() {
        let mut r = subscribed_alice();
        assert!(r.is_subscriber(&bare("alice@example.org")));
        // Probes are answered for contacts only.
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='probe' from='alice@example.org/phone'/>",
        );
        assert_eq!(kinds(&out), ["available alice@example.org/phone"]);
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='probe' from='mallory@example.org/x'/>",
        );
        assert!(out.send.is_empty());
        // An unsolicited "subscribed" makes nobody a contact.
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='subscribed' from='mallory@example.org'/>",
        );
        assert!(out.changes.is_empty());
        assert!(!r.is_subscriber(&bare("mallory@example.org")));
    }

    #[test]
    fn unsubscribing_ends_each_direction() {
        let mut r = subscribed_alice();
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='unsubscribed' from='alice@example.org'/>",
        );
        assert_eq!(
            out.changes,
            [Change::Subscription {
                jid: bare("alice@example.org"),
                subscription: Some(Subscription::From)
            }]
        );
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='unsubscribe' from='alice@example.org'/>",
        );
        assert_eq!(kinds(&out), ["unavailable alice@example.org"]);
        assert_eq!(
            out.changes,
            [Change::Subscription {
                jid: bare("alice@example.org"),
                subscription: None
            }]
        );
        assert!(!r.is_subscriber(&bare("alice@example.org")));
    }

    #[test]
    fn online_apps_and_their_support_are_learned() {
        let mut r = subscribed_alice();
        let alice = bare("alice@example.org");
        // An app announcing caps: asked once with its caps node.
        let out = presence(
            &mut r,
            &format!("<presence xmlns='NS' from='alice@example.org/gajim'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='{}'/></presence>", ver()),
        );
        assert_eq!(
            out.changes,
            [Change::Online {
                jid: alice.clone(),
                online: true
            }]
        );
        let query = &out.send[0];
        assert_eq!(query.attr("to"), Some("alice@example.org/gajim"));
        let node = query
            .get_child("query", ns::DISCO_INFO)
            .unwrap()
            .attr("node");
        assert_eq!(node, Some(format!("https://gajim.org#{}", ver()).as_str()));
        let gajim = FullJid::new("alice@example.org/gajim").unwrap();
        assert_eq!(
            r.route(&alice),
            Route::Resources(vec![(gajim.clone(), false)])
        );
        let id = query.attr("id").unwrap().to_owned();
        // An answer from someone else for that id is not taken.
        assert!(!r.on_disco_answer(
            &Jid::new("mallory@example.org/x").unwrap(),
            &id,
            Some(&disco_info())
        ));
        assert!(r.on_disco_answer(&Jid::from(gajim.clone()), &id, Some(&disco_info())));
        assert_eq!(
            r.route(&alice),
            Route::Resources(vec![(gajim.clone(), true)])
        );
        // A second app with the same verified caps needs no query; one without caps does.
        let out = presence(
            &mut r,
            &format!("<presence xmlns='NS' from='alice@example.org/laptop'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='{}'/></presence>", ver()),
        );
        assert!(out.send.is_empty() && out.changes.is_empty());
        let out = presence(
            &mut r,
            "<presence xmlns='NS' from='alice@example.org/phone'/>",
        );
        let query = &out.send[0];
        assert_eq!(
            query
                .get_child("query", ns::DISCO_INFO)
                .unwrap()
                .attr("node"),
            None
        );
        let id = query.attr("id").unwrap().to_owned();
        let phone = Jid::new("alice@example.org/phone").unwrap();
        assert!(r.on_disco_answer(&phone, &id, None));
        let Route::Resources(mut apps) = r.route(&alice) else {
            panic!()
        };
        apps.sort();
        assert_eq!(
            apps.iter()
                .map(|(j, h)| (j.resource().as_str(), *h))
                .collect::<Vec<_>>(),
            [("gajim", true), ("laptop", true), ("phone", false)]
        );
        // Going offline, app by app.
        for app in ["gajim", "laptop"] {
            let out = presence(
                &mut r,
                &format!(
                    "<presence xmlns='NS' type='unavailable' from='alice@example.org/{app}'/>"
                ),
            );
            assert!(out.changes.is_empty());
        }
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='unavailable' from='alice@example.org/phone'/>",
        );
        assert_eq!(
            out.changes,
            [Change::Online {
                jid: alice.clone(),
                online: false
            }]
        );
        assert_eq!(r.route(&alice), Route::Offline);
    }

    #[test]
    fn a_flood_of_apps_is_not_tracked() {
        let mut r = subscribed_alice();
        for i in 0..50 {
            presence(
                &mut r,
                &format!("<presence xmlns='NS' from='alice@example.org/app{i}'/>"),
            );
        }
        let Route::Resources(apps) = r.route(&bare("alice@example.org")) else {
            panic!()
        };
        assert_eq!(apps.len(), MAX_APPS);
        assert!(r.asked.len() <= MAX_APPS);
    }

    #[test]
    fn a_caps_hash_that_does_not_check_out_vouches_for_one_app_only() {
        let mut r = subscribed_alice();
        let out = presence(
            &mut r,
            "<presence xmlns='NS' from='alice@example.org/a'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='Zm9yZ2Vk'/></presence>",
        );
        let id = out.send[0].attr("id").unwrap().to_owned();
        r.on_disco_answer(
            &Jid::new("alice@example.org/a").unwrap(),
            &id,
            Some(&disco_info()),
        );
        assert!(r.verified_caps.is_empty());
        let out = presence(
            &mut r,
            "<presence xmlns='NS' from='alice@example.org/b'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='Zm9yZ2Vk'/></presence>",
        );
        assert_eq!(out.send.len(), 1, "asked again");
    }

    #[test]
    fn only_the_service_address_is_a_contact() {
        let mut r = Roster::new(bare("login@auth.example"));
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='subscribe' from='alice@example.org' to='other@auth.example'/>",
        );
        assert!(out.send.is_empty() && out.changes.is_empty());
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='subscribe' from='alice@example.org' to='login@auth.example'/>",
        );
        assert_eq!(out.send[0].attr("from"), Some("login@auth.example"));
        assert!(r.is_subscriber(&bare("alice@example.org")));
    }

    #[test]
    fn presence_of_strangers_is_not_tracked_and_load_announces() {
        let mut r = roster();
        let out = presence(&mut r, "<presence xmlns='NS' from='bob@example.org/x'/>");
        assert!(out.send.is_empty() && out.changes.is_empty());
        assert_eq!(r.route(&bare("bob@example.org")), Route::Unknown);
        let send = r.load(vec![
            (bare("bob@example.org"), Subscription::Both),
            (bare("carol@example.org"), Subscription::To),
        ]);
        let mut got: Vec<String> = send
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e.attr("type").unwrap_or("available"),
                    e.attr("to").unwrap()
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "available bob@example.org",
                "probe bob@example.org",
                "probe carol@example.org"
            ]
        );
        // The server's answer to a probe of someone offline.
        let out = presence(
            &mut r,
            "<presence xmlns='NS' type='unavailable' from='carol@example.org'/>",
        );
        assert_eq!(
            out.changes,
            [Change::Online {
                jid: bare("carol@example.org"),
                online: false
            }]
        );
        assert_eq!(r.route(&bare("carol@example.org")), Route::Offline);
        r.disconnected();
        assert_eq!(r.route(&bare("carol@example.org")), Route::Unknown);
        assert!(
            !r.is_subscriber(&bare("bob@example.org")),
            "loaded again on the next link"
        );
    }
}

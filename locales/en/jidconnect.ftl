# jidconnect's words, in English. To translate: copy this folder to locales/<tag>/ (a BCP 47
# language tag such as "pt" or "nl"), translate every message after its "=", keep the
# { $values } and the message names as they are. See README.md, "Languages".

## The language itself

# The language's name in itself, for the language picker.
language-name = English
language-picker = Language
# Plain-text answers that refuse a confirmation request, comma-separated, in lowercase.
# People may answer in any shipped language; none may be 8 letters or digits long.
refusal-words = no, n, nope, deny, refuse, reject
# What someone replies to a login notice to end that login, comma-separated, lowercase.
not-me-phrases = not me, wasn't me, was not me, it wasn't me
seconds = { $count ->
    [one] { $count } second
   *[other] { $count } seconds
}

## Every page

footer = Logins confirmed in your own XMPP client · jidconnect
cancel = Cancel
continue = Continue
use-another-address = Use another address
cancel-back = Cancel and go back to { $site }
error-eyebrow = Something went wrong

## The login page

login-title = Log in to { $site }
login-eyebrow = Log in with XMPP
login-heading = Log in to { $client }
device-login-eyebrow = A device asks to log in
device-login-heading = Log in your device to { $client }
login-by-address = Type your address
login-by-address-hint = Your XMPP app asks you to confirm; no password needed.
login-jid-label = Your XMPP address
login-send = Send confirmation request
login-send-hint = We send a request with a short code to your XMPP app. Accept it there if the code matches the one we show you next.
login-from-app = Log in from your XMPP app
login-sent-continue = I have sent it, continue
login-not-allowed = The address { $jid } may not log in to { $site }: its administrators let only some people in. Log in with another address, or ask them.
login-retry-expired = No answer arrived in time. Check your XMPP client and send a new request.
login-retry-unreachable = We could not reach this address. Check it for typos; if it is right, its server, or our link to the XMPP network, may be down right now: try again in a minute.
login-try-again-in = { $reason } (in about { $wait }).
login-disconnected = jidconnect is not connected to its XMPP server right now; try again in a minute.

## Addresses typed on the login page

jid-empty = Enter your XMPP address, like alice@example.org.
jid-too-long = That address is too long.
jid-malformed = “{ $input }” is not a valid XMPP address; it looks like alice@example.org.
jid-no-localpart = Enter your own address with a user name, like alice@{ $domain }, not just the server.
jid-bad-domain = The server name “{ $domain }” is not a valid domain.

## Why a confirmation request is not sent now

refusal-already-pending = A confirmation request to this address is already waiting for an answer
refusal-jid-pending = Several confirmation requests to this address are already waiting for an answer
refusal-recently-denied = This address refused a login recently; try again later
refusal-jid-cooldown = A confirmation request was just sent to this address; wait a moment
refusal-jid-rate = Too many confirmation requests to this address; try again later
refusal-domain-rate = Too many confirmation requests to this server; try again later
refusal-ip-rate = Too many login attempts from your network; try again later
refusal-network-share = Too many logins from your network are waiting for an answer; try again in a minute
refusal-client-share = Too many logins to this site are waiting for an answer; try again in a minute
refusal-too-many-pending = Too many logins are in progress; try again in a minute
refusal-sender-rate = Too many messages from your address; wait a minute
refusal-wrong-codes = Too many codes from your address matched no login page; wait a while

## Logging in from the XMPP app (send the code)

send-code-to = Send this code to { $jid } from your XMPP app:
send-code-aria = Code { $code }
send-code-open = Open in my XMPP app
send-code-qr-alt = QR code: scan it with the XMPP app on your phone to send the code { $code } to { $component }
send-code-qr-caption = On a computer? Scan this with the XMPP app on your phone.
send-code-hint = Your app opens a message with the code; send it, and this page continues by itself. You log in as the address you send it from. Never send a code that someone else gave you: they would log in as you.
# The message the XMPP app opens with; it must keep the code as it is.
send-code-message = Log in to { $site }: { $code }
# The name the XMPP app gives the login service as a contact.
contact-name = Login service

## The waiting page

wait-title = Confirm in your XMPP app
wait-eyebrow = Log in to { $site }
wait-code-received = Code received
wait-code-received-lead = { $jid } sent this page's code. Continue only if that is your address: whoever sends the code logs this browser in as them.
wait-heading = Check your XMPP app
wait-asked = We asked { $jid } to confirm. Accept the request only if it shows this code:
wait-code-aria = Confirmation code { $code }
wait-offline = Your XMPP app seems to be offline. Open it and the request arrives; or log in from your app with the code below.
wait-continue-as = Continue as { $jid }
wait-continue = I have accepted, continue
wait-help-summary = No request in your XMPP app?
wait-help-plain = Apps without confirmation buttons show it as a message from { $component }: reply with the code { $reply } to accept, or { $no } to refuse.
# { $countdown } is a duration such as "90 seconds", counting down on the page.
wait-expires = The request expires in { $countdown }.
wait-strangers = Some apps and servers hide messages from strangers.
wait-add-contact = Add { $component } as a contact
wait-add-contact-why = Then requests always reach you.
wait-or-from-app = Or log in from your XMPP app
status-sent = Waiting for your answer…
status-accepted = Confirmed. Continue to { $site }.
status-continuing = Confirmed. Continuing…
status-denied = You refused this login.
status-expired = No answer arrived in time.
status-unreachable = Your XMPP address could not be reached, or our link to the XMPP network is down.

## The refused page

refused-title = Login refused
refused-heading = You refused this login
refused-lead = { $jid } answered “no” in the XMPP app. If that was a mistake, send a new request; if you did not try to log in, cancel.
refused-new-request = Send a new request
refused-from-app = Log in from your XMPP app instead

## The consent page

consent-title = Allow { $site }?
consent-eyebrow = Logged in as { $jid }
consent-heading = { $client } would like to know
consent-device = This login is for a device (a TV, an app or a command-line tool) that showed you a code. Allow only if you typed the code of a device in front of you: someone who gives you a code to type gets logged in as you.
consent-device-self-registered = This site registered itself with this login service: nobody here has checked who runs it.
consent-document = This site identified itself by its metadata document on { $document }: it is not registered with this login service, and nobody here has checked who runs it. It calls itself “{ $name }” and sends you back to { $host }. Allow only if that is the site you meant to log in to.
consent-self-registered = This site registered itself with this login service: nobody here has checked who runs it. It calls itself “{ $name }” and sends you back to { $host }. Allow only if that is the site you meant to log in to.
consent-ask-always = Nobody vouched for this site, so you are asked at every login.
consent-remembered = You decide once; jidconnect remembers your answer for this site.
consent-allow = Allow
consent-item-jid = Your XMPP address, { $jid }
consent-item-username = Your user name, { $name }
consent-item-email = Your XMPP address as your email address
consent-item-groups = The names of your groups at this login service (such as staff)
consent-item-offline = Staying logged in while you are away (offline access)

## Logging in a device (a TV, an app, a command-line tool)

device-title = Log in a device
device-lead = Your TV, app or command-line tool shows a code. Type it here; then confirm with your XMPP app, as for any login.
device-code-label = The code your device shows
device-hint = Only type a code that a device in front of you shows, one you just asked to log in. Someone who gives you a code to type gets logged in as you.
device-bad-form = This form was not sent from the page we showed you. Type the code again.
device-too-many = Too many tries from your network in the last minute. Wait a minute, then type the code again.
device-unknown-code = No device waits for this code. Check it against the code your device shows; it works only for a few minutes, so your device may have to show a new one.
device-code-taken = This code is already being used in another browser, or answered from an XMPP app. Ask your device for a new code.
device-done-title = Device logged in
device-refused-title = Device not logged in
device-done-eyebrow = Log in a device to { $site }
device-done-heading = Done: go back to your device
device-done-lead = Your device is logging in to { $client } now. You can close this page.
device-refused-heading = The device is not logged in
device-refused-lead = The device is told that the login was refused. You can close this page.

## Error pages

error-back-to-site = Go back to the website and start the login again.
error-flow-gone-title = This login has expired
error-flow-gone = This login page is no longer valid: it timed out or was already used.
error-other-browser-title = Login started elsewhere
error-other-browser = This login was started in another browser, or your browser does not keep cookies for this site.
error-bad-csrf-title = Form expired
error-bad-csrf = This form was not sent from the login page we showed you.
error-bad-link-title = This login link is not valid
error-bad-link-next = Go back to the website and try to log in again. If it keeps happening, tell the website's administrators.
error-not-a-form = The authorization request must be a form (application/x-www-form-urlencoded).
error-repeated-parameter = The parameter { $name } appears more than once.
error-no-client = The request does not say which website (client_id) asks for the login.
error-unknown-client = The website (client_id) asking for the login is not registered here.
error-bad-document = The website (client_id) asking for the login identifies itself by a metadata document that cannot be used: { $why }.
error-no-redirect-uri = The request has no redirect_uri.
error-bad-redirect-uri = The address to return to (redirect_uri) is not registered for this website, so we will not send you there.
error-too-many-logins-title = Too many logins at once
error-too-many-logins = There have been too many login attempts from your network in the last minute.
error-too-many-logins-next = Wait a minute, then go back to the website and log in again.

## Logging out

logout-title = Log out
logout-done = You are logged out
logout-done-lead = Your jidconnect session has ended. Websites you logged in to may keep their own session until you log out there too.
logout-ask = Log out of jidconnect?
logout-ask-lead = The next login on any website will need a new confirmation in your XMPP client.
logout-button = Log out
logout-not-confirmed-title = Logout not confirmed
logout-not-confirmed = This form expired or was sent from another site.
logout-not-confirmed-next = Open the logout page again and confirm there.
logout-invalid-title = Invalid logout request
logout-invalid-next = Go back to the website; your session here was not changed.
logout-bad-hint = The id_token_hint is not an ID token from this provider.
logout-bad-redirect = This post_logout_redirect_uri is not registered for the client.
logout-hint-mismatch = The client_id does not match the id_token_hint.
logout-redirect-needs-client = A post_logout_redirect_uri needs an id_token_hint or a client_id.

## Messages in the XMPP app

xmpp-requested-from = Requested from: { $origin }
xmpp-request-login =
    { $requester } asks you to confirm a login as { $jid }.
    Code: { $code } (it must match the code on the login page)
    Page: { $url }
    { $origin }
    If your app shows no Accept/Deny buttons, reply with the code { $code } to accept, or “{ $no }” to refuse. If you did not try to log in, reply “{ $no }”: nobody gets in without your answer.
xmpp-request-site-check =
    The site { $url } ({ $requester }) asks you to confirm that you are { $jid }, for something you are doing on that site. It is not a login page.
    Transaction: { $code } (it must match what the site shows you)

    If your app shows no Accept/Deny buttons, reply with { $code } to accept, or “{ $no }” to refuse. If you are not using { $url } right now, reply “{ $no }”.
xmpp-request-device =
    A device asks to log in as you ({ $jid }) to { $requester }.
    Code: { $code } (if you typed the device's code on a web page, it must match the code shown there)
    Page: { $url }
    { $origin }
    If your app shows no Accept/Deny buttons, reply with the code { $code } to accept, or “{ $no }” to refuse. Accept only for a device in front of you (a TV, an app, a command-line tool) that you are logging in right now: someone who gives you a code to type or send gets logged in as you.
xmpp-help = This is a login service. To log in, send the code shown on the login page (like K7XM-4QPA). To answer a confirmation request, reply with its code, or “{ $no }”. After a login notice, reply “{ $notme }” to end that login.
xmpp-status = Login service: send me the code from a login page
xmpp-notice =
    Logged in to { $site } from { $origin }.
    Not you? Reply “{ $notme }” to end this login.
xmpp-unknown-origin = an unknown place
xmpp-the-website = the website
xmpp-code-received =
    You are logging in to { $site } as { $jid }, on the page opened from { $origin }. Continue there.
    Not you, or not your browser? Reply “{ $notme }” to stop this login: someone who shows you a code to send gets logged in as you.
xmpp-code-unknown = This code matches no open login page. A code works once, only while the page that shows it is open; check it, or start the login again.
xmpp-device-in-browser = This device code is being used on a web page: continue the login there.
xmpp-device-waiting = A confirmation request for this device is already waiting for an answer.
xmpp-device-cannot = The device cannot be logged in now: { $why }.
xmpp-not-me-nothing = There is no recent login of yours to undo.
xmpp-not-me-already = That login was already undone.
xmpp-not-me-done = Done: that login ({ $login }) is ended, and { $revoked ->
    [one] the site authorization given in it is
   *[other] { $revoked } site authorizations given in it are
} revoked. The site may keep its own session until it checks back; if someone else can log in as you, secure your XMPP account.

# Die Texte von jidconnect, auf Deutsch. Zum Übersetzen siehe locales/en/jidconnect.ftl.

## Die Sprache

language-name = Deutsch
language-picker = Sprache
refusal-words = nein, n, nö, ablehnen, abgelehnt, nee
not-me-phrases = nicht ich, ich war das nicht, das war ich nicht, war ich nicht
seconds = { $count ->
    [one] { $count } Sekunde
   *[other] { $count } Sekunden
}

## Jede Seite

footer = Anmeldungen, bestätigt in deinem eigenen XMPP-Client · jidconnect
cancel = Abbrechen
continue = Weiter
use-another-address = Andere Adresse verwenden
cancel-back = Abbrechen und zurück zu { $site }
error-eyebrow = Etwas ist schiefgelaufen

## Die Anmeldeseite

login-title = Bei { $site } anmelden
login-eyebrow = Mit XMPP anmelden
login-heading = Bei { $client } anmelden
device-login-eyebrow = Ein Gerät möchte sich anmelden
device-login-heading = Dein Gerät bei { $client } anmelden
login-by-address = Adresse eingeben
login-by-address-hint = Deine XMPP-App bittet dich um Bestätigung; kein Passwort nötig.
login-jid-label = Deine XMPP-Adresse
login-send = Bestätigungsanfrage senden
login-send-hint = Wir senden eine Anfrage mit einem kurzen Code an deine XMPP-App. Nimm sie dort an, wenn der Code mit dem übereinstimmt, den wir dir als Nächstes zeigen.
login-from-app = Aus deiner XMPP-App anmelden
login-sent-continue = Ich habe ihn gesendet, weiter
login-not-allowed = Die Adresse { $jid } darf sich nicht bei { $site } anmelden: Die Administratoren lassen nur bestimmte Personen hinein. Melde dich mit einer anderen Adresse an oder frag sie.
login-retry-expired = Es kam keine Antwort rechtzeitig. Sieh in deinem XMPP-Client nach und sende eine neue Anfrage.
login-retry-unreachable = Wir konnten diese Adresse nicht erreichen. Prüfe sie auf Tippfehler; wenn sie stimmt, ist ihr Server oder unsere Verbindung zum XMPP-Netz vielleicht gerade nicht erreichbar: Versuche es in einer Minute noch einmal.
login-try-again-in = { $reason } (in etwa { $wait }).
login-disconnected = jidconnect ist gerade nicht mit seinem XMPP-Server verbunden; versuche es in einer Minute noch einmal.

## Auf der Anmeldeseite eingegebene Adressen

jid-empty = Gib deine XMPP-Adresse ein, etwa alice@example.org.
jid-too-long = Diese Adresse ist zu lang.
jid-malformed = „{ $input }“ ist keine gültige XMPP-Adresse; sie sieht aus wie alice@example.org.
jid-no-localpart = Gib deine eigene Adresse mit Benutzernamen ein, etwa alice@{ $domain }, nicht nur den Server.
jid-bad-domain = Der Servername „{ $domain }“ ist keine gültige Domain.

## Warum gerade keine Bestätigungsanfrage gesendet wird

refusal-already-pending = Eine Bestätigungsanfrage an diese Adresse wartet bereits auf Antwort
refusal-jid-pending = Mehrere Bestätigungsanfragen an diese Adresse warten bereits auf Antwort
refusal-recently-denied = Diese Adresse hat kürzlich eine Anmeldung abgelehnt; versuche es später noch einmal
refusal-jid-cooldown = An diese Adresse wurde gerade eine Bestätigungsanfrage gesendet; warte einen Moment
refusal-jid-rate = Zu viele Bestätigungsanfragen an diese Adresse; versuche es später noch einmal
refusal-domain-rate = Zu viele Bestätigungsanfragen an diesen Server; versuche es später noch einmal
refusal-ip-rate = Zu viele Anmeldeversuche aus deinem Netz; versuche es später noch einmal
refusal-network-share = Zu viele Anmeldungen aus deinem Netz warten auf Antwort; versuche es in einer Minute noch einmal
refusal-client-share = Zu viele Anmeldungen bei dieser Website warten auf Antwort; versuche es in einer Minute noch einmal
refusal-too-many-pending = Zu viele Anmeldungen laufen gerade; versuche es in einer Minute noch einmal
refusal-sender-rate = Zu viele Nachrichten von deiner Adresse; warte eine Minute
refusal-wrong-codes = Zu viele Codes von deiner Adresse passten zu keiner Anmeldeseite; warte eine Weile

## Aus der XMPP-App anmelden (Code senden)

send-code-to = Sende diesen Code aus deiner XMPP-App an { $jid }:
send-code-aria = Code { $code }
send-code-open = In meiner XMPP-App öffnen
send-code-qr-alt = QR-Code: Scanne ihn mit der XMPP-App auf deinem Telefon, um den Code { $code } an { $component } zu senden
send-code-qr-caption = Am Computer? Scanne dies mit der XMPP-App auf deinem Telefon.
send-code-hint = Deine App öffnet eine Nachricht mit dem Code; sende sie, und diese Seite geht von selbst weiter. Du wirst mit der Adresse angemeldet, von der du sie sendest. Sende nie einen Code, den dir jemand anderes gegeben hat: Diese Person wäre dann als du angemeldet.
send-code-message = Anmeldung bei { $site }: { $code }
contact-name = Anmeldedienst

## Die Warteseite

wait-title = In deiner XMPP-App bestätigen
wait-eyebrow = Bei { $site } anmelden
wait-code-received = Code erhalten
wait-code-received-lead = { $jid } hat den Code dieser Seite gesendet. Mach nur weiter, wenn das deine Adresse ist: Wer den Code sendet, meldet diesen Browser als sich selbst an.
wait-heading = Sieh in deiner XMPP-App nach
wait-asked = Wir haben { $jid } um Bestätigung gebeten. Nimm die Anfrage nur an, wenn sie diesen Code zeigt:
wait-code-aria = Bestätigungscode { $code }
wait-offline = Deine XMPP-App scheint offline zu sein. Öffne sie, dann kommt die Anfrage an; oder melde dich mit dem Code unten aus deiner App an.
wait-continue-as = Weiter als { $jid }
wait-continue = Ich habe angenommen, weiter
wait-help-summary = Keine Anfrage in deiner XMPP-App?
wait-help-plain = Apps ohne Bestätigungsknöpfe zeigen sie als Nachricht von { $component }: Antworte mit dem Code { $reply }, um anzunehmen, oder mit { $no }, um abzulehnen.
wait-expires = Die Anfrage läuft in { $countdown } ab.
wait-strangers = Manche Apps und Server verbergen Nachrichten von Fremden.
wait-add-contact = { $component } als Kontakt hinzufügen
wait-add-contact-why = Dann erreichen dich Anfragen immer.
wait-or-from-app = Oder aus deiner XMPP-App anmelden
status-sent = Warte auf deine Antwort…
status-accepted = Bestätigt. Weiter zu { $site }.
status-continuing = Bestätigt. Es geht weiter…
status-denied = Du hast diese Anmeldung abgelehnt.
status-expired = Es kam keine Antwort rechtzeitig.
status-unreachable = Deine XMPP-Adresse war nicht erreichbar, oder unsere Verbindung zum XMPP-Netz ist unterbrochen.

## Die Seite nach einer Ablehnung

refused-title = Anmeldung abgelehnt
refused-heading = Du hast diese Anmeldung abgelehnt
refused-lead = { $jid } hat in der XMPP-App mit „nein“ geantwortet. War das ein Versehen, sende eine neue Anfrage; wolltest du dich nicht anmelden, brich ab.
refused-new-request = Neue Anfrage senden
refused-from-app = Stattdessen aus deiner XMPP-App anmelden

## Die Einwilligungsseite

consent-title = { $site } erlauben?
consent-eyebrow = Angemeldet als { $jid }
consent-heading = { $client } möchte Folgendes wissen
consent-device = Diese Anmeldung ist für ein Gerät (einen Fernseher, eine App oder ein Kommandozeilenwerkzeug), das dir einen Code gezeigt hat. Erlaube sie nur, wenn du den Code eines Geräts vor dir eingegeben hast: Wer dir einen Code zum Eingeben gibt, wird als du angemeldet.
consent-device-self-registered = Diese Website hat sich selbst bei diesem Anmeldedienst registriert: Niemand hier hat geprüft, wer sie betreibt.
consent-document = Diese Website hat sich mit ihrem Metadaten-Dokument auf { $document } ausgewiesen: Sie ist bei diesem Anmeldedienst nicht registriert, und niemand hier hat geprüft, wer sie betreibt. Sie nennt sich „{ $name }“ und schickt dich zurück zu { $host }. Erlaube es nur, wenn das die Website ist, bei der du dich anmelden wolltest.
consent-self-registered = Diese Website hat sich selbst bei diesem Anmeldedienst registriert: Niemand hier hat geprüft, wer sie betreibt. Sie nennt sich „{ $name }“ und schickt dich zurück zu { $host }. Erlaube es nur, wenn das die Website ist, bei der du dich anmelden wolltest.
consent-ask-always = Niemand hat sich für diese Website verbürgt, deshalb wirst du bei jeder Anmeldung gefragt.
consent-remembered = Du entscheidest einmal; jidconnect merkt sich deine Antwort für diese Website.
consent-allow = Erlauben
consent-item-jid = Deine XMPP-Adresse, { $jid }
consent-item-username = Dein Benutzername, { $name }
consent-item-email = Deine XMPP-Adresse als E-Mail-Adresse
consent-item-groups = Die Namen deiner Gruppen bei diesem Anmeldedienst (etwa staff)
consent-item-offline = Angemeldet bleiben, während du weg bist (Offline-Zugriff)

## Ein Gerät anmelden (einen Fernseher, eine App, ein Kommandozeilenwerkzeug)

device-title = Ein Gerät anmelden
device-lead = Dein Fernseher, deine App oder dein Kommandozeilenwerkzeug zeigt einen Code. Gib ihn hier ein; bestätige dann mit deiner XMPP-App, wie bei jeder Anmeldung.
device-code-label = Der Code, den dein Gerät zeigt
device-hint = Gib nur einen Code ein, den ein Gerät vor dir zeigt, bei dem du gerade die Anmeldung gestartet hast. Wer dir einen Code zum Eingeben gibt, wird als du angemeldet.
device-bad-form = Dieses Formular wurde nicht von der Seite gesendet, die wir dir gezeigt haben. Gib den Code noch einmal ein.
device-too-many = Zu viele Versuche aus deinem Netz in der letzten Minute. Warte eine Minute und gib den Code dann noch einmal ein.
device-unknown-code = Kein Gerät wartet auf diesen Code. Vergleiche ihn mit dem Code, den dein Gerät zeigt; er gilt nur wenige Minuten, vielleicht muss dein Gerät einen neuen zeigen.
device-code-taken = Dieser Code wird bereits in einem anderen Browser verwendet oder wurde aus einer XMPP-App beantwortet. Lass dir von deinem Gerät einen neuen Code geben.
device-done-title = Gerät angemeldet
device-refused-title = Gerät nicht angemeldet
device-done-eyebrow = Ein Gerät bei { $site } anmelden
device-done-heading = Fertig: Geh zurück zu deinem Gerät
device-done-lead = Dein Gerät meldet sich jetzt bei { $client } an. Du kannst diese Seite schließen.
device-refused-heading = Das Gerät ist nicht angemeldet
device-refused-lead = Das Gerät erfährt, dass die Anmeldung abgelehnt wurde. Du kannst diese Seite schließen.

## Fehlerseiten

error-back-to-site = Geh zurück zur Website und starte die Anmeldung neu.
error-flow-gone-title = Diese Anmeldung ist abgelaufen
error-flow-gone = Diese Anmeldeseite ist nicht mehr gültig: Sie ist abgelaufen oder wurde schon verwendet.
error-other-browser-title = Anmeldung woanders begonnen
error-other-browser = Diese Anmeldung wurde in einem anderen Browser begonnen, oder dein Browser speichert keine Cookies für diese Website.
error-bad-csrf-title = Formular abgelaufen
error-bad-csrf = Dieses Formular wurde nicht von der Anmeldeseite gesendet, die wir dir gezeigt haben.
error-bad-link-title = Dieser Anmeldelink ist ungültig
error-bad-link-next = Geh zurück zur Website und versuche erneut, dich anzumelden. Passiert das wieder, sag den Administratoren der Website Bescheid.
error-not-a-form = Die Autorisierungsanfrage muss ein Formular sein (application/x-www-form-urlencoded).
error-repeated-parameter = Der Parameter { $name } kommt mehr als einmal vor.
error-no-client = Die Anfrage sagt nicht, welche Website (client_id) um die Anmeldung bittet.
error-unknown-client = Die Website (client_id), die um die Anmeldung bittet, ist hier nicht registriert.
error-bad-document = Die Website (client_id), die um die Anmeldung bittet, weist sich mit einem unbrauchbaren Metadaten-Dokument aus: { $why }.
error-no-redirect-uri = Die Anfrage hat keine redirect_uri.
error-bad-redirect-uri = Die Rücksprungadresse (redirect_uri) ist für diese Website nicht registriert, deshalb schicken wir dich nicht dorthin.
error-too-many-logins-title = Zu viele Anmeldungen auf einmal
error-too-many-logins = In der letzten Minute gab es zu viele Anmeldeversuche aus deinem Netz.
error-too-many-logins-next = Warte eine Minute, geh dann zurück zur Website und melde dich erneut an.

## Abmelden

logout-title = Abmelden
logout-done = Du bist abgemeldet
logout-done-lead = Deine jidconnect-Sitzung ist beendet. Websites, bei denen du dich angemeldet hast, behalten ihre eigene Sitzung vielleicht, bis du dich auch dort abmeldest.
logout-ask = Von jidconnect abmelden?
logout-ask-lead = Die nächste Anmeldung bei einer beliebigen Website braucht eine neue Bestätigung in deinem XMPP-Client.
logout-button = Abmelden
logout-not-confirmed-title = Abmeldung nicht bestätigt
logout-not-confirmed = Dieses Formular ist abgelaufen oder wurde von einer anderen Website gesendet.
logout-not-confirmed-next = Öffne die Abmeldeseite erneut und bestätige dort.
logout-invalid-title = Ungültige Abmeldeanfrage
logout-invalid-next = Geh zurück zur Website; deine Sitzung hier wurde nicht verändert.
logout-bad-hint = Der id_token_hint ist kein ID-Token dieses Anbieters.
logout-bad-redirect = Diese post_logout_redirect_uri ist für den Client nicht registriert.
logout-hint-mismatch = Die client_id passt nicht zum id_token_hint.
logout-redirect-needs-client = Eine post_logout_redirect_uri braucht einen id_token_hint oder eine client_id.

## Nachrichten in der XMPP-App

xmpp-requested-from = Angefragt von: { $origin }
xmpp-request-login =
    { $requester } bittet dich, eine Anmeldung als { $jid } zu bestätigen.
    Code: { $code } (er muss mit dem Code auf der Anmeldeseite übereinstimmen)
    Seite: { $url }
    { $origin }
    Zeigt deine App keine Knöpfe zum Annehmen/Ablehnen, antworte mit dem Code { $code }, um anzunehmen, oder mit „{ $no }“, um abzulehnen. Wolltest du dich nicht anmelden, antworte „{ $no }“: Ohne deine Antwort kommt niemand hinein.
xmpp-request-site-check =
    Die Website { $url } ({ $requester }) bittet dich zu bestätigen, dass du { $jid } bist, für etwas, das du auf dieser Website tust. Das ist keine Anmeldeseite.
    Vorgang: { $code } (er muss mit dem übereinstimmen, was dir die Website zeigt)

    Zeigt deine App keine Knöpfe zum Annehmen/Ablehnen, antworte mit { $code }, um anzunehmen, oder mit „{ $no }“, um abzulehnen. Benutzt du { $url } gerade nicht, antworte „{ $no }“.
xmpp-request-device =
    Ein Gerät möchte sich als du ({ $jid }) bei { $requester } anmelden.
    Code: { $code } (hast du den Code des Geräts auf einer Webseite eingegeben, muss er mit dem dort gezeigten Code übereinstimmen)
    Seite: { $url }
    { $origin }
    Zeigt deine App keine Knöpfe zum Annehmen/Ablehnen, antworte mit dem Code { $code }, um anzunehmen, oder mit „{ $no }“, um abzulehnen. Nimm nur für ein Gerät vor dir an (einen Fernseher, eine App, ein Kommandozeilenwerkzeug), das du gerade anmeldest: Wer dir einen Code zum Eingeben oder Senden gibt, wird als du angemeldet.
xmpp-help = Dies ist ein Anmeldedienst. Um dich anzumelden, sende den Code, den die Anmeldeseite zeigt (etwa K7XM-4QPA). Um eine Bestätigungsanfrage zu beantworten, antworte mit ihrem Code oder mit „{ $no }“. Nach einem Anmeldehinweis antworte „{ $notme }“, um diese Anmeldung zu beenden.
xmpp-status = Anmeldedienst: Sende mir den Code von einer Anmeldeseite
xmpp-notice =
    Angemeldet bei { $site } von { $origin }.
    Warst du das nicht? Antworte „{ $notme }“, um diese Anmeldung zu beenden.
xmpp-unknown-origin = einem unbekannten Ort
xmpp-the-website = der Website
xmpp-code-received =
    Du meldest dich bei { $site } als { $jid } an, auf der Seite, die von { $origin } geöffnet wurde. Mach dort weiter.
    Nicht du, oder nicht dein Browser? Antworte „{ $notme }“, um diese Anmeldung zu stoppen: Wer dir einen Code zum Senden zeigt, wird als du angemeldet.
xmpp-code-unknown = Dieser Code passt zu keiner offenen Anmeldeseite. Ein Code gilt einmal und nur, solange die Seite, die ihn zeigt, offen ist; prüfe ihn oder starte die Anmeldung neu.
xmpp-device-in-browser = Dieser Gerätecode wird auf einer Webseite verwendet: Mach die Anmeldung dort weiter.
xmpp-device-waiting = Eine Bestätigungsanfrage für dieses Gerät wartet bereits auf Antwort.
xmpp-device-cannot = Das Gerät kann gerade nicht angemeldet werden: { $why }.
xmpp-not-me-nothing = Es gibt keine kürzliche Anmeldung von dir, die rückgängig gemacht werden könnte.
xmpp-not-me-already = Diese Anmeldung wurde bereits rückgängig gemacht.
xmpp-not-me-done = Erledigt: Diese Anmeldung ({ $login }) ist beendet, und { $revoked ->
    [one] die darin erteilte Website-Berechtigung ist
   *[other] die { $revoked } darin erteilten Website-Berechtigungen sind
} widerrufen. Die Website behält ihre eigene Sitzung vielleicht, bis sie das nächste Mal nachfragt; kann sich jemand anderes als du anmelden, sichere dein XMPP-Konto.

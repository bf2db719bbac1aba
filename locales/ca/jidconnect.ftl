# Les paraules de jidconnect, en català. Vegeu locales/en/jidconnect.ftl per traduir.

## La llengua

language-name = Català
language-picker = Llengua
refusal-words = no, n, rebutjo, denego
not-me-phrases = no sóc jo, no he estat jo, jo no he estat, no era jo
seconds = { $count ->
    [one] { $count } segon
   *[other] { $count } segons
}

## Totes les pàgines

footer = Inicis de sessió confirmats al vostre propi client XMPP · jidconnect
cancel = Cancel·la
continue = Continua
use-another-address = Utilitza una altra adreça
cancel-back = Cancel·la i torna a { $site }
error-eyebrow = Alguna cosa ha anat malament

## La pàgina d'inici de sessió

login-title = Inicia la sessió a { $site }
login-eyebrow = Inicia la sessió amb XMPP
login-heading = Inicia la sessió a { $client }
device-login-eyebrow = Un dispositiu demana iniciar la sessió
device-login-heading = Inicia la sessió del dispositiu a { $client }
login-by-address = Escriviu la vostra adreça
login-by-address-hint = La vostra aplicació XMPP us demana que confirmeu; no cal cap contrasenya.
login-jid-label = La vostra adreça XMPP
login-send = Envia la sol·licitud de confirmació
login-send-hint = Enviem una sol·licitud amb un codi curt a la vostra aplicació XMPP. Accepteu-la si el codi coincideix amb el que us mostrarem tot seguit.
login-from-app = Inicia la sessió des de l'aplicació XMPP
login-sent-continue = Ja l'he enviat, continua
login-not-allowed = L'adreça { $jid } no pot iniciar la sessió a { $site }: els seus administradors només hi deixen entrar algunes persones. Inicieu la sessió amb una altra adreça, o pregunteu-los-ho.
login-retry-expired = No ha arribat cap resposta a temps. Reviseu el vostre client XMPP i envieu una sol·licitud nova.
login-retry-unreachable = No hem pogut contactar amb aquesta adreça. Comproveu que no tingui errors; si és correcta, potser el seu servidor, o el nostre enllaç amb la xarxa XMPP, no funciona ara mateix: torneu-ho a provar d'aquí a un minut.
login-try-again-in = { $reason } (d'aquí a uns { $wait }).
login-disconnected = jidconnect no està connectat al seu servidor XMPP ara mateix; torneu-ho a provar d'aquí a un minut.

## Adreces escrites a la pàgina d'inici de sessió

jid-empty = Escriviu la vostra adreça XMPP, per exemple alice@example.org.
jid-too-long = Aquesta adreça és massa llarga.
jid-malformed = «{ $input }» no és una adreça XMPP vàlida; s'assembla a alice@example.org.
jid-no-localpart = Escriviu la vostra pròpia adreça amb un nom d'usuari, per exemple alice@{ $domain }, no només el servidor.
jid-bad-domain = El nom de servidor «{ $domain }» no és un domini vàlid.

## Per què ara no s'envia una sol·licitud de confirmació

refusal-already-pending = Ja hi ha una sol·licitud de confirmació a aquesta adreça que espera resposta
refusal-jid-pending = Ja hi ha diverses sol·licituds de confirmació a aquesta adreça que esperen resposta
refusal-recently-denied = Aquesta adreça ha rebutjat un inici de sessió fa poc; torneu-ho a provar més tard
refusal-jid-cooldown = S'acaba d'enviar una sol·licitud de confirmació a aquesta adreça; espereu un moment
refusal-jid-rate = Massa sol·licituds de confirmació a aquesta adreça; torneu-ho a provar més tard
refusal-domain-rate = Massa sol·licituds de confirmació a aquest servidor; torneu-ho a provar més tard
refusal-ip-rate = Massa intents d'inici de sessió des de la vostra xarxa; torneu-ho a provar més tard
refusal-network-share = Massa inicis de sessió des de la vostra xarxa esperen resposta; torneu-ho a provar d'aquí a un minut
refusal-client-share = Massa inicis de sessió en aquest lloc esperen resposta; torneu-ho a provar d'aquí a un minut
refusal-too-many-pending = Hi ha massa inicis de sessió en curs; torneu-ho a provar d'aquí a un minut
refusal-sender-rate = Massa missatges des de la vostra adreça; espereu un minut
refusal-wrong-codes = Massa codis enviats des de la vostra adreça no coincidien amb cap pàgina d'inici de sessió; espereu una estona

## Iniciar la sessió des de l'aplicació XMPP (enviar el codi)

send-code-to = Envieu aquest codi a { $jid } des de la vostra aplicació XMPP:
send-code-aria = Codi { $code }
send-code-open = Obre a la meva aplicació XMPP
send-code-qr-alt = Codi QR: escanegeu-lo amb l'aplicació XMPP del telèfon per enviar el codi { $code } a { $component }
send-code-qr-caption = Sou en un ordinador? Escanegeu això amb l'aplicació XMPP del telèfon.
send-code-hint = L'aplicació obre un missatge amb el codi; envieu-lo i aquesta pàgina continuarà sola. Inicieu la sessió amb l'adreça des de la qual l'envieu. No envieu mai un codi que us hagi donat una altra persona: iniciaria la sessió com a vosaltres.
send-code-message = Inicia la sessió a { $site }: { $code }
contact-name = Servei d'inici de sessió

## La pàgina d'espera

wait-title = Confirmeu-ho a l'aplicació XMPP
wait-eyebrow = Inicia la sessió a { $site }
wait-code-received = Codi rebut
wait-code-received-lead = { $jid } ha enviat el codi d'aquesta pàgina. Continueu només si és la vostra adreça: qui envia el codi inicia la sessió d'aquest navegador amb la seva identitat.
wait-heading = Reviseu l'aplicació XMPP
wait-asked = Hem demanat a { $jid } que confirmi. Accepteu la sol·licitud només si mostra aquest codi:
wait-code-aria = Codi de confirmació { $code }
wait-offline = Sembla que la vostra aplicació XMPP està desconnectada. Obriu-la i arribarà la sol·licitud; o inicieu la sessió des de l'aplicació amb el codi de sota.
wait-continue-as = Continua com a { $jid }
wait-continue = Ja ho he acceptat, continua
wait-help-summary = No hi ha cap sol·licitud a l'aplicació XMPP?
wait-help-plain = Les aplicacions sense botons de confirmació la mostren com un missatge de { $component }: responeu amb el codi { $reply } per acceptar, o { $no } per rebutjar.
wait-expires = La sol·licitud caduca d'aquí a { $countdown }.
wait-strangers = Algunes aplicacions i servidors amaguen els missatges de desconeguts.
wait-add-contact = Afegiu { $component } als contactes
wait-add-contact-why = Així les sol·licituds sempre us arribaran.
wait-or-from-app = O inicieu la sessió des de l'aplicació XMPP
status-sent = S'espera la vostra resposta…
status-accepted = Confirmat. Continueu a { $site }.
status-continuing = Confirmat. Continuant…
status-denied = Heu rebutjat aquest inici de sessió.
status-expired = No ha arribat cap resposta a temps.
status-unreachable = No s'ha pogut contactar amb la vostra adreça XMPP, o el nostre enllaç amb la xarxa XMPP ha caigut.

## La pàgina de rebuig

refused-title = Inici de sessió rebutjat
refused-heading = Heu rebutjat aquest inici de sessió
refused-lead = { $jid } ha respost «no» a l'aplicació XMPP. Si ha estat un error, envieu una sol·licitud nova; si no heu intentat iniciar la sessió, cancel·leu.
refused-new-request = Envia una sol·licitud nova
refused-from-app = Inicia la sessió des de l'aplicació XMPP

## La pàgina de consentiment

consent-title = Voleu permetre { $site }?
consent-eyebrow = Sessió iniciada com a { $jid }
consent-heading = { $client } voldria saber
consent-device = Aquest inici de sessió és per a un dispositiu (un televisor, una aplicació o una eina de línia d'ordres) que us ha mostrat un codi. Permeteu-ho només si heu escrit el codi d'un dispositiu que teniu al davant: qui us dona un codi per escriure inicia la sessió com a vosaltres.
consent-device-self-registered = Aquest lloc s'ha registrat pel seu compte en aquest servei d'inici de sessió: ningú d'aquí no ha comprovat qui el gestiona.
consent-document = Aquest lloc s'ha identificat amb el seu document de metadades a { $document }: no està registrat en aquest servei d'inici de sessió, i ningú d'aquí no ha comprovat qui el gestiona. S'anomena «{ $name }» i us torna a { $host }. Permeteu-ho només si és el lloc on volíeu iniciar la sessió.
consent-self-registered = Aquest lloc s'ha registrat pel seu compte en aquest servei d'inici de sessió: ningú d'aquí no ha comprovat qui el gestiona. S'anomena «{ $name }» i us torna a { $host }. Permeteu-ho només si és el lloc on volíeu iniciar la sessió.
consent-ask-always = Ningú no ha respost per aquest lloc, així que se us pregunta a cada inici de sessió.
consent-remembered = Decidiu una vegada; jidconnect recorda la vostra resposta per a aquest lloc.
consent-allow = Permet
consent-item-jid = La vostra adreça XMPP, { $jid }
consent-item-username = El vostre nom d'usuari, { $name }
consent-item-email = La vostra adreça XMPP com a adreça electrònica
consent-item-groups = Els noms dels vostres grups en aquest servei d'inici de sessió (com ara staff)
consent-item-offline = Mantenir la sessió mentre no hi sou (accés fora de línia)

## Iniciar la sessió d'un dispositiu (un televisor, una aplicació, una eina de línia d'ordres)

device-title = Inicia la sessió d'un dispositiu
device-lead = El vostre televisor, aplicació o eina de línia d'ordres mostra un codi. Escriviu-lo aquí; després confirmeu-ho amb l'aplicació XMPP, com en qualsevol inici de sessió.
device-code-label = El codi que mostra el dispositiu
device-hint = Escriviu només el codi que mostra un dispositiu que teniu al davant, i on acabeu de demanar iniciar la sessió. Qui us dona un codi per escriure inicia la sessió com a vosaltres.
device-bad-form = Aquest formulari no s'ha enviat des de la pàgina que us hem mostrat. Torneu a escriure el codi.
device-too-many = Massa intents des de la vostra xarxa en l'últim minut. Espereu un minut i torneu a escriure el codi.
device-unknown-code = Cap dispositiu no espera aquest codi. Compareu-lo amb el que mostra el dispositiu; només funciona uns minuts, així que potser el dispositiu n'haurà de mostrar un de nou.
device-code-taken = Aquest codi ja s'està utilitzant en un altre navegador, o s'ha respost des d'una aplicació XMPP. Demaneu un codi nou al dispositiu.
device-done-title = Dispositiu connectat
device-refused-title = Dispositiu no connectat
device-done-eyebrow = Inicia la sessió d'un dispositiu a { $site }
device-done-heading = Fet: torneu al dispositiu
device-done-lead = El dispositiu està iniciant la sessió a { $client } ara. Podeu tancar aquesta pàgina.
device-refused-heading = El dispositiu no ha iniciat la sessió
device-refused-lead = S'avisa el dispositiu que s'ha rebutjat l'inici de sessió. Podeu tancar aquesta pàgina.

## Pàgines d'error

error-back-to-site = Torneu al lloc web i comenceu l'inici de sessió de nou.
error-flow-gone-title = Aquest inici de sessió ha caducat
error-flow-gone = Aquesta pàgina d'inici de sessió ja no és vàlida: ha caducat o ja s'ha utilitzat.
error-other-browser-title = Inici de sessió començat en un altre lloc
error-other-browser = Aquest inici de sessió es va començar en un altre navegador, o el vostre navegador no desa les galetes d'aquest lloc.
error-bad-csrf-title = Formulari caducat
error-bad-csrf = Aquest formulari no s'ha enviat des de la pàgina d'inici de sessió que us hem mostrat.
error-bad-link-title = Aquest enllaç d'inici de sessió no és vàlid
error-bad-link-next = Torneu al lloc web i proveu d'iniciar la sessió de nou. Si torna a passar, aviseu els administradors del lloc.
error-not-a-form = La sol·licitud d'autorització ha de ser un formulari (application/x-www-form-urlencoded).
error-repeated-parameter = El paràmetre { $name } apareix més d'una vegada.
error-no-client = La sol·licitud no diu quin lloc web (client_id) demana l'inici de sessió.
error-unknown-client = El lloc web (client_id) que demana l'inici de sessió no està registrat aquí.
error-bad-document = El lloc web (client_id) que demana l'inici de sessió s'identifica amb un document de metadades que no es pot utilitzar: { $why }.
error-no-redirect-uri = La sol·licitud no té redirect_uri.
error-bad-redirect-uri = L'adreça de retorn (redirect_uri) no està registrada per a aquest lloc web, així que no us hi enviarem.
error-too-many-logins-title = Massa inicis de sessió alhora
error-too-many-logins = Hi ha hagut massa intents d'inici de sessió des de la vostra xarxa en l'últim minut.
error-too-many-logins-next = Espereu un minut, torneu al lloc web i inicieu la sessió de nou.

## Tancar la sessió

logout-title = Tanca la sessió
logout-done = Heu tancat la sessió
logout-done-lead = La vostra sessió de jidconnect ha acabat. Els llocs web on heu iniciat la sessió poden mantenir la seva pròpia sessió fins que també la tanqueu allà.
logout-ask = Voleu tancar la sessió de jidconnect?
logout-ask-lead = El proper inici de sessió a qualsevol lloc web necessitarà una confirmació nova al vostre client XMPP.
logout-button = Tanca la sessió
logout-not-confirmed-title = Tancament de sessió no confirmat
logout-not-confirmed = Aquest formulari ha caducat o s'ha enviat des d'un altre lloc.
logout-not-confirmed-next = Torneu a obrir la pàgina de tancament de sessió i confirmeu-ho allà.
logout-invalid-title = Sol·licitud de tancament de sessió no vàlida
logout-invalid-next = Torneu al lloc web; la vostra sessió aquí no ha canviat.
logout-bad-hint = L'id_token_hint no és un testimoni d'identitat d'aquest proveïdor.
logout-bad-redirect = Aquest post_logout_redirect_uri no està registrat per al client.
logout-hint-mismatch = El client_id no coincideix amb l'id_token_hint.
logout-redirect-needs-client = Un post_logout_redirect_uri necessita un id_token_hint o un client_id.

## Missatges a l'aplicació XMPP

xmpp-requested-from = Sol·licitat des de: { $origin }
xmpp-request-login =
    { $requester } us demana que confirmeu un inici de sessió com a { $jid }.
    Codi: { $code } (ha de coincidir amb el codi de la pàgina d'inici de sessió)
    Pàgina: { $url }
    { $origin }
    Si l'aplicació no mostra botons Accepta/Rebutja, responeu amb el codi { $code } per acceptar, o «{ $no }» per rebutjar. Si no heu intentat iniciar la sessió, responeu «{ $no }»: ningú no hi entra sense la vostra resposta.
xmpp-request-site-check =
    El lloc { $url } ({ $requester }) us demana que confirmeu que sou { $jid }, per a alguna cosa que feu en aquest lloc. No és una pàgina d'inici de sessió.
    Transacció: { $code } (ha de coincidir amb el que us mostra el lloc)

    Si l'aplicació no mostra botons Accepta/Rebutja, responeu amb { $code } per acceptar, o «{ $no }» per rebutjar. Si ara mateix no feu servir { $url }, responeu «{ $no }».
xmpp-request-device =
    Un dispositiu demana iniciar la sessió com a vosaltres ({ $jid }) a { $requester }.
    Codi: { $code } (si heu escrit el codi del dispositiu en una pàgina web, ha de coincidir amb el codi que s'hi mostra)
    Pàgina: { $url }
    { $origin }
    Si l'aplicació no mostra botons Accepta/Rebutja, responeu amb el codi { $code } per acceptar, o «{ $no }» per rebutjar. Accepteu només per a un dispositiu que teniu al davant (un televisor, una aplicació, una eina de línia d'ordres) on ara mateix inicieu la sessió: qui us dona un codi per escriure o enviar inicia la sessió com a vosaltres.
xmpp-help = Això és un servei d'inici de sessió. Per iniciar la sessió, envieu el codi que apareix a la pàgina d'inici de sessió (per exemple K7XM-4QPA). Per respondre una sol·licitud de confirmació, responeu amb el seu codi, o «{ $no }». Després d'un avís d'inici de sessió, responeu «{ $notme }» per acabar aquell inici de sessió.
xmpp-status = Servei d'inici de sessió: envieu-me el codi d'una pàgina d'inici de sessió
xmpp-notice =
    Sessió iniciada a { $site } des de { $origin }.
    No éreu vosaltres? Responeu «{ $notme }» per acabar aquest inici de sessió.
xmpp-unknown-origin = un lloc desconegut
xmpp-the-website = el lloc web
xmpp-code-received =
    Esteu iniciant la sessió a { $site } com a { $jid }, a la pàgina oberta des de { $origin }. Continueu allà.
    No sou vosaltres, o no és el vostre navegador? Responeu «{ $notme }» per aturar aquest inici de sessió: qui us mostra un codi per enviar inicia la sessió com a vosaltres.
xmpp-code-unknown = Aquest codi no coincideix amb cap pàgina d'inici de sessió oberta. Un codi funciona una vegada, només mentre la pàgina que el mostra és oberta; comproveu-lo, o comenceu l'inici de sessió de nou.
xmpp-device-in-browser = Aquest codi de dispositiu s'està utilitzant en una pàgina web: continueu l'inici de sessió allà.
xmpp-device-waiting = Ja hi ha una sol·licitud de confirmació per a aquest dispositiu que espera resposta.
xmpp-device-cannot = El dispositiu no pot iniciar la sessió ara: { $why }.
xmpp-not-me-nothing = No hi ha cap inici de sessió recent vostre per desfer.
xmpp-not-me-already = Aquell inici de sessió ja s'ha desfet.
xmpp-not-me-done = Fet: aquell inici de sessió ({ $login }) s'ha acabat, i { $revoked ->
    [one] s'ha revocat l'autorització de lloc que s'hi va donar
   *[other] s'han revocat les { $revoked } autoritzacions de lloc que s'hi van donar
}. El lloc pot mantenir la seva pròpia sessió fins que ho torni a comprovar; si una altra persona pot iniciar la sessió com a vosaltres, protegiu el vostre compte XMPP.

# Les mots de jidconnect, en français. Voir locales/en/jidconnect.ftl pour traduire.

## La langue

language-name = Français
language-picker = Langue
refusal-words = non, n, nan, refuser, refuse, refus
not-me-phrases = pas moi, ce n'est pas moi, ce n'était pas moi, c'était pas moi
seconds = { $count ->
    [one] { $count } seconde
   *[other] { $count } secondes
}

## Toutes les pages

footer = Connexions confirmées dans votre propre client XMPP · jidconnect
cancel = Annuler
continue = Continuer
use-another-address = Utiliser une autre adresse
cancel-back = Annuler et revenir à { $site }
error-eyebrow = Un problème est survenu

## La page de connexion

login-title = Connexion à { $site }
login-eyebrow = Connexion avec XMPP
login-heading = Connexion à { $client }
device-login-eyebrow = Un appareil demande à se connecter
device-login-heading = Connecter votre appareil à { $client }
login-by-address = Saisissez votre adresse
login-by-address-hint = Votre application XMPP vous demande de confirmer ; aucun mot de passe n'est nécessaire.
login-jid-label = Votre adresse XMPP
login-send = Envoyer la demande de confirmation
login-send-hint = Nous envoyons une demande avec un code court à votre application XMPP. Acceptez-la si le code correspond à celui que nous vous montrons ensuite.
login-from-app = Se connecter depuis votre application XMPP
login-sent-continue = Je l'ai envoyé, continuer
login-not-allowed = L'adresse { $jid } ne peut pas se connecter à { $site } : ses administrateurs n'y laissent entrer que certaines personnes. Connectez-vous avec une autre adresse, ou demandez-leur.
login-retry-expired = Aucune réponse n'est arrivée à temps. Vérifiez votre client XMPP et envoyez une nouvelle demande.
login-retry-unreachable = Nous n'avons pas pu joindre cette adresse. Vérifiez qu'elle ne contient pas de faute ; si elle est juste, son serveur, ou notre lien avec le réseau XMPP, est peut-être indisponible en ce moment : réessayez dans une minute.
login-try-again-in = { $reason } (dans { $wait } environ).
login-disconnected = jidconnect n'est pas connecté à son serveur XMPP en ce moment ; réessayez dans une minute.

## Adresses saisies sur la page de connexion

jid-empty = Saisissez votre adresse XMPP, par exemple alice@example.org.
jid-too-long = Cette adresse est trop longue.
jid-malformed = « { $input } » n'est pas une adresse XMPP valide ; elle ressemble à alice@example.org.
jid-no-localpart = Saisissez votre propre adresse avec un nom d'utilisateur, par exemple alice@{ $domain }, pas seulement le serveur.
jid-bad-domain = Le nom de serveur « { $domain } » n'est pas un domaine valide.

## Pourquoi une demande de confirmation n'est pas envoyée maintenant

refusal-already-pending = Une demande de confirmation à cette adresse attend déjà une réponse
refusal-jid-pending = Plusieurs demandes de confirmation à cette adresse attendent déjà une réponse
refusal-recently-denied = Cette adresse a refusé une connexion récemment ; réessayez plus tard
refusal-jid-cooldown = Une demande de confirmation vient d'être envoyée à cette adresse ; patientez un instant
refusal-jid-rate = Trop de demandes de confirmation à cette adresse ; réessayez plus tard
refusal-domain-rate = Trop de demandes de confirmation vers ce serveur ; réessayez plus tard
refusal-ip-rate = Trop de tentatives de connexion depuis votre réseau ; réessayez plus tard
refusal-network-share = Trop de connexions depuis votre réseau attendent une réponse ; réessayez dans une minute
refusal-client-share = Trop de connexions à ce site attendent une réponse ; réessayez dans une minute
refusal-too-many-pending = Trop de connexions sont en cours ; réessayez dans une minute
refusal-sender-rate = Trop de messages depuis votre adresse ; patientez une minute
refusal-wrong-codes = Trop de codes envoyés depuis votre adresse ne correspondaient à aucune page de connexion ; patientez un moment

## Se connecter depuis l'application XMPP (envoyer le code)

send-code-to = Envoyez ce code à { $jid } depuis votre application XMPP :
send-code-aria = Code { $code }
send-code-open = Ouvrir dans mon application XMPP
send-code-qr-alt = Code QR : scannez-le avec l'application XMPP de votre téléphone pour envoyer le code { $code } à { $component }
send-code-qr-caption = Sur un ordinateur ? Scannez ceci avec l'application XMPP de votre téléphone.
send-code-hint = Votre application ouvre un message contenant le code ; envoyez-le, et cette page continue d'elle-même. Vous êtes connecté avec l'adresse depuis laquelle vous l'envoyez. N'envoyez jamais un code que quelqu'un d'autre vous a donné : cette personne serait connectée en tant que vous.
send-code-message = Connexion à { $site } : { $code }
contact-name = Service de connexion

## La page d'attente

wait-title = Confirmez dans votre application XMPP
wait-eyebrow = Connexion à { $site }
wait-code-received = Code reçu
wait-code-received-lead = { $jid } a envoyé le code de cette page. Continuez seulement si c'est votre adresse : la personne qui envoie le code connecte ce navigateur en tant qu'elle.
wait-heading = Regardez votre application XMPP
wait-asked = Nous avons demandé à { $jid } de confirmer. Acceptez la demande seulement si elle affiche ce code :
wait-code-aria = Code de confirmation { $code }
wait-offline = Votre application XMPP semble hors ligne. Ouvrez-la et la demande arrivera ; ou connectez-vous depuis votre application avec le code ci-dessous.
wait-continue-as = Continuer en tant que { $jid }
wait-continue = J'ai accepté, continuer
wait-help-summary = Aucune demande dans votre application XMPP ?
wait-help-plain = Les applications sans boutons de confirmation l'affichent comme un message de { $component } : répondez avec le code { $reply } pour accepter, ou { $no } pour refuser.
wait-expires = La demande expire dans { $countdown }.
wait-strangers = Certaines applications et certains serveurs masquent les messages des inconnus.
wait-add-contact = Ajoutez { $component } à vos contacts
wait-add-contact-why = Ainsi, les demandes vous parviennent toujours.
wait-or-from-app = Ou connectez-vous depuis votre application XMPP
status-sent = En attente de votre réponse…
status-accepted = Confirmé. Continuez vers { $site }.
status-continuing = Confirmé. On continue…
status-denied = Vous avez refusé cette connexion.
status-expired = Aucune réponse n'est arrivée à temps.
status-unreachable = Votre adresse XMPP n'a pas pu être jointe, ou notre lien avec le réseau XMPP est coupé.

## La page de refus

refused-title = Connexion refusée
refused-heading = Vous avez refusé cette connexion
refused-lead = { $jid } a répondu « non » dans l'application XMPP. Si c'était une erreur, envoyez une nouvelle demande ; si vous n'avez pas essayé de vous connecter, annulez.
refused-new-request = Envoyer une nouvelle demande
refused-from-app = Se connecter plutôt depuis votre application XMPP

## La page de consentement

consent-title = Autoriser { $site } ?
consent-eyebrow = Connecté en tant que { $jid }
consent-heading = { $client } aimerait savoir
consent-device = Cette connexion est pour un appareil (une télévision, une application ou un outil en ligne de commande) qui vous a montré un code. Autorisez seulement si vous avez saisi le code d'un appareil qui est devant vous : quelqu'un qui vous donne un code à saisir se retrouve connecté en tant que vous.
consent-device-self-registered = Ce site s'est inscrit lui-même auprès de ce service de connexion : personne ici n'a vérifié qui le gère.
consent-document = Ce site s'est identifié par son document de métadonnées sur { $document } : il n'est pas inscrit auprès de ce service de connexion, et personne ici n'a vérifié qui le gère. Il se nomme « { $name } » et vous renvoie vers { $host }. Autorisez seulement si c'est bien le site auquel vous vouliez vous connecter.
consent-self-registered = Ce site s'est inscrit lui-même auprès de ce service de connexion : personne ici n'a vérifié qui le gère. Il se nomme « { $name } » et vous renvoie vers { $host }. Autorisez seulement si c'est bien le site auquel vous vouliez vous connecter.
consent-ask-always = Personne ne s'est porté garant de ce site : la question vous est posée à chaque connexion.
consent-remembered = Vous décidez une fois ; jidconnect retient votre réponse pour ce site.
consent-allow = Autoriser
consent-item-jid = Votre adresse XMPP, { $jid }
consent-item-username = Votre nom d'utilisateur, { $name }
consent-item-email = Votre adresse XMPP comme adresse e-mail
consent-item-groups = Les noms de vos groupes dans ce service de connexion (par exemple staff)
consent-item-offline = Rester connecté pendant votre absence (accès hors ligne)

## Connecter un appareil (une télévision, une application, un outil en ligne de commande)

device-title = Connecter un appareil
device-lead = Votre télévision, votre application ou votre outil en ligne de commande affiche un code. Saisissez-le ici, puis confirmez avec votre application XMPP, comme pour toute connexion.
device-code-label = Le code affiché par votre appareil
device-hint = Ne saisissez que le code affiché par un appareil qui est devant vous, et que vous venez de connecter. Quelqu'un qui vous donne un code à saisir se retrouve connecté en tant que vous.
device-bad-form = Ce formulaire n'a pas été envoyé depuis la page que nous vous avons montrée. Saisissez le code à nouveau.
device-too-many = Trop d'essais depuis votre réseau dans la dernière minute. Patientez une minute, puis saisissez le code à nouveau.
device-unknown-code = Aucun appareil n'attend ce code. Comparez-le au code affiché par votre appareil ; il ne fonctionne que quelques minutes, votre appareil devra peut-être en afficher un nouveau.
device-code-taken = Ce code est déjà utilisé dans un autre navigateur, ou a reçu une réponse depuis une application XMPP. Demandez un nouveau code à votre appareil.
device-done-title = Appareil connecté
device-refused-title = Appareil non connecté
device-done-eyebrow = Connecter un appareil à { $site }
device-done-heading = C'est fait : revenez à votre appareil
device-done-lead = Votre appareil se connecte maintenant à { $client }. Vous pouvez fermer cette page.
device-refused-heading = L'appareil n'est pas connecté
device-refused-lead = L'appareil est informé que la connexion a été refusée. Vous pouvez fermer cette page.

## Pages d'erreur

error-back-to-site = Revenez au site web et recommencez la connexion.
error-flow-gone-title = Cette connexion a expiré
error-flow-gone = Cette page de connexion n'est plus valide : elle a expiré ou a déjà été utilisée.
error-other-browser-title = Connexion commencée ailleurs
error-other-browser = Cette connexion a été commencée dans un autre navigateur, ou votre navigateur ne garde pas les cookies de ce site.
error-bad-csrf-title = Formulaire expiré
error-bad-csrf = Ce formulaire n'a pas été envoyé depuis la page de connexion que nous vous avons montrée.
error-bad-link-title = Ce lien de connexion n'est pas valide
error-bad-link-next = Revenez au site web et essayez de vous connecter à nouveau. Si cela se reproduit, prévenez les administrateurs du site.
error-not-a-form = La demande d'autorisation doit être un formulaire (application/x-www-form-urlencoded).
error-repeated-parameter = Le paramètre { $name } apparaît plus d'une fois.
error-no-client = La demande n'indique pas quel site web (client_id) demande la connexion.
error-unknown-client = Le site web (client_id) qui demande la connexion n'est pas inscrit ici.
error-bad-document = Le site web (client_id) qui demande la connexion s'identifie par un document de métadonnées inutilisable : { $why }.
error-no-redirect-uri = La demande n'a pas de redirect_uri.
error-bad-redirect-uri = L'adresse de retour (redirect_uri) n'est pas inscrite pour ce site web : nous ne vous y enverrons pas.
error-too-many-logins-title = Trop de connexions à la fois
error-too-many-logins = Il y a eu trop de tentatives de connexion depuis votre réseau dans la dernière minute.
error-too-many-logins-next = Patientez une minute, puis revenez au site web et connectez-vous à nouveau.

## Déconnexion

logout-title = Se déconnecter
logout-done = Vous êtes déconnecté
logout-done-lead = Votre session jidconnect est terminée. Les sites web auxquels vous vous êtes connecté peuvent garder leur propre session jusqu'à ce que vous vous y déconnectiez aussi.
logout-ask = Se déconnecter de jidconnect ?
logout-ask-lead = La prochaine connexion sur n'importe quel site web demandera une nouvelle confirmation dans votre client XMPP.
logout-button = Se déconnecter
logout-not-confirmed-title = Déconnexion non confirmée
logout-not-confirmed = Ce formulaire a expiré ou a été envoyé depuis un autre site.
logout-not-confirmed-next = Rouvrez la page de déconnexion et confirmez-y.
logout-invalid-title = Demande de déconnexion invalide
logout-invalid-next = Revenez au site web ; votre session ici n'a pas changé.
logout-bad-hint = L'id_token_hint n'est pas un jeton d'identité de ce fournisseur.
logout-bad-redirect = Ce post_logout_redirect_uri n'est pas inscrit pour ce client.
logout-hint-mismatch = Le client_id ne correspond pas à l'id_token_hint.
logout-redirect-needs-client = Un post_logout_redirect_uri demande un id_token_hint ou un client_id.

## Messages dans l'application XMPP

xmpp-requested-from = Demandé depuis : { $origin }
xmpp-request-login =
    { $requester } vous demande de confirmer une connexion en tant que { $jid }.
    Code : { $code } (il doit correspondre au code de la page de connexion)
    Page : { $url }
    { $origin }
    Si votre application n'affiche pas de boutons Accepter/Refuser, répondez avec le code { $code } pour accepter, ou « { $no } » pour refuser. Si vous n'avez pas essayé de vous connecter, répondez « { $no } » : personne n'entre sans votre réponse.
xmpp-request-site-check =
    Le site { $url } ({ $requester }) vous demande de confirmer que vous êtes { $jid }, pour quelque chose que vous faites sur ce site. Ce n'est pas une page de connexion.
    Transaction : { $code } (elle doit correspondre à ce que le site vous montre)

    Si votre application n'affiche pas de boutons Accepter/Refuser, répondez avec { $code } pour accepter, ou « { $no } » pour refuser. Si vous n'utilisez pas { $url } en ce moment, répondez « { $no } ».
xmpp-request-device =
    Un appareil demande à se connecter en tant que vous ({ $jid }) à { $requester }.
    Code : { $code } (si vous avez saisi le code de l'appareil sur une page web, il doit correspondre au code qui y est affiché)
    Page : { $url }
    { $origin }
    Si votre application n'affiche pas de boutons Accepter/Refuser, répondez avec le code { $code } pour accepter, ou « { $no } » pour refuser. N'acceptez que pour un appareil devant vous (une télévision, une application, un outil en ligne de commande) que vous êtes en train de connecter : quelqu'un qui vous donne un code à saisir ou à envoyer se retrouve connecté en tant que vous.
xmpp-help = Ceci est un service de connexion. Pour vous connecter, envoyez le code affiché sur la page de connexion (par exemple K7XM-4QPA). Pour répondre à une demande de confirmation, répondez avec son code, ou « { $no } ». Après un avis de connexion, répondez « { $notme } » pour mettre fin à cette connexion.
xmpp-status = Service de connexion : envoyez-moi le code d'une page de connexion
xmpp-notice =
    Connecté à { $site } depuis { $origin }.
    Ce n'était pas vous ? Répondez « { $notme } » pour mettre fin à cette connexion.
xmpp-unknown-origin = un lieu inconnu
xmpp-the-website = le site web
xmpp-code-received =
    Vous vous connectez à { $site } en tant que { $jid }, sur la page ouverte depuis { $origin }. Continuez là-bas.
    Ce n'est pas vous, ou pas votre navigateur ? Répondez « { $notme } » pour arrêter cette connexion : quelqu'un qui vous montre un code à envoyer se retrouve connecté en tant que vous.
xmpp-code-unknown = Ce code ne correspond à aucune page de connexion ouverte. Un code ne fonctionne qu'une fois, et seulement tant que la page qui l'affiche est ouverte ; vérifiez-le, ou recommencez la connexion.
xmpp-device-in-browser = Ce code d'appareil est utilisé sur une page web : continuez la connexion là-bas.
xmpp-device-waiting = Une demande de confirmation pour cet appareil attend déjà une réponse.
xmpp-device-cannot = L'appareil ne peut pas être connecté maintenant : { $why }.
xmpp-not-me-nothing = Il n'y a aucune connexion récente de votre part à annuler.
xmpp-not-me-already = Cette connexion a déjà été annulée.
xmpp-not-me-done = C'est fait : cette connexion ({ $login }) est terminée, et { $revoked ->
    [one] l'autorisation de site qui y a été donnée est révoquée
   *[other] les { $revoked } autorisations de site qui y ont été données sont révoquées
}. Le site peut garder sa propre session jusqu'à sa prochaine vérification ; si quelqu'un d'autre peut se connecter en tant que vous, sécurisez votre compte XMPP.

# Las palabras de jidconnect, en español. Ver locales/en/jidconnect.ftl para traducir.

## El idioma

language-name = Español
language-picker = Idioma
refusal-words = no, n, nop, rechazo, denegar, rechazado
not-me-phrases = no fui yo, no soy yo, yo no fui, no he sido yo
seconds = { $count ->
    [one] { $count } segundo
   *[other] { $count } segundos
}

## Todas las páginas

footer = Inicios de sesión confirmados en tu propio cliente XMPP · jidconnect
cancel = Cancelar
continue = Continuar
use-another-address = Usar otra dirección
cancel-back = Cancelar y volver a { $site }
error-eyebrow = Algo ha salido mal

## La página de inicio de sesión

login-title = Iniciar sesión en { $site }
login-eyebrow = Iniciar sesión con XMPP
login-heading = Iniciar sesión en { $client }
device-login-eyebrow = Un dispositivo pide iniciar sesión
device-login-heading = Inicia sesión con tu dispositivo en { $client }
login-by-address = Escribe tu dirección
login-by-address-hint = Tu aplicación XMPP te pide que confirmes; no hace falta contraseña.
login-jid-label = Tu dirección XMPP
login-send = Enviar solicitud de confirmación
login-send-hint = Enviamos una solicitud con un código corto a tu aplicación XMPP. Acéptala allí si el código coincide con el que te mostramos a continuación.
login-from-app = Iniciar sesión desde tu aplicación XMPP
login-sent-continue = Ya lo he enviado, continuar
login-not-allowed = La dirección { $jid } no puede iniciar sesión en { $site }: sus administradores solo dejan entrar a algunas personas. Inicia sesión con otra dirección, o pregúntales.
login-retry-expired = No llegó ninguna respuesta a tiempo. Revisa tu cliente XMPP y envía una nueva solicitud.
login-retry-unreachable = No pudimos contactar con esta dirección. Comprueba que no tenga errores; si es correcta, puede que su servidor, o nuestro enlace con la red XMPP, no esté disponible ahora mismo: vuelve a intentarlo en un minuto.
login-try-again-in = { $reason } (dentro de unos { $wait }).
login-disconnected = jidconnect no está conectado a su servidor XMPP en este momento; vuelve a intentarlo en un minuto.

## Direcciones escritas en la página de inicio de sesión

jid-empty = Escribe tu dirección XMPP, por ejemplo alice@example.org.
jid-too-long = Esa dirección es demasiado larga.
jid-malformed = «{ $input }» no es una dirección XMPP válida; se parece a alice@example.org.
jid-no-localpart = Escribe tu propia dirección con un nombre de usuario, por ejemplo alice@{ $domain }, no solo el servidor.
jid-bad-domain = El nombre de servidor «{ $domain }» no es un dominio válido.

## Por qué no se envía ahora una solicitud de confirmación

refusal-already-pending = Ya hay una solicitud de confirmación a esta dirección esperando respuesta
refusal-jid-pending = Ya hay varias solicitudes de confirmación a esta dirección esperando respuesta
refusal-recently-denied = Esta dirección rechazó un inicio de sesión hace poco; inténtalo más tarde
refusal-jid-cooldown = Se acaba de enviar una solicitud de confirmación a esta dirección; espera un momento
refusal-jid-rate = Demasiadas solicitudes de confirmación a esta dirección; inténtalo más tarde
refusal-domain-rate = Demasiadas solicitudes de confirmación a este servidor; inténtalo más tarde
refusal-ip-rate = Demasiados intentos de inicio de sesión desde tu red; inténtalo más tarde
refusal-network-share = Demasiados inicios de sesión desde tu red esperan respuesta; inténtalo dentro de un minuto
refusal-client-share = Demasiados inicios de sesión en este sitio esperan respuesta; inténtalo dentro de un minuto
refusal-too-many-pending = Hay demasiados inicios de sesión en curso; inténtalo dentro de un minuto
refusal-sender-rate = Demasiados mensajes desde tu dirección; espera un minuto
refusal-wrong-codes = Demasiados códigos enviados desde tu dirección no coincidían con ninguna página de inicio de sesión; espera un rato

## Iniciar sesión desde la aplicación XMPP (enviar el código)

send-code-to = Envía este código a { $jid } desde tu aplicación XMPP:
send-code-aria = Código { $code }
send-code-open = Abrir en mi aplicación XMPP
send-code-qr-alt = Código QR: escanéalo con la aplicación XMPP de tu teléfono para enviar el código { $code } a { $component }
send-code-qr-caption = ¿Estás en un ordenador? Escanea esto con la aplicación XMPP de tu teléfono.
send-code-hint = Tu aplicación abre un mensaje con el código; envíalo y esta página continuará sola. Inicias sesión con la dirección desde la que lo envías. No envíes nunca un código que te haya dado otra persona: iniciaría sesión como tú.
send-code-message = Iniciar sesión en { $site }: { $code }
contact-name = Servicio de inicio de sesión

## La página de espera

wait-title = Confirma en tu aplicación XMPP
wait-eyebrow = Iniciar sesión en { $site }
wait-code-received = Código recibido
wait-code-received-lead = { $jid } ha enviado el código de esta página. Continúa solo si esa es tu dirección: quien envía el código inicia sesión en este navegador con su identidad.
wait-heading = Revisa tu aplicación XMPP
wait-asked = Hemos pedido a { $jid } que confirme. Acepta la solicitud solo si muestra este código:
wait-code-aria = Código de confirmación { $code }
wait-offline = Tu aplicación XMPP parece estar desconectada. Ábrela y llegará la solicitud; o inicia sesión desde tu aplicación con el código de abajo.
wait-continue-as = Continuar como { $jid }
wait-continue = Ya he aceptado, continuar
wait-help-summary = ¿No hay ninguna solicitud en tu aplicación XMPP?
wait-help-plain = Las aplicaciones sin botones de confirmación la muestran como un mensaje de { $component }: responde con el código { $reply } para aceptar, o { $no } para rechazar.
wait-expires = La solicitud caduca en { $countdown }.
wait-strangers = Algunas aplicaciones y servidores ocultan los mensajes de desconocidos.
wait-add-contact = Añade { $component } como contacto
wait-add-contact-why = Así las solicitudes siempre te llegarán.
wait-or-from-app = O inicia sesión desde tu aplicación XMPP
status-sent = Esperando tu respuesta…
status-accepted = Confirmado. Continúa a { $site }.
status-continuing = Confirmado. Continuando…
status-denied = Has rechazado este inicio de sesión.
status-expired = No llegó ninguna respuesta a tiempo.
status-unreachable = No se pudo contactar con tu dirección XMPP, o nuestro enlace con la red XMPP está caído.

## La página de rechazo

refused-title = Inicio de sesión rechazado
refused-heading = Has rechazado este inicio de sesión
refused-lead = { $jid } respondió «no» en la aplicación XMPP. Si fue un error, envía una nueva solicitud; si no intentaste iniciar sesión, cancela.
refused-new-request = Enviar una nueva solicitud
refused-from-app = Iniciar sesión desde tu aplicación XMPP

## La página de consentimiento

consent-title = ¿Permitir a { $site }?
consent-eyebrow = Sesión iniciada como { $jid }
consent-heading = A { $client } le gustaría saber
consent-device = Este inicio de sesión es para un dispositivo (una televisión, una aplicación o una herramienta de línea de comandos) que te mostró un código. Permítelo solo si escribiste el código de un dispositivo que tienes delante: quien te da un código para escribir inicia sesión como tú.
consent-device-self-registered = Este sitio se registró por su cuenta en este servicio de inicio de sesión: nadie aquí ha comprobado quién lo gestiona.
consent-document = Este sitio se identificó mediante su documento de metadatos en { $document }: no está registrado en este servicio de inicio de sesión y nadie aquí ha comprobado quién lo gestiona. Se hace llamar «{ $name }» y te devuelve a { $host }. Permítelo solo si es el sitio en el que querías iniciar sesión.
consent-self-registered = Este sitio se registró por su cuenta en este servicio de inicio de sesión: nadie aquí ha comprobado quién lo gestiona. Se hace llamar «{ $name }» y te devuelve a { $host }. Permítelo solo si es el sitio en el que querías iniciar sesión.
consent-ask-always = Nadie ha respondido por este sitio, así que se te pregunta en cada inicio de sesión.
consent-remembered = Decides una vez; jidconnect recuerda tu respuesta para este sitio.
consent-allow = Permitir
consent-item-jid = Tu dirección XMPP, { $jid }
consent-item-username = Tu nombre de usuario, { $name }
consent-item-email = Tu dirección XMPP como dirección de correo electrónico
consent-item-groups = Los nombres de tus grupos en este servicio de inicio de sesión (como staff)
consent-item-offline = Mantener la sesión mientras no estás (acceso sin conexión)

## Iniciar sesión en un dispositivo (una televisión, una aplicación, una herramienta de línea de comandos)

device-title = Iniciar sesión en un dispositivo
device-lead = Tu televisión, aplicación o herramienta de línea de comandos muestra un código. Escríbelo aquí; después confirma con tu aplicación XMPP, como en cualquier inicio de sesión.
device-code-label = El código que muestra tu dispositivo
device-hint = Escribe solo el código que muestra un dispositivo que tienes delante y en el que acabas de pedir iniciar sesión. Quien te da un código para escribir inicia sesión como tú.
device-bad-form = Este formulario no se envió desde la página que te mostramos. Vuelve a escribir el código.
device-too-many = Demasiados intentos desde tu red en el último minuto. Espera un minuto y vuelve a escribir el código.
device-unknown-code = Ningún dispositivo espera este código. Compáralo con el que muestra tu dispositivo; solo funciona unos minutos, así que puede que tu dispositivo tenga que mostrar uno nuevo.
device-code-taken = Este código ya se está usando en otro navegador, o se respondió desde una aplicación XMPP. Pide un código nuevo a tu dispositivo.
device-done-title = Dispositivo conectado
device-refused-title = Dispositivo no conectado
device-done-eyebrow = Iniciar sesión en un dispositivo en { $site }
device-done-heading = Hecho: vuelve a tu dispositivo
device-done-lead = Tu dispositivo está iniciando sesión en { $client } ahora. Puedes cerrar esta página.
device-refused-heading = El dispositivo no ha iniciado sesión
device-refused-lead = Se avisa al dispositivo de que el inicio de sesión fue rechazado. Puedes cerrar esta página.

## Páginas de error

error-back-to-site = Vuelve al sitio web y empieza el inicio de sesión de nuevo.
error-flow-gone-title = Este inicio de sesión ha caducado
error-flow-gone = Esta página de inicio de sesión ya no es válida: caducó o ya se usó.
error-other-browser-title = Inicio de sesión empezado en otro lugar
error-other-browser = Este inicio de sesión se empezó en otro navegador, o tu navegador no guarda las cookies de este sitio.
error-bad-csrf-title = Formulario caducado
error-bad-csrf = Este formulario no se envió desde la página de inicio de sesión que te mostramos.
error-bad-link-title = Este enlace de inicio de sesión no es válido
error-bad-link-next = Vuelve al sitio web e intenta iniciar sesión otra vez. Si sigue pasando, avisa a los administradores del sitio.
error-not-a-form = La solicitud de autorización debe ser un formulario (application/x-www-form-urlencoded).
error-repeated-parameter = El parámetro { $name } aparece más de una vez.
error-no-client = La solicitud no dice qué sitio web (client_id) pide el inicio de sesión.
error-unknown-client = El sitio web (client_id) que pide el inicio de sesión no está registrado aquí.
error-bad-document = El sitio web (client_id) que pide el inicio de sesión se identifica con un documento de metadatos que no se puede usar: { $why }.
error-no-redirect-uri = La solicitud no tiene redirect_uri.
error-bad-redirect-uri = La dirección de vuelta (redirect_uri) no está registrada para este sitio web, así que no te enviaremos allí.
error-too-many-logins-title = Demasiados inicios de sesión a la vez
error-too-many-logins = Ha habido demasiados intentos de inicio de sesión desde tu red en el último minuto.
error-too-many-logins-next = Espera un minuto, vuelve al sitio web e inicia sesión de nuevo.

## Cerrar sesión

logout-title = Cerrar sesión
logout-done = Has cerrado la sesión
logout-done-lead = Tu sesión de jidconnect ha terminado. Los sitios web en los que iniciaste sesión pueden mantener su propia sesión hasta que la cierres también allí.
logout-ask = ¿Cerrar la sesión de jidconnect?
logout-ask-lead = El próximo inicio de sesión en cualquier sitio web necesitará una nueva confirmación en tu cliente XMPP.
logout-button = Cerrar sesión
logout-not-confirmed-title = Cierre de sesión no confirmado
logout-not-confirmed = Este formulario caducó o se envió desde otro sitio.
logout-not-confirmed-next = Abre de nuevo la página de cierre de sesión y confirma allí.
logout-invalid-title = Solicitud de cierre de sesión no válida
logout-invalid-next = Vuelve al sitio web; tu sesión aquí no ha cambiado.
logout-bad-hint = El id_token_hint no es un token de identidad de este proveedor.
logout-bad-redirect = Este post_logout_redirect_uri no está registrado para el cliente.
logout-hint-mismatch = El client_id no coincide con el id_token_hint.
logout-redirect-needs-client = Un post_logout_redirect_uri necesita un id_token_hint o un client_id.

## Mensajes en la aplicación XMPP

xmpp-requested-from = Solicitado desde: { $origin }
xmpp-request-login =
    { $requester } te pide que confirmes un inicio de sesión como { $jid }.
    Código: { $code } (debe coincidir con el código de la página de inicio de sesión)
    Página: { $url }
    { $origin }
    Si tu aplicación no muestra botones Aceptar/Rechazar, responde con el código { $code } para aceptar, o «{ $no }» para rechazar. Si no intentaste iniciar sesión, responde «{ $no }»: nadie entra sin tu respuesta.
xmpp-request-site-check =
    El sitio { $url } ({ $requester }) te pide que confirmes que eres { $jid }, para algo que estás haciendo en ese sitio. No es una página de inicio de sesión.
    Transacción: { $code } (debe coincidir con lo que te muestra el sitio)

    Si tu aplicación no muestra botones Aceptar/Rechazar, responde con { $code } para aceptar, o «{ $no }» para rechazar. Si no estás usando { $url } ahora mismo, responde «{ $no }».
xmpp-request-device =
    Un dispositivo pide iniciar sesión como tú ({ $jid }) en { $requester }.
    Código: { $code } (si escribiste el código del dispositivo en una página web, debe coincidir con el código que se muestra allí)
    Página: { $url }
    { $origin }
    Si tu aplicación no muestra botones Aceptar/Rechazar, responde con el código { $code } para aceptar, o «{ $no }» para rechazar. Acepta solo para un dispositivo que tienes delante (una televisión, una aplicación, una herramienta de línea de comandos) en el que estás iniciando sesión ahora: quien te da un código para escribir o enviar inicia sesión como tú.
xmpp-help = Este es un servicio de inicio de sesión. Para iniciar sesión, envía el código que aparece en la página de inicio de sesión (por ejemplo K7XM-4QPA). Para responder a una solicitud de confirmación, responde con su código, o «{ $no }». Después de un aviso de inicio de sesión, responde «{ $notme }» para terminar ese inicio de sesión.
xmpp-status = Servicio de inicio de sesión: envíame el código de una página de inicio de sesión
xmpp-notice =
    Sesión iniciada en { $site } desde { $origin }.
    ¿No fuiste tú? Responde «{ $notme }» para terminar este inicio de sesión.
xmpp-unknown-origin = un lugar desconocido
xmpp-the-website = el sitio web
xmpp-code-received =
    Estás iniciando sesión en { $site } como { $jid }, en la página abierta desde { $origin }. Continúa allí.
    ¿No eres tú, o no es tu navegador? Responde «{ $notme }» para detener este inicio de sesión: quien te muestra un código para enviar inicia sesión como tú.
xmpp-code-unknown = Este código no coincide con ninguna página de inicio de sesión abierta. Un código funciona una vez, solo mientras la página que lo muestra está abierta; compruébalo, o empieza el inicio de sesión de nuevo.
xmpp-device-in-browser = Este código de dispositivo se está usando en una página web: continúa el inicio de sesión allí.
xmpp-device-waiting = Ya hay una solicitud de confirmación para este dispositivo esperando respuesta.
xmpp-device-cannot = El dispositivo no puede iniciar sesión ahora: { $why }.
xmpp-not-me-nothing = No hay ningún inicio de sesión reciente tuyo que deshacer.
xmpp-not-me-already = Ese inicio de sesión ya se deshizo.
xmpp-not-me-done = Hecho: ese inicio de sesión ({ $login }) ha terminado, y { $revoked ->
    [one] se ha revocado la autorización de sitio dada en él
   *[other] se han revocado las { $revoked } autorizaciones de sitio dadas en él
}. El sitio puede mantener su propia sesión hasta que vuelva a comprobarlo; si otra persona puede iniciar sesión como tú, protege tu cuenta XMPP.

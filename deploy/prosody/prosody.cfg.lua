-- Prosody for docker-compose.yml: users on example.org, jidconnect as the component
-- auth.example.org. Replace the domains with yours and add certificates for both names
-- (see README.md, "Connecting to your XMPP server").
admins = { }
modules_enabled = {
    "roster"; "saslauth"; "tls"; "dialback"; "disco"; "carbons"; "pep"; "private";
    "blocklist"; "vcard4"; "vcard_legacy"; "version"; "uptime"; "time"; "ping"; "register";
    "mam"; "csi_simple"; "offline";
}
allow_registration = false
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false
authentication = "internal_hashed"
storage = "internal"
log = { info = "*console" }
certificates = "certs"
pidfile = "/var/run/prosody/prosody.pid"

-- The component port is reachable only inside the compose network.
component_ports = { 5347 }
component_interfaces = { "0.0.0.0" }

VirtualHost "example.org"

Component "auth.example.org"
    component_secret = os.getenv("COMPONENT_SECRET")

-- The language a login speaks (its pages and its XMPP messages), decided at /authorize
-- from ui_locales, the language cookie or Accept-Language, and changed by the picker.
ALTER TABLE login_flows ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
-- A login notice's language, for the stanza's xml:lang when it is sent later.
ALTER TABLE login_notices ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
-- A client's language for the compat /auth API's requests when the call names none.
ALTER TABLE clients ADD COLUMN language TEXT;
-- A request handed to the instance that holds the XMPP link keeps its language.
ALTER TABLE confirmations ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';

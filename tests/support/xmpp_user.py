#!/usr/bin/env python3
"""A real XMPP user for the end-to-end tests: a slixmpp client logged in to the test Prosody.

Started by the Rust tests (tests/e2e/helpers.rs). It prints one JSON event per line on
stdout and reads one JSON command per line on stdin:

  events:   {"event": "online", "jid": FULL_JID}
            {"event": "confirm", "kind": "iq"|"message", "code": ID, "from": JID, "body": TEXT,
             "lang": XML_LANG}
            {"event": "chat", "from": JID, "body": TEXT, "thread": ID, "lang": XML_LANG}
                                               a message that is no request
            {"event": "presence", "from": JID, "type": "available"|"unavailable"}  from others
  commands: {"cmd": "mode", "mode": MODE}     how to answer the next requests
            {"cmd": "raw", "xml": XML}         send a stanza as is (attacks, odd replies)
            {"cmd": "send", "to": JID, "body": TEXT, "thread": ID}   a chat message, as a person
                                               types it (in reply to a thread, if given)
            {"cmd": "subscribe", "to": JID}    add JID as a contact (a subscription request;
                                               its own request back is approved, as apps do)
            {"cmd": "quit"}

With XEP-0070 the client announces XEP-0115 caps in its presence; without, it answers
disco#info with its features (no http-auth) but announces no caps.

Answer modes: ignore, accept (IQ result / message confirm, as XEP-0070 §4.6), deny
(IQ or message error not-authorized), body-code (plain-text reply with the code, as a client
without XEP-0070 support would), body-no, deny-iq (deny requests sent to this resource as an
IQ, ignore those sent to the bare JID), body-say:WORDS (a plain-text reply WORDS, as a
person types it, e.g. "body-say:nein").
"""
import argparse
import asyncio
import json
import logging
import os
import sys

import slixmpp

NS_AUTH = "http://jabber.org/protocol/http-auth"


def xml_lang(stanza):
    """The stanza's own xml:lang attribute, as sent (empty if none)."""
    return stanza.xml.get("{http://www.w3.org/XML/1998/namespace}lang", "")


def emit(**event):
    print(json.dumps(event), flush=True)


class User(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mode, xep0070):
        super().__init__(jid, password)
        self.mode = mode
        self.enable_starttls = False
        self.enable_direct_tls = False
        self.enable_plaintext = True
        self.plugin["feature_mechanisms"].unencrypted_plain = True
        self.plugin["feature_mechanisms"].unencrypted_scram = True
        self.register_plugin("xep_0030")
        self.xep0070 = xep0070
        if xep0070:
            self.register_plugin("xep_0070")
            self.register_plugin("xep_0115")
            self.add_event_handler("http_confirm_iq", self.on_confirm_iq)
            self.add_event_handler("http_confirm_message", self.on_confirm_message)
            self.add_event_handler("message", self.on_chat)
        else:
            # A client without XEP-0070: it shows the body, and IQs it does not know
            # get feature-not-implemented.
            self.register_handler(slixmpp.xmlstream.handler.Callback(
                "confirm-iq-unsupported",
                slixmpp.xmlstream.matcher.MatchXPath(
                    "{jabber:client}iq/{%s}confirm" % NS_AUTH),
                self.on_unsupported_iq))
            self.add_event_handler("message", self.on_plain_message)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("presence_available", self.on_presence)
        self.add_event_handler("presence_unavailable", self.on_presence)

    async def on_start(self, _):
        # "online" only once the server has our presence (it echoes it back to us): before
        # that, a message to the bare JID may not be routed to this resource.
        echoed = asyncio.get_running_loop().create_future()

        def on_presence(presence):
            if presence["from"] == self.boundjid and not echoed.done():
                echoed.set_result(None)

        self.add_event_handler("presence_available", on_presence)
        if "xep_0115" in self.plugin:
            # The caps must be known before the first presence, and slixmpp adds them only
            # to a presence whose `from` is set (it looks them up by that JID).
            await self.plugin["xep_0115"].update_caps(self.boundjid.full, broadcast=False)
        self.send_presence(pfrom=self.boundjid.full)
        # No timeout of its own: on a loaded machine the echo can take long, and going
        # "online" early lets a request miss this resource. The test's wait for "online"
        # bounds it.
        await echoed
        self.del_event_handler("presence_available", on_presence)
        emit(event="online", jid=str(self.boundjid))

    def on_presence(self, presence):
        if presence["from"].bare == self.boundjid.bare:
            return
        kind = "unavailable" if presence["type"] == "unavailable" else "available"
        emit(event="presence", type=kind, **{"from": str(presence["from"])})

    def on_unsupported_iq(self, iq):
        emit(event="confirm", kind="iq", code=iq.xml.find("{%s}confirm" % NS_AUTH).get("id"),
             **{"from": str(iq["from"])}, body="")
        err = self.Iq(stype="error", sto=iq["from"], sid=iq["id"])
        err["error"]["condition"] = "feature-not-implemented"
        err["error"]["type"] = "cancel"
        err.send()

    def on_plain_message(self, msg):
        if msg["type"] == "error" or not msg["body"]:
            return
        confirm = msg.xml.find("{%s}confirm" % NS_AUTH)
        if confirm is None:
            self.on_chat(msg)
            return
        code = confirm.get("id")
        emit(event="confirm", kind="message", code=code, body=msg["body"],
             lang=xml_lang(msg), **{"from": str(msg["from"])})
        self.answer_with_body(msg["from"], code)

    def on_chat(self, msg):
        """Messages that are no confirmation request: answers and notices."""
        if msg["type"] == "error" or not msg["body"]:
            return
        if msg.xml.find("{%s}confirm" % NS_AUTH) is not None:
            return
        emit(event="chat", body=msg["body"], thread=msg["thread"], lang=xml_lang(msg),
             **{"from": str(msg["from"])})

    def answer_with_body(self, to, code):
        if self.mode == "body-code":
            self.send_message(mto=to.bare, mbody=code.lower(), mtype="chat")
        elif self.mode == "body-no":
            self.send_message(mto=to.bare, mbody="no", mtype="chat")
        elif self.mode.startswith("body-say:"):
            self.send_message(mto=to.bare, mbody=self.mode[len("body-say:"):], mtype="chat")

    def on_confirm_iq(self, iq):
        code = iq["confirm"]["id"]
        emit(event="confirm", kind="iq", code=code, body="", **{"from": str(iq["from"])})
        if self.mode == "accept":
            iq.reply().send()
        elif self.mode in ("deny", "deny-iq"):
            reply = iq.reply()
            reply["type"] = "error"
            reply["error"]["type"] = "auth"
            reply["error"]["condition"] = "not-authorized"
            reply.send()

    def on_confirm_message(self, msg):
        if msg["type"] == "error":
            return
        code = msg["confirm"]["id"]
        emit(event="confirm", kind="message", code=code, body=msg["body"],
             lang=xml_lang(msg), **{"from": str(msg["from"])})
        if self.mode in ("accept", "deny"):
            reply = self.Message(sto=msg["from"], stype="normal")
            reply["thread"] = msg["thread"]
            reply["confirm"]["id"] = code
            reply["confirm"]["method"] = msg["confirm"]["method"]
            reply["confirm"]["url"] = msg["confirm"]["url"]
            if self.mode == "deny":
                reply["type"] = "error"
                reply["error"]["type"] = "auth"
                reply["error"]["condition"] = "not-authorized"
            reply.send()
        else:
            self.answer_with_body(msg["from"], code)

    async def read_commands(self):
        reader = asyncio.StreamReader()
        await self.loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            command = json.loads(line)
            if command["cmd"] == "mode":
                self.mode = command["mode"]
            elif command["cmd"] == "raw":
                self.send_raw(command["xml"])
            elif command["cmd"] == "send":
                message = self.make_message(mto=command["to"], mbody=command["body"], mtype="chat")
                if command.get("thread"):
                    message["thread"] = command["thread"]
                message.send()
            elif command["cmd"] == "subscribe":
                self.send_presence(pto=command["to"], ptype="subscribe")
            elif command["cmd"] == "quit":
                break
        self.disconnect()


def main():
    # XMPP_USER_LOG=DIR: each user logs its stanzas to DIR/JID.log, to debug a test.
    log_dir = os.environ.get("XMPP_USER_LOG")
    parser = argparse.ArgumentParser()
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="ignore")
    parser.add_argument("--no-xep0070", action="store_true")
    args = parser.parse_args()
    if log_dir:
        logging.basicConfig(filename=os.path.join(log_dir, args.jid.replace("/", "_") + ".log"),
                            level=logging.DEBUG)
    user = User(args.jid, args.password, args.mode, not args.no_xep0070)
    user.connect("127.0.0.1", args.port)
    # Held: asyncio keeps only a weak reference to a task, which the GC may then destroy.
    commands = user.loop.create_task(user.read_commands())
    user.loop.run_until_complete(user.disconnected)
    commands.cancel()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A real XMPP user for the end-to-end tests: a slixmpp client logged in to the test Prosody.

Started by the Rust tests (tests/e2e/helpers.rs). It prints one JSON event per line on
stdout and reads one JSON command per line on stdin:

  events:   {"event": "online", "jid": FULL_JID}
            {"event": "confirm", "kind": "iq"|"message", "code": ID, "from": JID, "body": TEXT}
  commands: {"cmd": "mode", "mode": MODE}     how to answer the next requests
            {"cmd": "raw", "xml": XML}         send a stanza as is (attacks, odd replies)
            {"cmd": "quit"}

Answer modes: ignore, accept (IQ result / message confirm, as XEP-0070 §4.6), deny
(IQ or message error not-authorized), body-code (plain-text reply with the code, as a client
without XEP-0070 support would), body-no.
"""
import argparse
import asyncio
import json
import sys

import slixmpp

NS_AUTH = "http://jabber.org/protocol/http-auth"


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
        if xep0070:
            self.register_plugin("xep_0030")
            self.register_plugin("xep_0070")
            self.add_event_handler("http_confirm_iq", self.on_confirm_iq)
            self.add_event_handler("http_confirm_message", self.on_confirm_message)
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

    async def on_start(self, _):
        # "online" only once the server has our presence (it echoes it back to us): before
        # that, a message to the bare JID may not be routed to this resource.
        echoed = asyncio.get_running_loop().create_future()

        def on_presence(presence):
            if presence["from"] == self.boundjid and not echoed.done():
                echoed.set_result(None)

        self.add_event_handler("presence_available", on_presence)
        self.send_presence()
        try:
            await asyncio.wait_for(echoed, 5)
        except asyncio.TimeoutError:
            pass
        self.del_event_handler("presence_available", on_presence)
        emit(event="online", jid=str(self.boundjid))

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
        code = confirm.get("id") if confirm is not None else ""
        emit(event="confirm", kind="message", code=code, body=msg["body"],
             **{"from": str(msg["from"])})
        self.answer_with_body(msg["from"], code)

    def answer_with_body(self, to, code):
        if self.mode == "body-code":
            self.send_message(mto=to.bare, mbody=code.lower(), mtype="chat")
        elif self.mode == "body-no":
            self.send_message(mto=to.bare, mbody="no", mtype="chat")

    def on_confirm_iq(self, iq):
        code = iq["confirm"]["id"]
        emit(event="confirm", kind="iq", code=code, body="", **{"from": str(iq["from"])})
        if self.mode == "accept":
            iq.reply().send()
        elif self.mode == "deny":
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
             **{"from": str(msg["from"])})
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
            elif command["cmd"] == "quit":
                break
        self.disconnect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="ignore")
    parser.add_argument("--no-xep0070", action="store_true")
    args = parser.parse_args()
    user = User(args.jid, args.password, args.mode, not args.no_xep0070)
    user.connect("127.0.0.1", args.port)
    user.loop.create_task(user.read_commands())
    user.loop.run_until_complete(user.disconnected)


if __name__ == "__main__":
    main()

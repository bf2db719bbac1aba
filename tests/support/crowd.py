#!/usr/bin/env python3
"""Many real XMPP users at once, for the load test (tests/e2e/load.rs).

Logs in COUNT anonymous sessions (SASL ANONYMOUS on the test Prosody's anonymous host),
prints {"jids": [...]} when all are online, then collects XEP-0070 requests. Once every
session holds its request (or after --hold seconds), they answer together: sessions whose
index is a multiple of 10 refuse, the others accept. The last ATTACKERS sessions first try
to accept the refusers' requests with their codes (they must not succeed).
Prints {"received": N} when the requests are in and {"answered": N} once all answered;
a line on stdin ends it.
"""
import argparse
import asyncio
import json
import sys

import slixmpp

NS_AUTH = "http://jabber.org/protocol/http-auth"


def emit(**event):
    print(json.dumps(event), flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="anon.localhost")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--attackers", type=int, default=10)
    parser.add_argument("--component", default="auth.localhost")
    parser.add_argument("--hold", type=float, default=60)
    args = parser.parse_args()

    total = args.count + args.attackers
    online = 0
    all_online = asyncio.Event()
    received = {}
    all_received = asyncio.Event()
    clients = []

    for index in range(total):
        client = slixmpp.ClientXMPP(args.host, "")
        client.enable_starttls = False
        client.enable_direct_tls = False
        client.enable_plaintext = True
        client.register_plugin("xep_0030")
        client.register_plugin("xep_0070")

        async def on_start(_event, client=client):
            nonlocal online
            # Available, so that messages to the bare JID reach this session.
            client.send_presence()
            online += 1
            if online == total:
                all_online.set()

        def on_confirm(msg, index=index):
            if msg["type"] == "error" or index >= args.count:
                return
            received[index] = msg
            if len(received) == args.count:
                all_received.set()

        client.add_event_handler("session_start", on_start)
        client.add_event_handler("http_confirm_message", on_confirm)
        client.connect("127.0.0.1", args.port)
        clients.append(client)

    await asyncio.wait_for(all_online.wait(), 120)
    emit(jids=[str(c.boundjid.bare) for c in clients[: args.count]])

    try:
        await asyncio.wait_for(all_received.wait(), args.hold)
    except asyncio.TimeoutError:
        pass
    emit(received=len(received))

    def reply(client, to, code, thread, refuse):
        message = client.Message(sto=to, stype="normal")
        if thread:
            message["thread"] = thread
        message["confirm"]["id"] = code
        message["confirm"]["method"] = "GET"
        message["confirm"]["url"] = "u"
        if refuse:
            message["type"] = "error"
            message["error"]["type"] = "auth"
            message["error"]["condition"] = "not-authorized"
        message.send()

    # The attackers go first: each tries to accept refusers' requests with the right code.
    attackers = clients[args.count :]
    for index, msg in received.items():
        if index % 10 == 0 and attackers:
            attacker = attackers[index % len(attackers)]
            reply(attacker, args.component, msg["confirm"]["id"], None, False)
    await asyncio.sleep(0.5)
    for index, msg in received.items():
        reply(clients[index], msg["from"], msg["confirm"]["id"], msg["thread"], index % 10 == 0)
    await asyncio.sleep(1)
    emit(answered=len(received))
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for client in clients:
        client.disconnect()


if __name__ == "__main__":
    asyncio.run(main())

#!/usr/bin/env python3
"""The benchmark's XMPP users: bot0..botN-1@localhost, all in one process, accepting every
XEP-0070 request they get, at once. (jidconnect keeps one request pending per JID, so
logins run in parallel only to different JIDs.)

The first one also measures Prosody's own round trip, the part of a login that is not jidconnect's:
every 10 ms it pings its own full JID (client -> Prosody -> client -> Prosody -> client, the
same two hops through Prosody as component -> user -> component). A line "stats" on stdin
prints {"rtt_p50_ms", "rtt_p99_ms", "pings", "accepted"} for the time since the previous
"stats" and starts over; end of input stops it. Prints {"event": "online"} once all are
logged in.

  bot.py --count 64 --password bot --port 15222
"""
import argparse
import asyncio
import json
import sys
import time

import slixmpp


def emit(**event):
    print(json.dumps(event), flush=True)


def percentile_ms(samples, p):
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * p + 0.5) - 1))] * 1000


class Bot(slixmpp.ClientXMPP):
    def __init__(self, jid, password, on_online):
        super().__init__(jid, password)
        self.on_online = on_online
        self.enable_starttls = False
        self.enable_direct_tls = False
        self.enable_plaintext = True
        self.plugin["feature_mechanisms"].unencrypted_plain = True
        for plugin in ("xep_0030", "xep_0070", "xep_0199"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("http_confirm_iq", self.on_confirm_iq)
        self.add_event_handler("http_confirm_message", self.on_confirm_message)
        self.rtts = []
        self.accepted = 0

    async def on_start(self, _):
        self.send_presence()
        self.on_online()

    def on_confirm_iq(self, iq):
        self.accepted += 1
        iq.reply().send()

    def on_confirm_message(self, msg):
        if msg["type"] == "error":
            return
        self.accepted += 1
        reply = self.Message(sto=msg["from"], stype="normal")
        reply["thread"] = msg["thread"]
        reply["confirm"]["id"] = msg["confirm"]["id"]
        reply["confirm"]["method"] = msg["confirm"]["method"]
        reply["confirm"]["url"] = msg["confirm"]["url"]
        reply.send()

    async def ping_self(self):
        while True:
            started = time.monotonic()
            try:
                await self.plugin["xep_0199"].send_ping(self.boundjid, timeout=10)
                self.rtts.append(time.monotonic() - started)
            except (slixmpp.exceptions.IqError, slixmpp.exceptions.IqTimeout):
                pass
            await asyncio.sleep(0.01)



async def read_commands(bots):
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stats":
            rtts, bots[0].rtts = bots[0].rtts, []
            emit(rtt_p50_ms=percentile_ms(rtts, 0.5), rtt_p99_ms=percentile_ms(rtts, 0.99),
                 pings=len(rtts), accepted=sum(bot.accepted for bot in bots))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    online = asyncio.Event()
    remaining = args.count

    def one_online():
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            online.set()

    bots = [Bot(f"bot{i}@localhost", args.password, one_online) for i in range(args.count)]
    for bot in bots:
        bot.connect("127.0.0.1", args.port)
    await asyncio.wait_for(online.wait(), 60)
    emit(event="online")
    pinger = asyncio.create_task(bots[0].ping_self())
    await read_commands(bots)
    pinger.cancel()
    for bot in bots:
        bot.disconnect()


if __name__ == "__main__":
    asyncio.run(main())

#!/usr/bin/env python3
"""A silent XMPP server for the pending-logins benchmark: it accepts one external
component (XEP-0114 handshake), answers its keepalive pings, and never delivers or answers
anything else, so every confirmation request stays pending.

  sink.py --port 15348
"""
import argparse
import asyncio
import uuid
import xml.etree.ElementTree as ET

NS_STREAM = "http://etherx.jabber.org/streams"
NS_PING = "urn:xmpp:ping"


async def serve(reader, writer):
    parser = ET.XMLPullParser(events=("start", "end"))
    depth = 0
    while data := await reader.read(65536):
        parser.feed(data)
        for event, element in parser.read_events():
            if event == "start":
                depth += 1
                if depth == 1:  # the component's stream header
                    writer.write(
                        f"<stream:stream xmlns='jabber:component:accept' "
                        f"xmlns:stream='{NS_STREAM}' id='{uuid.uuid4().hex}' "
                        f"from='{element.get('to')}'>".encode())
                continue
            depth -= 1
            if depth != 1:
                continue
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "handshake":  # any secret will do
                writer.write(b"<handshake/>")
            elif tag == "iq" and element.get("type") == "get" and \
                    element.find(f"{{{NS_PING}}}ping") is not None:
                writer.write(
                    f"<iq type='result' id='{element.get('id')}' "
                    f"from='{element.get('to')}' to='{element.get('from')}'/>".encode())
            element.clear()
        await writer.drain()
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = await asyncio.start_server(serve, "127.0.0.1", args.port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

# SPDX-License-Identifier: MIT
"""A real SMTP server on loopback for the mailer's integration tests.

aiosmtpd (python3-aiosmtpd from Debian) on 127.0.0.1 and an ephemeral
port.  Each accepted message is written to DIR as N.json (envelope: mail
from, recipients, authenticated login) and then N.eml (the raw DATA), each
renamed into place, so a reader that sees N.eml also finds N.json.

It offers AUTH PLAIN/LOGIN without TLS when --auth USER:PASS is given; it
offers STARTTLS only with --starttls CERT KEY, and speaks TLS from the first
byte with --tls CERT KEY.  It prints "PORT <n>" once listening and exits
when its standard input reaches end of file (the test is gone) or on
SIGTERM.

Usage: smtp_sink.py DIR [--auth USER:PASS] [--starttls CERT KEY | --tls CERT KEY]
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    def _write(self, name, data):
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.directory, name))

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        login = session.auth_data if session.authenticated else None
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "auth": login}
        self._write("%d.json" % self.count, json.dumps(meta).encode())
        self._write("%d.eml" % self.count, envelope.original_content)
        return "250 OK stored"


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                and auth_data.password == password.encode()):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)
    return authenticator


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--auth")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    tls.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)

    sink = Sink(args.directory)
    options = {"hostname": "sink.test"}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(authenticator=make_authenticator(user, password), auth_required=False,
                       auth_require_tls=False)

    context = None
    if args.starttls or args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*(args.starttls or args.tls))
    if args.starttls:
        options["tls_context"] = context

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(sink, **options), host="127.0.0.1", port=0,
                           ssl=context if args.tls else None))
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)

    def on_stdin():
        if not os.read(sys.stdin.fileno(), 4096):
            loop.stop()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()

"""A mail relay for the tests: aiosmtpd (PyPI), requiring STARTTLS and a
login, writing each message it accepts to OUT_DIR as one JSON file
({"mail_from", "rcpt_tos", "login", "content"}).

    python3 smtp_receiver.py PORT CERT KEY USER PASSWORD OUT_DIR
"""

import asyncio
import json
import os
import ssl
import logging
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out_dir = sys.argv[1:7]
# aiosmtpd logs a warning about its own use of a deprecated attribute on
# every login.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class Keep:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Keep.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data,
            "content": envelope.content.decode("utf-8"),
        }
        partial = os.path.join(out_dir, f".{Keep.count:04}.json")
        with open(partial, "w") as file:
            json.dump(record, file)
        os.rename(partial, os.path.join(out_dir, f"{Keep.count:04}.json"))
        return "250 OK"


def authenticate(server, session, envelope, mechanism, data):
    if isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password:
        return AuthResult(success=True, auth_data=data.login)
    return AuthResult(success=False, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Keep(),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=context,
    require_starttls=True,
    auth_required=True,
    authenticator=authenticate,
)
controller.start()
print("ready", flush=True)
try:
    asyncio.new_event_loop().run_forever()
finally:
    controller.stop()

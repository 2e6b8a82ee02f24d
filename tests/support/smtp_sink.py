"""A real SMTP server for the integration tests (aiosmtpd).

Every accepted message is appended to OUT as one JSON line: {"from", "to", "message_id",
"subject", "body"}. Recipients shape failures: a local part starting with "flaky" is refused
with 451 (temporary) on its first two deliveries, one starting with "bounce" always with 550.

    python3 smtp_sink.py PORT OUT
"""

import asyncio
import email
import email.policy
import json
import os
import sys
from collections import Counter

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.seen = Counter()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("bounce"):
            return "550 mailbox unavailable"
        if local.startswith("flaky"):
            self.seen[address] += 1
            if self.seen[address] <= 2:
                return "451 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "message_id": message.get("Message-ID"),
            "subject": message.get("Subject"),
            "body": body.get_content() if body is not None else "",
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted"


async def main(port, out):
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtp sink on 127.0.0.1:{port}", flush=True)
    # Exit with the test process that started us (it cannot clean up after itself).
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    controller.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))

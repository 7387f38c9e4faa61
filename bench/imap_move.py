"""How Dovecot's MOVE cost depends on the number of UIDs per command, in a folder of 10,000 messages.

    .venv/bin/python bench/imap_move.py [--messages 10000] [--move 5000] [--per-command 100 1000 5000]

For each group size, a fresh mailbox gets the backlog of bench/ingest.py, then the first --move messages are
moved to another folder in commands of that many UIDs. This is why email_ingest/imap.py groups its moves
(MOVE_BATCH): each MOVE costs the server time in proportion to the folder, not only to the UIDs moved.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "app"))  # the Dovecot fixture the tests use
sys.path.insert(0, str(ROOT / "bench"))

from dovecot import Dovecot  # noqa: E402
from ingest import backlog, drop_into_maildir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--move", type=int, default=5_000)
    parser.add_argument("--per-command", type=int, nargs="+", default=[100, 1000, 5000])
    args = parser.parse_args()
    messages = backlog(args.messages)
    server = Dovecot(users=len(args.per_command))
    server.start()
    try:
        for size in args.per_command:
            mailbox = server.new_mailbox()
            drop_into_maildir(server, mailbox, messages)
            with IMAPClient("127.0.0.1", port=mailbox.port, ssl=False, timeout=300) as client:
                client.login(mailbox.user, mailbox.password)
                client.create_folder("Processed")
                client.select_folder("INBOX")
                uids = client.search(["ALL"])[: args.move]
                started = time.perf_counter()
                for start in range(0, len(uids), size):
                    client.move(uids[start : start + size], "Processed")
                seconds = time.perf_counter() - started
            print(f"{size:>5} UIDs per MOVE: {len(uids)} of {args.messages} messages moved in {seconds:.2f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

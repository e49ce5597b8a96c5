"""Takes far longer to import than any handshake timeout the tests set."""

import time

time.sleep(30)


def handler(msg):
    return msg

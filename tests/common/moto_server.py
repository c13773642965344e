"""moto's server for s3driver's tests, started by tests/common/moto.rs: `python3 moto_server.py PORT`.

Two things differ from `python3 -m moto.server -H 127.0.0.1 -p PORT`:

1. The server exits when its standard input closes, i.e. when the test process that started it
   ends (however it ends), so no moto outlives the tests.
2. In moto's IAM authentication mode (enabled by the tests through /moto-api/reset-auth), moto
   5 expects every request to carry a SigV4 Authorization header and fails with HTTP 500
   (KeyError 'HTTP_AUTHORIZATION') on STS AssumeRoleWithWebIdentity, which AWS specifies as
   unsigned (the web identity token is the proof). That one action, when unsigned, skips moto's
   signature check here, as it does on AWS. Every other request, S3 and STS AssumeRole included,
   is still checked against the IAM users, roles and temporary credentials moto knows. moto does
   not verify the web identity token itself (any token is accepted).
3. moto 5 verifies signatures over the request URL as werkzeug rebuilds it, with `%2F` and `%3A`
   in the query decoded to `/` and `:`; a client that signed what it sent (AWS's rule: the
   canonical query is the encoded one) then gets SignatureDoesNotMatch for e.g. ListObjectsV2
   with `delimiter=%2F` (boto3 too). Here the check sees the query string exactly as received.
"""

import os
import sys
import threading
from urllib.parse import urlsplit, urlunsplit


def _exit_when_parent_goes():
    try:
        while sys.stdin.buffer.read1(65536):
            pass
    finally:
        os._exit(0)


threading.Thread(target=_exit_when_parent_goes, daemon=True).start()

from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402

_check = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _check_unless_unsigned_web_identity(self, iam_request_cls, resource="*"):
    if (
        self.headers.get("Authorization") is None
        and self._get_action() == "AssumeRoleWithWebIdentity"
    ):
        return None
    from flask import request

    raw_query = request.environ.get("QUERY_STRING", "")
    rebuilt = self.uri
    self.uri = urlunsplit(urlsplit(rebuilt)._replace(query=raw_query))
    try:
        return _check(self, iam_request_cls, resource)
    finally:
        self.uri = rebuilt


ActionAuthenticatorMixin._authenticate_and_authorize_action = _check_unless_unsigned_web_identity

from moto.server import main  # noqa: E402

main(["-H", "127.0.0.1", "-p", sys.argv[1]])

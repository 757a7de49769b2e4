"""Sign a PDF through kyso's CSC API v2 with pyHanko's CSC signer, the
owner's consent taken by CSC oauth2code.

Usage: pyhanko_oauth.py BASE_URL TOKEN CREDENTIAL_ID CLIENT_ID CLIENT_SECRET REDIRECT_URI CA_PEM IN OUT

pyHanko has no oauth2code flow of its own: it leaves authorisation to a
CSCAuthorizationManager, which gets the hashes it is about to sign and
returns a SAD. This one does the relying party's part of oauth2code:
with those hashes and a fresh PKCE verifier it writes the
oauth2/authorize URL on stdout ("AUTHORIZE <url>") for the owner's
browser, reads back from stdin the URL the browser was redirected to,
checks the state, and exchanges the code (grant_type
authorization_code) for the token that is the SAD.
"""
import asyncio
import base64
import hashlib
import secrets
import ssl
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlencode, urlparse

import aiohttp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers import csc_signer


class OAuth2Code(csc_signer.CSCAuthorizationManager):
    def __init__(self, session, info, cred, client_id, secret, redirect):
        super().__init__(info, cred)
        self.session, self.client_id, self.secret, self.redirect = session, client_id, secret, redirect

    async def authorize_signature(self, hash_b64s):
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        query = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect,
            "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
            "scope": "credential", "credentialID": self.csc_session_info.credential_id,
            "numSignatures": str(len(hash_b64s)), "hashes": ",".join(hash_b64s),
            "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "description": "pyHanko: hợp đồng",
        }
        print("AUTHORIZE " + self.csc_session_info.endpoint_url("oauth2/authorize") + "?" + urlencode(query), flush=True)
        back = parse_qs(urlparse(sys.stdin.readline().strip()).query)
        if back.get("state") != [state]:
            raise RuntimeError("the state did not come back: %s" % back)
        form = {"grant_type": "authorization_code", "code": back["code"][0], "code_verifier": verifier,
                "redirect_uri": self.redirect}
        async with self.session.post(
            self.csc_session_info.endpoint_url("oauth2/token"), data=form,
            auth=aiohttp.BasicAuth(self.client_id, self.secret)) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError("token: %s %s" % (resp.status, data))
        return csc_signer.CSCAuthorizationInfo(
            sad=data["access_token"], expires_at=datetime.now(timezone.utc) + timedelta(seconds=data["expires_in"]))


async def main(base, token, cred_id, client_id, secret, redirect, ca, src, dst):
    ctx = ssl.create_default_context(cafile=ca)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        info = csc_signer.CSCServiceSessionInfo(base, cred_id, oauth_token=token, api_ver="v2")
        cred = await csc_signer.fetch_certs_in_csc_credential(session, info)
        signer = csc_signer.CSCSigner(session, OAuth2Code(session, info, cred, client_id, secret, redirect))
        with open(src, "rb") as f:
            w = IncrementalPdfFileWriter(f)
            meta = signers.PdfSignatureMetadata(field_name="KysoOAuth", subfilter=fields.SigSeedSubFilter.PADES)
            with open(dst, "wb") as out:
                await signers.async_sign_pdf(w, meta, signer=signer, output=out)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:10]))

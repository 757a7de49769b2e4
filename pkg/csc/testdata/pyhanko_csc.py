"""Sign a PDF through kyso's CSC API v2 with pyHanko's own CSC signer.

Usage: pyhanko_csc.py BASE_URL TOKEN CREDENTIAL_ID PIN OTPAUTH_URI CA_PEM IN OUT

The authorisation manager is the only part written here: pyHanko leaves it
to the integrator. It asks credentials/authorize (CSC v2: hashes and
authData PIN/OTP) for a SAD bound to the hashes pyHanko is about to sign,
with a TOTP code computed from the owner's otpauth URI, as the owner's
phone would.
"""
import asyncio
import base64
import hashlib
import hmac
import ssl
import struct
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import aiohttp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers import csc_signer


def totp(uri):
    q = parse_qs(urlparse(uri).query)
    secret = q["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


class Authorizer(csc_signer.CSCAuthorizationManager):
    def __init__(self, session, info, cred, pin, uri):
        super().__init__(info, cred)
        self.session, self.pin, self.uri = session, pin, uri

    async def authorize_signature(self, hash_b64s):
        body = {
            "credentialID": self.csc_session_info.credential_id,
            "numSignatures": len(hash_b64s),
            "hashes": hash_b64s,
            "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
            "authData": [{"id": "PIN", "value": self.pin}, {"id": "OTP", "value": totp(self.uri)}],
        }
        async with self.session.post(
            self.csc_session_info.endpoint_url("credentials/authorize"),
            headers=self.auth_headers, json=body) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError("authorize: %s %s" % (resp.status, data))
        return csc_signer.CSCAuthorizationInfo(
            sad=data["SAD"], expires_at=datetime.now(timezone.utc) + timedelta(seconds=data["expiresIn"]))


async def main(base, token, cred_id, pin, uri, ca, src, dst):
    ctx = ssl.create_default_context(cafile=ca)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        info = csc_signer.CSCServiceSessionInfo(base, cred_id, oauth_token=token, api_ver="v2")
        cred = await csc_signer.fetch_certs_in_csc_credential(session, info)
        signer = csc_signer.CSCSigner(session, Authorizer(session, info, cred, pin, uri))
        with open(src, "rb") as f:
            w = IncrementalPdfFileWriter(f)
            meta = signers.PdfSignatureMetadata(field_name="KysoCSC", subfilter=fields.SigSeedSubFilter.PADES)
            with open(dst, "wb") as out:
                await signers.async_sign_pdf(w, meta, signer=signer, output=out)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:9]))

#!/usr/bin/env python3
"""Keys and tokens from an independent JWT implementation (PyJWT + cryptography),
for the edge filter's end-to-end tests. Prints one JSON document:
  {"jwks": {...}, "tokens": {alg: token}, "attacks": {name: token}}
Every token names tenant "alg-<ALG>", issuer https://issuer.test, audience datagate.
"""
import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

ISS, AUD = "https://issuer.test", "datagate"
now = int(time.time())


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(tenant, **extra):
    c = {"tenant": tenant, "sub": "pyjwt", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600}
    c.update(extra)
    return c


keys, tokens, jwks = {}, {}, []


def add(kid, jwk_json, alg_in_jwk):
    jwk = json.loads(jwk_json)
    jwk["kid"] = kid
    if alg_in_jwk:
        jwk["alg"] = alg_in_jwk
    jwks.append(jwk)


rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
add("rsa", RSAAlgorithm.to_jwk(rsa_key.public_key()), None)  # no alg: RS* and PS* both verify
p256 = ec.generate_private_key(ec.SECP256R1())
add("p256", ECAlgorithm.to_jwk(p256.public_key()), "ES256")
p384 = ec.generate_private_key(ec.SECP384R1())
add("p384", ECAlgorithm.to_jwk(p384.public_key()), "ES384")
ed = ed25519.Ed25519PrivateKey.generate()
add("ed", OKPAlgorithm.to_jwk(ed.public_key()), "EdDSA")
secrets = {alg: hashlib.sha256(alg.encode() + b"-secret").digest() for alg in ["HS256", "HS384", "HS512"]}
for alg, secret in secrets.items():
    add(alg.lower(), HMACAlgorithm.to_jwk(secret), alg)

signing = {
    "RS256": (rsa_key, "rsa"), "RS384": (rsa_key, "rsa"), "RS512": (rsa_key, "rsa"),
    "PS256": (rsa_key, "rsa"), "PS384": (rsa_key, "rsa"), "PS512": (rsa_key, "rsa"),
    "ES256": (p256, "p256"), "ES384": (p384, "p384"), "EdDSA": (ed, "ed"),
    "HS256": (secrets["HS256"], "hs256"), "HS384": (secrets["HS384"], "hs384"), "HS512": (secrets["HS512"], "hs512"),
}
for alg, (key, kid) in signing.items():
    tokens[alg] = jwt.encode(claims(f"alg-{alg}"), key, algorithm=alg, headers={"kid": kid})

good = tokens["RS256"]
h, p, s = good.split(".")
rsa_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def forge_hs256(key_bytes, kid, body):
    # The classic confusion attack: HMAC keyed with the RSA *public* key.
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64(json.dumps(body).encode())
    sig = hmac.new(key_bytes, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{b64(sig)}"


victim = claims("victim")
attacks = {
    "alg_none": f'{b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())}.{b64(json.dumps(victim).encode())}.',
    "hs256_with_rsa_public_key": forge_hs256(rsa_pem, "rsa", victim),
    "expired": jwt.encode(claims("x", exp=now - 3600), rsa_key, algorithm="RS256", headers={"kid": "rsa"}),
    "nbf_in_future": jwt.encode(claims("x", nbf=now + 3600), rsa_key, algorithm="RS256", headers={"kid": "rsa"}),
    "wrong_iss": jwt.encode(claims("x", iss="https://evil.test"), rsa_key, algorithm="RS256", headers={"kid": "rsa"}),
    "wrong_aud": jwt.encode(claims("x", aud="someone-else"), rsa_key, algorithm="RS256", headers={"kid": "rsa"}),
    "tampered_payload": f"{h}.{b64(json.dumps(victim).encode())}.{s}",
    "unknown_kid": jwt.encode(claims("x"), rsa_key, algorithm="RS256", headers={"kid": "nope"}),
    "truncated": f"{h}.{p}",
    "extra_segment": f"{good}.{s}",
    "not_base64": "###.$$$.%%%",
    "huge": f"{h}.{b64(b'x' * 30_000)}.{s}",  # ~40 KB: above the filter's 8 KiB limit, below Envoy's 64 KiB of headers
    "es256_key_with_rs256_alg": jwt.encode(claims("x"), rsa_key, algorithm="RS256", headers={"kid": "p256"}),
}
print(json.dumps({"jwks": {"keys": jwks}, "tokens": tokens, "attacks": attacks}))

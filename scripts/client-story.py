#!/usr/bin/env python3
"""The sign-up -> payment -> refund story through a client generated from Palmline's OpenAPI
description (openapi-python-client), against a running `palmline serve`.

    client-story.py --client DIR --palmline BIN

DIR holds the generated package (palmline_api_client). The script starts the server on a fresh
data directory, renders a synthetic palm with `palmline synth`, and drives every step through the
generated functions and models only: a missing path parameter, an undeclared credential or a
schema that does not match what the server sends fails here.
"""
import argparse
import base64
import glob
import importlib
import json
import os
import subprocess
import sys
import tempfile


def endpoint(package, operation_id):
    """The generated module of an operation, whatever tag folder it landed in."""
    root = os.path.dirname(package.__file__)
    for path in glob.glob(os.path.join(root, "api", "*", operation_id + ".py")):
        tag = os.path.basename(os.path.dirname(path))
        return importlib.import_module(f"{package.__name__}.api.{tag}.{operation_id}")
    raise SystemExit(f"the generated client has no operation {operation_id}")


def call(package, operation_id, client, **kwargs):
    response = endpoint(package, operation_id).sync_detailed(client=client, **kwargs)
    if response.status_code.value >= 400:
        raise SystemExit(f"{operation_id}: {response.status_code.value} {response.content!r}")
    if response.parsed is None:
        raise SystemExit(f"{operation_id}: the client could not read the answer {response.content!r}")
    return response.parsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True)
    ap.add_argument("--palmline", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.client)
    package = importlib.import_module("palmline_api_client")
    models = importlib.import_module("palmline_api_client.models")
    AuthenticatedClient = package.AuthenticatedClient

    work = tempfile.mkdtemp()
    subprocess.run([args.palmline, "synth", "--out", f"{work}/palms", "--palms", "1", "--captures", "8",
                    "--seed", "900"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    images = sorted(glob.glob(f"{work}/palms/**/*.png", recursive=True))
    palm = [base64.b64encode(open(p, "rb").read()).decode() for p in images]
    server = subprocess.Popen([args.palmline, "serve", "--data-dir", f"{work}/data", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = None
        for line in server.stdout:
            if line.startswith("Palmline is serving on "):
                base = line.split("serving on ", 1)[1].strip()
                break
        if base is None:
            raise SystemExit("the server did not start")
        demo = json.load(open(f"{work}/data/demo-credentials.json"))
        merchant = AuthenticatedClient(base_url=base, token=demo["api_key"])
        till = AuthenticatedClient(base_url=base, token=demo["tills"][0]["credential"])

        consent = call(package, "consent", package.Client(base_url=base))
        signup = models.SignupRequest.from_dict({
            "phone": "+15550109001",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "holder_name": "Ada Palm"},
            "consent": {"accepted": True, "text_version": consent.version},
            "captures": [{"hand": "right", "image": palm[k]} for k in range(3)],
        })
        person = call(package, "signup", till, body=signup)
        print("signed up", person.person.id)

        created = call(package, "create_payment", merchant, body=models.CreatePayment.from_dict(
            {"amount": 1250, "currency": "usd", "till": demo["tills"][0]["id"]}))
        paid = None
        for k in range(3, len(palm)):
            response = endpoint(package, "submit_palm").sync_detailed(
                id=created.id, client=till,
                body=models.PalmSubmission.from_dict({"image": palm[k], "phone_last4": "9001"}))
            if response.status_code.value == 200:
                paid = response.parsed
                break
        if paid is None or str(paid.status.value) != "succeeded":
            raise SystemExit(f"the palm did not pay: {paid}")
        print("paid", paid.id, paid.amount_total)

        refund = call(package, "create_refund", merchant, id=paid.id,
                      body=models.CreateRefund.from_dict({"amount": 250}))
        if refund.status != "succeeded":
            raise SystemExit(f"refund {refund.status}")
        after = call(package, "get_payment", merchant, id=paid.id)
        if (after.amount_captured, after.amount_refunded) != (1250, 250):
            raise SystemExit(f"payment after refund: {after}")
        print("refunded", refund.id, "; the story ran through the generated client")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
